//! Stackless Python's watchdog and deadlock conformance tests
//! (`Stackless/unittests/test_watchdog.py`, the TestWatchdog lifecycle in
//! `test_miscell.py`), ported to uthread. Stackless counted interpreter instructions;
//! uthread's documented equivalents (STACKLESS.md "Watchdog and preemption") are a
//! resume-count budget ([`Budget::Resumes`], deterministic) and a time watchdog checked
//! at every uthread call and preempt point ([`Watchdog`]: hard, soft, per slice or
//! total). Time limits here are generous and the tests assert outcomes, never speeds.

mod support;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use uthread::{Budget, Channel, RunError, RunOutcome, Scheduler, Tasklet, Watchdog};

/// Spins for `d` of wall time, passing a preempt point every few microseconds: the
/// analogue of Stackless's `for i in xrange(1000): x += 1`, which the instruction
/// counter could interrupt anywhere.
fn spin(d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        for _ in 0..100 {
            std::hint::black_box(0u64);
        }
        uthread::preempt_point();
    }
}

/// Spins (1 ms at a time, with preempt points) until the running tasklet has been
/// resumed `cuts` more times: for a tasklet that never yields, until a hard watchdog has
/// interrupted it that often and it was inserted again.
fn spin_until_cut(cuts: u64) {
    let me = uthread::current().unwrap();
    let resumed = me.switch_count();
    while me.switch_count() - resumed < cuts {
        spin(Duration::from_millis(1));
    }
}

// TestWatchdog.lifecycle (test_aliveness1): a hard watchdog takes the overrunning
// tasklet out and hands it back paused; inserted again, it runs to its end.
#[test]
fn a_hard_watchdog_interrupts_hands_back_a_paused_tasklet_that_can_be_reinserted() {
    let sched = support::scheduler();
    let _guard = support::hang_guard(Duration::from_secs(60));
    // It spins until the watchdog has cut it once: not for a fixed time, which a thread
    // held back by the OS (or valgrind) could use up before the watchdog speaks.
    let t = sched.spawn(|| spin_until_cut(1)).unwrap();
    assert!(t.tasklet().is_alive() && t.tasklet().is_scheduled());
    match sched
        .run_watchdog(Watchdog::per_slice(Duration::from_millis(2)))
        .unwrap()
    {
        RunOutcome::Interrupted { tasklet, removed } => {
            assert_eq!(&tasklet, t.tasklet());
            assert!(removed);
        }
        other => panic!("{other:?}"),
    }
    assert!(t.tasklet().is_alive() && t.tasklet().is_paused());
    assert!(!t.tasklet().is_scheduled());
    t.tasklet().insert().unwrap();
    assert!(!t.tasklet().is_paused() && t.tasklet().is_scheduled());
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert!(!t.tasklet().is_alive() && !t.tasklet().is_scheduled());
}

/// Stackless's `SimpleScheduler.autoschedule`: run under the watchdog, re-insert whatever
/// it hands back, until only the caller is left. Returns the number of interruptions.
fn autoschedule(sched: &Scheduler, watchdog: Watchdog) -> u32 {
    let mut interrupts = 0;
    let _guard = support::hang_guard(Duration::from_secs(60));
    while sched.alive_count() > 0 {
        match sched.run_watchdog(watchdog).unwrap() {
            RunOutcome::Interrupted { tasklet, removed } => {
                interrupts += 1;
                if removed {
                    tasklet.insert().unwrap();
                }
            }
            RunOutcome::Finished => break,
            RunOutcome::BudgetSpent => {}
            other => panic!("{other:?}"),
        }
    }
    interrupts
}

