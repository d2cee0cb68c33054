//! The scheduler: schedule, schedule_remove, run until empty, budgets, the watchdog (hard,
//! soft, total, atomic), the schedule and channel callbacks, the error handler, and
//! failures reported by `run` while the other tasklets stay queued.

mod support;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use support::Log;
use uthread::{
    Budget, Builder, Channel, FailureKind, RunError, RunOutcome, Scheduler, Tasklet,
    TaskletFailure, Watchdog,
};

/// Spawns `name`, which logs `name0`, `name1`... around `rounds` yields.
fn spawn_yielder(sched: &Scheduler, log: &Log, name: &'static str, rounds: usize) -> Tasklet {
    let log = log.clone();
    Builder::new()
        .name(name)
        .spawn_on(sched, move || {
            for i in 0..rounds {
                log.push(format!("{name}{i}"));
                uthread::schedule().unwrap();
            }
            log.push(format!("{name}-end"));
        })
        .unwrap()
        .tasklet()
        .clone()
}

/// Spins for `d` of wall time without any uthread call.
fn busy(d: Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < d {
        std::hint::spin_loop();
    }
}

#[test]
fn schedule_sends_the_caller_to_the_back_of_the_queue() {
    let sched = support::scheduler();
    let log = Log::new();
    spawn_yielder(&sched, &log, "a", 2);
    spawn_yielder(&sched, &log, "b", 1);
    spawn_yielder(&sched, &log, "c", 2);
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert_eq!(
        log.take(),
        ["a0", "b0", "c0", "a1", "b-end", "c1", "a-end", "c-end"]
    );
}

#[test]
fn schedule_from_main_runs_every_queued_tasklet_once() {
    let sched = support::scheduler();
    let log = Log::new();
    spawn_yielder(&sched, &log, "a", 2);
    spawn_yielder(&sched, &log, "b", 2);
    uthread::schedule().unwrap();
    assert_eq!(log.take(), ["a0", "b0"]);
    uthread::schedule().unwrap();
    assert_eq!(log.take(), ["a1", "b1"]);
    uthread::schedule().unwrap();
    assert_eq!(log.take(), ["a-end", "b-end"]);
    assert_eq!(sched.alive_count(), 0);
    // With nothing queued it returns at once.
    uthread::schedule().unwrap();
}

#[test]
fn schedule_remove_pauses_the_caller_and_runs_the_next() {
    let sched = support::scheduler();
    let log = Log::new();
    let l = log.clone();
    let t = sched
        .spawn(move || {
            l.push("before");
            uthread::schedule_remove().unwrap();
            l.push("after");
        })
        .unwrap()
        .tasklet()
        .clone();
    spawn_yielder(&sched, &log, "x", 0);
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert_eq!(log.take(), ["before", "x-end"]);
    assert!(t.is_paused() && t.is_alive());
    t.insert().unwrap();
    sched.run().unwrap();
    assert_eq!(log.take(), ["after"]);
    assert!(!t.is_alive());
}

#[test]
fn run_runs_until_the_queue_is_empty_and_leaves_blocked_tasklets_blocked() {
    let sched = support::scheduler();
    let log = Log::new();
    let ch = Channel::<u32>::new();
    let rx = ch.clone();
    let l = log.clone();
    let blocked = sched
        .spawn(move || {
            l.push("waiting");
            let v = rx.receive().unwrap();
            l.push(format!("got {v}"));
        })
        .unwrap();
    spawn_yielder(&sched, &log, "y", 3);
    match sched.run().unwrap() {
        RunOutcome::Deadlock(report) => {
            assert_eq!(report.blocked.len(), 1);
            assert_eq!(&report.blocked[0].0, blocked.tasklet());
        }
        other => panic!("expected the receiver left blocked, got {other:?}"),
    }
    assert_eq!(log.take(), ["waiting", "y0", "y1", "y2", "y-end"]);
    assert!(blocked.tasklet().is_blocked());
    assert_eq!(sched.scheduled_count(), 0);
    assert_eq!(sched.blocked_count(), 1);
    // Main can still help.
    ch.send(7).unwrap();
    assert_eq!(log.take(), ["got 7"]);
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
}

