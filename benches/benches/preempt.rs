//! `preempt/*`: what a preempt point costs a loop iteration when it is not due (issue 17:
//! at most 2 ns over the bare iteration). Each figure is for one iteration of the same
//! small loop body (a rotate and an add, serial so it cannot be vectorised or folded):
//!
//! - `empty_loop`: the body alone, the baseline;
//! - `point_not_due`: the body under `#[uthread::preemptible]` (one point an iteration),
//!   in a tasklet run under a hard per-slice watchdog of 10 s, armed but never due;
//! - `point_unarmed`: the same annotated loop under a plain `run()`: no watchdog, no
//!   budget (the point should then cost next to nothing).
//!
//! Every loop runs inside a tasklet, which times it itself and returns the time: the
//! spawn and the switches in and out stay outside the timed region.
#![allow(
    missing_docs,
    reason = "criterion_group! and criterion_main! generate undocumented items"
)]

#[allow(
    dead_code,
    reason = "this file needs only config(), not the turn-taking timer"
)]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use uthread::{RunOutcome, Scheduler, Watchdog};

/// The armed watchdog's limit: far beyond any sample, so no point is ever due.
const NOT_DUE: Duration = Duration::from_secs(10);

/// One step of the loop body: rotate and add (serial: each step needs the last; a linear
/// step such as an LCG's multiply-add lets the compiler fold four iterations into one,
/// which the disassembly showed it doing).
#[inline(always)]
fn body(x: u64, i: u64) -> u64 {
    x.rotate_left(5).wrapping_add(i)
}

/// `iters` iterations of the body, no point.
#[inline(never)]
fn plain_loop(iters: u64) -> u64 {
    let mut x = black_box(1u64);
    for i in 0..iters {
        x = body(x, i);
    }
    x
}

/// The same loop with a preempt point at the top of each iteration.
#[inline(never)]
#[uthread::preemptible]
fn preemptible_loop(iters: u64) -> u64 {
    let mut x = black_box(1u64);
    for i in 0..iters {
        x = body(x, i);
    }
    x
}

/// How a tasklet's loop is run.
#[derive(Clone, Copy)]
enum Run {
    /// Under `run_watchdog(Watchdog::per_slice(NOT_DUE))`.
    ArmedNotDue,
    /// Under a plain `run()`.
    Unarmed,
}

/// Runs `looper(iters)` in a tasklet on `sched` and returns the time the loop took, as
/// the tasklet measured it.
fn time_in_tasklet(sched: &Scheduler, iters: u64, how: Run, looper: fn(u64) -> u64) -> Duration {
    let handle = sched
        .spawn(move || {
            let start = Instant::now();
            black_box(looper(black_box(iters)));
            start.elapsed()
        })
        .expect("spawn");
    let outcome = match how {
        Run::ArmedNotDue => sched.run_watchdog(Watchdog::per_slice(NOT_DUE)),
        Run::Unarmed => sched.run(),
    }
    .expect("run");
    assert!(
        matches!(outcome, RunOutcome::Finished),
        "the loop must finish in one slice, not {outcome:?}"
    );
    handle.join().expect("join")
}

fn preempt(c: &mut Criterion) {
    let mut group = c.benchmark_group("preempt");
    let sched = Scheduler::new();

    group.bench_function("empty_loop", |b| {
        b.iter_custom(|iters| time_in_tasklet(&sched, iters, Run::ArmedNotDue, plain_loop));
    });
    group.bench_function("point_not_due", |b| {
        b.iter_custom(|iters| time_in_tasklet(&sched, iters, Run::ArmedNotDue, preemptible_loop));
    });
    group.bench_function("point_unarmed", |b| {
        b.iter_custom(|iters| time_in_tasklet(&sched, iters, Run::Unarmed, preemptible_loop));
    });

    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = preempt
}
criterion_main!(benches);