// TestWatchdog.test_simple / test_nested / test_tasklet_with_schedule (hard mode): every
// tasklet finishes under autoscheduling; a tasklet that yields on its own is
// interrupted less than one that never does.
#[test]
fn autoscheduling_under_a_hard_watchdog_finishes_everything() {
    let limit = Watchdog::per_slice(Duration::from_millis(3));
    let run = |yields: bool| {
        let sched = support::scheduler();
        let ts: Vec<Tasklet> = ["t1", "t2", "t3"]
            .into_iter()
            .map(|name| {
                uthread::Builder::new()
                    .name(name)
                    .spawn_on(&sched, move || {
                        if yields {
                            for _ in 0..20 {
                                spin(Duration::from_millis(1));
                                uthread::schedule().unwrap();
                            }
                        } else {
                            // Until cut 10 times: 10 or more interruptions each, however
                            // the OS holds the thread back.
                            spin_until_cut(10);
                        }
                        name
                    })
                    .unwrap()
                    .tasklet()
                    .clone()
            })
            .collect();
        let n = autoschedule(&sched, limit);
        assert!(ts.iter().all(|t| !t.is_alive()));
        n
    };
    let without_yields = run(false);
    let with_yields = run(true);
    assert!(without_yields >= 30, "{without_yields}");
    // Yielding every millisecond, a slice is cut only when the OS holds the thread back
    // for 2 ms inside one: far fewer than the 30 of the spinners.
    assert!(
        with_yields < without_yields,
        "yielding every millisecond: {with_yields} interruptions vs {without_yields}"
    );
}

// The deterministic analogue of `run(N)`: a resume budget stops between slices and keeps
// the order; recursion depth does not matter (test_nested2 with a budget of 0 too).
#[test]
fn a_resume_budget_stops_between_slices_and_the_order_is_kept() {
    fn recurse_then_schedule(depth: u32) {
        if depth == 0 {
            uthread::schedule().unwrap();
        } else {
            recurse_then_schedule(depth - 1);
            std::hint::black_box(depth);
        }
    }
    let sched = support::manual();
    let log = support::Log::new();
    for name in ["t1", "t2", "t3"] {
        let l = log.clone();
        sched
            .spawn(move || {
                for depth in [1, 10, 100, 500] {
                    l.push(format!("{name}:{depth}"));
                    recurse_then_schedule(depth);
                }
            })
            .unwrap();
    }
    assert!(matches!(
        sched.run_for(Budget::Resumes(0)).unwrap(),
        RunOutcome::BudgetSpent
    ));
    assert!(log.get().is_empty());
    let mut rounds = 0;
    loop {
        rounds += 1;
        match sched.run_for(Budget::Resumes(2)).unwrap() {
            RunOutcome::BudgetSpent => assert_eq!(sched.last_run_resumes(), 2),
            RunOutcome::Finished => break,
            other => panic!("{other:?}"),
        }
    }
    // 3 tasklets x 5 slices each = 15 resumes, in rounds of two.
    assert_eq!(rounds, 8);
    let expected: Vec<String> = [1, 10, 100, 500]
        .into_iter()
        .flat_map(|d| ["t1", "t2", "t3"].map(|n| format!("{n}:{d}")))
        .collect();
    assert_eq!(log.get(), expected);
}

// TestWatchdog.test_atomic: atomic sections are never interrupted, and everything still
// finishes under autoscheduling.
#[test]
fn atomic_sections_defer_the_hard_interrupt() {
    let sched = support::scheduler();
    let cut_inside = Rc::new(Cell::new(0u32));
    for _ in 0..3 {
        let cut = cut_inside.clone();
        sched
            .spawn(move || {
                for _ in 0..3 {
                    let old = uthread::set_atomic(true);
                    let me = uthread::current().unwrap();
                    let before = me.switch_count();
                    spin(Duration::from_millis(4));
                    if me.switch_count() != before {
                        cut.set(cut.get() + 1);
                    }
                    uthread::set_atomic(old);
                    uthread::preempt_point();
                }
            })
            .unwrap();
    }
    autoschedule(&sched, Watchdog::per_slice(Duration::from_millis(1)));
    assert_eq!(cut_inside.get(), 0, "an atomic section was interrupted");
    assert_eq!(sched.alive_count(), 0);
}