#[test]
fn run_from_inside_a_tasklet_is_refused() {
    let sched = Rc::new(support::scheduler());
    let s = sched.clone();
    let h = sched
        .spawn(move || matches!(s.run(), Err(RunError::Nested)))
        .unwrap();
    sched.run().unwrap();
    assert!(h.join().unwrap());
}

#[test]
fn run_for_a_resume_budget_stops_between_slices_and_keeps_the_order() {
    let build = || {
        let sched = support::scheduler();
        let log = Log::new();
        spawn_yielder(&sched, &log, "a", 3);
        spawn_yielder(&sched, &log, "b", 3);
        spawn_yielder(&sched, &log, "c", 3);
        (sched, log)
    };
    let (sched, log) = build();
    sched.run().unwrap();
    let reference = log.take();

    let (sched, log) = build();
    assert!(matches!(
        sched.run_for(Budget::Resumes(0)).unwrap(),
        RunOutcome::BudgetSpent
    ));
    assert!(log.get().is_empty(), "a zero budget runs nothing");
    let mut pieces = Vec::new();
    loop {
        let outcome = sched.run_for(Budget::Resumes(4)).unwrap();
        let piece = log.take();
        assert!(sched.last_run_resumes() <= 4);
        assert_eq!(piece.len() as u64, sched.last_run_resumes());
        pieces.extend(piece);
        match outcome {
            RunOutcome::BudgetSpent => {
                assert_eq!(sched.last_run_resumes(), 4);
            }
            RunOutcome::Finished => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        pieces, reference,
        "slicing the run does not change the order"
    );
}

#[test]
fn run_for_counts_the_yields_of_a_lone_tasklet() {
    // A tasklet that yields with nobody else runnable still yields to the scheduler, so
    // that a budget can stop it between two of its slices.
    let sched = support::scheduler();
    let log = Log::new();
    spawn_yielder(&sched, &log, "solo", 5);
    assert!(matches!(
        sched.run_for(Budget::Resumes(2)).unwrap(),
        RunOutcome::BudgetSpent
    ));
    assert_eq!(log.take(), ["solo0", "solo1"]);
    sched.run().unwrap();
    assert_eq!(log.take(), ["solo2", "solo3", "solo4", "solo-end"]);
}

#[test]
fn run_for_a_time_budget_returns_with_tasklets_still_queued() {
    let sched = support::scheduler();
    let log = Log::new();
    for name in ["a", "b"] {
        let log = log.clone();
        sched
            .spawn(move || loop {
                busy(Duration::from_millis(1));
                log.push(name);
                uthread::schedule().unwrap();
            })
            .unwrap();
    }
    let t0 = Instant::now();
    assert!(matches!(
        sched
            .run_for(Budget::Time(Duration::from_millis(10)))
            .unwrap(),
        RunOutcome::BudgetSpent
    ));
    assert!(t0.elapsed() < Duration::from_millis(500));
    let ran = log.take();
    assert!(!ran.is_empty(), "{ran:?}");
    assert_eq!(sched.scheduled_count(), 2, "both stay queued");
    sched.kill_all();
    assert_eq!(sched.alive_count(), 0);
}

/// The time budget is checked before every slice. The check reuses the clock read that
/// ended the last slice, but only when nothing ran since: a slow slice hook (or a slow
/// destructor) counts against the budget, so no slice starts after it is spent.
#[test]
fn a_slow_slice_hook_counts_against_the_time_budget() {
    let sched = support::scheduler();
    sched.set_timing(true);
    sched.set_slice_hook(Some(Box::new(|_| {
        std::thread::sleep(Duration::from_millis(30));
    })));
    for _ in 0..2 {
        sched
            .spawn(|| while uthread::schedule().is_ok() {})
            .unwrap();
    }
    let outcome = sched
        .run_for(Budget::Time(Duration::from_millis(10)))
        .unwrap();
    assert!(matches!(outcome, RunOutcome::BudgetSpent), "{outcome:?}");
    assert_eq!(
        sched.last_run_resumes(),
        1,
        "no slice after the hook spent it"
    );
    // Without the hook the same budget runs many slices.
    sched.set_slice_hook(None);
    sched
        .run_for(Budget::Time(Duration::from_millis(10)))
        .unwrap();
    assert!(
        sched.last_run_resumes() > 10,
        "{}",
        sched.last_run_resumes()
    );
    sched.kill_all();
    assert_eq!(sched.alive_count(), 0);
}

#[test]
fn hard_watchdog_takes_an_overrunning_tasklet_out_and_hands_it_back() {
    let sched = support::scheduler();
    let log = Log::new();
    let l = log.clone();
    let hog = Builder::new()
        .name("hog")
        .spawn_on(&sched, move || {
            // A long computation with preemption points but no voluntary switch. It
            // works until the watchdog has cut it twice (once before the caller inserts
            // it again, once after): not for a fixed time, which a thread held back by
            // the OS (or valgrind) could use up between two cuts.
            let me = uthread::current().unwrap();
            let resumed = me.switch_count();
            while me.switch_count() - resumed < 2 {
                busy(Duration::from_micros(200));
                uthread::preempt_point();
            }
            l.push("hog done");
        })
        .unwrap()
        .tasklet()
        .clone();
    spawn_yielder(&sched, &log, "polite", 0);
    let _guard = support::hang_guard(Duration::from_secs(60));
    let outcome = sched
        .run_watchdog(Watchdog::per_slice(Duration::from_millis(2)))
        .unwrap();
    match outcome {
        RunOutcome::Interrupted { tasklet, removed } => {
            assert_eq!(tasklet, hog);
            assert!(removed);
        }
        other => panic!("expected the hog interrupted, got {other:?}"),
    }
    assert!(hog.is_paused() && hog.is_alive(), "taken out of the queue");
    assert!(log.get().is_empty(), "the run returned at once");
    // The caller may re-insert it: the others run, and it continues where it was.
    hog.insert().unwrap();
    let mut interruptions = 0;
    loop {
        match sched
            .run_watchdog(Watchdog::per_slice(Duration::from_millis(2)))
            .unwrap()
        {
            RunOutcome::Interrupted { tasklet, removed } => {
                assert!(removed);
                interruptions += 1;
                tasklet.insert().unwrap();
            }
            RunOutcome::Finished => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(interruptions >= 1);
    assert_eq!(log.take(), ["polite-end", "hog done"]);
}

#[test]
fn hard_watchdog_victim_can_be_killed_by_the_caller() {
    let sched = support::scheduler();
    let hog = sched
        .spawn(|| loop {
            busy(Duration::from_micros(200));
            uthread::preempt_point();
        })
        .unwrap();
    let outcome = sched
        .run_watchdog(Watchdog::per_slice(Duration::from_millis(2)))
        .unwrap();
    let RunOutcome::Interrupted { tasklet, .. } = outcome else {
        panic!("expected an interruption, got {outcome:?}");
    };
    tasklet.kill().unwrap();
    assert!(!hog.tasklet().is_alive());
    assert!(matches!(hog.join(), Err(uthread::JoinError::Killed)));
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
}

#[test]
fn soft_watchdog_reports_after_the_slice_and_removes_nothing() {
    let sched = support::scheduler();
    let log = Log::new();
    let l = log.clone();
    let slow = Builder::new()
        .name("slow")
        .spawn_on(&sched, move || {
            for i in 0..2 {
                busy(Duration::from_millis(15));
                uthread::preempt_point(); // soft mode ignores these
                l.push(format!("slow{i}"));
                uthread::schedule().unwrap();
            }
        })
        .unwrap()
        .tasklet()
        .clone();
    spawn_yielder(&sched, &log, "quick", 0);
    let outcome = sched
        .run_watchdog(Watchdog::per_slice(Duration::from_millis(3)).soft())
        .unwrap();
    match outcome {
        RunOutcome::Interrupted { tasklet, removed } => {
            assert_eq!(tasklet, slow);
            assert!(!removed);
        }
        other => panic!("expected an interruption, got {other:?}"),
    }
    // The slice ran to its voluntary switch; the tasklet kept its place in the queue.
    assert_eq!(log.take(), ["slow0"]);
    assert!(slow.is_scheduled());
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert_eq!(log.take(), ["quick-end", "slow1"]);
}

#[test]
fn total_watchdog_limits_the_whole_run() {
    let sched = support::scheduler();
    let count = Rc::new(RefCell::new(0u32));
    for _ in 0..3 {
        let count = count.clone();
        sched
            .spawn(move || loop {
                busy(Duration::from_micros(300));
                *count.borrow_mut() += 1;
                uthread::schedule().unwrap();
            })
            .unwrap();
    }
    let t0 = Instant::now();
    let outcome = sched
        .run_watchdog(Watchdog::total(Duration::from_millis(10)))
        .unwrap();
    assert!(
        matches!(
            outcome,
            RunOutcome::BudgetSpent | RunOutcome::Interrupted { .. }
        ),
        "{outcome:?}"
    );
    assert!(t0.elapsed() < Duration::from_millis(500));
    assert!(
        *count.borrow() >= 1,
        "tasklets ran until the budget was spent"
    );
    sched.kill_all();
}

#[test]
fn total_watchdog_stops_a_lone_tasklet_that_keeps_yielding() {
    let sched = support::scheduler();
    let h = sched
        .spawn(|| {
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(2) {
                busy(Duration::from_micros(100));
                uthread::schedule().unwrap();
            }
        })
        .unwrap();
    let t0 = Instant::now();
    let outcome = sched
        .run_watchdog(Watchdog::total(Duration::from_millis(10)))
        .unwrap();
    assert!(
        t0.elapsed() < Duration::from_millis(1000),
        "the budget stopped it after {:?} ({outcome:?})",
        t0.elapsed()
    );
    assert!(h.tasklet().is_alive());
    sched.kill_all();
}

#[test]
fn hard_watchdog_does_not_interrupt_an_atomic_tasklet() {
    let sched = support::scheduler();
    let h = Builder::new()
        .atomic(true)
        .spawn_on(&sched, || {
            for _ in 0..20 {
                busy(Duration::from_micros(500));
                uthread::preempt_point();
            }
            "finished"
        })
        .unwrap();
    let outcome = sched
        .run_watchdog(Watchdog::per_slice(Duration::from_millis(1)))
        .unwrap();
    assert!(matches!(outcome, RunOutcome::Finished), "{outcome:?}");
    assert_eq!(h.join().unwrap(), "finished");
}

#[test]
fn an_atomic_section_defers_the_hard_interrupt_to_its_end() {
    let sched = support::scheduler();
    let log = Log::new();
    let l = log.clone();
    sched
        .spawn(move || {
            uthread::set_atomic(true);
            for _ in 0..10 {
                busy(Duration::from_micros(500));
                uthread::preempt_point();
            }
            l.push("atomic section done");
            uthread::set_atomic(false);
            loop {
                busy(Duration::from_micros(200));
                uthread::preempt_point();
            }
        })
        .unwrap();
    let outcome = sched
        .run_watchdog(Watchdog::per_slice(Duration::from_millis(1)))
        .unwrap();
    assert!(matches!(
        outcome,
        RunOutcome::Interrupted { removed: true, .. }
    ));
    assert_eq!(log.take(), ["atomic section done"]);
    sched.kill_all();
}

#[test]
fn schedule_callback_sees_starts_switches_and_ends() {
    let sched = support::scheduler();
    type Event = (Option<String>, Option<String>);
    let events: Rc<RefCell<Vec<Event>>> = Rc::default();
    let e = events.clone();
    let name = |t: Option<&Tasklet>| t.map(|t| t.name().unwrap_or_else(|| "?".into()));
    sched.set_schedule_callback(Some(Box::new(move |prev, next| {
        e.borrow_mut().push((name(prev), name(next)));
    })));
    let log = Log::new();
    spawn_yielder(&sched, &log, "a", 1);
    spawn_yielder(&sched, &log, "b", 1);
    sched.run().unwrap();
    let got = events.take();
    let s = |x: &str| Some(x.to_owned());
    assert_eq!(got.len(), 6, "{got:?}");
    assert_eq!(got[0], (None, s("a")), "prev is none when a tasklet starts");
    assert_eq!(got[1], (None, s("b")));
    assert_eq!(got[2], (s("b"), s("a")), "a resumes after b's slice");
    assert_eq!(got[3], (s("a"), None), "next is none when a tasklet ends");
    assert_eq!(got[4].1, s("b"));
    assert!(got[4].0.is_some(), "b resumes, it does not start");
    assert_ne!(got[4].0, s("a"), "a is dead by then");
    assert_eq!(got[5], (s("b"), None));

    // Cleared: no more calls.
    sched.set_schedule_callback(None);
    spawn_yielder(&sched, &log, "c", 1);
    sched.run().unwrap();
    assert!(events.borrow().is_empty());
}

#[test]
fn channel_callback_sees_every_operation() {
    let sched = support::scheduler();
    type Event = (
        uthread::ObjectId,
        Option<String>,
        Option<String>,
        bool,
        bool,
    );
    let events: Rc<RefCell<Vec<Event>>> = Rc::default();
    let e = events.clone();
    sched.set_channel_callback(Some(Box::new(move |ev| {
        e.borrow_mut().push((
            ev.channel,
            ev.channel_name.map(str::to_owned),
            ev.tasklet.name(),
            ev.sending,
            ev.will_block,
        ));
    })));
    let ch = Channel::<u8>::with_name("wire");
    let (rx, tx) = (ch.clone(), ch.clone());
    Builder::new()
        .name("rx")
        .spawn_on(&sched, move || rx.receive().unwrap())
        .unwrap();
    Builder::new()
        .name("tx")
        .spawn_on(&sched, move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(ch.receive().unwrap(), 2);
    let wire = || Some("wire".to_owned());
    let n = |s: &str| Some(s.to_owned());
    assert_eq!(
        events.take(),
        [
            (ch.id(), wire(), n("rx"), false, true),
            (ch.id(), wire(), n("tx"), true, false),
            (ch.id(), wire(), n("tx"), true, true),
            (ch.id(), wire(), n("main"), false, false),
        ]
    );
}

#[test]
fn error_handler_receives_failures_and_run_carries_on() {
    let sched = support::scheduler();
    let failures: Rc<RefCell<Vec<TaskletFailure>>> = Rc::default();
    let f = failures.clone();
    sched.set_error_handler(move |failure| f.borrow_mut().push(failure));
    let log = Log::new();
    spawn_yielder(&sched, &log, "a", 2);
    let bad = Builder::new()
        .name("bad")
        .spawn_on(&sched, || {
            uthread::schedule().unwrap();
            panic!("bad tasklet");
        })
        .unwrap()
        .tasklet()
        .clone();
    spawn_yielder(&sched, &log, "b", 2);
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert_eq!(
        log.take(),
        ["a0", "b0", "a1", "b1", "a-end", "b-end"],
        "the others ran on undisturbed"
    );
    let got = failures.take();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].tasklet, bad.id());
    assert_eq!(got[0].name.as_deref(), Some("bad"));
    assert_eq!(got[0].panic_message(), Some("bad tasklet"));

    // Without a handler the failure comes out of run().
    sched.clear_error_handler();
    sched.spawn(|| panic!("second")).map(drop).unwrap();
    assert!(matches!(sched.run(), Err(RunError::Failed(_))));
}

#[test]
fn run_reports_a_failure_and_the_others_stay_queued() {
    let sched = support::scheduler();
    let log = Log::new();
    spawn_yielder(&sched, &log, "a", 2);
    let bad = Builder::new()
        .name("bad")
        .spawn_on(&sched, || {
            uthread::schedule().unwrap();
            panic!("boom")
        })
        .unwrap()
        .tasklet()
        .clone();
    let b = spawn_yielder(&sched, &log, "b", 2);
    let err = sched.run().unwrap_err();
    let RunError::Failed(failure) = err else {
        panic!("expected a failure, got {err:?}");
    };
    assert_eq!(failure.tasklet, bad.id());
    assert_eq!(failure.name.as_deref(), Some("bad"));
    assert!(matches!(failure.kind, FailureKind::Panicked { .. }));
    assert_eq!(
        log.take(),
        ["a0", "b0", "a1"],
        "run returned right after the failure"
    );
    assert!(b.is_scheduled());
    assert_eq!(sched.scheduled_count(), 2);
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert_eq!(log.take(), ["b1", "a-end", "b-end"]);
}

#[test]
fn a_failure_while_main_waits_is_kept_for_the_next_run() {
    let sched = support::scheduler();
    let ch = Channel::<u8>::new();
    let tx = ch.clone();
    sched
        .spawn(|| panic!("while main waited"))
        .map(drop)
        .unwrap();
    sched.spawn(move || tx.send(9).unwrap()).unwrap();
    // Main blocks here and the scheduler runs both tasklets.
    assert_eq!(ch.receive().unwrap(), 9);
    match sched.run() {
        Err(RunError::Failed(f)) => assert_eq!(f.panic_message(), Some("while main waited")),
        other => panic!("expected the kept failure, got {other:?}"),
    }
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));

    // take_failures empties the list instead.
    sched.spawn(|| panic!("taken")).map(drop).unwrap();
    uthread::schedule().unwrap();
    let taken = sched.take_failures();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].panic_message(), Some("taken"));
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
}

