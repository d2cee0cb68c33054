//! Stackless Python's tasklet conformance tests (`Stackless/unittests/test_miscell.py`:
//! TestTaskletSwitching, TestTaskletThrow*, TestKill, TestErrorHandler, TestAtomic,
//! TestSchedule, TestBind, TestSwitch; `test_defects.py`: Schedule, TestTaskletDel),
//! ported to uthread's documented API. Where uthread differs on purpose, the test says
//! so and checks uthread's documented behaviour.

mod support;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

use support::{Drops, Log};
use uthread::{
    Builder, Channel, ChannelError, FailureKind, JoinError, RunError, RunOutcome, TaskletError,
    TaskletState, WaitError,
};

#[derive(Debug)]
struct IndexError(u32);

impl fmt::Display for IndexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "index {}", self.0)
    }
}

impl std::error::Error for IndexError {}

// TestTaskletSwitching.test_run.
#[test]
fn run_runs_a_new_tasklet_now() {
    let sched = support::scheduler();
    let flag = Rc::new(Cell::new(false));
    let f = flag.clone();
    let t = sched.spawn(move || f.set(true)).unwrap();
    t.tasklet().run().unwrap();
    assert!(flag.get());
    assert!(!t.tasklet().is_alive());
    // Stackless test_kill_new: running a dead tasklet is an error that says so.
    assert_eq!(t.tasklet().run(), Err(TaskletError::Dead));
}

// TestTaskletSwitching.test_switch_to_current (Stackless issue 88): switching to
// yourself, twice, is harmless, in main and in a tasklet.
#[test]
fn switching_to_the_current_tasklet_twice_is_a_no_op() {
    let sched = support::scheduler();
    let main = sched.main();
    sched.enter(|| {
        main.switch().unwrap();
        main.switch().unwrap();
        main.run().unwrap();
    });
    let t = sched
        .spawn(|| {
            let me = uthread::current().unwrap();
            me.switch().unwrap();
            me.switch().unwrap();
            me.is_current()
        })
        .unwrap();
    sched.run().unwrap();
    assert!(t.join().unwrap());
}

/// A tasklet blocked in `receive` that records what its receive returned.
fn receiver(sched: &uthread::Scheduler, ch: &Channel<u32>, log: &Log) -> uthread::JoinHandle<()> {
    let (ch, log) = (ch.clone(), log.clone());
    sched
        .spawn(move || match ch.receive() {
            Err(ChannelError::Thrown(t)) => match t.downcast_ref::<IndexError>() {
                Some(e) => log.push(format!("thrown {}", e.0)),
                None => log.push(format!("thrown other: {t}")),
            },
            other => log.push(format!("{other:?}")),
        })
        .unwrap()
}

// TestTaskletThrowImmediate: after `throw`, the target has already run (and here ended).
#[test]
fn throw_into_a_blocked_tasklet_runs_it_at_once_with_the_error() {
    let sched = support::scheduler();
    let ch = Channel::new();
    let log = Log::new();
    let t = receiver(&sched, &ch, &log);
    t.tasklet().run().unwrap();
    assert!(t.tasklet().is_blocked());
    t.tasklet().throw(IndexError(3)).unwrap();
    assert_eq!(log.get(), ["thrown 3"]);
    assert!(!t.tasklet().is_alive());
    assert_eq!(ch.balance(), 0);
}

// TestTaskletThrowNonImmediate: after a pending throw the target is still alive; it
// gets the error when it runs.
#[test]
fn throw_pending_into_a_blocked_tasklet_delivers_when_it_runs() {
    let sched = support::scheduler();
    let ch = Channel::new();
    let log = Log::new();
    let t = receiver(&sched, &ch, &log);
    t.tasklet().run().unwrap();
    t.tasklet().throw_pending(IndexError(4)).unwrap();
    assert!(t.tasklet().is_alive());
    assert!(
        t.tasklet().is_scheduled(),
        "taken off the channel, runnable"
    );
    assert_eq!(ch.balance(), 0);
    assert!(log.get().is_empty());
    t.tasklet().run().unwrap();
    assert_eq!(log.get(), ["thrown 4"]);
    assert!(!t.tasklet().is_alive());
}

