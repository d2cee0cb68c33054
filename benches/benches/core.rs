//! Core costs of uthread, each beside its baseline in the same group: a switch, a spawn
//! and a channel round trip (issue 2 §6). Figures and targets are in `BENCHMARKS.md`.
//!
//! Setup (schedulers, runtimes, spawning the tasklets that a timed run drives) stays
//! outside the timed regions: the `iter_custom` benchmarks start the clock right before
//! the run call and stop it right after, and divide by the operations done in between.
#![allow(
    missing_docs,
    reason = "criterion_group! and criterion_main! generate undocumented items"
)]

mod common;

use std::hint::black_box;
use std::time::Instant;

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, Yielder};
use criterion::{criterion_group, criterion_main, Criterion};
use uthread::{Channel, Scheduler};

/// `switch/*`: one resume+suspend round trip of a bare coroutine, against one
/// `uthread::schedule()` call with two tasklets taking turns (each call suspends one
/// tasklet and resumes the other through the scheduler's pump).
fn switch(c: &mut Criterion) {
    let mut group = c.benchmark_group("switch");

    group.bench_function("corosensei_raw", |b| {
        let mut co: Coroutine<(), (), (), DefaultStack> =
            Coroutine::new(|yielder: &Yielder<(), ()>, ()| loop {
                yielder.suspend(());
            });
        b.iter(|| black_box(co.resume(())));
        // Dropping `co` unwinds its (suspended) body, outside the timed closure.
    });

    group.bench_function("tasklet", |b| {
        let sched = Scheduler::new();
        // Every schedule() switches to the other tasklet (the one with the extra call
        // switches to the other's final return).
        b.iter_custom(|iters| {
            common::time_two_taking_turns(&sched, iters, || uthread::schedule().expect("schedule"))
        });
    });

    group.finish();
}

/// `spawn/*`: create, run to completion and drop a trivial coroutine on a fresh
/// `DefaultStack` (mmap + mprotect + munmap each time), against spawning a trivial
/// tasklet on a warmed-up scheduler and running it to completion (its stack goes back
/// to the pool for the next spawn).
fn spawn(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn");

    group.bench_function("corosensei_default_stack", |b| {
        b.iter(|| {
            let mut co: Coroutine<(), (), u32, DefaultStack> =
                Coroutine::new(|_: &Yielder<(), ()>, ()| black_box(7));
            black_box(co.resume(()));
            drop(co);
        });
    });

    group.bench_function("tasklet_pooled", |b| {
        let sched = Scheduler::new();
        // Warm-up: the first spawn maps the stack that every later spawn reuses.
        sched.spawn(|| ()).expect("spawn");
        sched.run().expect("run");
        let mapped = sched.stack_stats().mapped;
        b.iter(|| {
            let handle = sched.spawn(|| black_box(7u32)).expect("spawn");
            sched.run().expect("run");
            black_box(handle.join().expect("join"))
        });
        assert_eq!(
            sched.stack_stats().mapped,
            mapped,
            "every spawn after the warm-up reuses a pooled stack"
        );
    });

    group.finish();
}

/// `pingpong/*`: one round trip (a value there over one channel, back over another)
/// between two tasklets on `uthread::Channel`s, against two tasks on tokio mpsc
/// channels on a current_thread runtime.
fn pingpong(c: &mut Criterion) {
    let mut group = c.benchmark_group("pingpong");

    group.bench_function("tasklet_channel", |b| {
        let sched = Scheduler::new();
        b.iter_custom(|iters| {
            let ping = Channel::<u64>::new();
            let pong = Channel::<u64>::new();
            let (ping_rx, pong_tx) = (ping.clone(), pong.clone());
            sched
                .spawn(move || {
                    for _ in 0..iters {
                        let v = ping_rx.receive().expect("ping");
                        pong_tx.send(v + 1).expect("pong");
                    }
                })
                .expect("spawn echo");
            sched
                .spawn(move || {
                    for i in 0..iters {
                        ping.send(i).expect("send ping");
                        let back = pong.receive().expect("receive pong");
                        debug_assert_eq!(back, i + 1);
                        black_box(back);
                    }
                })
                .expect("spawn pinger");
            let start = Instant::now();
            sched.run().expect("run");
            start.elapsed()
        });
    });

    group.bench_function("tokio_mpsc", |b| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        b.iter_custom(|iters| {
            let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<u64>(1);
            let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<u64>(1);
            // Spawned outside the timed region; they first run inside block_on.
            let echo = rt.spawn(async move {
                for _ in 0..iters {
                    let v = ping_rx.recv().await.expect("ping");
                    pong_tx.send(v + 1).await.expect("pong");
                }
            });
            let pinger = rt.spawn(async move {
                for i in 0..iters {
                    ping_tx.send(i).await.expect("send ping");
                    let back = pong_rx.recv().await.expect("receive pong");
                    debug_assert_eq!(back, i + 1);
                    black_box(back);
                }
            });
            let start = Instant::now();
            rt.block_on(async {
                pinger.await.expect("pinger");
                echo.await.expect("echo");
            });
            start.elapsed()
        });
    });

    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = switch, spawn, pingpong
}
criterion_main!(benches);
