//! `block_on`: a tasklet waits for a future completed by tokio on other threads while the
//! other tasklets run; timeouts and kills drop the future; wakes that come before the
//! tasklet blocks are not lost.

mod support;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use support::{hang_guard, manual, ms, Drops, Log};
use uthread::{block_on, block_on_timeout, BlockedOn, Channel, RunOutcome, WaitError};

const LIMIT: Duration = Duration::from_secs(60);

/// A tokio runtime running on its own worker thread (not on the test's thread).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .unwrap()
}

#[test]
fn a_tasklet_waits_for_a_tokio_task_on_another_thread() {
    let _guard = hang_guard(LIMIT);
    let rt = runtime();
    let sched = support::scheduler();
    // Started before the tokio task, so the 5 ms it sleeps all fall inside the window.
    let started = Instant::now();
    let task = rt.spawn(async {
        tokio::time::sleep(ms(5)).await;
        std::thread::current().id()
    });
    let waiter = sched
        .spawn(move || block_on(task).unwrap().unwrap())
        .unwrap();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert!(started.elapsed() >= ms(5));
    let tokio_thread = waiter.join().unwrap();
    assert_ne!(tokio_thread, std::thread::current().id());
}

#[test]
fn other_tasklets_run_while_one_waits_for_a_future() {
    let _guard = hang_guard(LIMIT);
    let rt = runtime();
    let sched = support::scheduler();
    let log = Log::new();
    let (tx, rx) = tokio::sync::oneshot::channel::<&'static str>();
    let l = log.clone();
    let waiter = sched
        .spawn(move || {
            let v = block_on(rx).unwrap().unwrap();
            l.push(format!("future gave {v}"));
        })
        .unwrap();
    let ping = Channel::<u32>::new();
    let (p, l) = (ping.clone(), log.clone());
    sched
        .spawn(move || {
            for i in 0..3 {
                p.send(i).unwrap();
            }
            l.push("ping done");
        })
        .unwrap();
    let l = log.clone();
    sched
        .spawn(move || {
            for _ in 0..3 {
                ping.receive().unwrap();
            }
            l.push("pong done");
        })
        .unwrap();
    rt.spawn(async move {
        tokio::time::sleep(ms(5)).await;
        let _ = tx.send("fuel");
    });
    sched.run().unwrap();
    assert!(waiter.is_finished());
    let mut log = log.take();
    assert_eq!(
        log.pop().unwrap(),
        "future gave fuel",
        "the others finished first"
    );
    log.sort();
    assert_eq!(log, ["ping done", "pong done"]);
}

#[test]
fn many_tasklets_wait_for_many_tokio_tasks() {
    let _guard = hang_guard(LIMIT);
    let rt = runtime();
    let sched = support::scheduler();
    let waiters: Vec<_> = (0..32u64)
        .map(|i| {
            let task = rt.spawn(async move {
                tokio::time::sleep(Duration::from_micros(100 * (32 - i))).await;
                i * 3
            });
            sched
                .spawn(move || block_on(task).unwrap().unwrap())
                .unwrap()
        })
        .collect();
    sched.run().unwrap();
    let got: Vec<u64> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
    assert_eq!(got, (0..32).map(|i| i * 3).collect::<Vec<_>>());
}

#[test]
fn the_main_context_can_block_on_a_future_and_a_ready_future_needs_no_wait() {
    let _guard = hang_guard(LIMIT);
    let rt = runtime();
    let _sched = support::scheduler();
    let task = rt.spawn(async {
        tokio::time::sleep(ms(2)).await;
        "done"
    });
    assert_eq!(block_on(task).unwrap().unwrap(), "done");
    assert_eq!(block_on(std::future::ready(5)).unwrap(), 5);
}

/// Wakes itself during its first poll and is ready on the second: the wake comes before
/// the tasklet blocks and must not be lost.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = &'static str;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<&'static str> {
        if self.0 {
            Poll::Ready("second poll")
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[test]
fn a_wake_before_the_tasklet_blocks_is_not_lost() {
    let _guard = hang_guard(LIMIT);
    for sched in [manual(), support::scheduler()] {
        let t = sched.spawn(|| block_on(YieldOnce(false))).unwrap();
        assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
        assert_eq!(t.join().unwrap().unwrap(), "second poll");
    }
}

#[test]
fn block_on_timeout_gives_up_and_drops_the_future() {
    let _guard = hang_guard(LIMIT);
    let rt = runtime();
    let sched = support::scheduler();
    let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
    let slow = rt.spawn(async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        let _ = tx.send(1);
    });
    let waiter = sched.spawn(move || block_on_timeout(rx, ms(5))).unwrap();
    let started = Instant::now();
    sched.run().unwrap();
    assert!(matches!(waiter.join().unwrap(), Err(WaitError::Timeout)));
    assert!(started.elapsed() < Duration::from_secs(10));
    slow.abort();

    // On the manual clock the deadline is game time.
    let sched = manual();
    let drops = Drops::new();
    let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
    let token = drops.token();
    let waiter = sched
        .spawn(move || {
            block_on_timeout(
                async move {
                    let _token = token;
                    rx.await
                },
                ms(10),
            )
        })
        .unwrap();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Idle { .. }));
    assert_eq!(waiter.tasklet().blocked_on(), Some(BlockedOn::Future));
    sched.advance(ms(10));
    sched.run().unwrap();
    assert!(matches!(waiter.join().unwrap(), Err(WaitError::Timeout)));
    assert_eq!(drops.count(), 1, "the future was dropped");
    assert!(tx.is_closed(), "and with it the receiver");
}

#[test]
fn killing_a_tasklet_waiting_on_a_future_drops_the_future_once() {
    let _guard = hang_guard(LIMIT);
    let rt = runtime();
    let sched = support::scheduler();
    let drops = Drops::new();
    let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
    let (token, d) = (drops.token(), drops.clone());
    let victim = sched
        .spawn(move || {
            let _on_stack = d.token();
            let _ = block_on(async move {
                let _token = token;
                rx.await
            });
            unreachable!("killed while waiting");
        })
        .unwrap();
    // One slice: the victim polls the future and blocks.
    sched.run_for(uthread::Budget::Resumes(1)).unwrap();
    assert_eq!(victim.tasklet().blocked_on(), Some(BlockedOn::Future));
    victim.tasklet().kill().unwrap();
    assert_eq!(drops.count(), 2, "the future and the stack token");
    assert!(tx.is_closed());
    // A wake-up for the dead tasklet arriving later is ignored.
    let _ = tx.send(3);
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    drop(rt);
}

#[test]
fn a_throw_interrupts_a_future_wait() {
    let _guard = hang_guard(LIMIT);
    let sched = manual();
    let (_tx, rx) = tokio::sync::oneshot::channel::<u32>();
    let waiter = sched.spawn(move || block_on(rx)).unwrap();
    sched.run_for(uthread::Budget::Resumes(1)).unwrap();
    waiter.tasklet().throw("abandon ship").unwrap();
    assert!(matches!(waiter.join().unwrap(), Err(WaitError::Thrown(_))));
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
}