// TestTaskletThrowBase.test_new: a throw into a tasklet that never ran is its uncaught
// error; with the join handle kept, join reports it; the body never runs.
#[test]
fn throw_into_a_new_tasklet_is_its_uncaught_error_immediate_and_pending() {
    for pending in [false, true] {
        let sched = support::scheduler();
        let ran = Rc::new(Cell::new(false));
        let r = ran.clone();
        let t = sched.spawn(move || r.set(true)).unwrap();
        if pending {
            t.tasklet().throw_pending(IndexError(1)).unwrap();
            assert!(t.tasklet().is_alive(), "pending: not run yet");
        } else {
            t.tasklet().throw(IndexError(1)).unwrap();
        }
        sched.run().unwrap();
        assert!(!ran.get());
        match t.join() {
            Err(JoinError::Uncaught(e)) => assert!(e.to_string().contains("index 1"), "{e}"),
            other => panic!("pending={pending}: {other:?}"),
        }
    }
}

// Detached (no join handle): the uncaught error goes to whoever drives run().
#[test]
fn throw_into_a_new_detached_tasklet_is_reported_by_run() {
    let sched = support::scheduler();
    let t = sched.spawn(|| ()).unwrap();
    let tasklet = t.tasklet().clone();
    drop(t);
    tasklet.throw_pending(IndexError(2)).unwrap();
    match sched.run() {
        Err(RunError::Failed(f)) => {
            assert_eq!(f.tasklet, tasklet.id());
            assert!(matches!(f.kind, FailureKind::Uncaught(_)));
        }
        other => panic!("{other:?}"),
    }
}

// test_dead / test_kill_dead: throwing into a dead tasklet is an error, killing it is not.
#[test]
fn throw_into_a_dead_tasklet_fails_and_kill_does_nothing() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let rx = ch.clone();
    let t = sched.spawn(move || rx.receive().unwrap()).unwrap();
    t.tasklet().run().unwrap();
    ch.send(0).unwrap();
    sched.run().unwrap();
    assert!(!t.tasklet().is_alive());
    assert_eq!(t.tasklet().throw(IndexError(0)), Err(TaskletError::Dead));
    assert_eq!(
        t.tasklet().throw_pending(IndexError(0)),
        Err(TaskletError::Dead)
    );
    assert_eq!(t.tasklet().kill(), Ok(()));
    assert_eq!(t.tasklet().kill_pending(), Ok(()));
    assert_eq!(t.tasklet().insert(), Err(TaskletError::Dead));
    assert_eq!(t.tasklet().switch(), Err(TaskletError::Dead));
}

// TestKill.test_kill_pending_true / _False: a pending kill waits for the victim's turn;
// an immediate kill has unwound it when kill returns. Destructors see the unwind.
#[test]
fn kill_pending_waits_for_the_victims_turn_and_kill_does_not() {
    for pending in [true, false] {
        let sched = support::scheduler();
        let drops = Drops::new();
        let token = drops.token();
        let t = sched
            .spawn(move || {
                let _t = token;
                loop {
                    uthread::schedule().unwrap();
                }
            })
            .unwrap();
        t.tasklet().run().unwrap();
        assert_eq!(drops.count(), 0);
        if pending {
            t.tasklet().kill_pending().unwrap();
            assert_eq!(drops.count(), 0, "not unwound yet");
            assert!(t.tasklet().is_alive());
            t.tasklet().run().unwrap();
        } else {
            t.tasklet().kill().unwrap();
        }
        assert_eq!(drops.count(), 1);
        assert!(!t.tasklet().is_alive());
        assert!(matches!(t.join(), Err(JoinError::Killed)));
    }
}

// TestKill.test_kill_current.
#[test]
fn a_tasklet_killing_itself_unwinds_at_once() {
    let sched = support::scheduler();
    let drops = Drops::new();
    let token = drops.token();
    let after = Rc::new(Cell::new(false));
    let a = after.clone();
    let t = sched
        .spawn(move || {
            let _t = token;
            let _ = uthread::current().unwrap().kill();
            a.set(true);
        })
        .unwrap();
    t.tasklet().run().unwrap();
    assert!(!after.get());
    assert_eq!(drops.count(), 1);
    assert!(!t.tasklet().is_alive());
    assert_eq!(sched.main().kill(), Err(TaskletError::IsMain));
}

