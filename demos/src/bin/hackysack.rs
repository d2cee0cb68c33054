//! Hackysack, the classic Stackless benchmark from Grant Olson's "Why Stackless" (2006).
//!
//! It shows how cheap tasklets and channel switches are: N players, each a tasklet
//! blocked on its own channel; the sack is kicked to a random player T times, then every
//! player is told to go home. The time covers creating the players, the game and the
//! teardown, as in the paper (Stackless Python: 1.07 s for 100,000 players and 1000
//! turns). `benches/greenlet/hackysack.py` plays the same game on Python greenlets.
//!
//! ```sh
//! cargo run --release --bin hackysack -- --players 100000 --turns 1000 --json
//! ```

use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use demos::cli::stack_name;
use demos::hackysack::{play_rounds, Game};
use uthread::{Scheduler, StackStrategy};

/// 100,000 players make about eight small allocations each (record, join state, body,
/// channel, wait list, saved frames); mimalloc serves them faster than glibc's malloc
/// (Python's greenlet runs on pymalloc's arenas, its own small-object allocator).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Hackysack: N tasklets kick a sack around over channels (Olson's Stackless benchmark).
#[derive(Debug, Parser)]
#[command(version, long_about = None)]
struct Args {
    /// Players in the circle, each a tasklet with its own channel (at most 2,000,000:
    /// 10^12 aborted allocating their list).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(2..=2_000_000))]
    players: u64,
    /// Kicks before everyone goes home (at most 100,000,000).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    turns: u64,
    /// Seed of the random choice of who gets the sack.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where the players' stacks live. Dedicated (the default): a guarded stack each,
    /// carved from large mappings. Copying: they share one stack and each keeps the part
    /// it uses on the heap, as in Stackless Python (less memory, a copy per switch).
    #[arg(long, value_enum, default_value_t = Stacks::Dedicated)]
    stacks: Stacks,
    /// Usable stack per player in KiB (players are shallow; 16 is the minimum).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(16..=65536))]
    stack_kib: u64,
    /// Print every kick (for small games).
    #[arg(long)]
    verbose: bool,
    /// Games to play one after the other in this process (each reported; the best is
    /// `best_seconds`), as the greenlet peer takes the best of its rounds.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    rounds: u32,
    /// Print one line of JSON: players, turns, seconds (creation, game and teardown).
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    demos::cli::stop_quietly_on_broken_pipe();
    let args = Args::parse();
    let strategy = args.stacks.strategy();
    let game = Game {
        players: args.players as usize,
        turns: args.turns,
        seed: args.seed,
        scheduler: Scheduler::builder()
            .stack_size(args.stack_kib as usize * 1024)
            .stack_strategy(strategy),
        verbose: args.verbose,
    };
    let outcomes = match play_rounds(&game, args.rounds as usize) {
        Ok(outcomes) => outcomes,
        Err(error) => {
            eprintln!("hackysack: {error}");
            return ExitCode::FAILURE;
        }
    };
    let seconds: Vec<f64> = outcomes.iter().map(|o| o.total().as_secs_f64()).collect();
    let best = seconds.iter().copied().fold(f64::INFINITY, f64::min);
    let first = &outcomes[0];
    if args.json {
        let rounds: Vec<_> = outcomes
            .iter()
            .map(|o| {
                serde_json::json!({
                    "seconds": o.total().as_secs_f64(),
                    "create_seconds": o.create.as_secs_f64(),
                    "game_seconds": o.game.as_secs_f64(),
                    "teardown_seconds": o.teardown.as_secs_f64(),
                })
            })
            .collect();
        let line = serde_json::json!({
            "players": first.players,
            "turns": first.kicks,
            "seconds": seconds[0],
            "create_seconds": first.create.as_secs_f64(),
            "game_seconds": first.game.as_secs_f64(),
            "teardown_seconds": first.teardown.as_secs_f64(),
            "rounds": rounds,
            "best_seconds": best,
            "seed": args.seed,
            "stack_kib": args.stack_kib,
            "stacks": stack_name(strategy),
        });
        println!("{line}");
    } else {
        for (round, outcome) in outcomes.iter().enumerate() {
            println!(
                "round {}: {} players, {} turns, {} stacks: {:.3} s in all (create {:.3} s, \
                 game {:.3} s, teardown {:.3} s)",
                round + 1,
                outcome.players,
                outcome.kicks,
                stack_name(strategy),
                outcome.total().as_secs_f64(),
                outcome.create.as_secs_f64(),
                outcome.game.as_secs_f64(),
                outcome.teardown.as_secs_f64(),
            );
        }
        if outcomes.len() > 1 {
            println!("best of {}: {best:.3} s", outcomes.len());
        }
        println!("Stackless Python in Olson's paper: 1.07 s for 100,000 players and 1000 turns");
    }
    ExitCode::SUCCESS
}

/// The `--stacks` choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Stacks {
    /// Stack copying: players share one stack and keep their used part on the heap.
    Copying,
    /// A guarded stack of its own for every player.
    Dedicated,
}

impl Stacks {
    fn strategy(self) -> StackStrategy {
        match self {
            Stacks::Copying => demos::cli::copying_stacks(),
            Stacks::Dedicated => StackStrategy::dedicated(),
        }
    }
}
