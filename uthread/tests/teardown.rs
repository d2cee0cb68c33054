//! Kills and teardowns that must end: a tasklet that keeps catching its kill, a scheduler
//! dropped while such a tasklet lives, a scheduler dropped from a tasklet of another
//! scheduler on the same thread (its tasklets still unwind), a scheduler dropped from one
//! of its own tasklets, and `kill_pending` of a tasklet that has never run.

mod support;

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::Command;
use std::rc::Rc;

use support::Drops;
use uthread::{Channel, Scheduler, TaskletError, TaskletState, KILL_RETRIES};

/// A body that catches every kill around a blocking receive, counting them.
fn swallower(rx: Channel<u32>, caught: Rc<Cell<u32>>, token: support::Token) -> impl FnOnce() {
    move || {
        let _token = token;
        loop {
            if catch_unwind(AssertUnwindSafe(|| rx.receive())).is_err() {
                caught.set(caught.get() + 1);
            }
        }
    }
}

#[test]
fn a_tasklet_that_keeps_catching_its_kill_is_parked_and_kill_returns() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let caught = Rc::new(Cell::new(0));
    let drops = Drops::new();
    let h = uthread::Builder::new()
        .name("stubborn")
        .spawn_on(&sched, swallower(ch.clone(), caught.clone(), drops.token()))
        .unwrap();
    sched.run().unwrap();
    assert_eq!(ch.balance(), -1);
    let t = h.tasklet().clone();
    let err = t.kill().unwrap_err();
    assert_eq!(
        err,
        TaskletError::KillRefused {
            kills: KILL_RETRIES
        }
    );
    assert!(
        err.to_string().contains("caught its kill 16 times"),
        "{err}"
    );
    assert_eq!(caught.get(), KILL_RETRIES);
    assert!(t.is_alive());
    assert_eq!(t.state(), TaskletState::Paused);
    assert_eq!(ch.balance(), 0, "taken off the channel");
    assert_eq!(drops.count(), 0);
    // Inserted again, it gets another round of kills and parks again.
    t.insert().unwrap();
    sched.run().unwrap();
    assert_eq!(caught.get(), 2 * KILL_RETRIES);
    assert_eq!(t.state(), TaskletState::Paused);
}

#[test]
fn kill_pending_of_a_kill_swallower_lets_run_return() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let caught = Rc::new(Cell::new(0));
    let drops = Drops::new();
    let h = sched
        .spawn(swallower(ch.clone(), caught.clone(), drops.token()))
        .unwrap();
    let ok = sched.spawn(|| 5).unwrap();
    sched.run().unwrap();
    h.tasklet().kill_pending().unwrap();
    sched.run().unwrap();
    assert_eq!(caught.get(), KILL_RETRIES);
    assert_eq!(h.tasklet().state(), TaskletState::Paused);
    assert_eq!(ok.join().unwrap(), 5);
}

#[test]
fn dropping_a_scheduler_with_a_kill_swallower_returns_and_unwinds_the_rest() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let caught = Rc::new(Cell::new(0));
    let stubborn = Drops::new();
    let others = Drops::new();
    sched
        .spawn(swallower(ch.clone(), caught.clone(), stubborn.token()))
        .unwrap();
    for _ in 0..5 {
        let rx = ch.clone();
        let token = others.token();
        sched
            .spawn(move || {
                let _token = token;
                let _ = rx.receive();
            })
            .unwrap();
    }
    sched.run().unwrap();
    assert_eq!(ch.balance(), -6);
    drop(sched);
    assert_eq!(others.count(), 5, "every other tasklet unwound once");
    assert_eq!(
        stubborn.count(),
        0,
        "the swallower's frames are leaked, not unwound"
    );
    assert!(caught.get() >= KILL_RETRIES);
}

/// The child half of `the_leak_is_reported_by_name`.
#[test]
fn child_drops_a_scheduler_with_a_kill_swallower() {
    if std::env::var_os("UTHREAD_TEARDOWN_CHILD").is_none() {
        return;
    }
    let sched = Scheduler::new();
    let ch = Channel::<u32>::new();
    uthread::Builder::new()
        .name("never-dies")
        .spawn_on(
            &sched,
            swallower(ch.clone(), Rc::default(), Drops::new().token()),
        )
        .unwrap();
    sched.run().unwrap();
    drop(sched);
    println!("dropped");
}

#[test]
fn the_leak_is_reported_by_name() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_drops_a_scheduler_with_a_kill_swallower",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("UTHREAD_TEARDOWN_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("dropped"));
    assert!(
        stderr.contains("leaks tasklet #") && stderr.contains("'never-dies'"),
        "{stderr}"
    );
    assert!(stderr.contains("caught its kill"), "{stderr}");
}

