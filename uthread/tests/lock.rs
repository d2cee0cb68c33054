//! Locks: `Lock` is strict (re-acquiring is `Reentered`, releasing without holding is
//! `NotOwner`, neither hangs), hands off in FIFO order without barging, and is released
//! when its holder is killed; `RLock` counts depth; `lock_report` (the lock watchdog)
//! names holders and waiters.

mod support;

use std::time::Duration;

use support::{manual, ms, Drops, Log};
use uthread::{
    lock_report, sleep, BlockedOn, Builder, Event, Lock, LockError, RLock, RunOutcome, WaitError,
};

#[test]
fn reacquiring_a_held_lock_is_an_error_not_a_hang() {
    let sched = manual();
    let lock = Lock::new();
    let l = lock.clone();
    let t = sched
        .spawn(move || {
            let _guard = l.lock().unwrap();
            assert!(matches!(l.lock(), Err(LockError::Reentered)));
            assert!(matches!(l.lock_timeout(ms(10)), Err(LockError::Reentered)));
            assert!(matches!(l.acquire(), Err(LockError::Reentered)));
            assert!(l.try_lock().is_none());
            assert!(l.is_held_by_current());
            "done"
        })
        .unwrap();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert_eq!(t.join().unwrap(), "done");
    assert!(!lock.is_locked(), "the guard released it");
    // The main context is held to the same rule.
    let guard = lock.lock().unwrap();
    assert!(matches!(lock.lock(), Err(LockError::Reentered)));
    drop(guard);
    assert!(!lock.is_locked());
}

#[test]
fn releasing_a_lock_the_caller_does_not_hold_is_not_owner() {
    let sched = manual();
    let lock = Lock::new();
    assert!(matches!(lock.release(), Err(LockError::NotOwner)), "unheld");
    let holder_go = Event::new();
    let (l, go) = (lock.clone(), holder_go.clone());
    let holder = Builder::new()
        .name("holder")
        .spawn_on(&sched, move || {
            l.acquire().unwrap();
            go.wait().unwrap();
            l.release().unwrap();
            assert!(matches!(l.release(), Err(LockError::NotOwner)), "twice");
        })
        .unwrap();
    let l = lock.clone();
    let thief = sched
        .spawn(move || matches!(l.release(), Err(LockError::NotOwner)))
        .unwrap();
    sched.run().unwrap();
    assert!(thief.join().unwrap(), "a foreign release is refused");
    assert!(matches!(lock.release(), Err(LockError::NotOwner)), "main");
    assert_eq!(lock.owner().unwrap(), *holder.tasklet(), "still held");
    holder_go.set();
    sched.run().unwrap();
    holder.join().unwrap();
    assert!(!lock.is_locked());
}

#[test]
fn waiters_get_the_lock_in_fifo_order() {
    let sched = manual();
    let lock = Lock::with_name("dock");
    let log = Log::new();
    let release = Event::new();
    let (l, r) = (lock.clone(), release.clone());
    sched
        .spawn(move || {
            let _g = l.lock().unwrap();
            r.wait().unwrap();
        })
        .unwrap();
    let mut waiters = Vec::new();
    for i in 0..5 {
        let (l, log) = (lock.clone(), log.clone());
        waiters.push(
            sched
                .spawn(move || {
                    let _g = l.lock().unwrap();
                    log.push(format!("in {i}"));
                    uthread::schedule().unwrap(); // the others run, and keep waiting
                    log.push(format!("out {i}"));
                })
                .unwrap(),
        );
    }
    sched.run().unwrap();
    assert_eq!(lock.waiting(), 5);
    let on = waiters[0].tasklet().blocked_on().unwrap();
    assert!(
        matches!(on, BlockedOn::Lock(ref o) if o.id == lock.id() && o.name.as_deref() == Some("dock"))
    );
    release.set();
    sched.run().unwrap();
    let expected: Vec<String> = (0..5)
        .flat_map(|i| [format!("in {i}"), format!("out {i}")])
        .collect();
    assert_eq!(log.take(), expected);
    assert_eq!(lock.waiting(), 0);
    assert!(!lock.is_locked());
}