// Kill in every state: blocked, runnable, never started (scheduled and paused), paused.
#[test]
fn kill_in_every_state_leaves_a_dead_tasklet_and_runs_destructors_once() {
    let sched = support::manual();
    let drops = Drops::new();
    let ch = Channel::<u32>::new();
    let spawn = |paused: bool, body: Box<dyn FnOnce()>| {
        let token = drops.token();
        let b = Builder::new();
        let b = if paused { b.paused() } else { b };
        b.spawn_on(&sched, move || {
            let _t = token;
            body();
        })
        .unwrap()
    };
    let rx = ch.clone();
    let blocked = spawn(
        false,
        Box::new(move || {
            let _ = rx.receive();
        }),
    );
    let runnable = spawn(
        false,
        Box::new(|| loop {
            uthread::schedule().unwrap();
        }),
    );
    let paused = spawn(
        false,
        Box::new(|| {
            uthread::schedule_remove().unwrap();
        }),
    );
    sched.run_for(uthread::Budget::Resumes(3)).unwrap();
    let new_scheduled = spawn(false, Box::new(|| unreachable!()));
    let new_paused = spawn(true, Box::new(|| unreachable!()));
    assert_eq!(blocked.tasklet().state(), TaskletState::Blocked);
    assert_eq!(runnable.tasklet().state(), TaskletState::Scheduled);
    assert_eq!(paused.tasklet().state(), TaskletState::Paused);
    assert_eq!(new_scheduled.tasklet().state(), TaskletState::Scheduled);
    assert_eq!(new_paused.tasklet().state(), TaskletState::Paused);
    assert!(!new_scheduled.tasklet().is_started());
    for h in [&blocked, &runnable, &paused, &new_scheduled, &new_paused] {
        h.tasklet().kill().unwrap();
        assert_eq!(h.tasklet().state(), TaskletState::Dead);
    }
    assert_eq!(drops.count(), 5);
    assert_eq!(ch.balance(), 0);
    assert_eq!(sched.alive_count(), 0);
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
}

// TestErrorHandler.test_handler / test_early_throw / test_throw_pending.
#[test]
fn the_error_handler_gets_panics_and_early_throws_and_run_carries_on() {
    let sched = support::scheduler();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    sched.set_error_handler(move |f| s.borrow_mut().push((f.tasklet, f.to_string())));
    let ran = Rc::new(Cell::new(0));
    let r = ran.clone();
    let broken = sched
        .spawn(move || {
            r.set(r.get() + 1);
            panic!("I am broken");
        })
        .unwrap()
        .tasklet()
        .clone();
    let r = ran.clone();
    let early = sched.spawn(move || r.set(r.get() + 10)).unwrap();
    let early_t = early.tasklet().clone();
    drop(early);
    early_t.throw(IndexError(9)).unwrap();
    let r = ran.clone();
    let late = sched
        .spawn(move || {
            uthread::schedule().unwrap();
            r.set(r.get() + 100);
        })
        .unwrap()
        .tasklet()
        .clone();
    late.run().unwrap();
    late.throw_pending(IndexError(8)).unwrap();
    // A pending throw is not reported until the target runs.
    assert_eq!(
        seen.borrow()
            .iter()
            .filter(|(t, _)| *t == late.id())
            .count(),
        0
    );
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert_eq!(
        ran.get(),
        1,
        "neither the early nor the late one ran its body on"
    );
    let seen = seen.borrow();
    let ids: Vec<_> = seen.iter().map(|(t, _)| *t).collect();
    assert!(ids.contains(&broken.id()) && ids.contains(&early_t.id()) && ids.contains(&late.id()));
    assert!(
        seen.iter().any(|(_, m)| m.contains("I am broken")),
        "{seen:?}"
    );
}

