//! Time: `sleep` and `sleep_until` on a manual clock (waking exactly when due, FIFO among
//! equal deadlines), zero sleeps, `be_nice` (each tick wakes exactly the tasklets that
//! were waiting when it began), the real clock, and sleepers that cost nothing until due.

mod support;

use std::time::{Duration, Instant};

use support::{manual, ms, Log};
use uthread::{
    be_nice, now, sleep, sleep_until, BlockedOn, Builder, ClockKind, RunOutcome, TaskletState,
    WaitError,
};

#[test]
fn a_sleeper_wakes_exactly_when_its_deadline_comes() {
    let sched = manual();
    assert_eq!(sched.clock(), ClockKind::Manual);
    let sleeper = sched
        .spawn(|| {
            sleep(ms(10)).unwrap();
            now()
        })
        .unwrap();
    assert!(matches!(
        sched.run().unwrap(),
        RunOutcome::Idle {
            next_deadline: Some(d)
        } if d == ms(10)
    ));
    assert_eq!(
        sleeper.tasklet().blocked_on(),
        Some(BlockedOn::Sleep { until: ms(10) })
    );
    assert_eq!(sched.timer_count(), 1);

    sched.advance(ms(9));
    sched.run().unwrap();
    sched.advance(Duration::from_nanos(999_999));
    sched.run().unwrap();
    assert!(!sleeper.is_finished(), "one nanosecond early");
    assert_eq!(sched.timer_count(), 1);

    sched.advance(Duration::from_nanos(1));
    assert_eq!(sched.timer_count(), 0, "the tick took the timer");
    assert_eq!(sleeper.tasklet().state(), TaskletState::Scheduled);
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert_eq!(
        sleeper.join().unwrap(),
        ms(10),
        "it saw the clock at its deadline"
    );
}

#[test]
fn sleepers_wake_in_deadline_order_and_fifo_among_equal_deadlines() {
    let sched = manual();
    let log = Log::new();
    for (name, d) in [("a", 10), ("b", 10), ("late", 20), ("c", 10), ("early", 5)] {
        let log = log.clone();
        sched
            .spawn(move || {
                sleep(ms(d)).unwrap();
                log.push(format!("{name}@{}", now().as_millis()));
            })
            .unwrap();
    }
    sched.run().unwrap();
    // One big step: everything due wakes in deadline order, ties in the order they slept.
    sched.advance(ms(10));
    sched.run().unwrap();
    assert_eq!(log.take(), ["early@10", "a@10", "b@10", "c@10"]);
    sched.advance(ms(10));
    sched.run().unwrap();
    assert_eq!(log.take(), ["late@20"]);
}

#[test]
fn equal_deadlines_set_at_different_times_keep_the_order_they_were_set() {
    let sched = manual();
    let log = Log::new();
    let l = log.clone();
    sched
        .spawn(move || {
            sleep(ms(10)).unwrap(); // deadline 10, set at 0
            l.push("first");
        })
        .unwrap();
    let l = log.clone();
    sched
        .spawn(move || {
            sleep(ms(4)).unwrap();
            sleep_until(ms(10)).unwrap(); // deadline 10, set at 4
            l.push("second");
        })
        .unwrap();
    sched.run().unwrap();
    sched.advance(ms(4));
    sched.run().unwrap();
    sched.advance(ms(6));
    sched.run().unwrap();
    assert_eq!(log.take(), ["first", "second"]);
}

#[test]
fn sleep_until_a_past_deadline_returns_at_once_without_yielding() {
    let sched = manual();
    sched.advance(ms(50));
    let log = Log::new();
    let l = log.clone();
    sched
        .spawn(move || {
            l.push("a: before");
            sleep_until(ms(50)).unwrap(); // now: already due
            sleep_until(ms(10)).unwrap(); // in the past
            l.push("a: after");
        })
        .unwrap();
    let l = log.clone();
    sched.spawn(move || l.push("b")).unwrap();
    sched.run().unwrap();
    assert_eq!(log.take(), ["a: before", "a: after", "b"]);
    assert_eq!(sched.timer_count(), 0);
}