// TestWatchdog.test_exception: a failing tasklet's panic comes out of the watchdog run.
#[test]
fn a_panic_under_the_watchdog_comes_out_of_the_run() {
    let sched = support::scheduler();
    let survivor = sched.spawn(|| spin(Duration::from_millis(1))).unwrap();
    sched
        .spawn(|| panic!("UserWarning"))
        .unwrap()
        .tasklet()
        .set_name("bad");
    let err = loop {
        match sched.run_watchdog(Watchdog::per_slice(Duration::from_millis(50))) {
            Err(e) => break e,
            Ok(RunOutcome::Interrupted { tasklet, .. }) => tasklet.insert().unwrap(),
            Ok(other) => panic!("{other:?}"),
        }
    };
    match err {
        RunError::Failed(f) => {
            assert_eq!(f.name.as_deref(), Some("bad"));
            assert_eq!(f.panic_message(), Some("UserWarning"));
        }
        other => panic!("{other:?}"),
    }
    autoschedule(&sched, Watchdog::per_slice(Duration::from_millis(50)));
    assert!(survivor.join().is_ok(), "the other tasklets stayed queued");
}

// TestWatchdog.test_send_recv: a server receiving forever and three clients sending 20
// messages each, under autoscheduling; then main stops the server with an error sent
// down the channel (send_exception).
#[test]
fn a_server_and_clients_under_the_watchdog_then_main_stops_the_server() {
    let sched = support::scheduler();
    let chan = Channel::<&'static str>::new();
    let count = Rc::new(Cell::new(0));
    let (rx, c) = (chan.clone(), count.clone());
    let server = sched
        .spawn(move || loop {
            match rx.receive() {
                Ok(_) => c.set(c.get() + 1),
                Err(e) => return e.to_string(),
            }
        })
        .unwrap();
    for name in ["client1", "client2", "client3"] {
        let tx = chan.clone();
        sched
            .spawn(move || {
                for i in 0..1000 {
                    if i % 50 == 0 {
                        tx.send(name).unwrap();
                    }
                    uthread::preempt_point();
                }
            })
            .unwrap();
    }
    // Only the server is left, blocked: the run ends with it reported.
    let mut outcome;
    loop {
        outcome = sched
            .run_watchdog(Watchdog::per_slice(Duration::from_millis(5)))
            .unwrap();
        match &outcome {
            RunOutcome::Interrupted { tasklet, removed } if *removed => tasklet.insert().unwrap(),
            RunOutcome::Interrupted { .. } => {}
            _ => break,
        }
    }
    assert!(matches!(outcome, RunOutcome::Deadlock(ref r) if r.blocked.len() == 1));
    assert_eq!(count.get(), 60);
    chan.send_throw("stop").unwrap();
    sched.run().unwrap();
    assert!(server.join().unwrap().contains("stop"));
}

// test_lone_receive and TestDeadlock: a run whose only tasklet blocks returns, reporting
// it, instead of hanging.
#[test]
fn a_lone_receiver_makes_the_run_return_a_deadlock_report() {
    let sched = support::scheduler();
    let t = uthread::Builder::new()
        .name("lonely")
        .spawn_on(&sched, || Channel::<u32>::new().receive().is_ok())
        .unwrap();
    match sched
        .run_watchdog(Watchdog::per_slice(Duration::from_millis(100)))
        .unwrap()
    {
        RunOutcome::Deadlock(report) => {
            assert_eq!(report.blocked.len(), 1);
            assert_eq!(&report.blocked[0].0, t.tasklet());
            assert!(report.to_string().contains("lonely"), "{report}");
        }
        other => panic!("{other:?}"),
    }
}

