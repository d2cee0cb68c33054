//! Semaphores (counting, FIFO hand-off, bounded over-release), conditions (wait, notify,
//! notify_all, timeouts, predicates), events and value events (every waiter is released,
//! including by a set that is cleared at once), one-shot channels, and barriers (rounds,
//! leaders, and waiters that give up).

mod support;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use support::{manual, ms, Drops, Log, Token};
use uthread::{
    oneshot, sleep, Barrier, BlockedOn, BoundedSemaphore, ChannelError, Condition, Event, Lock,
    RunOutcome, Semaphore, SemaphoreError, TryRecvError, ValueEvent, WaitError,
};

// ---------------------------------------------------------------- semaphores

#[test]
fn a_semaphore_admits_at_most_its_permits_in_fifo_order() {
    let sched = manual();
    let sem = Semaphore::with_name(2, "bays");
    let inside = Rc::new(Cell::new(0));
    let most = Rc::new(Cell::new(0));
    let log = Log::new();
    for i in 0..6 {
        let (sem, inside, most, log) = (sem.clone(), inside.clone(), most.clone(), log.clone());
        sched
            .spawn(move || {
                let _permit = sem.acquire().unwrap();
                inside.set(inside.get() + 1);
                most.set(most.get().max(inside.get()));
                log.push(format!("in {i}"));
                uthread::schedule().unwrap();
                uthread::schedule().unwrap();
                inside.set(inside.get() - 1);
            })
            .unwrap();
    }
    sched.run().unwrap();
    assert_eq!(most.get(), 2);
    let expected: Vec<String> = (0..6).map(|i| format!("in {i}")).collect();
    assert_eq!(log.take(), expected);
    assert_eq!(sem.available(), 2);
    assert_eq!(sem.waiting(), 0);
}

#[test]
fn a_released_permit_goes_to_the_first_waiter_not_to_a_newcomer() {
    let sched = manual();
    let sem = Semaphore::new(0);
    let s = sem.clone();
    let waiter = sched
        .spawn(move || s.acquire().map(|p| p.forget()))
        .unwrap();
    sched.run().unwrap();
    assert_eq!(sem.waiting(), 1);
    assert!(matches!(
        waiter.tasklet().blocked_on(),
        Some(BlockedOn::Semaphore(_))
    ));
    sem.release();
    assert_eq!(sem.available(), 0, "handed over, not stored");
    assert!(sem.try_acquire().is_none(), "the newcomer cannot take it");
    sched.run().unwrap();
    assert!(waiter.join().unwrap().is_ok());
    sem.release();
    assert_eq!(sem.available(), 1);
    let permit = sem.try_acquire().unwrap();
    assert_eq!(sem.available(), 0);
    drop(permit);
    assert_eq!(sem.available(), 1);
}

#[test]
fn a_semaphore_timeout_leaves_the_queue_and_keeps_the_count() {
    let sched = manual();
    let sem = Semaphore::new(0);
    let s = sem.clone();
    let t = sched
        .spawn(move || s.acquire_timeout(ms(5)).map(|p| p.forget()))
        .unwrap();
    sched.run().unwrap();
    sched.advance(ms(5));
    assert_eq!(sem.waiting(), 0);
    sched.run().unwrap();
    assert!(matches!(t.join().unwrap(), Err(WaitError::Timeout)));
    sem.release();
    assert_eq!(sem.available(), 1, "nobody took the permit");
}

#[test]
fn a_killed_tasklet_returns_its_permit() {
    let sched = manual();
    let sem = Semaphore::new(1);
    let drops = Drops::new();
    let (s, d) = (sem.clone(), drops.clone());
    let holder = sched
        .spawn(move || {
            let _t = d.token();
            let _p = s.acquire().unwrap();
            sleep(Duration::from_secs(60)).unwrap();
        })
        .unwrap();
    let s = sem.clone();
    let next = sched.spawn(move || s.acquire().map(drop).is_ok()).unwrap();
    sched.run().unwrap();
    assert_eq!((sem.available(), sem.waiting()), (0, 1));
    holder.tasklet().kill().unwrap();
    assert_eq!(drops.count(), 1);
    assert_eq!(sem.waiting(), 0);
    sched.run().unwrap();
    assert!(next.join().unwrap());
    assert_eq!(sem.available(), 1);
}

