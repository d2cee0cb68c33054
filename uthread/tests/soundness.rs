//! Programs that broke stack copying when it could be chosen from safe code, run on the
//! default stacks, where they must give the right answers: a scoped thread borrowing a
//! tasklet's local while the tasklet blocks, tokio's intrusive futures (`Notify`,
//! `Semaphore`) pinned on a tasklet's stack and polled before it blocks, and `block_on`
//! of a pinned future. Each runs beside other tasklets that take turns with the victim, so
//! that on a shared (copied) stack their frames would sit at its addresses.
//!
//! That copying cannot be chosen without `unsafe` is proven by the `compile_fail`
//! doctest on `StackStrategy::copying`.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use uthread::{be_nice, Scheduler};

/// Tasklets that keep frames of their own busy (and check them) while the victims block.
fn spawn_noise(sched: &Scheduler, stop: &Arc<AtomicBool>) -> Vec<uthread::JoinHandle<u64>> {
    (0..4u64)
        .map(|k| {
            let stop = stop.clone();
            sched
                .spawn(move || {
                    let mine = std::hint::black_box([k * 1000 + 7; 32]);
                    let mut rounds = 0;
                    while !stop.load(Ordering::Acquire) {
                        // Leave the other threads room (valgrind runs one at a time).
                        std::thread::sleep(Duration::from_micros(50));
                        be_nice().unwrap();
                        assert!(mine.iter().all(|&v| v == k * 1000 + 7), "noise frames");
                        rounds += 1;
                    }
                    rounds
                })
                .unwrap()
        })
        .collect()
}

#[test]
fn a_scoped_thread_writes_a_local_of_a_blocked_tasklet() {
    let sched = Scheduler::new();
    let stop = Arc::new(AtomicBool::new(false));
    let noise = spawn_noise(&sched, &stop);
    let victims: Vec<_> = (0..3u64)
        .map(|k| {
            let stop = stop.clone();
            sched
                .spawn(move || {
                    let mut local = 0u64;
                    let written = AtomicBool::new(false);
                    std::thread::scope(|scope| {
                        scope.spawn(|| {
                            std::thread::sleep(Duration::from_millis(5));
                            local = 42 + k;
                            written.store(true, Ordering::Release);
                        });
                        // Blocks (other tasklets run) while the thread holds `&mut local`.
                        while !written.load(Ordering::Acquire) {
                            std::thread::sleep(Duration::from_micros(50));
                            be_nice().unwrap();
                        }
                    });
                    if k == 2 {
                        stop.store(true, Ordering::Release);
                    }
                    local
                })
                .unwrap()
        })
        .collect();
    sched.run().unwrap();
    stop.store(true, Ordering::Release);
    sched.run().unwrap();
    for (k, v) in victims.into_iter().enumerate() {
        assert_eq!(v.join().unwrap(), 42 + k as u64);
    }
    for n in noise {
        n.join().unwrap();
    }
}

#[test]
fn a_scoped_thread_reads_a_local_of_a_blocked_tasklet_by_reference() {
    let sched = Scheduler::new();
    let stop = Arc::new(AtomicBool::new(false));
    let noise = spawn_noise(&sched, &stop);
    let mismatches = Arc::new(AtomicU64::new(0));
    let seen = mismatches.clone();
    let victim = sched
        .spawn(move || {
            let value = std::hint::black_box([0x5eed_u64; 8]);
            let done = AtomicBool::new(false);
            std::thread::scope(|scope| {
                scope.spawn(|| {
                    for _ in 0..200 {
                        if value.iter().any(|&v| v != 0x5eed) {
                            seen.fetch_add(1, Ordering::Relaxed);
                        }
                        std::thread::yield_now();
                    }
                    done.store(true, Ordering::Release);
                });
                while !done.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_micros(50));
                    be_nice().unwrap();
                }
            });
            stop.store(true, Ordering::Release);
        })
        .unwrap();
    sched.run().unwrap();
    victim.join().unwrap();
    assert_eq!(mismatches.load(Ordering::Relaxed), 0);
    for n in noise {
        n.join().unwrap();
    }
}