#[test]
fn hooks_may_read_scheduler_state() {
    let sched = support::scheduler();
    let seen = Log::new();
    let s = seen.clone();
    sched.set_schedule_callback(Some(Box::new(move |_, next| {
        if let Some(next) = next {
            s.push(format!("{:?} {}", next.state(), uthread::run_count()));
        }
    })));
    sched.spawn(|| ()).unwrap();
    sched.run().unwrap();
    assert_eq!(seen.take(), ["Running 1"]);
}

#[test]
fn an_error_handler_may_spawn_a_replacement() {
    let sched = Rc::new(support::scheduler());
    let log = Log::new();
    let (s, l) = (Rc::downgrade(&sched), log.clone());
    sched.set_error_handler(move |failure| {
        l.push(format!("restarting {}", failure.name.unwrap_or_default()));
        let l2 = l.clone();
        let sched = s.upgrade().unwrap();
        Builder::new()
            .name("replacement")
            .spawn_on(&sched, move || l2.push("replacement ran"))
            .unwrap();
    });
    Builder::new()
        .name("crasher")
        .spawn_on(&sched, || panic!("crash"))
        .unwrap();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert_eq!(log.take(), ["restarting crasher", "replacement ran"]);
}

#[test]
fn kill_all_from_inside_a_tasklet_kills_the_others_and_the_scheduler_stays_usable() {
    let sched = Rc::new(support::scheduler());
    let ch = Channel::<u32>::new();
    let rx = ch.clone();
    let victim = sched.spawn(move || rx.receive().unwrap()).unwrap();
    let s = sched.clone();
    let caller = sched
        .spawn(move || {
            s.kill_all();
            "kill_all returned to its caller"
        })
        .unwrap();
    let log = Log::new();
    spawn_yielder(&sched, &log, "queued", 1);
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert!(!victim.tasklet().is_alive(), "kill_all killed nothing");
    assert_eq!(ch.balance(), 0);
    assert!(
        log.get().is_empty(),
        "the queued tasklet was killed before it ran"
    );
    assert!(matches!(caller.join(), Err(uthread::JoinError::Killed)));
    assert_eq!(sched.alive_count(), 0);
    // Whatever it did, the scheduler must still accept work.
    let h = sched.spawn(|| 1).expect("spawn refused after kill_all");
    sched.run().unwrap();
    assert_eq!(h.join().unwrap(), 1);
}

#[test]
fn soft_total_watchdog_stops_between_slices_and_removes_nothing() {
    let sched = support::scheduler();
    let hogs: Vec<Tasklet> = (0..2)
        .map(|_| {
            sched
                .spawn(|| loop {
                    busy(Duration::from_millis(2));
                    uthread::preempt_point(); // soft mode ignores these
                    uthread::schedule().unwrap();
                })
                .unwrap()
                .tasklet()
                .clone()
        })
        .collect();
    let t0 = Instant::now();
    let outcome = sched
        .run_watchdog(Watchdog::total(Duration::from_millis(5)).soft())
        .unwrap();
    assert!(matches!(outcome, RunOutcome::BudgetSpent), "{outcome:?}");
    assert!(t0.elapsed() < Duration::from_millis(500));
    assert!(
        hogs.iter().all(Tasklet::is_scheduled),
        "nothing was taken out"
    );
    sched.kill_all();
}
