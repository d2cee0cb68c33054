//! Layer-2 costs (issue 3): locks, select, timers, idle sleepers and remote sends, each
//! group with a baseline beside it. Figures and targets are in `BENCHMARKS.md`.
//!
//! Setup (schedulers, spawning the tasklets a timed run drives, threads, far-future
//! sleepers) stays outside the timed regions: `iter_custom` benchmarks start the clock
//! right before the run call and stop it right after.
//!
//! `idle/1m_sleepers_1k_active` parks `UTHREAD_BENCH_SLEEPERS` far-future sleepers beside
//! the 1,000 active tasklets (default 1,000,000, on default dedicated stacks). If spawning
//! stops early (out of mappings or memory), the benchmark says how many it got and goes on
//! with those.
#![allow(
    missing_docs,
    reason = "criterion_group! and criterion_main! generate undocumented items"
)]

mod common;

use std::hint::black_box;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use uthread::{be_nice, select, Channel, Lock, Scheduler};

/// Sets the far-future sleeper count of `idle/1m_sleepers_1k_active`.
const SLEEPERS_ENV: &str = "UTHREAD_BENCH_SLEEPERS";
/// Active (be_nice) tasklets per tick in the `idle/*` benchmarks.
const ACTIVE: usize = 1_000;
/// Stack size of the tasklets spawned here (they never go deep).
const STACK: usize = 16 * 1024;

fn manual_scheduler() -> Scheduler {
    Scheduler::builder()
        .manual_clock()
        .stack_size(STACK)
        .build()
}

/// `lock/*`: an uncontended lock and unlock from one tasklet, against `std::sync::Mutex`;
/// and a lock handed back and forth between two tasklets (every acquisition waits for the
/// other holder, which hands the lock over when it releases).
fn lock(c: &mut Criterion) {
    let mut group = c.benchmark_group("lock");

    // Criterion calls each benchmark closure once per sample: setup that should happen
    // once lives out here.
    let sched = Scheduler::builder().stack_size(STACK).build();
    let lock = Lock::new();

    group.bench_function("uncontended", |b| {
        b.iter_custom(|iters| {
            // The tasklet times itself: spawning and starting it are not counted.
            let l = lock.clone();
            let timed = sched
                .spawn(move || {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let guard = l.lock().expect("lock");
                        black_box(&guard);
                    }
                    start.elapsed()
                })
                .expect("spawn");
            sched.run().expect("run");
            timed.join().expect("join")
        });
    });

    group.bench_function("baseline_std_mutex", |b| {
        let mutex = std::sync::Mutex::new(0u64);
        b.iter(|| {
            let mut guard = mutex.lock().expect("mutex");
            *guard += 1;
            black_box(&guard);
        });
    });

    group.bench_function("contended_2", |b| {
        b.iter_custom(|iters| {
            // `iters` acquisitions in all, split between the two tasklets. Each holds the
            // lock across a yield, so the other is always waiting when it is released.
            let lock = lock.clone();
            common::time_two_taking_turns(&sched, iters, move || {
                let _guard = lock.lock().expect("lock");
                uthread::schedule().expect("schedule");
            })
        });
    });

    group.finish();
}

/// `select/*`: a receiver selecting over two channels, each fed by its own sender, against
/// the same traffic (two senders, one receiver) received with a plain `receive` on one
/// channel.
fn select_bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("select");

    let sched = Scheduler::builder().stack_size(STACK).build();

    group.bench_function("2_channels", |b| {
        b.iter_custom(|iters| {
            let (a, z) = (Channel::<u64>::new(), Channel::<u64>::new());
            for (ch, n) in [(a.clone(), iters.div_ceil(2)), (z.clone(), iters / 2)] {
                sched
                    .spawn(move || {
                        for i in 0..n {
                            ch.send(i).expect("send");
                        }
                    })
                    .expect("spawn");
            }
            sched
                .spawn(move || {
                    let mut sum = 0u64;
                    for _ in 0..iters {
                        sum += select()
                            .recv(&a, |v| v)
                            .recv(&z, |v| v)
                            .wait()
                            .expect("select");
                    }
                    black_box(sum);
                })
                .expect("spawn");
            let start = Instant::now();
            sched.run().expect("run");
            start.elapsed()
        });
    });

    group.bench_function("baseline_receive", |b| {
        b.iter_custom(|iters| {
            // The same traffic (two senders, one receiver) on a single channel.
            let ch = Channel::<u64>::new();
            for n in [iters.div_ceil(2), iters / 2] {
                let tx = ch.clone();
                sched
                    .spawn(move || {
                        for i in 0..n {
                            tx.send(i).expect("send");
                        }
                    })
                    .expect("spawn");
            }
            sched
                .spawn(move || {
                    let mut sum = 0u64;
                    for _ in 0..iters {
                        sum += ch.receive().expect("receive");
                    }
                    black_box(sum);
                })
                .expect("spawn");
            let start = Instant::now();
            sched.run().expect("run");
            start.elapsed()
        });
    });

    group.finish();
}

/// `timer/sleep_wake_100k`: 100,000 sleeps and wake-ups per iteration (1,000 tasklets
/// sleeping 100 times each, for 1 to 16 ms of game time), the manual clock advancing 1 ms
/// a tick until all are done. Covers the timer heap, the tick and the switches.
fn timer(c: &mut Criterion) {
    const TASKLETS: u64 = 1_000;
    const SLEEPS: u64 = 100;
    let mut group = c.benchmark_group("timer");
    group.sample_size(20);
    let sched = manual_scheduler();
    group.bench_function("sleep_wake_100k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                for t in 0..TASKLETS {
                    sched
                        .spawn(move || {
                            let mut x = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                            for _ in 0..SLEEPS {
                                x ^= x << 13;
                                x ^= x >> 7;
                                x ^= x << 17;
                                uthread::sleep(Duration::from_millis(1 + x % 16)).expect("sleep");
                            }
                        })
                        .expect("spawn");
                }
                let start = Instant::now();
                sched.run().expect("run");
                while sched.alive_count() > 0 {
                    sched.advance(Duration::from_millis(1));
                    sched.run().expect("run");
                }
                total += start.elapsed();
            }
            total
        });
    });
    group.finish();
}