#[test]
fn a_released_lock_goes_to_the_first_waiter_and_nobody_barges_in() {
    let sched = manual();
    let lock = Lock::new();
    let go = Event::new();
    let (l, g) = (lock.clone(), go.clone());
    let holder = sched
        .spawn(move || {
            let guard = l.lock().unwrap();
            g.wait().unwrap();
            drop(guard);
            // The waiter was handed the lock, even though it has not run yet.
            let barged = l.try_lock().is_some();
            (barged, l.owner())
        })
        .unwrap();
    let l = lock.clone();
    let waiter = sched.spawn(move || drop(l.lock().unwrap())).unwrap();
    sched.run().unwrap();
    assert_eq!(lock.waiting(), 1);
    go.set();
    sched.run().unwrap();
    let (barged, owner_after_release) = holder.join().unwrap();
    assert!(!barged, "the releaser could not take the lock back");
    assert_eq!(owner_after_release.unwrap().id(), waiter.tasklet().id());
    assert!(waiter.is_finished());
    assert!(!lock.is_locked());
}

#[test]
fn a_killed_holder_releases_its_guard_and_the_next_waiter_gets_the_lock() {
    let sched = manual();
    let lock = Lock::new();
    let drops = Drops::new();
    let (l, d) = (lock.clone(), drops.clone());
    let holder = sched
        .spawn(move || {
            let _token = d.token();
            let _g = l.lock().unwrap();
            sleep(Duration::from_secs(3600)).unwrap();
            unreachable!("killed while sleeping");
        })
        .unwrap();
    let l = lock.clone();
    let next = sched
        .spawn(move || {
            let _g = l.lock().unwrap();
            uthread::current().unwrap()
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(lock.owner().unwrap(), *holder.tasklet());
    assert_eq!(lock.waiting(), 1);
    holder.tasklet().kill().unwrap();
    assert_eq!(drops.count(), 1);
    assert_eq!(lock.waiting(), 0, "handed to the waiter at once");
    assert_eq!(lock.owner().unwrap(), *next.tasklet());
    sched.run().unwrap();
    let next_id = next.tasklet().id();
    assert_eq!(next.join().unwrap().id(), next_id);
    assert!(!lock.is_locked());
}

#[test]
fn a_waiter_killed_after_the_hand_off_passes_the_lock_on() {
    let sched = manual();
    let lock = Lock::new();
    let go = Event::new();
    let log = Log::new();
    let (l, g) = (lock.clone(), go.clone());
    sched
        .spawn(move || {
            let _g = l.lock().unwrap();
            g.wait().unwrap();
        })
        .unwrap();
    let drops = Drops::new();
    let (l, d, lg) = (lock.clone(), drops.clone(), log.clone());
    let victim = sched
        .spawn(move || {
            let _token = d.token();
            let _g = l.lock().unwrap();
            lg.push("victim got the lock");
        })
        .unwrap();
    let (l, lg) = (lock.clone(), log.clone());
    let third = sched
        .spawn(move || {
            let _g = l.lock().unwrap();
            lg.push("third got the lock");
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(lock.waiting(), 2);
    go.set(); // wakes the holder, which releases: the lock goes to the victim
    sched.run_for(uthread::Budget::Resumes(1)).unwrap();
    assert_eq!(lock.owner().unwrap(), *victim.tasklet());
    assert!(victim.tasklet().is_scheduled(), "served but not yet run");
    victim.tasklet().kill().unwrap();
    assert_eq!(drops.count(), 1);
    assert_eq!(lock.owner().unwrap(), *third.tasklet());
    sched.run().unwrap();
    assert_eq!(log.take(), ["third got the lock"]);
    assert!(!lock.is_locked());
}

#[test]
fn a_lock_timeout_leaves_the_queue_and_the_next_waiter_is_still_served() {
    let sched = manual();
    let lock = Lock::new();
    let go = Event::new();
    let (l, g) = (lock.clone(), go.clone());
    sched
        .spawn(move || {
            let _g = l.lock().unwrap();
            g.wait().unwrap();
        })
        .unwrap();
    let l = lock.clone();
    let impatient = sched
        .spawn(move || match l.lock_timeout(ms(10)) {
            Err(LockError::Wait(WaitError::Timeout)) => "timed out",
            Ok(_) => "got it",
            Err(_) => "other",
        })
        .unwrap();
    let l = lock.clone();
    let patient = sched.spawn(move || l.lock().map(drop).is_ok()).unwrap();
    sched.run().unwrap();
    assert_eq!(lock.waiting(), 2);
    sched.advance(ms(10));
    assert_eq!(lock.waiting(), 1, "taken off the queue by the tick");
    sched.run().unwrap();
    assert_eq!(impatient.join().unwrap(), "timed out");
    go.set();
    sched.run().unwrap();
    assert!(patient.join().unwrap());
    assert!(!lock.is_locked());
}

#[test]
fn an_abandoned_guardless_lock_is_taken_over_by_the_next_acquirer() {
    let sched = manual();
    let lock = Lock::new();
    let l = lock.clone();
    sched.spawn(move || l.acquire().unwrap()).unwrap();
    sched.run().unwrap();
    assert!(!lock.is_locked(), "its owner is dead");
    assert!(lock.owner().is_none());
    let l = lock.clone();
    let next = sched
        .spawn(move || {
            l.acquire().unwrap();
            let mine = l.is_held_by_current();
            l.release().unwrap();
            mine
        })
        .unwrap();
    sched.run().unwrap();
    assert!(next.join().unwrap());
}

#[test]
fn the_main_context_waits_for_a_lock_by_running_tasklets() {
    let sched = manual();
    let lock = Lock::new();
    let l = lock.clone();
    let holder = sched
        .spawn(move || {
            let _g = l.lock().unwrap();
            uthread::schedule().unwrap();
            uthread::schedule().unwrap();
        })
        .unwrap();
    sched.run_for(uthread::Budget::Resumes(1)).unwrap();
    assert!(lock.is_locked());
    let guard = lock.lock().unwrap(); // runs the holder until it lets go
    assert!(holder.is_finished());
    assert!(lock.is_held_by_current());
    drop(guard);

    // A holder that never lets go: the main context's wait is a deadlock, not a hang.
    let (l, stuck) = (lock.clone(), Event::new());
    let s = stuck.clone();
    sched
        .spawn(move || {
            let _g = l.lock().unwrap();
            s.wait().unwrap();
        })
        .unwrap();
    sched.run().unwrap();
    assert!(matches!(
        lock.lock(),
        Err(LockError::Wait(WaitError::Deadlock))
    ));
    assert_eq!(lock.waiting(), 0, "the failed wait left the queue");
    stuck.set();
    sched.run().unwrap();
    assert!(!lock.is_locked());
}

#[test]
fn rlock_counts_depth_and_frees_at_zero() {
    let sched = manual();
    let rlock = RLock::with_name("nav");
    let log = Log::new();
    let (r, lg) = (rlock.clone(), log.clone());
    sched
        .spawn(move || {
            let g1 = r.lock().unwrap();
            let g2 = r.lock().unwrap();
            r.acquire().unwrap();
            assert_eq!(r.depth(), 3);
            lg.push("outer holds 3");
            uthread::schedule().unwrap();
            r.release().unwrap();
            drop(g2);
            assert_eq!(r.depth(), 1);
            assert!(r.is_held_by_current());
            uthread::schedule().unwrap();
            lg.push("outer lets go");
            drop(g1);
        })
        .unwrap();
    let (r, lg) = (rlock.clone(), log.clone());
    sched
        .spawn(move || {
            assert!(matches!(r.release(), Err(LockError::NotOwner)));
            let _g = r.lock().unwrap();
            lg.push(format!("inner got it at depth {}", r.depth()));
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(
        log.take(),
        ["outer holds 3", "outer lets go", "inner got it at depth 1"]
    );
    assert_eq!(rlock.depth(), 0);
    assert!(rlock.owner().is_none());
    assert!(matches!(rlock.release(), Err(LockError::NotOwner)));
}

#[test]
fn rlock_waiters_are_served_in_fifo_order_and_a_killed_holder_frees_every_level() {
    let sched = manual();
    let rlock = RLock::new();
    let drops = Drops::new();
    let (r, d) = (rlock.clone(), drops.clone());
    let holder = sched
        .spawn(move || {
            let _t = d.token();
            let _a = r.lock().unwrap();
            let _b = r.lock().unwrap();
            let _c = r.lock().unwrap();
            sleep(Duration::from_secs(60)).unwrap();
        })
        .unwrap();
    let log = Log::new();
    for i in 0..3 {
        let (r, log) = (rlock.clone(), log.clone());
        sched
            .spawn(move || {
                let _g = r.lock().unwrap();
                let _g2 = r.lock().unwrap();
                log.push(format!("{i} at depth {}", r.depth()));
                uthread::schedule().unwrap();
            })
            .unwrap();
    }
    sched.run().unwrap();
    assert_eq!(rlock.depth(), 3);
    holder.tasklet().kill().unwrap();
    assert_eq!(drops.count(), 1);
    sched.run().unwrap();
    assert_eq!(log.take(), ["0 at depth 2", "1 at depth 2", "2 at depth 2"]);
    assert_eq!(rlock.depth(), 0);
}

#[test]
fn lock_report_names_the_holder_and_the_waiters_of_locks_held_too_long() {
    let sched = manual();
    let cargo = Lock::with_name("cargo hold");
    let quiet = Lock::with_name("quiet"); // held long, but nobody waits
    let nav = RLock::with_name("nav");
    let (c, q, n) = (cargo.clone(), quiet.clone(), nav.clone());
    Builder::new()
        .name("hauler")
        .spawn_on(&sched, move || {
            let _c = c.lock().unwrap();
            let _q = q.lock().unwrap();
            let _n = n.lock().unwrap();
            sleep(Duration::from_secs(10)).unwrap();
        })
        .unwrap();
    for name in ["thief", "pirate"] {
        let c = cargo.clone();
        Builder::new()
            .name(name)
            .spawn_on(&sched, move || drop(c.lock()))
            .unwrap();
    }
    let n = nav.clone();
    Builder::new()
        .name("pilot")
        .spawn_on(&sched, move || drop(n.lock()))
        .unwrap();
    sched.run().unwrap();
    sched.advance(Duration::from_secs(1));
    let early: Vec<_> = lock_report(Duration::from_secs(2))
        .into_iter()
        .filter(|r| r.lock.id == cargo.id() || r.lock.id == nav.id())
        .collect();
    assert!(early.is_empty(), "held for 1 s only: {early:?}");

    sched.advance(Duration::from_secs(4));
    let mut report: Vec<_> = lock_report(Duration::from_secs(2))
        .into_iter()
        .filter(|r| [cargo.id(), nav.id(), quiet.id()].contains(&r.lock.id))
        .collect();
    report.sort_by_key(|r| r.lock.id);
    assert_eq!(report.len(), 2, "the quiet lock has no waiters: {report:?}");
    let cargo_report = &report[0];
    assert_eq!(cargo_report.lock.name.as_deref(), Some("cargo hold"));
    assert_eq!(cargo_report.holder.name().as_deref(), Some("hauler"));
    assert_eq!(cargo_report.held_for, Duration::from_secs(5));
    let waiters: Vec<_> = cargo_report
        .waiters
        .iter()
        .map(|t| t.name().unwrap())
        .collect();
    assert_eq!(waiters, ["thief", "pirate"]);
    let text = cargo_report.to_string();
    assert!(
        text.contains("cargo hold") && text.contains("5.000s"),
        "{text}"
    );
    assert_eq!(report[1].lock.name.as_deref(), Some("nav"));
    assert_eq!(report[1].waiters[0].name().as_deref(), Some("pilot"));

    sched.advance(Duration::from_secs(5)); // the hauler wakes and lets go
    sched.run().unwrap();
    let after: Vec<_> = lock_report(Duration::ZERO)
        .into_iter()
        .filter(|r| [cargo.id(), nav.id(), quiet.id()].contains(&r.lock.id))
        .collect();
    assert!(after.is_empty(), "{after:?}");
    assert!(!cargo.is_locked());
}

#[test]
fn a_tasklet_that_ends_holding_an_acquired_lock_hands_it_to_the_next_waiter() {
    let sched = manual();
    let lock = uthread::Lock::with_name("abandoned");
    let (a, b, c) = (lock.clone(), lock.clone(), lock.clone());
    // Takes the lock without a guard, lets the others queue, then ends without releasing.
    sched
        .spawn(move || {
            a.acquire().unwrap();
            uthread::schedule().unwrap();
        })
        .unwrap();
    let second = sched.spawn(move || b.lock().map(|_g| "second")).unwrap();
    let third = sched.spawn(move || c.lock().map(|_g| "third")).unwrap();
    sched.run().unwrap();
    assert_eq!(second.join().unwrap().unwrap(), "second");
    assert_eq!(third.join().unwrap().unwrap(), "third");
    assert!(!lock.is_locked());
    assert_eq!(lock.waiting(), 0);
}

#[test]
fn a_killed_tasklet_holding_an_acquired_rlock_twice_releases_both_levels() {
    let sched = manual();
    let lock = uthread::RLock::new();
    let (a, b) = (lock.clone(), lock.clone());
    let holder = sched
        .spawn(move || {
            a.acquire().unwrap();
            a.acquire().unwrap();
            uthread::sleep(ms(1000)).unwrap();
        })
        .unwrap();
    let waiter = sched.spawn(move || b.lock().map(|_g| ())).unwrap();
    sched.run().unwrap();
    assert_eq!(lock.waiting(), 1);
    holder.tasklet().kill().unwrap();
    sched.run().unwrap();
    waiter.join().unwrap().unwrap();
    assert_eq!(lock.depth(), 0);
}