#[test]
fn the_main_context_waiting_on_an_empty_semaphore_nobody_releases_is_a_deadlock() {
    let _sched = manual();
    let sem = Semaphore::new(0);
    assert!(matches!(sem.acquire(), Err(WaitError::Deadlock)));
    assert_eq!(sem.waiting(), 0);
}

#[test]
fn a_bounded_semaphore_refuses_to_be_released_past_its_bound() {
    let sched = manual();
    let sem = BoundedSemaphore::new(2);
    assert!(matches!(sem.release(), Err(SemaphoreError { bound: 2 })));
    assert_eq!(sem.available(), 2);
    let s = sem.clone();
    let t = sched
        .spawn(move || {
            s.acquire().unwrap().forget();
            s.acquire_timeout(ms(1)).unwrap().forget();
            assert_eq!(s.available(), 0);
            assert!(s.try_acquire().is_none());
            s.release().unwrap();
            s.release().unwrap();
            s.release()
        })
        .unwrap();
    sched.run().unwrap();
    let err = t.join().unwrap().unwrap_err();
    assert_eq!(err, SemaphoreError { bound: 2 });
    assert!(err.to_string().contains('2'));
    assert_eq!(sem.available(), 2);
}

#[test]
fn a_bounded_semaphore_hands_a_release_to_a_waiter() {
    let sched = manual();
    let sem = BoundedSemaphore::new(1);
    let s = sem.clone();
    let holder = sched
        .spawn(move || {
            s.acquire().unwrap().forget();
            uthread::schedule().unwrap();
            s.release()
        })
        .unwrap();
    let s = sem.clone();
    let waiter = sched
        .spawn(move || s.acquire_timeout(ms(10)).map(drop))
        .unwrap();
    sched.run().unwrap();
    assert!(holder.join().unwrap().is_ok());
    assert!(waiter.join().unwrap().is_ok());
    assert_eq!(sem.available(), 1);
}

// ---------------------------------------------------------------- conditions

#[test]
fn notify_one_wakes_waiters_one_at_a_time_in_fifo_order() {
    let sched = manual();
    let lock = Lock::new();
    let cond = Condition::with_name("cargo ready");
    let log = Log::new();
    for i in 0..3 {
        let (l, c, log) = (lock.clone(), cond.clone(), log.clone());
        sched
            .spawn(move || {
                let g = l.lock().unwrap();
                let g = c.wait(g).unwrap();
                assert!(l.is_held_by_current(), "woke holding the lock");
                log.push(format!("woke {i}"));
                drop(g);
            })
            .unwrap();
    }
    sched.run().unwrap();
    assert_eq!(cond.waiting(), 3);
    assert!(!lock.is_locked(), "waiting released the lock");
    for i in 0..3 {
        cond.notify_one();
        sched.run().unwrap();
        assert_eq!(log.take(), [format!("woke {i}")]);
        assert_eq!(cond.waiting(), 2 - i);
    }
    cond.notify_one(); // nobody waits: not remembered
    let (l, c) = (lock.clone(), cond.clone());
    let late = sched
        .spawn(move || c.wait_timeout(l.lock().unwrap(), ms(1)).map(|(_, t)| t))
        .unwrap();
    sched.run().unwrap();
    sched.advance(ms(1));
    sched.run().unwrap();
    assert!(late.join().unwrap().unwrap(), "the earlier notify was lost");
}

#[test]
fn notify_n_and_notify_all() {
    let sched = manual();
    let lock = Lock::new();
    let cond = Condition::new();
    let woke = Rc::new(Cell::new(0));
    for _ in 0..5 {
        let (l, c, w) = (lock.clone(), cond.clone(), woke.clone());
        sched
            .spawn(move || {
                let _g = c.wait(l.lock().unwrap()).unwrap();
                w.set(w.get() + 1);
            })
            .unwrap();
    }
    sched.run().unwrap();
    cond.notify(2);
    sched.run().unwrap();
    assert_eq!((woke.get(), cond.waiting()), (2, 3));
    cond.notify_all();
    sched.run().unwrap();
    assert_eq!((woke.get(), cond.waiting()), (5, 0));
}