/// Spawns `ACTIVE` tasklets that call `be_nice` forever, and runs them into their wait.
fn spawn_active(sched: &Scheduler) {
    for _ in 0..ACTIVE {
        sched
            .spawn(|| while be_nice().is_ok() {})
            .expect("spawn an active tasklet");
    }
    sched.run().expect("run");
}

/// The fastest of `frames` frames (advance, run): unlike a mean or median, other processes
/// on a shared machine can only make it slower, so it compares runs taken apart in time.
fn fastest_frame(sched: &Scheduler, frames: usize) -> Duration {
    (0..frames)
        .map(|_| {
            let start = Instant::now();
            sched.advance(Duration::from_millis(16));
            sched.run().expect("run");
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// How many far-future sleepers `idle/1m_sleepers_1k_active` asks for.
fn sleeper_target() -> usize {
    if let Some(n) = std::env::var(SLEEPERS_ENV)
        .ok()
        .and_then(|v| v.trim().replace('_', "").parse().ok())
    {
        return n;
    }
    1_000_000
}

/// `idle/*`: one frame (advance the manual clock, run) with 1,000 tasklets calling
/// `be_nice`; then the same with far-future sleepers parked beside them, which must cost
/// nothing per frame (target: within 1.1x).
fn idle(c: &mut Criterion) {
    let mut group = c.benchmark_group("idle");

    let sched = manual_scheduler();
    spawn_active(&sched);
    group.bench_function("1k_active", |b| {
        b.iter(|| {
            sched.advance(Duration::from_millis(16));
            sched.run().expect("run");
        });
        assert_eq!(sched.last_run_resumes(), ACTIVE as u64);
    });
    let alone = fastest_frame(&sched, 500);
    eprintln!("idle/1k_active: fastest of 500 frames {alone:?}");
    drop(sched); // unwinds the active tasklets and frees their stacks

    {
        let sched = manual_scheduler();
        let target = sleeper_target();
        let mut parked = 0;
        for i in 0..target {
            let far = Duration::from_secs(365 * 24 * 3600) + Duration::from_micros(i as u64);
            match sched.spawn(move || {
                let _ = uthread::sleep(far);
            }) {
                Ok(_) => parked += 1,
                Err(e) => {
                    eprintln!(
                        "idle/1m_sleepers_1k_active: parked {parked} of {target} sleepers ({e})"
                    );
                    break;
                }
            }
            if i % 4096 == 4095 {
                sched.run().expect("run"); // start them as we go: they block at once
            }
        }
        sched.run().expect("run");
        spawn_active(&sched);
        eprintln!(
            "idle/1m_sleepers_1k_active: {parked} sleepers (set {SLEEPERS_ENV} to change), \
             {} timers, {} alive",
            sched.timer_count(),
            sched.alive_count()
        );
        group.bench_function("1m_sleepers_1k_active", |b| {
            b.iter(|| {
                sched.advance(Duration::from_millis(16));
                sched.run().expect("run");
            });
            assert_eq!(sched.last_run_resumes(), ACTIVE as u64, "no sleeper woke");
            assert_eq!(sched.timer_count(), parked);
        });
        let crowded = fastest_frame(&sched, 500);
        eprintln!(
            "idle/1m_sleepers_1k_active: fastest of 500 frames {crowded:?}, {:.3}x idle/1k_active's",
            crowded.as_secs_f64() / alone.as_secs_f64()
        );
    }

    group.finish();
}

/// `remote/*`: messages sent from another OS thread through a `RemoteSender` to a tasklet
/// (the idle scheduler sleeps until they arrive), against `std::sync::mpsc` to a thread.
fn remote(c: &mut Criterion) {
    let mut group = c.benchmark_group("remote");

    let sched = Scheduler::builder().stack_size(STACK).build();
    group.bench_function("cross_thread_send", |b| {
        b.iter_custom(|iters| {
            let (tx, rx) = sched.remote_channel::<u64>();
            sched
                .spawn(move || {
                    let mut sum = 0u64;
                    for _ in 0..iters {
                        sum += rx.recv().expect("recv");
                    }
                    black_box(sum);
                })
                .expect("spawn");
            let go = Arc::new(std::sync::Barrier::new(2));
            let g = go.clone();
            let sender = std::thread::spawn(move || {
                g.wait();
                for i in 0..iters {
                    tx.send(i).expect("send");
                }
            });
            go.wait();
            let start = Instant::now();
            sched.run().expect("run");
            let elapsed = start.elapsed();
            sender.join().expect("sender thread");
            elapsed
        });
    });

    group.bench_function("baseline_std_mpsc", |b| {
        b.iter_custom(|iters| {
            let (tx, rx) = mpsc::channel::<u64>();
            let go = Arc::new(std::sync::Barrier::new(2));
            let g = go.clone();
            let sender = std::thread::spawn(move || {
                g.wait();
                for i in 0..iters {
                    tx.send(i).expect("send");
                }
            });
            go.wait();
            let start = Instant::now();
            let mut sum = 0u64;
            for _ in 0..iters {
                sum += rx.recv().expect("recv");
            }
            let elapsed = start.elapsed();
            black_box(sum);
            sender.join().expect("sender thread");
            elapsed
        });
    });

    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = lock, select_bench, timer, idle, remote
}
criterion_main!(benches);