#[test]
fn a_zero_sleep_waits_for_the_next_tick() {
    let sched = manual();
    let log = Log::new();
    let l = log.clone();
    sched
        .spawn(move || {
            sleep(Duration::ZERO).unwrap();
            l.push(format!("woke at {:?}", now()));
        })
        .unwrap();
    assert!(matches!(
        sched.run().unwrap(),
        RunOutcome::Idle {
            next_deadline: None
        }
    ));
    assert!(
        log.get().is_empty(),
        "a zero sleep still yields to the next tick"
    );
    assert_eq!(sched.nice_count(), 1);
    sched.advance(Duration::ZERO); // a tick that does not move the clock
    sched.run().unwrap();
    assert_eq!(log.take(), ["woke at 0ns"]);
}

#[test]
fn each_tick_wakes_every_be_nice_tasklet_once() {
    let sched = manual();
    let log = Log::new();
    for name in ["a", "b", "c"] {
        let log = log.clone();
        sched
            .spawn(move || {
                for round in 0..3 {
                    be_nice().unwrap();
                    log.push(format!("{name}{round}"));
                }
            })
            .unwrap();
    }
    sched.run().unwrap();
    assert_eq!(sched.nice_count(), 3);
    for round in 0..3 {
        sched.advance(ms(16));
        sched.run().unwrap();
        let expected: Vec<String> = ["a", "b", "c"]
            .iter()
            .map(|n| format!("{n}{round}"))
            .collect();
        assert_eq!(log.take(), expected, "tick {round}");
    }
    assert_eq!(sched.nice_count(), 0);
    assert_eq!(sched.alive_count(), 0);
}

#[test]
fn be_nice_again_in_the_same_wake_up_waits_for_the_following_tick() {
    let sched = manual();
    let log = Log::new();
    let l = log.clone();
    sched
        .spawn(move || {
            be_nice().unwrap();
            l.push("first");
            be_nice().unwrap(); // same wake-up: not this tick
            l.push("second");
        })
        .unwrap();
    sched.run().unwrap();
    sched.tick();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Idle { .. }));
    assert_eq!(log.take(), ["first"]);
    assert_eq!(sched.nice_count(), 1);
    sched.tick();
    sched.run().unwrap();
    assert_eq!(log.take(), ["second"]);
}

#[test]
fn a_tick_wakes_only_the_tasklets_that_waited_when_it_began() {
    let sched = manual();
    let log = Log::new();
    let l = log.clone();
    sched
        .spawn(move || {
            be_nice().unwrap();
            l.push("parent woke");
            let l2 = l.clone();
            uthread::spawn(move || {
                be_nice().unwrap();
                l2.push("child woke");
            })
            .unwrap();
            uthread::schedule().unwrap(); // the child starts and calls be_nice
            l.push("parent done");
        })
        .unwrap();
    sched.run().unwrap();
    sched.tick();
    // The tick happened before the child waited, so the child sleeps on to the next one.
    sched.run().unwrap();
    assert_eq!(log.take(), ["parent woke", "parent done"]);
    // Two ticks in a row with nobody running in between: the child wakes once.
    sched.tick();
    sched.tick();
    sched.run().unwrap();
    assert_eq!(log.take(), ["child woke"]);
}

