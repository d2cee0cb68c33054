//! Pieces every benchmark file shares (included with `mod common;`; not a bench target
//! of its own).

use std::time::{Duration, Instant};

use criterion::Criterion;
use uthread::Scheduler;

/// Criterion's defaults, kept modest for a 2-core machine; command-line flags override
/// them.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

/// Times `iters` turns shared by two tasklets on `sched`, each turn one call of `turn`
/// (which must switch to the other tasklet, e.g. `uthread::schedule()`): the first
/// tasklet takes the odd one out. Only the run is timed, not the spawns.
pub fn time_two_taking_turns(
    sched: &Scheduler,
    iters: u64,
    turn: impl Fn() + Clone + 'static,
) -> Duration {
    for n in [iters.div_ceil(2), iters / 2] {
        let turn = turn.clone();
        sched
            .spawn(move || {
                for _ in 0..n {
                    turn();
                }
            })
            .expect("spawn");
    }
    let start = Instant::now();
    sched.run().expect("run");
    start.elapsed()
}