// TestAtomic.testAtomic: set_atomic returns the old value, in a tasklet and in main.
#[test]
fn set_atomic_returns_the_previous_flag() {
    let sched = support::scheduler();
    let check = || {
        let me = uthread::current().unwrap();
        let old = me.is_atomic();
        assert_eq!(uthread::set_atomic(false), old);
        assert!(!me.is_atomic());
        assert!(!uthread::set_atomic(true));
        assert!(me.is_atomic());
        assert!(uthread::set_atomic(true));
        assert!(uthread::set_atomic(false));
        assert!(!me.is_atomic());
        uthread::set_atomic(old);
        assert_eq!(me.is_atomic(), old);
    };
    sched.enter(check);
    let t = sched.spawn(check).unwrap();
    sched.run().unwrap();
    t.join().unwrap();
    // Builder::atomic, and inheritance from the creator.
    let t = Builder::new()
        .atomic(true)
        .spawn_on(&sched, || {
            let child = uthread::spawn(|| uthread::current().unwrap().is_atomic()).unwrap();
            (
                uthread::current().unwrap().is_atomic(),
                child.join().unwrap(),
            )
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(t.join().unwrap(), (true, true));
}

// TestSchedule.testSchedule / testScheduleRemoveFail.
#[test]
fn schedule_keeps_the_caller_scheduled_and_schedule_remove_pauses_it() {
    let sched = support::scheduler();
    let log = Log::new();
    let l = log.clone();
    let t = sched
        .spawn(move || {
            let me = uthread::current().unwrap();
            let l2 = l.clone();
            let m = me.clone();
            uthread::spawn(move || l2.push(format!("foo sees scheduled={}", m.is_scheduled())))
                .unwrap();
            uthread::schedule().unwrap();
            let l2 = l.clone();
            uthread::spawn(move || {
                l2.push(format!("bar sees paused={}", me.is_paused()));
                me.insert().unwrap();
                l2.push(format!("after insert scheduled={}", me.is_scheduled()));
            })
            .unwrap();
            uthread::schedule_remove().unwrap();
            l.push("back");
        })
        .unwrap();
    sched.run().unwrap();
    t.join().unwrap();
    assert_eq!(
        log.get(),
        [
            "foo sees scheduled=true",
            "bar sees paused=true",
            "after insert scheduled=true",
            "back"
        ]
    );
}

// test_defects Schedule.testScheduleRemove: the only tasklet removing itself under run()
// makes run() return (paused is not blocked: not a deadlock); it is killed afterwards.
#[test]
fn a_lone_tasklet_that_schedule_removes_itself_ends_the_run() {
    let sched = support::scheduler();
    let drops = Drops::new();
    let token = drops.token();
    let t = sched
        .spawn(move || {
            let _t = token;
            uthread::schedule_remove().unwrap();
            unreachable!("nobody inserts it");
        })
        .unwrap();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert!(t.tasklet().is_paused());
    assert_eq!(sched.alive_count(), 1);
    t.tasklet().kill().unwrap();
    assert_eq!(drops.count(), 1);
}

// test_defects Schedule.testScheduleRemove2: Stackless raises in the tasklet when it
// schedule_removes itself while main is blocked. uthread reports it to the blocked main
// instead (main's call fails with Deadlock: nothing can run and nothing is blocked that
// could be woken); the tasklet stays paused and can be inserted again.
#[test]
fn schedule_remove_while_main_waits_gives_main_a_deadlock() {
    let sched = support::scheduler();
    let chan = Channel::<u32>::new();
    let tx = chan.clone();
    let t = sched
        .spawn(move || {
            uthread::schedule_remove().unwrap();
            tx.send(1).unwrap();
        })
        .unwrap();
    assert!(matches!(chan.receive(), Err(ChannelError::Deadlock)));
    assert!(t.tasklet().is_paused());
    t.tasklet().insert().unwrap();
    assert_eq!(chan.receive().unwrap(), 1);
    sched.run().unwrap();
    assert!(t.is_finished());
}

// TestBind.test_bind (a tasklet made without being scheduled) and
// test_bind_args_not_runnable: a paused tasklet is alive, not scheduled, and runs when
// run, inserted or switched to.
#[test]
fn a_tasklet_created_paused_is_alive_but_not_scheduled_until_asked() {
    let sched = support::scheduler();
    let log = Log::new();
    let paused = |name: &'static str| {
        let l = log.clone();
        Builder::new()
            .paused()
            .spawn_on(&sched, move || l.push(name))
            .unwrap()
    };
    let (a, b, c) = (paused("a"), paused("b"), paused("c"));
    for t in [&a, &b, &c] {
        assert!(t.tasklet().is_alive() && t.tasklet().is_paused());
        assert!(!t.tasklet().is_scheduled() && !t.tasklet().is_started());
    }
    sched.run().unwrap();
    assert!(log.get().is_empty(), "run() does not start paused tasklets");
    a.tasklet().run().unwrap();
    b.tasklet().insert().unwrap();
    sched.run().unwrap();
    sched.enter(|| c.tasklet().switch().unwrap());
    assert_eq!(log.get(), ["a", "b", "c"]);
}

// TestBind.test_bind: a tasklet paused by schedule_remove and then reinserted finishes,
// and its cleanup runs once; one never reinserted is unwound when the scheduler goes.
#[test]
fn a_paused_tasklets_cleanup_runs_once_whether_it_finishes_or_is_torn_down() {
    let drops = Drops::new();
    let sched = support::scheduler();
    let spawn_parker = || {
        let token = drops.token();
        sched
            .spawn(move || {
                let _t = token;
                uthread::schedule_remove().unwrap();
            })
            .unwrap()
    };
    let (finishes, abandoned) = (spawn_parker(), spawn_parker());
    sched.run().unwrap();
    assert!(finishes.tasklet().is_paused() && abandoned.tasklet().is_paused());
    finishes.tasklet().insert().unwrap();
    sched.run().unwrap();
    assert_eq!(drops.count(), 1);
    drop(finishes);
    drop(sched);
    assert_eq!(drops.count(), 2);
    assert!(!abandoned.tasklet().is_alive());
}

// TestSwitch: switch pauses the source, which the target inserts again; switching to a
// blocked tasklet is refused; switching to a paused one runs it.
#[test]
fn switch_pauses_the_source_and_refuses_blocked_targets() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let finished = Rc::new(Cell::new(0));
    let f = finished.clone();
    let t = sched
        .spawn(move || {
            let source = uthread::current().unwrap();
            let f2 = f.clone();
            let target = Builder::new()
                .paused()
                .spawn(move || {
                    assert!(source.is_paused());
                    source.insert().unwrap();
                    f2.set(f2.get() + 1);
                })
                .unwrap();
            target.tasklet().switch().unwrap();
            f.set(f.get() + 10);
        })
        .unwrap();
    sched.run().unwrap();
    t.join().unwrap();
    assert_eq!(finished.get(), 11);
    let rx = ch.clone();
    let f = finished.clone();
    let blocked = sched
        .spawn(move || {
            rx.receive().unwrap();
            f.set(f.get() + 100);
        })
        .unwrap();
    blocked.tasklet().run().unwrap();
    assert!(blocked.tasklet().is_blocked());
    sched.enter(|| {
        assert_eq!(blocked.tasklet().switch(), Err(TaskletError::Blocked));
        assert_eq!(blocked.tasklet().run(), Err(TaskletError::Blocked));
    });
    assert!(blocked.tasklet().is_blocked());
    ch.send(0).unwrap();
    assert_eq!(finished.get(), 111);
}