#[test]
fn a_notified_waiter_returns_only_once_it_has_the_lock_again() {
    let sched = manual();
    let lock = Lock::new();
    let cond = Condition::new();
    let log = Log::new();
    let (l, c, lg) = (lock.clone(), cond.clone(), log.clone());
    sched
        .spawn(move || {
            let g = l.lock().unwrap();
            let _g = c.wait(g).unwrap();
            lg.push("waiter has the lock");
        })
        .unwrap();
    let (l, c, lg) = (lock.clone(), cond.clone(), log.clone());
    sched
        .spawn(move || {
            let _g = l.lock().unwrap();
            c.notify_one();
            uthread::schedule().unwrap(); // the waiter runs, but must wait for the lock
            uthread::schedule().unwrap();
            lg.push("notifier lets go");
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(log.take(), ["notifier lets go", "waiter has the lock"]);
}

#[test]
fn wait_timeout_reports_whether_it_timed_out_and_holds_the_lock_either_way() {
    let sched = manual();
    let lock = Lock::new();
    let cond = Condition::new();
    let (l, c) = (lock.clone(), cond.clone());
    let t = sched
        .spawn(move || {
            let (g, first) = c.wait_timeout(l.lock().unwrap(), ms(10)).unwrap();
            assert!(l.is_held_by_current());
            let (g, second) = c.wait_timeout(g, ms(10)).unwrap();
            assert!(l.is_held_by_current());
            drop(g);
            (first, second)
        })
        .unwrap();
    sched.run().unwrap();
    sched.advance(ms(10));
    sched.run().unwrap();
    assert_eq!(cond.waiting(), 1, "waiting again after the first timeout");
    sched.advance(ms(3));
    cond.notify_one();
    sched.run().unwrap();
    assert_eq!(t.join().unwrap(), (true, false));
    assert_eq!(
        sched.timer_count(),
        0,
        "the notified wait retired its timer"
    );
}

#[test]
fn wait_until_checks_the_predicate_with_the_lock_held() {
    let sched = manual();
    let lock = Lock::new();
    let cond = Condition::new();
    let stock = Rc::new(Cell::new(0));
    let (l, c, s) = (lock.clone(), cond.clone(), stock.clone());
    let buyer = sched
        .spawn(move || {
            let checks = Cell::new(0);
            let g = c
                .wait_until(l.lock().unwrap(), || {
                    checks.set(checks.get() + 1);
                    s.get() >= 3
                })
                .unwrap();
            s.set(s.get() - 3);
            drop(g);
            checks.get()
        })
        .unwrap();
    sched.run().unwrap();
    for _ in 0..3 {
        let _g = lock.lock().unwrap();
        stock.set(stock.get() + 1);
        cond.notify_all();
    }
    sched.run().unwrap();
    // Each notify came while the buyer waited for the lock: one re-check per wake-up.
    let checks = buyer.join().unwrap();
    assert!((2..=4).contains(&checks), "checked {checks} times");
    assert_eq!(stock.get(), 0);
}

#[test]
fn a_condition_waiter_killed_while_re_acquiring_the_lock_leaves_it_free() {
    let sched = manual();
    let lock = Lock::new();
    let cond = Condition::new();
    let drops = Drops::new();
    let (l, c, d) = (lock.clone(), cond.clone(), drops.clone());
    let waiter = sched
        .spawn(move || {
            let _t = d.token();
            let _g = c.wait(l.lock().unwrap()).unwrap();
            unreachable!("killed before it got the lock back");
        })
        .unwrap();
    let go = Event::new();
    let (l, c, g) = (lock.clone(), cond.clone(), go.clone());
    sched
        .spawn(move || {
            let _guard = l.lock().unwrap();
            c.notify_one();
            g.wait().unwrap();
        })
        .unwrap();
    sched.run().unwrap();
    assert!(matches!(
        waiter.tasklet().blocked_on(),
        Some(BlockedOn::Lock(_))
    ));
    assert_eq!(lock.waiting(), 1);
    waiter.tasklet().kill().unwrap();
    assert_eq!(drops.count(), 1);
    assert_eq!(lock.waiting(), 0);
    go.set();
    sched.run().unwrap();
    assert!(!lock.is_locked());
    assert_eq!(cond.waiting(), 0);
}

// ---------------------------------------------------------------- events

#[test]
fn setting_an_event_releases_every_waiter_and_later_waits_pass() {
    let sched = manual();
    let ev = Event::with_name("undock");
    let log = Log::new();
    for i in 0..3 {
        let (e, log) = (ev.clone(), log.clone());
        sched
            .spawn(move || {
                e.wait().unwrap();
                log.push(format!("{i}"));
            })
            .unwrap();
    }
    sched.run().unwrap();
    assert_eq!(ev.waiting(), 3);
    assert!(!ev.is_set());
    ev.set();
    assert!(ev.is_set());
    assert_eq!(ev.waiting(), 0);
    sched.run().unwrap();
    assert_eq!(log.take(), ["0", "1", "2"]);
    assert!(ev.wait().is_ok(), "already set: no wait");
    ev.clear();
    assert!(!ev.is_set());
    let e = ev.clone();
    let t = sched.spawn(move || e.wait_timeout(ms(3))).unwrap();
    sched.run().unwrap();
    sched.advance(ms(3));
    sched.run().unwrap();
    assert!(matches!(t.join().unwrap(), Err(WaitError::Timeout)));
    assert_eq!(ev.waiting(), 0);
}

#[test]
fn an_event_set_and_cleared_at_once_still_releases_its_waiters() {
    let sched = manual();
    let ev = Event::new();
    let mut waiters = Vec::new();
    for _ in 0..2 {
        let e = ev.clone();
        waiters.push(sched.spawn(move || e.wait()).unwrap());
    }
    sched.run().unwrap();
    ev.set(); // a pulse: the waiters were released...
    ev.clear(); // ...before they ran
    sched.run().unwrap();
    for w in waiters {
        assert!(w.join().unwrap().is_ok());
    }
    let e = ev.clone();
    let late = sched.spawn(move || e.wait_timeout(ms(1))).unwrap();
    sched.run().unwrap();
    assert!(
        !late.is_finished(),
        "a waiter that came after the clear waits"
    );
    sched.advance(ms(1));
    sched.run().unwrap();
    assert!(matches!(late.join().unwrap(), Err(WaitError::Timeout)));
}

#[test]
fn a_value_event_gives_its_value_to_every_waiter() {
    let sched = manual();
    let target = ValueEvent::new();
    let mut gunners = Vec::new();
    for _ in 0..3 {
        let t = target.clone();
        gunners.push(sched.spawn(move || t.wait()).unwrap());
    }
    sched.run().unwrap();
    assert!(gunners.iter().all(|g| !g.is_finished()));
    target.set(String::from("frigate"));
    sched.run().unwrap();
    for g in gunners {
        assert_eq!(g.join().unwrap().unwrap(), "frigate");
    }
    assert_eq!(target.wait().unwrap(), "frigate", "set: returns at once");
    target.clear();
    assert!(!target.is_set());
    let t = target.clone();
    let late = sched.spawn(move || t.wait_timeout(ms(2))).unwrap();
    sched.run().unwrap();
    target.set(String::from("cruiser"));
    sched.run().unwrap();
    assert_eq!(late.join().unwrap().unwrap(), "cruiser");
}

#[test]
fn a_value_event_error_reaches_every_waiter() {
    let sched = manual();
    let result = ValueEvent::<u32>::new();
    let mut waiters = Vec::new();
    for _ in 0..2 {
        let r = result.clone();
        waiters.push(sched.spawn(move || r.wait()).unwrap());
    }
    sched.run().unwrap();
    result.set_error("scan jammed");
    sched.run().unwrap();
    for w in waiters {
        match w.join().unwrap() {
            Err(WaitError::Thrown(t)) => {
                assert_eq!(t.to_string(), "thrown into the tasklet: scan jammed");
            }
            other => panic!("expected the error, got {other:?}"),
        }
    }
    assert!(matches!(result.wait(), Err(WaitError::Thrown(_))));
}

#[test]
fn a_value_event_set_and_cleared_at_once_gives_the_waiters_the_value() {
    let sched = manual();
    let ev = ValueEvent::new();
    let e = ev.clone();
    let waiter = sched.spawn(move || e.wait()).unwrap();
    sched.run().unwrap();
    ev.set(7u32);
    ev.clear();
    sched.run().unwrap();
    assert_eq!(waiter.join().unwrap().unwrap(), 7);
}

// ---------------------------------------------------------------- oneshot

#[test]
fn a_oneshot_delivers_its_value() {
    let sched = manual();
    let (tx, mut rx) = oneshot::<&str>();
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
    let waiter = sched.spawn(move || rx.recv()).unwrap();
    sched.run().unwrap();
    assert!(matches!(
        waiter.tasklet().blocked_on(),
        Some(BlockedOn::Event(_))
    ));
    assert!(!tx.is_closed());
    tx.send("reply").unwrap();
    sched.run().unwrap();
    assert_eq!(waiter.join().unwrap().unwrap(), "reply");

    let (tx, mut rx) = oneshot();
    tx.send(5).unwrap();
    assert_eq!(rx.try_recv().unwrap(), 5);
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Closed)), "taken");
}

