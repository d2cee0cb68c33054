//! A panicking tasklet dies alone: its name and message reach the error handler or
//! `run()`, its destructors run once, every other tasklet carries on, and a join handle
//! gets `JoinError::Panicked`.

mod support;

use std::cell::RefCell;
use std::rc::Rc;

use support::{Drops, Log};
use uthread::{
    Builder, Channel, FailureKind, JoinError, RunError, RunOutcome, Scheduler, TaskletFailure,
};

/// Spawns a tasklet that logs `name0`..`name{rounds-1}` around yields, then `name-end`.
fn spawn_worker(sched: &Scheduler, log: &Log, name: &'static str, rounds: usize) {
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
        .unwrap();
}

#[test]
fn a_panicking_tasklet_dies_alone_and_run_reports_its_name_and_message() {
    let sched = support::scheduler();
    let log = Log::new();
    let drops = Drops::new();
    spawn_worker(&sched, &log, "a", 3);
    let g = drops.token();
    let bad = Builder::new()
        .name("reactor")
        .spawn_on(&sched, move || {
            let _held = g;
            uthread::schedule().unwrap();
            panic!("core breach at {}", 42);
        })
        .unwrap()
        .tasklet()
        .clone(); // the join handle is dropped: the panic is nobody's but run()'s
    spawn_worker(&sched, &log, "b", 3);

    let failure = match sched.run() {
        Err(RunError::Failed(f)) => f,
        other => panic!("expected a failure, got {other:?}"),
    };
    assert_eq!(failure.tasklet, bad.id());
    assert_eq!(failure.name.as_deref(), Some("reactor"));
    assert_eq!(failure.panic_message(), Some("core breach at 42"));
    let shown = failure.to_string();
    assert!(
        shown.contains("reactor") && shown.contains("core breach at 42"),
        "{shown}"
    );
    let err = RunError::Failed(failure);
    assert!(err.to_string().contains("reactor"));
    assert!(std::error::Error::source(&err).is_some());

    assert!(!bad.is_alive());
    assert_eq!(drops.count(), 1, "its stack unwound, destructors ran once");
    assert_eq!(sched.alive_count(), 2, "the others are alive and queued");
    assert_eq!(sched.scheduled_count(), 2);
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    let mut got = log.take();
    got.sort();
    assert_eq!(got, ["a-end", "a0", "a1", "a2", "b-end", "b0", "b1", "b2"]);
}

#[test]
fn with_an_error_handler_run_carries_on_past_panics() {
    let sched = support::scheduler();
    let failures: Rc<RefCell<Vec<TaskletFailure>>> = Rc::default();
    let f = failures.clone();
    sched.set_error_handler(move |failure| f.borrow_mut().push(failure));
    let log = Log::new();
    spawn_worker(&sched, &log, "w", 2);
    for name in ["p1", "p2"] {
        Builder::new()
            .name(name)
            .spawn_on(&sched, move || panic!("{name} failed"))
            .unwrap();
    }
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert_eq!(log.take(), ["w0", "w1", "w-end"]);
    let got: Vec<_> = failures
        .take()
        .into_iter()
        .map(|f| {
            (
                f.name.clone().unwrap(),
                f.panic_message().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("p1".to_owned(), "p1 failed".to_owned()),
            ("p2".to_owned(), "p2 failed".to_owned())
        ]
    );
}

#[test]
fn join_gets_the_panic_and_run_does_not_report_it_twice() {
    let sched = support::scheduler();
    let h = sched.spawn(|| -> u32 { panic!("joined panic") }).unwrap();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    match h.join() {
        Err(JoinError::Panicked(msg)) => assert_eq!(msg, "joined panic"),
        other => panic!("expected Panicked, got {other:?}"),
    }
}

#[test]
fn a_tasklet_joining_a_panicking_one_gets_panicked_and_carries_on() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let rx = ch.clone();
    let doomed = sched
        .spawn(move || -> u32 {
            let v = rx.receive().unwrap();
            panic!("received {v}")
        })
        .unwrap();
    let joiner = sched
        .spawn(move || match doomed.join() {
            Err(JoinError::Panicked(msg)) => format!("saw: {msg}"),
            other => format!("unexpected: {other:?}"),
        })
        .unwrap();
    sched.run().unwrap();
    assert!(joiner.tasklet().is_blocked());
    ch.send(3).unwrap();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert_eq!(joiner.join().unwrap(), "saw: received 3");
}

#[test]
fn a_non_string_panic_payload_is_kept() {
    let sched = support::scheduler();
    sched
        .spawn(|| std::panic::panic_any(1234_u64))
        .map(drop)
        .unwrap();
    match sched.run() {
        Err(RunError::Failed(f)) => match f.kind {
            FailureKind::Panicked { payload, message } => {
                assert_eq!(payload.downcast_ref::<u64>(), Some(&1234));
                assert!(!message.is_empty());
            }
            other => panic!("expected Panicked, got {other:?}"),
        },
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn a_panic_does_not_disturb_channel_partners() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let log = Log::new();
    let (rx, l) = (ch.clone(), log.clone());
    sched
        .spawn(move || {
            for v in rx.iter() {
                l.push(format!("got {v}"));
            }
        })
        .unwrap();
    let tx = ch.clone();
    sched
        .spawn(move || {
            tx.send(1).unwrap();
            panic!("sender dies after one");
        })
        .map(drop)
        .unwrap();
    let tx = ch.clone();
    sched
        .spawn(move || {
            tx.send(2).unwrap();
            tx.close_now();
        })
        .unwrap();
    assert!(matches!(sched.run(), Err(RunError::Failed(_))));
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert_eq!(log.take(), ["got 1", "got 2"]);
}

#[test]
fn a_panicking_tasklet_releases_its_stack() {
    // The dedicated pool's bookkeeping, whatever UTHREAD_TEST_STACKS says.
    let sched = support::builder()
        .stack_strategy(uthread::StackStrategy::dedicated())
        .build();
    sched.set_error_handler(|_| ());
    let before = sched.stack_stats();
    for _ in 0..3 {
        sched.spawn(|| panic!("gone")).map(drop).unwrap();
    }
    sched.run().unwrap();
    let after = sched.stack_stats();
    assert_eq!(after.in_use, before.in_use);
    assert_eq!(after.idle, before.idle + 3);
    assert_eq!(sched.alive_count(), 0);
}

#[test]
fn a_tasklet_spawned_by_a_panicking_one_survives_it() {
    let sched = support::scheduler();
    let log = Log::new();
    let l = log.clone();
    sched
        .spawn(move || {
            let l2 = l.clone();
            uthread::spawn(move || {
                uthread::schedule().unwrap();
                l2.push("child finished");
            })
            .unwrap();
            panic!("parent dies");
        })
        .map(drop)
        .unwrap();
    assert!(matches!(sched.run(), Err(RunError::Failed(_))));
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert_eq!(log.take(), ["child finished"]);
}