// insert/remove: insert appends a paused tasklet, remove pauses a scheduled one; neither
// applies to a blocked tasklet; remove of yourself or main is refused.
#[test]
fn insert_and_remove_follow_the_state_rules() {
    let sched = support::scheduler();
    let log = Log::new();
    let mk = |name: &'static str| {
        let l = log.clone();
        sched.spawn(move || l.push(name)).unwrap()
    };
    let (a, b, c) = (mk("a"), mk("b"), mk("c"));
    b.tasklet().remove().unwrap();
    assert!(b.tasklet().is_paused());
    b.tasklet().remove().unwrap();
    sched.enter(|| assert_eq!(uthread::run_count(), 3));
    a.tasklet().remove().unwrap();
    a.tasklet().insert().unwrap();
    b.tasklet().insert().unwrap();
    b.tasklet().insert().unwrap();
    sched.run().unwrap();
    assert_eq!(log.get(), ["c", "a", "b"]);
    assert_eq!(sched.main().remove(), Err(TaskletError::IsMain));
    let t = sched
        .spawn(|| uthread::current().unwrap().remove())
        .unwrap();
    sched.run().unwrap();
    assert_eq!(t.join().unwrap(), Err(TaskletError::IsCurrent));
    let ch = Channel::<u32>::new();
    let rx = ch.clone();
    let blocked = sched.spawn(move || rx.receive()).unwrap();
    sched.run().unwrap();
    assert_eq!(blocked.tasklet().remove(), Err(TaskletError::Blocked));
    assert_eq!(blocked.tasklet().insert(), Err(TaskletError::Blocked));
    assert_eq!(c.tasklet().insert(), Err(TaskletError::Dead));
    blocked.tasklet().kill().unwrap();
}