#[test]
fn dropping_the_oneshot_sender_closes_the_receiver() {
    let sched = manual();
    let (tx, rx) = oneshot::<u32>();
    let waiter = sched.spawn(move || rx.recv()).unwrap();
    sched.run().unwrap();
    drop(tx);
    sched.run().unwrap();
    assert!(matches!(waiter.join().unwrap(), Err(ChannelError::Closed)));
    let (tx, rx) = oneshot::<u32>();
    drop(tx);
    assert!(matches!(rx.recv(), Err(ChannelError::Closed)), "no wait");
}

#[test]
fn a_oneshot_send_to_a_dropped_receiver_returns_the_value() {
    let drops = Drops::new();
    let (tx, rx) = oneshot::<Token>();
    drop(rx);
    assert!(tx.is_closed());
    let back = tx.send(drops.token()).unwrap_err();
    assert_eq!(drops.count(), 0, "given back, not dropped");
    drop(back);
    assert_eq!(drops.count(), 1);
    // A value sent and never received is dropped once, with the last end.
    let (tx, rx) = oneshot::<Token>();
    tx.send(drops.token()).unwrap();
    drop(rx);
    assert_eq!(drops.count(), 2);
}

#[test]
fn a_oneshot_receiver_stays_usable_after_a_timeout() {
    let sched = manual();
    let (tx, mut rx) = oneshot::<u32>();
    let waiter = sched
        .spawn(move || {
            let first = rx.recv_timeout(ms(5));
            let second = rx.recv_timeout(ms(5));
            (first, second)
        })
        .unwrap();
    sched.run().unwrap();
    sched.advance(ms(5));
    sched.run().unwrap();
    tx.send(9).unwrap();
    sched.run().unwrap();
    let (first, second) = waiter.join().unwrap();
    assert!(matches!(first, Err(ChannelError::Timeout)));
    assert_eq!(second.unwrap(), 9);
}

