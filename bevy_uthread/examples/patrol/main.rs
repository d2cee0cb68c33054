//! Patrol: guards walk their rounds as Bevy scripts (one stackful tasklet each), an
//! intruder sneaks through the yard, and a guard that sees it raises an alarm that the
//! others answer. Headless: Bevy's schedule runner, virtual time advancing 1/60 s a
//! frame, no renderer.
//!
//! ```text
//! cargo run --release -p bevy_uthread --example patrol -- --frames 600 --json
//! cargo run --release -p bevy_uthread --example patrol -- --frames 600 --json --budget-resumes 5
//! ```
//!
//! With `--budget-resumes N` the script phase stops after N resumes a frame (the rest
//! run first next frame), so two runs give the same `world_hash`.

mod scene;

use std::process::ExitCode;
use std::time::Duration;

use bevy_app::{App, AppExit, Last, ScheduleRunnerPlugin};
use bevy_ecs::prelude::*;
use bevy_time::{TimePlugin, TimeUpdateStrategy};
use bevy_uthread::{Budget, ScriptRuntime, ScriptStats, UthreadPlugin};

struct Options {
    frames: u64,
    guards: u32,
    budget: Budget,
    json: bool,
}

/// `patrol --help`.
const USAGE: &str =
    "usage: patrol [--frames N] [--guards N] [--budget-resumes N | --budget-ms N] [--json]
  --frames N          frames to run, 1 to 1000000 (default 600)
  --guards N          guards on patrol, 0 to 10000 (default 8)
  --budget-resumes N  resumes a frame, 1 to 18446744073709551615
  --budget-ms N       milliseconds a frame, 1 to 60000 (default 4)
  --json              print one line of JSON";

/// Why the command line was not run: `--help` (printed, exit 0) or a usage error.
enum Stop {
    Help,
    Usage(String),
}

fn parse() -> Result<Options, Stop> {
    let mut options = Options {
        frames: 600,
        guards: 8,
        budget: Budget::Time(Duration::from_millis(4)),
        json: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        // A whole number from `low` to `high`: anything else is a usage error (0 frames
        // was quietly run as 1; 4 billion guards ran out of memory; 2^64 frames ran
        // for ever).
        let mut value = |name: &str, low: u64, high: u64| -> Result<u64, Stop> {
            let text = args
                .next()
                .ok_or_else(|| Stop::Usage(format!("{name} needs a number")))?;
            match text.parse::<u64>() {
                Ok(n) if (low..=high).contains(&n) => Ok(n),
                _ => Err(Stop::Usage(format!(
                    "{name}: expected a whole number from {low} to {high}, found '{text}'"
                ))),
            }
        };
        match arg.as_str() {
            "--frames" => options.frames = value("--frames", 1, 1_000_000)?,
            "--guards" => options.guards = value("--guards", 0, 10_000)? as u32,
            "--budget-resumes" => {
                options.budget = Budget::Resumes(value("--budget-resumes", 1, u64::MAX)?)
            }
            "--budget-ms" => {
                options.budget =
                    Budget::Time(Duration::from_millis(value("--budget-ms", 1, 60_000)?))
            }
            "--json" => options.json = true,
            "--help" | "-h" => return Err(Stop::Help),
            other => {
                return Err(Stop::Usage(format!(
                    "unknown argument '{other}' (try --help)"
                )))
            }
        }
    }
    Ok(options)
}

/// What the run measured, frame by frame.
#[derive(Resource, Default)]
struct Report {
    frames: u64,
    target: u64,
    json: bool,
    budget: String,
    resumes: u64,
    frame_us: Vec<f64>,
    incidents: usize,
}

fn record(world: &mut World) {
    let stats = world.resource::<ScriptStats>().clone();
    let mut report = world.resource_mut::<Report>();
    report.frames += 1;
    report.resumes += stats.resumed;
    report.frame_us.push(stats.time.total.as_secs_f64() * 1e6);
    report.incidents += stats.incidents.len();
    if report.frames < report.target {
        return;
    }
    let scripts_live = world.non_send::<ScriptRuntime>().script_count();
    let tally = *world.resource::<scene::Tally>();
    let hash = scene::world_hash(world);
    let mut report = world.resource_mut::<Report>();
    report.frame_us.sort_by(f64::total_cmp);
    let p50 = report.frame_us[report.frame_us.len() / 2];
    let max = report.frame_us.last().copied().unwrap_or_default();
    let per_frame = report.resumes as f64 / report.frames as f64;
    if report.json {
        println!(
            "{{\"frames\":{},\"scripts_live\":{},\"alarms\":{},\"caught\":{},\"world_hash\":\"{:016x}\",\
             \"budget\":\"{}\",\"resumes_per_frame\":{:.2},\"script_phase_us_p50\":{:.1},\
             \"script_phase_us_max\":{:.1},\"incidents\":{}}}",
            report.frames, scripts_live, tally.alarms, tally.caught, hash, report.budget,
            per_frame, p50, max, report.incidents
        );
    } else {
        println!(
            "{} frames, {} scripts live: {} alarms raised, intruder caught {} time(s); \
             {:.1} resumes a frame, script phase p50 {:.1} us (max {:.1} us); world hash {:016x}",
            report.frames, scripts_live, tally.alarms, tally.caught, per_frame, p50, max, hash
        );
    }
    world.write_message(AppExit::Success);
}

fn main() -> ExitCode {
    let options = match parse() {
        Ok(options) => options,
        Err(Stop::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(Stop::Usage(message)) => {
            eprintln!("patrol: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let budget = match options.budget {
        Budget::Resumes(n) => format!("resumes:{n}"),
        Budget::Time(d) => format!("time:{}us", d.as_micros()),
        Budget::Unlimited => "unlimited".to_owned(),
    };
    let mut app = App::new();
    app.add_plugins((
        ScheduleRunnerPlugin::run_loop(Duration::ZERO),
        TimePlugin,
        UthreadPlugin::default().budget(options.budget),
    ))
    // Virtual time advances exactly 1/60 s a frame, however fast the machine runs.
    .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_nanos(
        16_666_667,
    )))
    .insert_resource(Report {
        target: options.frames,
        json: options.json,
        budget,
        ..Report::default()
    })
    .add_systems(Last, record);
    scene::setup(&mut app, options.guards);
    match app.run() {
        AppExit::Success => ExitCode::SUCCESS,
        AppExit::Error(code) => ExitCode::from(code.get()),
    }
}
