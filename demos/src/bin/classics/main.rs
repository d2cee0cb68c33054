//! The classic Stackless examples, rewritten with uthread: each subcommand is a short,
//! commented program meant to be read next to its output.
//!
//! - `pingpong`: two tasklets bat a ball over two channels.
//! - `producer-consumer`: producers and consumers share a bounded `Queue`.
//! - `sieve`: the concurrent prime sieve, a pipeline of filter tasklets.
//! - `philosophers`: the dining philosophers with `Lock`s as forks, done right.
//! - `philosophers-deadlock`: the same table done wrong; the scheduler reports the
//!   deadlock (who waits on which fork) instead of hanging.
//! - `runaway`: a script spins in plain Rust for 300 ms; the frame hangs until it ends.
//! - `preempt`: the same loop under `#[uthread::preemptible]`, interrupted by a 2 ms hard
//!   watchdog and resumed over many frames.
//! - `all`: every one of them in turn, small.
//!
//! ```sh
//! cargo run --release --bin classics -- all
//! ```

mod philosophers;
mod pingpong;
mod preempt;
mod producer_consumer;
mod runaway;
mod sieve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Classic Stackless examples rewritten with uthread.
#[derive(Debug, Parser)]
#[command(version, long_about = None)]
struct Args {
    #[command(subcommand)]
    example: Example,
}

#[derive(Debug, Subcommand)]
enum Example {
    /// Two tasklets bat a ball back and forth over two channels.
    Pingpong {
        /// Round trips (each one is printed when there are at most 10; otherwise the
        /// time per round trip is).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(0..=10_000_000))]
        rounds: u64,
    },
    /// Producers put work into a bounded Queue; consumers take it until it is closed.
    ProducerConsumer {
        /// Producer tasklets.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        producers: u32,
        /// Consumer tasklets.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        consumers: u32,
        /// Items each producer makes.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
        items: u32,
        /// Most items the queue holds; producers wait while it is full.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
        capacity: u32,
    },
    /// The concurrent prime sieve: a generator and a chain of filter tasklets.
    Sieve {
        /// How many primes to print.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        primes: u32,
    },
    /// Dining philosophers with Locks as forks, taking the lower-numbered fork first.
    Philosophers {
        /// Philosophers at the table (and forks).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(2..=10_000))]
        philosophers: u32,
        /// Meals each one eats.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=100_000))]
        meals: u32,
    },
    /// Dining philosophers all taking the left fork first: a deadlock, reported.
    PhilosophersDeadlock {
        /// Philosophers at the table (and forks).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(2..=10_000))]
        philosophers: u32,
    },
    /// A script spins in plain Rust without a uthread call: the frame hangs until it ends.
    Runaway {
        /// How long the script computes, in milliseconds.
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(0..=60_000))]
        spin_ms: u64,
    },
    /// The same loop under #[uthread::preemptible], interrupted by a hard watchdog.
    Preempt {
        /// How long the loop computes without interruptions, in milliseconds.
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(0..=60_000))]
        spin_ms: u64,
        /// The hard watchdog's limit per slice, in milliseconds.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
        limit_ms: u64,
    },
    /// Every example in turn, with the defaults.
    All,
}

/// What an example says went wrong (it printed the details already).
type Outcome = Result<(), String>;

fn run(example: &Example) -> Outcome {
    match *example {
        Example::Pingpong { rounds } => pingpong::run(rounds),
        Example::ProducerConsumer {
            producers,
            consumers,
            items,
            capacity,
        } => producer_consumer::run(producers, consumers, items, capacity),
        Example::Sieve { primes } => sieve::run(primes),
        Example::Philosophers {
            philosophers,
            meals,
        } => philosophers::run_correct(philosophers, meals),
        Example::PhilosophersDeadlock { philosophers } => philosophers::run_deadlock(philosophers),
        Example::Runaway { spin_ms } => runaway::run(spin_ms),
        Example::Preempt { spin_ms, limit_ms } => preempt::run(spin_ms, limit_ms),
        Example::All => {
            let examples = [
                ("pingpong", Example::Pingpong { rounds: 5 }),
                (
                    "producer-consumer",
                    Example::ProducerConsumer {
                        producers: 3,
                        consumers: 2,
                        items: 4,
                        capacity: 2,
                    },
                ),
                ("sieve", Example::Sieve { primes: 20 }),
                (
                    "philosophers",
                    Example::Philosophers {
                        philosophers: 5,
                        meals: 3,
                    },
                ),
                (
                    "philosophers-deadlock",
                    Example::PhilosophersDeadlock { philosophers: 5 },
                ),
                ("runaway", Example::Runaway { spin_ms: 300 }),
                (
                    "preempt",
                    Example::Preempt {
                        spin_ms: 300,
                        limit_ms: 2,
                    },
                ),
            ];
            for (name, example) in &examples {
                println!("=== {name}");
                run(example)?;
                println!();
            }
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    demos::cli::stop_quietly_on_broken_pipe();
    let args = Args::parse();
    match run(&args.example) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("classics: {message}");
            ExitCode::FAILURE
        }
    }
}
