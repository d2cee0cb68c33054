//! The galaxy of `demos` on one thread and on two (issue 14): four solar systems, each a
//! shard with its own world, frame driver and tasklets, in lockstep with a resume budget
//! so that both runs do exactly the same work (the same world hash, frame for frame).
//! Figures and what limits the speed-up are in `BENCHMARKS.md`.
//!
//! Each iteration starts a fresh galaxy (set-up not timed), runs `FRAMES` frames and
//! reports their wall time only (the cluster's `run_time`: first frame's start to the
//! last frame's end); teardown is not timed either. The group's throughput is frames,
//! so criterion's "thrpt" is galaxy frames per second.
#![allow(
    missing_docs,
    reason = "criterion_group! and criterion_main! generate undocumented items"
)]

#[allow(dead_code, reason = "this benchmark uses only common::config")]
mod common;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use demos::galaxy::{Galaxy, GalaxyConfig};
use demos::scenario::Scenario;
use engine::Budget;

/// Solar systems: two per thread on two threads.
const SYSTEMS: usize = 4;
/// Ships per system: enough that a frame takes a few milliseconds on one thread.
const SHIPS: u32 = 1_500;
/// Frames per iteration: the fleets close in and start fighting; ships start jumping.
const FRAMES: u64 = 150;

fn galaxy(threads: usize) -> GalaxyConfig {
    GalaxyConfig {
        systems: SYSTEMS,
        ships: SHIPS,
        threads,
        frames: FRAMES,
        seed: 4,
        // Large enough that every ready tasklet runs every frame.
        budget: Budget::Resumes(1_000_000),
        lockstep: true,
        render_every: None,
    }
}

fn shards(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/skirmish.ron");
    let base = Scenario::load(path).expect("the default scenario loads");
    let mut group = c.benchmark_group("shards");
    group.throughput(Throughput::Elements(FRAMES));
    group.sample_size(10);
    for (id, threads) in [("galaxy_1_thread", 1), ("galaxy_2_threads", 2)] {
        group.bench_function(id, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let summary = Galaxy::start(&base, galaxy(threads))
                        .expect("the galaxy starts")
                        .finish();
                    assert_eq!(summary.frames, FRAMES);
                    total += Duration::from_secs_f64(summary.run_ms / 1000.0);
                }
                total
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config().measurement_time(Duration::from_secs(10));
    targets = shards
}
criterion_main!(benches);
