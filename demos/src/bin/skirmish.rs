//! The fleet skirmish, the main demo (`cargo run --release`).
//!
//! It shows entity behaviour written as plain scripts: every ship is an entity whose
//! behaviour is a tasklet ("approach the nearest hostile, lock it, orbit at weapon range
//! and fire on every cycle; retreat and repair when badly damaged; warp out when the
//! fleet cannot win"; see `demos/src/skirmish/behaviour.rs`), while ECS systems do
//! movement, sensors and weapons, and the engine's frame driver resumes the tasklets
//! every frame within a budget. The battle comes from a scenario file in `assets/`.
//!
//! ```sh
//! cargo run --release                                   # the default scenario
//! cargo run --release --bin skirmish -- assets/wolfpack.ron
//! cargo run --release --bin skirmish -- --render battle.gif
//! cargo run --release --bin skirmish -- --ships 2000 --budget-ms 4
//! cargo run --release --bin skirmish -- --budget-resumes 500 --json   # deterministic
//! cargo run --release --bin skirmish -- --inject-panics 0.01            # fault injection
//! cargo run --release --bin skirmish -- --soak 100000 --ships 500       # a long soak
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use demos::cli::{self, stack_name, BudgetArgs, ScenarioArgs, Stacks};
use demos::measure::percentile;
use demos::progress::{Bars, Progress};
use demos::render::{GifRenderer, RenderOptions};
use demos::scenario::{Scenario, MAX_FRAMES, MAX_SHIPS};
use demos::skirmish::soak::{self, SoakOptions, SoakReport};
use demos::skirmish::{Battle, Picture, Skirmish, INJECTED_FAULT};

/// The fleet skirmish: two fleets fight it out, every ship a tasklet running a plain
/// script.
#[derive(Debug, Parser)]
#[command(version, long_about = None)]
struct Args {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// Most frames to run (default: the scenario's; at most 1,000,000); the battle also
    /// ends two game seconds after one side is gone.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_FRAMES)))]
    frames: Option<u32>,
    /// Seed of the battle (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Scale both fleets to this many ships each, keeping their mix of classes (at most
    /// 100,000).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_SHIPS / 2)))]
    ships: Option<u32>,
    #[command(flatten)]
    budget: BudgetArgs,
    /// Where the ships' stacks live: a guarded stack each (dedicated, the default, at any
    /// count), or one shared stack with each ship's used part copied to the heap while it
    /// is suspended (copying: a third of the memory, a copy per switch).
    #[arg(long, value_enum, default_value_t = Stacks::Dedicated)]
    stacks: Stacks,
    /// Print a progress line every this many frames (0: none).
    #[arg(long, default_value_t = 200)]
    progress: u32,
    /// End with one line of JSON (and print no progress lines).
    #[arg(long)]
    json: bool,
    /// Write an animated GIF of the battle seen from above.
    #[arg(long, value_name = "OUT.gif")]
    render: Option<PathBuf>,
    /// Width of the GIF in pixels (narrower for an arena so tall that the picture would be
    /// more than 4096 pixels high).
    #[arg(long, default_value_t = 640, value_parser = clap::value_parser!(u16).range(64..=4096))]
    render_width: u16,
    /// Write the engine's trace of the first frames (Chrome/Perfetto JSON; open it in
    /// ui.perfetto.dev).
    #[arg(long, value_name = "OUT.json")]
    trace: Option<PathBuf>,
    /// How many frames the trace covers (at most 10,000).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    trace_frames: u64,
    /// Fault injection: every ship script panics at each of its fault points with this
    /// probability (0 to 1; drawn from the battle's seed, so a replay panics at the same
    /// points). Each panic is reported with its entity and tasklet; the ship is
    /// despawned and the battle goes on. The run fails if a panic goes unreported or a
    /// stack is not returned.
    #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = cli::probability)]
    inject_panics: f64,
    /// Soak: run this many frames of a battle that never ends (each fleet is topped up
    /// to its starting strength every 100 frames), sampling resident memory and the
    /// stack pool; fail if they still grow after warm-up (see RELIABILITY.md).
    #[arg(long, value_name = "FRAMES", conflicts_with_all = ["frames", "render"],
          value_parser = clap::value_parser!(u32).range(8..=i64::from(MAX_FRAMES)))]
    soak: Option<u32>,
}

/// Exit status for a scenario that cannot be used.
const BAD_SCENARIO: u8 = 2;