// ---------------------------------------------------------------- barriers

#[test]
fn a_barrier_holds_everyone_until_all_arrive_round_after_round() {
    let sched = manual();
    let barrier = Barrier::with_name(3, "fleet");
    let log = Log::new();
    let leaders = Rc::new(Cell::new(0));
    for i in 0..3u64 {
        let (b, log, leaders) = (barrier.clone(), log.clone(), leaders.clone());
        sched
            .spawn(move || {
                for round in 0..3 {
                    // Arrive in a different order each round.
                    sleep(ms(1 + (i + round) % 3)).unwrap();
                    log.push(format!("{i} arrives {round}"));
                    let r = b.wait().unwrap();
                    if r.is_leader {
                        leaders.set(leaders.get() + 1);
                        log.push(format!("{i} leads {round}"));
                    }
                }
            })
            .unwrap();
    }
    sched.run().unwrap();
    for round in 0..3u64 {
        let mut seen = Vec::new();
        for step in 1..=3 {
            sched.advance(ms(1));
            sched.run().unwrap();
            seen.extend(log.take());
            if step < 3 {
                assert_eq!(barrier.waiting(), step, "round {round}: {seen:?}");
            }
        }
        assert_eq!(barrier.waiting(), 0);
        // The last to arrive leads.
        let last = seen
            .iter()
            .rev()
            .find(|e| e.contains("arrives"))
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .to_owned();
        assert!(seen.contains(&format!("{last} leads {round}")), "{seen:?}");
    }
    assert_eq!(leaders.get(), 3, "exactly one leader per round");
    assert_eq!(sched.alive_count(), 0);
}