// TestDeadlock.test_error_propagation_when_not_deadlock.
#[test]
fn a_failure_is_reported_ahead_of_anything_else() {
    let sched = support::scheduler();
    sched.spawn(|| uthread::schedule().unwrap()).unwrap();
    sched.spawn(|| panic!("bar")).unwrap();
    match sched.run() {
        Err(RunError::Failed(f)) => assert_eq!(f.panic_message(), Some("bar")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
}

// TestWatchdogSoft.test_channelchain: a ring of three tasklets passing a value with
// random work between hops, run in soft total-timeout slices: each run returns with the
// ring intact (nothing removed, nothing dead), and the ring keeps moving.
#[test]
fn a_channel_ring_under_soft_total_watchdog_runs_keeps_every_member() {
    let sched = support::scheduler();
    let chans: Vec<Channel<u64>> = (0..3).map(|_| Channel::new()).collect();
    let hops = Rc::new(Cell::new(0u64));
    let mut ring = Vec::new();
    for i in 0..3 {
        let (a, b) = (chans[i].clone(), chans[(i + 1) % 3].clone());
        let hops = hops.clone();
        ring.push(
            sched
                .spawn(move || {
                    let mut seed = i as u64 + 1;
                    let mut value = 0;
                    if i != 0 {
                        value = a.receive().unwrap();
                    }
                    loop {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                        let work = 100 + (seed >> 33) % 900;
                        for k in 0..work {
                            value = std::hint::black_box(value.wrapping_add(k));
                        }
                        hops.set(hops.get() + 1);
                        b.send(value).unwrap();
                        value = a.receive().unwrap();
                    }
                })
                .unwrap(),
        );
    }
    let mut last = 0;
    for _ in 0..10 {
        let outcome = sched
            .run_watchdog(Watchdog::total(Duration::from_millis(2)).soft())
            .unwrap();
        assert!(
            matches!(
                outcome,
                RunOutcome::BudgetSpent | RunOutcome::Interrupted { removed: false, .. }
            ),
            "{outcome:?}"
        );
        assert_eq!(sched.alive_count(), 3);
        assert!(ring.iter().all(|t| !t.tasklet().is_paused()));
        assert!(hops.get() > last, "the ring moved");
        last = hops.get();
    }
    for t in &ring {
        t.tasklet().kill().unwrap();
    }
    assert!(chans.iter().all(|c| c.balance() == 0));
    assert_eq!(sched.alive_count(), 0);
}

// TestNewWatchdog (run() from a worker, nested runs): uthread refuses a run from inside
// a tasklet with RunError::Nested (one pump per scheduler, driven by the main context);
// the worker carries on and the outer run completes.
#[test]
fn run_from_a_worker_is_refused_and_the_outer_run_completes() {
    let sched = Rc::new(support::scheduler());
    let done = Rc::new(Cell::new(0));
    let d = done.clone();
    sched
        .spawn(move || {
            uthread::schedule().unwrap();
            d.set(d.get() + 1);
        })
        .unwrap();
    let (s, d) = (Rc::downgrade(&sched), done.clone());
    let runner = sched
        .spawn(move || {
            let r = s.upgrade().unwrap().run();
            d.set(d.get() + 1);
            matches!(r, Err(RunError::Nested))
        })
        .unwrap();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert_eq!(done.get(), 2);
    assert!(runner.join().unwrap());
}

// A hard total watchdog interrupts a tasklet that never yields; killing the one handed
// back (as Stackless users did with the victim of `run(timeout)`) unwinds it.
#[test]
fn the_victim_of_a_hard_total_watchdog_can_be_killed() {
    let sched = support::scheduler();
    let drops = support::Drops::new();
    let token = drops.token();
    let t = sched
        .spawn(move || {
            let _t = token;
            loop {
                spin(Duration::from_millis(1));
            }
        })
        .unwrap();
    let other = sched.spawn(|| 7).unwrap();
    let _guard = support::hang_guard(Duration::from_secs(60));
    loop {
        match sched
            .run_watchdog(Watchdog::total(Duration::from_millis(5)))
            .unwrap()
        {
            RunOutcome::Interrupted { tasklet, removed } => {
                assert!(removed);
                assert_eq!(&tasklet, t.tasklet());
                tasklet.kill().unwrap();
                break;
            }
            // The 5 ms were gone before the spinner's first slice began (a slow start,
            // as under valgrind): nothing was cut, and it is still first in the queue.
            RunOutcome::BudgetSpent => assert!(t.tasklet().is_scheduled()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(drops.count(), 1);
    sched.run().unwrap();
    assert_eq!(other.join().unwrap(), 7);
}
