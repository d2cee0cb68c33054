//! Throwing errors into tasklets: blocked (the blocking call returns `Thrown`), scheduled,
//! paused, new, dead and current targets, and the pending variant.

mod support;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use support::{Drops, Log};
use uthread::{
    Builder, Channel, ChannelError, FailureKind, JoinError, RunError, RunOutcome, SendError,
    Tasklet, TaskletError, Thrown, WaitError,
};

#[derive(Debug, PartialEq)]
struct Alarm(u32);

impl std::fmt::Display for Alarm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "alarm {}", self.0)
    }
}

impl std::error::Error for Alarm {}

fn alarm_of(t: &Thrown) -> Option<u32> {
    t.downcast_ref::<Alarm>().map(|a| a.0)
}

#[test]
fn throw_into_a_blocked_receiver_wakes_it_with_the_error_at_once() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let log = Log::new();
    let (rx, l) = (ch.clone(), log.clone());
    let h = sched
        .spawn(move || {
            let r = rx.receive();
            l.push("woke");
            r
        })
        .unwrap();
    sched.run().unwrap();
    h.tasklet().throw(Alarm(1)).unwrap();
    assert_eq!(log.take(), ["woke"], "it ran before throw returned");
    assert_eq!(ch.balance(), 0, "taken off the channel");
    match h.join().unwrap() {
        Err(ChannelError::Thrown(t)) => {
            assert_eq!(alarm_of(&t), Some(1));
            assert!(t.to_string().contains("alarm 1"));
        }
        other => panic!("expected Thrown, got {other:?}"),
    }
}

#[test]
fn throw_into_a_blocked_sender_gives_its_value_back() {
    let sched = support::scheduler();
    let ch = Channel::<String>::new();
    let tx = ch.clone();
    let h = sched.spawn(move || tx.send("cargo".to_owned())).unwrap();
    sched.run().unwrap();
    assert_eq!(ch.balance(), 1);
    h.tasklet().throw(Alarm(2)).unwrap();
    assert_eq!(ch.balance(), 0);
    match h.join().unwrap() {
        Err(SendError {
            value,
            error: ChannelError::Thrown(t),
        }) => {
            assert_eq!(value, "cargo");
            assert_eq!(alarm_of(&t), Some(2));
        }
        other => panic!("expected Thrown with the value, got {other:?}"),
    }
}

#[test]
fn throw_into_a_sleeper_ends_its_sleep_with_the_error() {
    let sched = support::builder().manual_clock().build();
    let h = sched
        .spawn(|| uthread::sleep(Duration::from_secs(3)))
        .unwrap();
    sched.run().unwrap();
    assert_eq!(sched.timer_count(), 1);
    h.tasklet().throw(Alarm(3)).unwrap();
    assert_eq!(sched.timer_count(), 0);
    match h.join().unwrap() {
        Err(WaitError::Thrown(t)) => assert_eq!(alarm_of(&t), Some(3)),
        other => panic!("expected Thrown, got {other:?}"),
    }
}

#[test]
fn throw_into_a_joiner_interrupts_the_join() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let rx = ch.clone();
    let target = sched.spawn(move || rx.receive().unwrap()).unwrap();
    let joiner = sched.spawn(move || target.join()).unwrap();
    sched.run().unwrap();
    joiner.tasklet().throw(Alarm(4)).unwrap();
    match joiner.join().unwrap() {
        Err(JoinError::Wait(WaitError::Thrown(t))) => assert_eq!(alarm_of(&t), Some(4)),
        other => panic!("expected Thrown, got {other:?}"),
    }
    ch.send(0).unwrap();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
}

#[test]
fn throw_into_a_scheduled_tasklet_fails_the_yield_it_is_in() {
    let sched = support::scheduler();
    let log = Log::new();
    let l = log.clone();
    let h = sched
        .spawn(move || {
            l.push("yielding");
            let r = uthread::schedule();
            l.push("back");
            r
        })
        .unwrap();
    let l = log.clone();
    sched.spawn(move || l.push("other")).unwrap();
    sched.run_for(uthread::Budget::Resumes(1)).unwrap();
    assert!(h.tasklet().is_scheduled());
    h.tasklet().throw(Alarm(5)).unwrap();
    assert_eq!(
        log.take(),
        ["yielding", "back"],
        "ran at once, ahead of 'other'"
    );
    match h.join().unwrap() {
        Err(WaitError::Thrown(t)) => assert_eq!(alarm_of(&t), Some(5)),
        other => panic!("expected Thrown, got {other:?}"),
    }
    sched.run().unwrap();
    assert_eq!(log.take(), ["other"]);
}

#[test]
fn throw_into_a_paused_tasklet_runs_it_with_the_error() {
    let sched = support::scheduler();
    let h = sched.spawn(uthread::schedule_remove).unwrap();
    sched.run().unwrap();
    assert!(h.tasklet().is_paused());
    h.tasklet().throw(Alarm(6)).unwrap();
    assert!(h.is_finished());
    match h.join().unwrap() {
        Err(WaitError::Thrown(t)) => assert_eq!(alarm_of(&t), Some(6)),
        other => panic!("expected Thrown, got {other:?}"),
    }
}

#[test]
fn throw_into_a_new_tasklet_kills_it_before_it_runs() {
    let sched = support::scheduler();
    let drops = Drops::new();
    let log = Log::new();
    let (g, l) = (drops.token(), log.clone());
    let h = sched
        .spawn(move || {
            let _g = g;
            l.push("ran");
        })
        .unwrap();
    h.tasklet().throw(Alarm(7)).unwrap();
    assert!(!h.tasklet().is_alive());
    assert!(log.get().is_empty(), "the body never ran");
    assert_eq!(drops.count(), 1, "its closure was dropped once");
    match h.join() {
        Err(JoinError::Uncaught(t)) => assert!(t.to_string().contains("alarm 7"), "{t}"),
        other => panic!("expected Uncaught, got {other:?}"),
    }
    // The join handle saw the error, so run() has nothing to report.
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
}