/// Polls `fut` once with a waker that does nothing.
fn poll_once<F: Future + ?Sized>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn a_tokio_notified_future_pinned_on_a_blocked_tasklets_stack() {
    let sched = Scheduler::new();
    let stop = Arc::new(AtomicBool::new(false));
    let noise = spawn_noise(&sched, &stop);
    let notify = Arc::new(tokio::sync::Notify::new());
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let notify = notify.clone();
            sched
                .spawn(move || {
                    let mut notified = pin!(notify.notified());
                    // Registers its waiter node, on this tasklet's stack, with the Notify.
                    assert!(poll_once(notified.as_mut()).is_pending());
                    let mut ticks = 0;
                    while poll_once(notified.as_mut()).is_pending() {
                        be_nice().unwrap();
                        ticks += 1;
                    }
                    ticks
                })
                .unwrap()
        })
        .collect();
    let notifier = {
        let notify = notify.clone();
        let stop = stop.clone();
        sched
            .spawn(move || {
                for _ in 0..3 {
                    be_nice().unwrap();
                    be_nice().unwrap();
                    notify.notify_one(); // writes through a waiter node
                }
                be_nice().unwrap();
                notify.notify_waiters();
                for _ in 0..3 {
                    be_nice().unwrap();
                }
                stop.store(true, Ordering::Release);
            })
            .unwrap()
    };
    sched.run().unwrap();
    notifier.join().unwrap();
    for w in waiters {
        assert!(w.join().unwrap() >= 1);
    }
    for n in noise {
        n.join().unwrap();
    }
}

#[test]
fn a_tokio_semaphore_acquire_pinned_on_a_blocked_tasklets_stack() {
    let sched = Scheduler::new();
    let stop = Arc::new(AtomicBool::new(false));
    let noise = spawn_noise(&sched, &stop);
    let semaphore = Arc::new(tokio::sync::Semaphore::new(0));
    let acquirers: Vec<_> = (0..3u32)
        .map(|k| {
            let semaphore = semaphore.clone();
            sched
                .spawn(move || {
                    let mut acquire = pin!(semaphore.acquire());
                    loop {
                        match poll_once(acquire.as_mut()) {
                            Poll::Ready(permit) => {
                                permit.unwrap().forget();
                                return k;
                            }
                            Poll::Pending => be_nice().unwrap(),
                        }
                    }
                })
                .unwrap()
        })
        .collect();
    {
        let semaphore = semaphore.clone();
        let stop = stop.clone();
        sched
            .spawn(move || {
                for _ in 0..3 {
                    be_nice().unwrap();
                    semaphore.add_permits(1);
                }
                for _ in 0..4 {
                    be_nice().unwrap();
                }
                stop.store(true, Ordering::Release);
            })
            .unwrap();
    }
    sched.run().unwrap();
    let mut got: Vec<u32> = acquirers.into_iter().map(|a| a.join().unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2]);
    assert_eq!(semaphore.available_permits(), 0);
    for n in noise {
        n.join().unwrap();
    }
}

#[test]
fn block_on_a_pinned_notified_future_is_woken() {
    let sched = Scheduler::new();
    let stop = Arc::new(AtomicBool::new(false));
    let noise = spawn_noise(&sched, &stop);
    let notify = Arc::new(tokio::sync::Notify::new());
    let waiter = {
        let notify = notify.clone();
        sched
            .spawn(move || {
                let notified = pin!(notify.notified());
                uthread::block_on(notified).unwrap();
                "woken"
            })
            .unwrap()
    };
    {
        let notify = notify.clone();
        let stop = stop.clone();
        sched
            .spawn(move || {
                for _ in 0..3 {
                    be_nice().unwrap();
                }
                notify.notify_one();
                for _ in 0..3 {
                    be_nice().unwrap();
                }
                stop.store(true, Ordering::Release);
            })
            .unwrap();
    }
    sched.run().unwrap();
    assert_eq!(waiter.join().unwrap(), "woken");
    for n in noise {
        n.join().unwrap();
    }
}

#[test]
fn a_notify_from_another_thread_reaches_a_pinned_waiter() {
    let sched = Scheduler::new();
    let notify = Arc::new(tokio::sync::Notify::new());
    let waiter = {
        let notify = notify.clone();
        sched
            .spawn(move || {
                uthread::block_on(pin!(notify.notified())).unwrap();
                1
            })
            .unwrap()
    };
    let remote = notify.clone();
    let thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        remote.notify_one();
    });
    sched.run().unwrap();
    thread.join().unwrap();
    assert_eq!(waiter.join().unwrap(), 1);
}