#[test]
fn a_scheduler_dropped_from_another_schedulers_tasklet_unwinds_its_tasklets() {
    let outer = support::scheduler();
    let inner = support::scheduler();
    let drops = Drops::new();
    let ch = Channel::<u32>::new();
    for _ in 0..10 {
        let rx = ch.clone();
        let token = drops.token();
        inner
            .spawn(move || {
                let _token = token;
                let _ = rx.receive();
            })
            .unwrap();
    }
    inner.run().unwrap();
    assert_eq!(ch.balance(), -10);
    let slot = Rc::new(RefCell::new(Some(inner)));
    let taken = slot.clone();
    let dropper = outer
        .spawn(move || {
            uthread::schedule().unwrap();
            drop(taken.borrow_mut().take());
            // Still a tasklet of `outer`, and it can still block.
            uthread::schedule().unwrap();
            "done"
        })
        .unwrap();
    outer.run().unwrap();
    assert_eq!(dropper.join().unwrap(), "done");
    assert_eq!(drops.count(), 10, "every inner tasklet unwound once");
    assert_eq!(ch.balance(), 0);
    assert!(slot.borrow().is_none());
}

#[test]
fn kill_all_from_another_schedulers_tasklet_kills_them_now() {
    let outer = support::scheduler();
    let inner = Rc::new(support::scheduler());
    let drops = Drops::new();
    for _ in 0..4 {
        let token = drops.token();
        inner
            .spawn(move || {
                let _token = token;
                loop {
                    uthread::be_nice().unwrap();
                }
            })
            .unwrap();
    }
    inner.run_for(uthread::Budget::Resumes(4)).unwrap();
    let other = inner.clone();
    outer.spawn(move || other.kill_all()).unwrap();
    outer.run().unwrap();
    assert_eq!(drops.count(), 4);
    assert_eq!(inner.alive_count(), 0);
}

#[test]
fn a_scheduler_dropped_from_its_own_tasklet_unwinds_the_others() {
    let drops = Drops::new();
    let ch = Channel::<u32>::new();
    let done = Channel::<&str>::new();
    let slot = Rc::new(RefCell::new(None::<Scheduler>));
    {
        let sched = support::scheduler();
        for _ in 0..3 {
            let rx = ch.clone();
            let token = drops.token();
            sched
                .spawn(move || {
                    let _token = token;
                    let _ = rx.receive();
                })
                .unwrap();
        }
        let taken = slot.clone();
        let tx = done.clone();
        sched
            .spawn(move || {
                drop(taken.borrow_mut().take());
                let _ = tx.send("dropped");
            })
            .unwrap();
        *slot.borrow_mut() = Some(sched);
    }
    // The main context blocks on a channel: that runs the scheduler (its thread default),
    // with nobody but the slot owning it.
    let got = done.receive();
    assert!(slot.borrow().is_none());
    assert_eq!(
        drops.count(),
        3,
        "every other tasklet unwound once: {got:?}"
    );
}

#[test]
fn kill_pending_of_a_tasklet_that_never_ran_keeps_it_alive_and_scheduled() {
    let sched = support::scheduler();
    let drops = Drops::new();
    let ran = Rc::new(Cell::new(false));
    let token = drops.token();
    let flag = ran.clone();
    let h = sched
        .spawn(move || {
            let _token = token;
            flag.set(true);
        })
        .unwrap();
    h.tasklet().kill_pending().unwrap();
    assert!(h.tasklet().is_alive());
    assert_eq!(h.tasklet().state(), TaskletState::Scheduled);
    assert_eq!(drops.count(), 0);
    sched.run().unwrap();
    assert!(!h.tasklet().is_alive());
    assert!(!ran.get(), "the body never ran");
    assert_eq!(drops.count(), 1);
    assert!(matches!(h.join(), Err(uthread::JoinError::Killed)));
}

#[test]
fn kill_pending_of_a_paused_tasklet_that_never_ran_schedules_it_to_die() {
    let sched = support::scheduler();
    let ran = Rc::new(Cell::new(false));
    let flag = ran.clone();
    let h = uthread::Builder::new()
        .paused()
        .spawn_on(&sched, move || flag.set(true))
        .unwrap();
    h.tasklet().kill_pending().unwrap();
    assert_eq!(h.tasklet().state(), TaskletState::Scheduled);
    sched.run().unwrap();
    assert!(!ran.get());
    assert!(matches!(h.join(), Err(uthread::JoinError::Killed)));
}