#[test]
fn throw_into_a_new_detached_tasklet_is_reported_as_uncaught() {
    let sched = support::scheduler();
    let t = Builder::new()
        .name("fresh")
        .spawn_on(&sched, || ())
        .unwrap()
        .tasklet()
        .clone();
    t.throw(Alarm(8)).unwrap();
    match sched.run() {
        Err(RunError::Failed(f)) => {
            assert_eq!(f.name.as_deref(), Some("fresh"));
            match f.kind {
                FailureKind::Uncaught(thrown) => assert_eq!(alarm_of(&thrown), Some(8)),
                other => panic!("expected Uncaught, got {other:?}"),
            }
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn throw_into_a_dead_tasklet_is_an_error() {
    let sched = support::scheduler();
    let h = sched.spawn(|| ()).unwrap();
    sched.run().unwrap();
    assert_eq!(h.tasklet().throw(Alarm(9)), Err(TaskletError::Dead));
    assert_eq!(h.tasklet().throw_pending(Alarm(9)), Err(TaskletError::Dead));
}

#[test]
fn throw_into_the_current_tasklet_is_refused() {
    let sched = support::scheduler();
    let h = sched
        .spawn(|| uthread::current().unwrap().throw(Alarm(10)))
        .unwrap();
    sched.run().unwrap();
    assert_eq!(h.join().unwrap(), Err(TaskletError::IsCurrent));
}

#[test]
fn throw_pending_only_makes_the_target_runnable() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let log = Log::new();
    let (rx, l) = (ch.clone(), log.clone());
    let h = sched
        .spawn(move || {
            let r = rx.receive();
            l.push("target woke");
            r
        })
        .unwrap();
    sched.run().unwrap();
    let l = log.clone();
    sched.spawn(move || l.push("queued first")).unwrap();
    h.tasklet().throw_pending(Alarm(11)).unwrap();
    assert_eq!(ch.balance(), 0, "taken off the channel at once");
    assert!(h.tasklet().is_scheduled());
    log.push("main carried on");
    sched.run().unwrap();
    assert_eq!(
        log.take(),
        ["main carried on", "queued first", "target woke"]
    );
    assert!(matches!(h.join().unwrap(), Err(ChannelError::Thrown(t)) if alarm_of(&t) == Some(11)));
}

#[test]
fn throw_from_another_tasklet_runs_the_target_then_the_thrower() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let log = Log::new();
    let (rx, l) = (ch.clone(), log.clone());
    let target = sched
        .spawn(move || {
            if let Err(e) = rx.receive() {
                l.push(format!("target: {e}"));
            }
        })
        .unwrap()
        .tasklet()
        .clone();
    let l = log.clone();
    sched
        .spawn(move || {
            l.push("throwing");
            target.throw(Alarm(12)).unwrap();
            l.push("thrown");
        })
        .unwrap();
    let l = log.clone();
    sched.spawn(move || l.push("bystander")).unwrap();
    sched.run().unwrap();
    assert_eq!(
        log.take(),
        [
            "throwing",
            "target: thrown into the tasklet: alarm 12",
            "thrown",
            "bystander"
        ]
    );
}

#[test]
fn an_error_thrown_during_a_plain_switch_waits_for_the_next_blocking_call() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let log = Log::new();
    // `a` runs the thrower (a plain switch, not a wait); the thrower throws into `a` with
    // the pending variant; `a` comes back from run() normally and gets the error from its
    // next blocking call, without blocking.
    let a_slot: Rc<RefCell<Option<Tasklet>>> = Rc::default();
    let slot = a_slot.clone();
    let thrower = Builder::new()
        .paused()
        .spawn_on(&sched, move || {
            let a = slot.borrow().clone().unwrap();
            a.throw_pending(Alarm(13))
        })
        .unwrap();
    let (rx, l, t) = (ch.clone(), log.clone(), thrower.tasklet().clone());
    let a = sched
        .spawn(move || {
            let r = t.run();
            l.push(format!("run returned {r:?}"));
            rx.receive()
        })
        .unwrap();
    *a_slot.borrow_mut() = Some(a.tasklet().clone());
    sched.run().unwrap();
    assert!(thrower.join().unwrap().is_ok());
    assert_eq!(log.take(), ["run returned Ok(())"]);
    assert_eq!(ch.balance(), 0, "a never blocked");
    match a.join().unwrap() {
        Err(ChannelError::Thrown(t)) => assert_eq!(alarm_of(&t), Some(13)),
        other => panic!("expected Thrown, got {other:?}"),
    }
}

#[test]
fn throw_into_the_main_context_fails_its_blocking_call() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let main = sched.main();
    let log = Log::new();
    let l = log.clone();
    sched
        .spawn(move || {
            main.throw(Alarm(14)).unwrap();
            l.push("thrower carried on");
        })
        .unwrap();
    match ch.receive() {
        Err(ChannelError::Thrown(t)) => assert_eq!(alarm_of(&t), Some(14)),
        other => panic!("expected Thrown, got {other:?}"),
    }
    assert!(log.get().is_empty(), "main ran first");
    assert_eq!(ch.balance(), 0);
    sched.run().unwrap();
    assert_eq!(log.take(), ["thrower carried on"]);
}