#[test]
fn a_barrier_of_one_never_waits() {
    let _sched = manual();
    let b = Barrier::new(1);
    assert!(b.wait().unwrap().is_leader);
    assert!(b.wait().unwrap().is_leader);
}

#[test]
fn a_barrier_waiter_that_times_out_leaves_the_round() {
    let sched = manual();
    let barrier = Barrier::new(3);
    let b = barrier.clone();
    let quitter = sched.spawn(move || b.wait_timeout(ms(5))).unwrap();
    let b = barrier.clone();
    let stayer = sched.spawn(move || b.wait()).unwrap();
    sched.run().unwrap();
    assert_eq!(barrier.waiting(), 2);
    sched.advance(ms(5));
    sched.run().unwrap();
    assert!(matches!(quitter.join().unwrap(), Err(WaitError::Timeout)));
    assert_eq!(barrier.waiting(), 1);
    // One more arrival is not enough any more: the quitter no longer counts.
    let b = barrier.clone();
    let second = sched.spawn(move || b.wait()).unwrap();
    sched.run().unwrap();
    assert!(!stayer.is_finished() && !second.is_finished());
    let b = barrier.clone();
    let third = sched.spawn(move || b.wait()).unwrap();
    sched.run().unwrap();
    assert!(!stayer.join().unwrap().unwrap().is_leader);
    assert!(!second.join().unwrap().unwrap().is_leader);
    assert!(third.join().unwrap().unwrap().is_leader);
}

#[test]
fn a_barrier_timeout_racing_the_last_arrival_never_lets_a_round_pass_short() {
    // The quitter's deadline and the last arrival land in the same tick, in both orders.
    for arrival_first in [true, false] {
        let sched = manual();
        let barrier = Barrier::new(2);
        let arrive = {
            let b = barrier.clone();
            move || {
                sleep(ms(5)).unwrap();
                b.wait_timeout(ms(5))
            }
        };
        let b = barrier.clone();
        let quit = move || b.wait_timeout(ms(5));
        let (arriver, quitter) = if arrival_first {
            let a = sched.spawn(arrive).unwrap();
            (a, sched.spawn(quit).unwrap())
        } else {
            let q = sched.spawn(quit).unwrap();
            (sched.spawn(arrive).unwrap(), q)
        };
        sched.run().unwrap();
        sched.advance(ms(5));
        sched.run().unwrap();
        sched.advance(ms(5));
        assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
        let q = quitter.join().unwrap();
        let a = arriver.join().unwrap();
        // Exactly one consistent outcome: both passed together, or neither did.
        match (&q, &a) {
            (Ok(x), Ok(y)) => assert!(x.is_leader != y.is_leader),
            (Err(WaitError::Timeout), Err(WaitError::Timeout)) => {}
            _ => panic!("arrival_first={arrival_first}: quitter {q:?}, arriver {a:?}"),
        }
        assert_eq!(barrier.waiting(), 0);
    }
}

#[test]
fn a_killed_barrier_waiter_leaves_the_round() {
    let sched = manual();
    let barrier = Barrier::new(2);
    let drops = Drops::new();
    let (b, d) = (barrier.clone(), drops.clone());
    let victim = sched
        .spawn(move || {
            let _t = d.token();
            b.wait().unwrap();
        })
        .unwrap();
    sched.run().unwrap();
    victim.tasklet().kill().unwrap();
    assert_eq!(drops.count(), 1);
    assert_eq!(barrier.waiting(), 0);
    let b = barrier.clone();
    let first = sched.spawn(move || b.wait()).unwrap();
    sched.run().unwrap();
    assert!(!first.is_finished(), "the dead waiter does not count");
    assert!(barrier.wait().unwrap().is_leader);
    sched.run().unwrap();
    assert!(!first.join().unwrap().unwrap().is_leader);
}
