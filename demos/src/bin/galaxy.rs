//! The galaxy: solar systems linked by stargates, one shard (world, frame driver,
//! tasklets) per system, spread over the machine's cores; every ship flies the
//! skirmish's script and jumps from system to system when its fleet cannot win or a
//! patrol calls it where the hostiles are (see `demos/src/galaxy/`).
//!
//! ```sh
//! cargo run --release --bin galaxy                                  # 4 systems, all cores
//! cargo run --release --bin galaxy -- --render galaxy.gif --frames 1200
//! cargo run --release --bin galaxy -- --systems 4 --ships 200 --threads 1 \
//!     --budget-resumes 300 --frames 400 --json       # lockstep: same hash on any --threads
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use demos::cli::{self, BudgetArgs};
use demos::galaxy::{Galaxy, GalaxyConfig, GalaxySummary, Pictures};
use demos::render::{GifRenderer, RenderOptions};
use demos::scenario::{Scenario, MAX_FRAMES, MAX_SHIPS};
use engine::shard::Update;

/// Solar systems linked by stargates, one frame driver per system, spread over threads.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Args {
    /// Solar systems, in a ring (each a shard: its own world, driver and tasklets).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    systems: u32,
    /// Ships per system at the start, shared by its two fleets (from 85/15 to 50/50
    /// around the ring).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    ships: u32,
    /// Threads that run the systems (default: the machine's cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
    threads: Option<u32>,
    /// Frames to run (at most 1,000,000).
    #[arg(long, default_value_t = 1200,
          value_parser = clap::value_parser!(u64).range(1..=u64::from(MAX_FRAMES)))]
    frames: u64,
    /// Seed of the galaxy (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Each system's tasklet budget per frame. `--budget-resumes` also puts the systems
    /// in lockstep: the world hash is then the same on any number of threads.
    #[command(flatten)]
    budget: BudgetArgs,
    /// Lockstep even with a time budget (every thread finishes a frame before any
    /// starts the next; the default with a time budget is free-running).
    #[arg(long)]
    lockstep: bool,
    /// The ship classes and fleets (RON; see assets/README.md).
    #[arg(long, default_value_os_t = cli::default_scenario())]
    scenario: PathBuf,
    /// End with one line of JSON.
    #[arg(long)]
    json: bool,
    /// Write an animated GIF of the systems side by side, jumps and all.
    #[arg(long, value_name = "OUT.gif")]
    render: Option<PathBuf>,
    /// Width of the GIF in pixels.
    #[arg(long, default_value_t = 1280, value_parser = clap::value_parser!(u16).range(64..=4096))]
    render_width: u16,
}

/// Exit status for a scenario that cannot be used.
const BAD_SCENARIO: u8 = 2;

fn main() -> ExitCode {
    demos::cli::stop_quietly_on_broken_pipe();
    let args = Args::parse();
    let ships = u64::from(args.systems) * u64::from(args.ships);
    if ships > u64::from(MAX_SHIPS) {
        eprintln!(
            "galaxy: --systems {} times --ships {} is {ships} ships; a galaxy has at most \
             {MAX_SHIPS} (each is a tasklet with a stack of its own)",
            args.systems, args.ships
        );
        return ExitCode::from(BAD_SCENARIO);
    }
    let scenario = match Scenario::load(&args.scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("galaxy: {e}");
            return ExitCode::from(BAD_SCENARIO);
        }
    };
    match run(&args, &scenario) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("galaxy: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args, scenario: &Scenario) -> Result<(), String> {
    let budget = args.budget.budget()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let config = GalaxyConfig {
        systems: args.systems as usize,
        ships: args.ships,
        threads: args.threads.map_or(cores, |t| t as usize),
        frames: args.frames,
        seed: args.seed.unwrap_or(scenario.seed),
        budget,
        lockstep: args.lockstep || args.budget.budget_resumes.is_some(),
        render_every: args.render.as_ref().map(|_| (args.frames / 300).max(2)),
    };
    let galaxy = Galaxy::start(scenario, config.clone()).map_err(|e| e.to_string())?;
    if !args.json {
        let clock = if config.lockstep {
            "lockstep"
        } else {
            "free-running"
        };
        println!(
            "galaxy: {} systems of {} ships on {} thread(s), {} frames of {:.0} ms ({clock}, seed {})",
            config.systems,
            config.ships,
            galaxy.threads(),
            config.frames,
            scenario.time_step * 1000.0,
            config.seed
        );
    }
    let mut gif = match (&args.render, config.render_every) {
        (Some(path), Some(every)) => Some(gif(args, path, &galaxy, every, scenario.time_step)?),
        _ => None,
    };
    let mut pictures = Pictures::new(galaxy.map());
    for update in galaxy.updates().iter() {
        match update {
            Update::Frame {
                shard,
                frame,
                report,
            } => pictures.add(shard.index(), frame, report),
            Update::Failed(failure) => {
                pictures.fail(failure.shard.index());
                eprintln!("galaxy: {failure}");
            }
        }
        if let Some(renderer) = &mut gif {
            for snapshot in pictures.complete() {
                renderer.add(&snapshot).map_err(|e| e.to_string())?;
            }
        }
    }
    let summary = galaxy.finish();
    if let Some(mut renderer) = gif {
        for snapshot in pictures.rest() {
            renderer.add(&snapshot).map_err(|e| e.to_string())?;
        }
        let frames = renderer.frames();
        let mut out = renderer.finish().map_err(|e| e.to_string())?;
        out.flush()
            .map_err(|e| format!("cannot write the GIF: {e}"))?;
        if !args.json {
            let path = args
                .render
                .as_ref()
                .map_or(String::new(), |p| p.display().to_string());
            println!("wrote {path} ({frames} frames)");
        }
    }
    if args.json {
        println!("{}", summary.to_json());
    } else {
        println!("{summary}");
    }
    check(&summary)
}

/// Opens the GIF: about 300 pictures, at four times game speed.
fn gif(
    args: &Args,
    path: &PathBuf,
    galaxy: &Galaxy,
    every: u64,
    time_step: f64,
) -> Result<GifRenderer<BufWriter<File>>, String> {
    let delay = Duration::from_secs_f64(every as f64 * time_step / 4.0);
    let file = File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let pictures = Pictures::new(galaxy.map());
    let options = RenderOptions {
        width: args.render_width,
        frame_delay: delay.max(Duration::from_millis(30)),
        fleet_names: galaxy.fleets().to_vec(),
    };
    let renderer = GifRenderer::new(BufWriter::new(file), pictures.size(), options)
        .map_err(|e| e.to_string())?;
    Ok(renderer.with_landmarks(pictures.landmarks()))
}

/// The run's own checks: no system failed, every ship and every message accounted for.
fn check(summary: &GalaxySummary) -> Result<(), String> {
    let mut problems: Vec<String> = summary
        .failures()
        .iter()
        .map(|f| format!("a system failed: {f}"))
        .collect();
    if !summary.books_balance() {
        problems.push(
            "the ships do not add up (start = alive + destroyed + warped out + lost in transit)"
                .to_owned(),
        );
    }
    let m = summary.messages;
    if !m.balanced() {
        problems.push(format!(
            "the messages do not add up: {} sent, {} delivered, {} returned, {} dropped",
            m.sent, m.delivered, m.returned, m.dropped
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("check failed: {}", problems.join("; ")))
    }
}