#[test]
fn a_killed_be_nice_waiter_leaves_the_tick_list() {
    let sched = manual();
    let a = sched.spawn(|| loop {
        be_nice().unwrap();
    });
    let a = a.unwrap();
    let log = Log::new();
    let l = log.clone();
    sched
        .spawn(move || {
            be_nice().unwrap();
            l.push("b woke");
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(sched.nice_count(), 2);
    a.tasklet().kill().unwrap();
    assert_eq!(sched.nice_count(), 1, "only b waits now");
    sched.tick();
    assert_eq!(sched.nice_count(), 0);
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert_eq!(log.take(), ["b woke"]);
    // With nobody left waiting for a tick, the manual-clock run is finished, not idle.
    let c = sched.spawn(be_nice).unwrap();
    sched.run().unwrap();
    c.tasklet().kill().unwrap();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
}

#[test]
fn be_nice_waiters_run_after_every_tasklet_that_was_already_runnable() {
    // Real clock: a tick starts whenever the run queue empties.
    let sched = support::scheduler();
    let log = Log::new();
    let l = log.clone();
    sched
        .spawn(move || {
            be_nice().unwrap();
            l.push("nice");
        })
        .unwrap();
    let l = log.clone();
    sched
        .spawn(move || {
            for i in 0..3 {
                l.push(format!("busy{i}"));
                uthread::schedule().unwrap();
            }
        })
        .unwrap();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert_eq!(log.take(), ["busy0", "busy1", "busy2", "nice"]);
}

#[test]
fn be_nice_loops_share_ticks_on_the_real_clock() {
    let sched = support::scheduler();
    let log = Log::new();
    for name in ["a", "b"] {
        let log = log.clone();
        sched
            .spawn(move || {
                for round in 0..3 {
                    log.push(format!("{name}{round}"));
                    be_nice().unwrap();
                }
            })
            .unwrap();
    }
    sched.run().unwrap();
    assert_eq!(log.take(), ["a0", "b0", "a1", "b1", "a2", "b2"]);
}

#[test]
fn a_real_clock_sleep_lasts_at_least_its_duration() {
    let sched = support::scheduler();
    assert_eq!(sched.clock(), ClockKind::Real);
    let log = Log::new();
    let l = log.clone();
    let sleeper = sched
        .spawn(move || {
            let t0 = now();
            sleep(ms(3)).unwrap();
            l.push("slept");
            now() - t0
        })
        .unwrap();
    let started = Instant::now();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert!(sched.now() >= ms(3));
    assert!(started.elapsed() >= ms(3), "run waited for the sleeper");
    assert!(sleeper.join().unwrap() >= ms(3), "woke early");

    // Deadlines on the real clock wake in deadline order, not in the order they were set
    // (a margin lets both be set before either is due, even on a slow machine).
    let base = sched.now() + ms(10);
    let armed_late = std::rc::Rc::new(std::cell::Cell::new(false));
    for (name, d) in [("slow", 4), ("fast", 2)] {
        let (log, late) = (log.clone(), armed_late.clone());
        sched
            .spawn(move || {
                late.set(late.get() || now() >= base + ms(2));
                sleep_until(base + ms(d)).unwrap();
                assert!(now() >= base + ms(d), "{name} woke early");
                log.push(name);
            })
            .unwrap();
    }
    sched.run().unwrap();
    let order = log.take();
    if !armed_late.get() {
        assert_eq!(order, ["slept", "fast", "slow"]);
    }
}

#[test]
fn the_main_context_can_sleep_on_the_real_clock_while_tasklets_run() {
    let sched = support::scheduler();
    let log = Log::new();
    let l = log.clone();
    // An absolute deadline: due before the main context's, however late the tasklet starts.
    let due = sched.now() + ms(1);
    sched
        .spawn(move || {
            sleep_until(due).unwrap();
            l.push("tasklet");
        })
        .unwrap();
    let t0 = Instant::now();
    sleep(ms(3)).unwrap();
    assert!(t0.elapsed() >= ms(3));
    assert_eq!(log.take(), ["tasklet"]);
}

#[test]
fn the_main_context_sleeping_on_a_manual_clock_nobody_advances_is_a_deadlock() {
    let sched = manual();
    assert!(matches!(sleep(ms(5)), Err(WaitError::Deadlock)));
    assert_eq!(sched.now(), Duration::ZERO);
    assert_eq!(
        sched.timer_count(),
        0,
        "the failed sleep left no timer behind"
    );
}

#[test]
fn time_calls_without_a_scheduler_fail_cleanly() {
    std::thread::spawn(|| {
        assert!(matches!(sleep(ms(1)), Err(WaitError::NoScheduler)));
        assert!(matches!(be_nice(), Err(WaitError::NoScheduler)));
        assert!(matches!(sleep_until(ms(1)), Err(WaitError::NoScheduler)));
        assert_eq!(now(), Duration::ZERO);
    })
    .join()
    .unwrap();
}

#[test]
fn killing_or_throwing_into_a_sleeper_retires_its_timer() {
    let sched = manual();
    let a = sched.spawn(|| sleep(ms(100))).unwrap();
    let b = sched.spawn(|| sleep(ms(100))).unwrap();
    let c = sched.spawn(|| sleep(ms(100))).unwrap();
    sched.run().unwrap();
    assert_eq!(sched.timer_count(), 3);
    a.tasklet().kill().unwrap();
    assert_eq!(sched.timer_count(), 2);
    b.tasklet().throw("wake up").unwrap();
    assert_eq!(sched.timer_count(), 1);
    assert!(matches!(b.join().unwrap(), Err(WaitError::Thrown(_))));
    sched.advance(ms(100));
    sched.run().unwrap();
    assert!(c.join().unwrap().is_ok());
    assert_eq!(sched.timer_count(), 0);
}

#[test]
fn sleepers_cost_nothing_until_they_are_due() {
    const SLEEPERS: usize = 20_000;
    // Stack copying: 20,000 dedicated stacks would be 40,000 kernel mappings, more than
    // valgrind (which runs this suite too) can track. The timers are what is measured.
    let sched = support::builder()
        .manual_clock()
        .stack_size(16 * 1024)
        .stack_strategy(support::copying())
        .build();
    let woken = std::rc::Rc::new(std::cell::Cell::new(0usize));
    for i in 0..SLEEPERS {
        let woken = woken.clone();
        Builder::new()
            .spawn_on(&sched, move || {
                sleep(Duration::from_secs(3600) + Duration::from_micros(i as u64)).unwrap();
                woken.set(woken.get() + 1);
            })
            .unwrap();
    }
    let active = sched
        .spawn(|| {
            for _ in 0..100 {
                be_nice().unwrap();
            }
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(sched.timer_count(), SLEEPERS);
    for _ in 0..100 {
        sched.advance(ms(16));
        sched.run().unwrap();
        assert_eq!(sched.last_run_resumes(), 1, "only the active tasklet runs");
        assert_eq!(sched.timer_count(), SLEEPERS);
    }
    assert!(active.is_finished());
    assert_eq!(woken.get(), 0);
    assert_eq!(sched.blocked_count(), SLEEPERS);
    // When they are due they all wake, in deadline order, and the heap empties.
    sched.advance(Duration::from_secs(3600));
    sched.run().unwrap();
    assert_eq!(woken.get(), SLEEPERS);
    assert_eq!(sched.timer_count(), 0);
    assert_eq!(sched.alive_count(), 0);
}

#[test]
fn compacting_the_timer_heap_keeps_every_live_sleeper_on_time() {
    const SLEEPERS: u64 = 3000;
    let sched = support::builder()
        .manual_clock()
        .stack_size(16 * 1024)
        .build();
    let log = Log::new();
    let mut handles = Vec::new();
    for i in 0..SLEEPERS {
        let log = log.clone();
        handles.push(
            sched
                .spawn(move || {
                    sleep(ms(i + 1)).unwrap();
                    log.push(format!("{i}@{}", now().as_millis()));
                })
                .unwrap(),
        );
    }
    sched.run().unwrap();
    // Kill five in six: stale entries now dominate the heap, so the next tick compacts it.
    for (i, h) in handles.iter().enumerate() {
        if i % 6 != 0 {
            h.tasklet().kill().unwrap();
        }
    }
    let live = SLEEPERS.div_ceil(6) as usize;
    assert_eq!(sched.timer_count(), live);
    sched.tick();
    assert_eq!(sched.timer_count(), live);
    for _ in 0..SLEEPERS {
        sched.advance(ms(1));
        sched.run().unwrap();
    }
    let expected: Vec<String> = (0..SLEEPERS)
        .filter(|i| i % 6 == 0)
        .map(|i| format!("{i}@{}", i + 1))
        .collect();
    assert_eq!(log.take(), expected);
    assert_eq!(sched.timer_count(), 0);
}