fn main() -> ExitCode {
    demos::cli::stop_quietly_on_broken_pipe();
    let args = Args::parse();
    let scenario = match Scenario::load(args.scenario.path()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("skirmish: {e}");
            return ExitCode::from(BAD_SCENARIO);
        }
    };
    match run(&args, scenario) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("skirmish: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args, mut scenario: Scenario) -> Result<(), String> {
    if let Some(n) = args.ships {
        scenario = scenario.with_ships_per_fleet(n);
    }
    let budget = args.budget.budget()?;
    let frames = args.frames.unwrap_or(scenario.frames) as usize;
    let seed = args.seed.unwrap_or(scenario.seed);
    let stacks = args.stacks.strategy();
    let fleet_names: Vec<String> = scenario.fleets.iter().map(|f| f.name.clone()).collect();
    let arena = (scenario.arena.width, scenario.arena.height);
    let time_step = scenario.time_step;
    if args.inject_panics > 0.0 {
        quiet_injected_panics();
    }

    // Bars on stderr for the long phases, when it is a terminal (nothing when piped).
    let mut bars = Bars::on_stderr();
    bars.start("setting up the fleets", 0);
    let battle = Battle::new(scenario)
        .with_injected_panics(args.inject_panics)
        .with_stacks(stacks);
    let mut skirmish = Skirmish::with_battle(battle, seed, budget).map_err(|e| e.to_string())?;
    bars.finish();
    if !args.json {
        let start: Vec<String> = fleet_names
            .iter()
            .zip(skirmish.ships_start())
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        println!(
            "{}: {} (seed {seed}, up to {frames} frames of {:.0} ms, {} stacks)",
            skirmish.battle.scenario.name,
            start.join(" vs "),
            time_step * 1000.0,
            stack_name(stacks),
        );
    }
    if args.trace.is_some() {
        skirmish.driver.record_trace(args.trace_frames as usize);
    }

    // The GIF shows about one frame in `every`, at four times game speed.
    let mut gif = match &args.render {
        Some(path) => {
            let every = (frames / 400).max(2);
            let delay = Duration::from_secs_f64(every as f64 * time_step / 4.0);
            let file =
                File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            let options = RenderOptions {
                width: args.render_width,
                frame_delay: delay.max(Duration::from_millis(30)),
                fleet_names: fleet_names.clone(),
            };
            let renderer = GifRenderer::new(BufWriter::new(file), arena, options)
                .map_err(|e| e.to_string())?;
            Some((renderer, every))
        }
        None => None,
    };
    let mut picture = Picture::new();

    let soak_report = match args.soak {
        Some(soak_frames) => {
            bars.start("soak", u64::from(soak_frames));
            Some(run_soak(
                args,
                &mut skirmish,
                soak_frames as usize,
                &mut bars,
            )?)
        }
        None => None,
    };
    if args.soak.is_none() {
        let what = if args.render.is_some() {
            "frames (and the GIF)"
        } else {
            "frames"
        };
        bars.start(what, frames as u64);
    }
    while args.soak.is_none() && skirmish.frames() < frames && !skirmish.is_over() {
        skirmish.step();
        bars.set(skirmish.frames() as u64);
        bars.suspend(&mut || report_panics(&mut skirmish, args.json));
        picture.collect(&skirmish);
        let frame = skirmish.frames();
        if let Some((renderer, every)) = &mut gif {
            if frame % *every == 1 {
                renderer
                    .add(&picture.snapshot(&skirmish))
                    .map_err(|e| e.to_string())?;
            }
        }
        if !args.json && args.progress > 0 && frame % args.progress as usize == 0 {
            bars.suspend(&mut || progress(&skirmish, &fleet_names, args.progress as usize));
        }
    }
    bars.finish();

    if let Some((mut renderer, _)) = gif {
        // Hold the last picture for a moment.
        let last = picture.snapshot(&skirmish);
        for _ in 0..10 {
            renderer.add(&last).map_err(|e| e.to_string())?;
        }
        let frames_written = renderer.frames();
        let mut out = renderer.finish().map_err(|e| e.to_string())?;
        out.flush()
            .map_err(|e| format!("cannot write the GIF: {e}"))?;
        if !args.json {
            let path = args
                .render
                .as_ref()
                .map_or(String::new(), |p| p.display().to_string());
            println!("wrote {path} ({frames_written} frames)");
        }
    }
    if let Some(path) = &args.trace {
        let file =
            File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        skirmish
            .driver
            .trace()
            .write_chrome_json(BufWriter::new(file))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        if !args.json {
            println!(
                "wrote {} ({} frames; open it in ui.perfetto.dev)",
                path.display(),
                skirmish.driver.trace().frames()
            );
        }
    }

    let mut summary = skirmish.summary();
    if !args.json {
        print_busiest_tasklets(&skirmish);
    }
    // Every ship leaves: their stacks must all come back (the baseline before set-up).
    bars.start("despawning the ships", 0);
    let left_over = skirmish.teardown();
    bars.finish();
    summary.stacks_in_use_after_teardown = Some(left_over);
    if args.json {
        let mut json = summary.to_json();
        if let Some(report) = &soak_report {
            json["soak"] = soak_json(report);
        }
        println!("{json}");
    } else {
        println!("{summary}");
        if let Some(report) = &soak_report {
            println!("{report}");
        }
    }
    check_reliability(&summary, soak_report.as_ref())
}