// getruncount: the current tasklet counts, main included; blocked and paused do not.
#[test]
fn run_count_counts_the_caller_and_the_queue_only() {
    let sched = support::scheduler();
    assert_eq!(uthread::run_count(), 1);
    for _ in 0..3 {
        sched.spawn(uthread::run_count).unwrap();
    }
    let ch = Channel::<u32>::new();
    let rx = ch.clone();
    let blocked = sched.spawn(move || rx.receive()).unwrap();
    Builder::new().paused().spawn_on(&sched, || 0).unwrap();
    sched.enter(|| assert_eq!(uthread::run_count(), 5));
    blocked.tasklet().run().unwrap();
    sched.enter(|| assert_eq!(uthread::run_count(), 4));
    let counted = sched.spawn(uthread::run_count).unwrap();
    sched.run().unwrap();
    // It ran last in its run: only itself was runnable (main waits in run()).
    assert_eq!(counted.join().unwrap(), 1);
    blocked.tasklet().kill().unwrap();
}

// The main tasklet: it is current outside tasklets, is_main, cannot be killed, removed
// or thrown into while it is running, and its blocking calls run the scheduler.
#[test]
fn the_main_tasklet_behaves_as_stackless_main() {
    let sched = support::scheduler();
    let main = sched.main();
    sched.enter(|| {
        assert!(main.is_main() && main.is_current());
        assert_eq!(uthread::current().unwrap(), main);
    });
    assert_eq!(main.throw(IndexError(0)), Err(TaskletError::IsCurrent));
    let m = main.clone();
    let t = sched
        .spawn(move || {
            (
                m.is_main(),
                m.is_current(),
                uthread::current().unwrap().is_main(),
            )
        })
        .unwrap();
    let ch = Channel::<u32>::new();
    let tx = ch.clone();
    sched.spawn(move || tx.send(3).unwrap()).unwrap();
    // Main's receive runs the queued tasklets while it waits.
    assert_eq!(ch.receive().unwrap(), 3);
    assert_eq!(t.join().unwrap(), (true, false, false));
    let _ = WaitError::Deadlock;
}

// TestTaskletDel.testTempval: a tasklet's return value with a destructor that uses
// uthread, dropped with the join handle in main, after the tasklet ended.
#[test]
fn a_return_value_with_a_busy_destructor_is_dropped_with_its_handle() {
    struct Busy(Channel<u32>, Rc<Cell<bool>>);
    impl Drop for Busy {
        fn drop(&mut self) {
            // Main is the current tasklet here: a send with no receiver fails with a
            // deadlock rather than hang; a tasklet spawned here runs on the next run.
            let _ = self.0.try_send(1);
            let flag = self.1.clone();
            uthread::spawn(move || flag.set(true)).unwrap();
        }
    }
    let sched = support::scheduler();
    let flag = Rc::new(Cell::new(false));
    let (ch, f) = (Channel::new(), flag.clone());
    let t = sched.spawn(move || Busy(ch, f)).unwrap();
    sched.run().unwrap();
    drop(t);
    sched.run().unwrap();
    assert!(flag.get());
}
