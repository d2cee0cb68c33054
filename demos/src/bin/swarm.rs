//! The swarm, the scale demo: N animals in herds on a field, every one an entity whose
//! behaviour is a tasklet written as a plain script ("rest a while; get up, wander
//! toward the herd; run from strangers"; see `demos/src/swarm/behaviour.rs`). Systems
//! move them, file them in a spatial grid and send close encounters to their inboxes;
//! the engine's frame driver resumes the few that are awake each frame within a budget.
//! Most animals are asleep at any moment, as in a real game, so a frame costs what the
//! awake ones do, plus the systems' pass over every entity.
//!
//! ```sh
//! cargo run --release --bin swarm                                   # 10,000 animals
//! cargo run --release --bin swarm -- --entities 100000
//! cargo run --release --bin swarm -- --entities 1000000 --frames 300 --json
//! cargo run --release --bin swarm -- --budget-resumes 2000 --json   # deterministic
//! ```

use std::process::ExitCode;

use clap::Parser;
use demos::cli::{self, stack_name, BudgetArgs, Stacks};
use demos::measure::percentile;
use demos::progress::{Bars, Progress};
use demos::swarm::{Swarm, SwarmConfig, FRAME};
use engine::Budget;

/// A million animals make millions of small allocations (records, inboxes, wait lists),
/// and tearing them down frees them all: glibc's malloc spent a third of the teardown
/// consolidating free chunks (perf), mimalloc does not. The library imposes no allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Animals rest, wander, flock and flee; every one is a tasklet running a plain script.
#[derive(Debug, Parser)]
#[command(version, long_about = None)]
struct Args {
    /// Animals on the field (entities, each with a tasklet; at most 2,000,000, about
    /// 6 GB: 50,000,000 ran out of memory).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=2_000_000))]
    entities: u64,
    /// Frames to run, at 60 frames per game second (at most 1,000,000).
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    frames: u32,
    /// Seed of the placement and of every animal's choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    budget: BudgetArgs,
    /// Where the tasklets' stacks live: a guarded stack each (dedicated, the default, at
    /// any count), or one shared stack with each tasklet's used part copied to the heap
    /// while it is suspended (copying: less memory, a copy per switch).
    #[arg(long, value_enum, default_value_t = Stacks::Dedicated)]
    stacks: Stacks,
    /// Usable stack per tasklet: bytes, or with a suffix (64k, 1m). At least 16k.
    #[arg(long, default_value = "64k", value_parser = cli::stack_size)]
    stack_size: usize,
    /// Print a progress line every this many frames (0: none).
    #[arg(long, default_value_t = 60)]
    progress: u32,
    /// End with one line of JSON (and print nothing else).
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    demos::cli::stop_quietly_on_broken_pipe();
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("swarm: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let budget = args.budget.budget()?;
    let entities = args.entities as usize;
    let stacks = args.stacks.strategy();
    let config = SwarmConfig {
        entities,
        seed: args.seed,
        budget,
        stacks,
        stack_size: args.stack_size,
    };
    let budget_text = match budget {
        Budget::Resumes(n) => format!("{n} resumes"),
        _ => format!("{} ms", args.budget.budget_ms),
    };
    if !args.json {
        println!(
            "swarm: {entities} animals, {} stacks of {} KiB, seed {}, {} frames of {:.1} ms, \
             tasklet budget {budget_text} per frame",
            stack_name(stacks),
            args.stack_size / 1024,
            args.seed,
            args.frames,
            FRAME.as_secs_f64() * 1000.0,
        );
    }
    // Bars on stderr while setting up, running and tearing down, when it is a terminal.
    let mut bars = Bars::on_stderr();
    let mut swarm = Swarm::with_progress(config, &mut bars).map_err(|e| e.to_string())?;
    if !args.json {
        println!(
            "spawned {entities} animals in {:.0} ms and ran each once in {:.0} ms, on a {:.0} m \
             field ({} x {} grid cells)",
            swarm.setup_time().as_secs_f64() * 1000.0,
            swarm.startup_time().as_secs_f64() * 1000.0,
            swarm.field.side,
            swarm.field.grid.borrow().side_cells(),
            swarm.field.grid.borrow().side_cells(),
        );
    }
    let every = args.progress as usize;
    let mut resumed_since = 0u64;
    bars.start("frames", u64::from(args.frames));
    while swarm.frames() < args.frames as usize {
        resumed_since += swarm.step().resumed;
        let frame = swarm.frames();
        bars.set(frame as u64);
        if !args.json && every > 0 && frame % every == 0 {
            bars.suspend(&mut || progress(&swarm, every, resumed_since, &budget_text));
            resumed_since = 0;
        }
    }
    let summary = swarm.finish_with_progress(&mut bars);
    if args.json {
        println!("{}", summary.to_json());
    } else {
        println!("{summary}");
    }
    Ok(())
}

/// One line: frame, game time, who does what, frame times and resumes over the last
/// `window` frames.
fn progress(swarm: &Swarm, window: usize, resumed: u64, budget: &str) {
    let frames = swarm.frame_times_ms();
    let recent = &frames[frames.len().saturating_sub(window)..];
    let tasklets = swarm.tasklet_times_ms();
    let recent_tasklets = &tasklets[tasklets.len().saturating_sub(window)..];
    let census = swarm.field.census.get();
    println!(
        "frame {:>5}  t={:>5.1}s  resting {:>7} wandering {:>7} fleeing {:>6}  frame p50 \
         {:.3} ms p99 {:.3} ms  tasklets p99 {:.3} ms (budget {budget})  {:.0} resumes/frame",
        swarm.frames(),
        swarm.driver.now().as_secs_f64(),
        census.resting,
        census.wandering,
        census.fleeing,
        percentile(recent, 50.0),
        percentile(recent, 99.0),
        percentile(recent_tasklets, 99.0),
        resumed as f64 / recent.len().max(1) as f64,
    );
}