/// The run's own checks: every injected panic reported, every ship accounted for, every
/// stack back, and (soak) memory and the pool levelled off.
fn check_reliability(
    summary: &demos::skirmish::Summary,
    soak: Option<&SoakReport>,
) -> Result<(), String> {
    let mut problems = Vec::new();
    if summary.panics_reported != summary.panics_injected {
        problems.push(format!(
            "{} panics injected but {} reported",
            summary.panics_injected, summary.panics_reported
        ));
    }
    if !summary.books_balance() {
        problems.push(
            "the ships do not add up (start + reinforcements = alive + destroyed + \
             warped out + crashed)"
                .to_owned(),
        );
    }
    if summary.stacks_in_use_end != summary.actors_end {
        problems.push(format!(
            "{} stacks in use for {} live ship scripts",
            summary.stacks_in_use_end, summary.actors_end
        ));
    }
    if let Some(n) = summary.stacks_in_use_after_teardown.filter(|&n| n != 0) {
        problems.push(format!(
            "{n} stacks still in use after every ship was despawned"
        ));
    }
    if let Some(report) = soak.filter(|r| !r.passed()) {
        problems.extend(report.failures.iter().cloned());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("reliability check failed: {}", problems.join("; ")))
    }
}

/// Prints the panics the engine reported in the last frame: to stdout, or to stderr
/// when stdout carries the JSON line.
fn report_panics(skirmish: &mut Skirmish, json: bool) {
    for report in skirmish.drain_panic_reports() {
        if json {
            eprintln!("panic: {report}");
        } else {
            println!("panic: {report}");
        }
    }
}

/// Keeps the default panic hook from printing a message and backtrace for every
/// injected fault (the engine reports each one); other panics print as usual.
fn quiet_injected_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied());
        if !message.is_some_and(|m| m.starts_with(INJECTED_FAULT)) {
            default(info);
        }
    }));
}

/// Runs the soak, printing a line per sample (unless `--json`).
fn run_soak(
    args: &Args,
    skirmish: &mut Skirmish,
    frames: usize,
    bars: &mut Bars,
) -> Result<SoakReport, String> {
    let json = args.json;
    let options = SoakOptions::new(frames);
    let bars = std::cell::RefCell::new(bars);
    soak::run(
        skirmish,
        options,
        |s| {
            bars.borrow_mut().set(s.frames() as u64);
            bars.borrow_mut().suspend(&mut || report_panics(s, json));
        },
        |sample| {
            if !json {
                bars.borrow_mut().suspend(&mut || {
                    println!(
                        "soak frame {:>7}  rss {:>8.1} MiB  stack pool {:>6}  in use {:>6}  \
                     ships {:>6}  tasklets {:>6}",
                        sample.frame,
                        sample.rss_bytes.unwrap_or(0) as f64 / (1024.0 * 1024.0),
                        sample.pool_stacks,
                        sample.stacks_in_use,
                        sample.ships,
                        sample.tasklets
                    )
                });
            }
        },
    )
    .map_err(|e| e.to_string())
}

/// The soak's figures for the JSON line.
fn soak_json(report: &SoakReport) -> serde_json::Value {
    let samples: Vec<serde_json::Value> = report
        .samples
        .iter()
        .map(|s| {
            serde_json::json!({
                "frame": s.frame,
                "rss_bytes": s.rss_bytes,
                "pool_stacks": s.pool_stacks,
                "stacks_in_use": s.stacks_in_use,
                "ships": s.ships,
                "tasklets": s.tasklets,
            })
        })
        .collect();
    serde_json::json!({
        "passed": report.passed(),
        "failures": report.failures,
        "reinforcements": report.reinforcements,
        "rss_peak_second_quarter": report.rss_peaks.map(|p| p.0),
        "rss_peak_last_half": report.rss_peaks.map(|p| p.1),
        "pool_peak_second_quarter": report.pool_peaks.0,
        "pool_peak_last_half": report.pool_peaks.1,
        "samples": samples,
    })
}

/// One line: frame, game time, ships per fleet, frame times over the last `window`.
fn progress(skirmish: &Skirmish, fleets: &[String], window: usize) {
    let times = skirmish.frame_times_ms();
    let recent = &times[times.len().saturating_sub(window)..];
    let alive: Vec<String> = fleets
        .iter()
        .zip(skirmish.on_field())
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    let stats = skirmish.driver.stats();
    println!(
        "frame {:>6}  t={:>6.1}s  {}  frame p50 {:.3} ms p99 {:.3} ms  ({} resumed, {} deferred)",
        skirmish.frames(),
        skirmish.driver.now().as_secs_f64(),
        alive.join("  "),
        percentile(recent, 50.0),
        percentile(recent, 99.0),
        stats.resumed,
        stats.deferred,
    );
}

/// EVE's tasklet timers: the ships whose scripts ran longest.
fn print_busiest_tasklets(skirmish: &Skirmish) {
    let times = skirmish.driver.tasklet_times();
    if times.is_empty() {
        return;
    }
    println!("  busiest ship scripts still flying:");
    for t in times.iter().take(3) {
        println!(
            "    {:<28} {:>8.3} ms over {:>6} resumes",
            t.name,
            t.run_time.as_secs_f64() * 1000.0,
            t.switches
        );
    }
}
