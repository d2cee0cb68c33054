//! Kill, kill_pending, throw and timeout at every blocking point of layer 2 (sleep,
//! be_nice, channel send and receive, Lock, RLock, Semaphore, BoundedSemaphore,
//! Condition, Event, ValueEvent, oneshot, queue get, bounded queue put, Barrier, select,
//! join, block_on, remote receive). Each case counts drops (a token on the victim's
//! stack and the payload it holds or offers: every destructor runs exactly once), checks
//! that the primitive's queue is consistent afterwards, and that the next waiter is still
//! served. Also: a wake-up that comes before the deadline's tick wins, and one that comes
//! after it finds the value, permit or lock still there (nothing is lost).

mod support;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use support::{hang_guard, manual, ms, Drops, Token};
use uthread::{
    be_nice, block_on, block_on_timeout, oneshot, select, sleep, Barrier, BoundedSemaphore,
    Channel, ChannelError, Condition, Event, JoinError, JoinHandle, Lock, LockError, OneshotSender,
    Queue, RLock, RemoteSender, Scheduler, Semaphore, SendError, ValueEvent, WaitError,
};

/// How a blocking call ended, seen from the test.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    Timeout,
    Thrown,
    Other(String),
}

fn wait_outcome(e: WaitError) -> Outcome {
    match e {
        WaitError::Timeout => Outcome::Timeout,
        WaitError::Thrown(_) => Outcome::Thrown,
        other => Outcome::Other(format!("{other:?}")),
    }
}

fn channel_outcome(e: ChannelError) -> Outcome {
    match e {
        ChannelError::Timeout => Outcome::Timeout,
        ChannelError::Thrown(_) => Outcome::Thrown,
        other => Outcome::Other(format!("{other:?}")),
    }
}

fn lock_outcome(e: LockError) -> Outcome {
    match e {
        LockError::Wait(e) => wait_outcome(e),
        other => Outcome::Other(format!("{other:?}")),
    }
}

fn join_outcome(e: JoinError) -> Outcome {
    match e {
        JoinError::Wait(e) => wait_outcome(e),
        other => Outcome::Other(format!("{other:?}")),
    }
}

/// The blocking call: waits (until `deadline`, if given) holding or offering `payload`;
/// returns how it ended and the payload if it came back.
type WaitFn = Rc<dyn Fn(Option<Duration>, Token) -> (Outcome, Option<Token>)>;

/// Tasklets queued on the primitive, where its API can tell.
type WaitingFn = Rc<dyn Fn(&Scheduler) -> Option<usize>>;

/// One kind of blocking point, set up on a scheduler.
struct Point {
    name: &'static str,
    wait: WaitFn,
    waiting: WaitingFn,
    /// From the main context: what wakes the oldest waiter.
    serve: Rc<dyn Fn(&Scheduler)>,
    /// Whether the call takes a deadline (sleep's is its duration; be_nice has none).
    timed: bool,
    /// What a timed wait that runs out returns (`Ok` for a sleep).
    on_deadline: Outcome,
    /// Whether the payload comes back when the wait is interrupted (a select's send arm
    /// drops it instead).
    payload_returns: bool,
    /// From the main context, after a waiter was served: drops whatever the primitive
    /// kept of its payload (a put's value), leaving the primitive as it was.
    cleanup: Rc<dyn Fn()>,
}

impl Point {
    fn new(name: &'static str, wait: WaitFn) -> Point {
        Point {
            name,
            wait,
            waiting: Rc::new(|_| None),
            serve: Rc::new(|_| unreachable!("nothing serves this point")),
            timed: true,
            on_deadline: Outcome::Timeout,
            payload_returns: true,
            cleanup: Rc::new(|| ()),
        }
    }

    fn waiting(mut self, f: impl Fn(&Scheduler) -> Option<usize> + 'static) -> Point {
        self.waiting = Rc::new(f);
        self
    }

    fn serve(mut self, f: impl Fn(&Scheduler) + 'static) -> Point {
        self.serve = Rc::new(f);
        self
    }
}

/// Keeps a timer alive, so that a manual-clock `run` with a tasklet waiting on another
/// thread (a future, a remote sender) returns `Idle` instead of waiting for that thread.
fn keep_a_timer(sched: &Scheduler) {
    sched
        .spawn(|| {
            let _ = sleep(Duration::from_secs(24 * 3600));
        })
        .unwrap();
}

/// Every blocking point, freshly set up on `sched`.
fn points(sched: &Scheduler) -> Vec<Point> {
    let junk = Drops::new(); // payloads made by the serving side; not counted
    let mut points = Vec::new();

    points.push(
        Point::new(
            "sleep",
            Rc::new(|deadline, p| {
                let d = deadline.unwrap_or(Duration::from_secs(3600));
                match sleep(d) {
                    Ok(()) => (Outcome::Ok, Some(p)),
                    Err(e) => (wait_outcome(e), Some(p)),
                }
            }),
        )
        // Less the timer of the tasklet that `keep_a_timer` spawns.
        .waiting(|s| Some(s.timer_count().saturating_sub(1)))
        .serve(|s| s.advance(Duration::from_secs(3600))),
    );
    points.last_mut().unwrap().on_deadline = Outcome::Ok;

    let mut nice = Point::new(
        "be_nice",
        Rc::new(|_, p| match be_nice() {
            Ok(()) => (Outcome::Ok, Some(p)),
            Err(e) => (wait_outcome(e), Some(p)),
        }),
    )
    .waiting(|s| Some(s.nice_count()))
    .serve(|s| s.tick());
    nice.timed = false;
    points.push(nice);

    let ch = Channel::<Token>::with_name("send point");
    let (c, c2) = (ch.clone(), ch.clone());
    points.push(
        Point::new(
            "channel send",
            Rc::new(move |deadline, p| {
                let r = match deadline {
                    Some(d) => c.send_timeout(p, d),
                    None => c.send(p),
                };
                match r {
                    Ok(()) => (Outcome::Ok, None),
                    Err(SendError { value, error }) => (channel_outcome(error), Some(value)),
                }
            }),
        )
        .waiting(move |_| Some(c2.balance().unsigned_abs()))
        .serve(move |_| drop(ch.receive().unwrap())),
    );

    let ch = Channel::<Token>::new();
    let (c, c2, j) = (ch.clone(), ch.clone(), junk.clone());
    points.push(
        Point::new(
            "channel receive",
            Rc::new(move |deadline, p| {
                let r = match deadline {
                    Some(d) => c.receive_timeout(d),
                    None => c.receive(),
                };
                (r.map_or_else(channel_outcome, |_| Outcome::Ok), Some(p))
            }),
        )
        .waiting(move |_| Some(c2.balance().unsigned_abs()))
        .serve(move |_| ch.send(j.token()).unwrap()),
    );

    // The main context holds the locks, semaphores and barrier partners the waiters need.
    let lock = Lock::with_name("lock point");
    lock.acquire().unwrap();
    let (l, l2) = (lock.clone(), lock.clone());
    points.push(
        Point::new(
            "lock",
            Rc::new(move |deadline, p| {
                let r = match deadline {
                    Some(d) => l.lock_timeout(d),
                    None => l.lock(),
                };
                (r.map_or_else(lock_outcome, |_| Outcome::Ok), Some(p))
            }),
        )
        .waiting(move |_| Some(l2.waiting()))
        .serve(move |_| {
            lock.release().unwrap();
            // Take it back from the waiter once it is done, for the next waiter.
            lock.acquire().unwrap();
        }),
    );

    let rlock = RLock::new();
    rlock.acquire().unwrap();
    let r = rlock.clone();
    points.push(
        Point::new(
            "rlock",
            Rc::new(move |deadline, p| {
                let res = match deadline {
                    Some(d) => r.lock_timeout(d),
                    None => r.lock(),
                };
                (res.map_or_else(lock_outcome, |_| Outcome::Ok), Some(p))
            }),
        )
        .serve(move |_| {
            rlock.release().unwrap();
            rlock.acquire().unwrap();
        }),
    );

    let sem = Semaphore::new(0);
    let (s, s2) = (sem.clone(), sem.clone());
    points.push(
        Point::new(
            "semaphore",
            Rc::new(move |deadline, p| {
                let r = match deadline {
                    Some(d) => s.acquire_timeout(d),
                    None => s.acquire(),
                };
                // The permit is kept (forgotten): each serve hands out exactly one.
                (
                    r.map_or_else(wait_outcome, |permit| {
                        permit.forget();
                        Outcome::Ok
                    }),
                    Some(p),
                )
            }),
        )
        .waiting(move |_| Some(s2.waiting()))
        .serve(move |_| sem.release()),
    );

    let bounded = BoundedSemaphore::new(1);
    bounded.acquire().unwrap().forget();
    let b = bounded.clone();
    points.push(
        Point::new(
            "bounded semaphore",
            Rc::new(move |deadline, p| {
                let r = match deadline {
                    Some(d) => b.acquire_timeout(d),
                    None => b.acquire(),
                };
                (
                    r.map_or_else(wait_outcome, |permit| {
                        permit.forget();
                        Outcome::Ok
                    }),
                    Some(p),
                )
            }),
        )
        .serve(move |_| bounded.release().unwrap()),
    );

    let (lock, cond) = (Lock::new(), Condition::new());
    let (l, c, c2) = (lock.clone(), cond.clone(), cond.clone());
    points.push(
        Point::new(
            "condition",
            Rc::new(move |deadline, p| {
                let guard = l.lock().unwrap();
                let outcome = match deadline {
                    Some(d) => match c.wait_timeout(guard, d) {
                        Ok((_, true)) => Outcome::Timeout,
                        Ok((_, false)) => Outcome::Ok,
                        Err(e) => lock_outcome(e),
                    },
                    None => c.wait(guard).map_or_else(lock_outcome, |_| Outcome::Ok),
                };
                assert!(!l.is_locked(), "the lock is free once the waiter is done");
                (outcome, Some(p))
            }),
        )
        .waiting(move |_| Some(c2.waiting()))
        .serve(move |_| cond.notify_one()),
    );

    let ev = Event::new();
    let (e, e2) = (ev.clone(), ev.clone());
    points.push(
        Point::new(
            "event",
            Rc::new(move |deadline, p| {
                let r = match deadline {
                    Some(d) => e.wait_timeout(d),
                    None => e.wait(),
                };
                (r.map_or_else(wait_outcome, |()| Outcome::Ok), Some(p))
            }),
        )
        .waiting(move |_| Some(e2.waiting()))
        .serve(move |_| {
            ev.set();
            ev.clear(); // a pulse: releases the waiters, leaves the event clear
        }),
    );

    let vev = ValueEvent::<u32>::new();
    let v = vev.clone();
    points.push(
        Point::new(
            "value event",
            Rc::new(move |deadline, p| {
                let r = match deadline {
                    Some(d) => v.wait_timeout(d),
                    None => v.wait(),
                };
                (r.map_or_else(wait_outcome, |_| Outcome::Ok), Some(p))
            }),
        )
        .serve(move |_| {
            vev.set(1);
            vev.clear();
        }),
    );

    let senders: Rc<RefCell<Vec<OneshotSender<u32>>>> = Rc::default();
    let s = senders.clone();
    points.push(
        Point::new(
            "oneshot",
            Rc::new(move |deadline, p| {
                let (tx, mut rx) = oneshot();
                s.borrow_mut().push(tx);
                let r = match deadline {
                    Some(d) => rx.recv_timeout(d),
                    None => rx.recv(),
                };
                (r.map_or_else(channel_outcome, |_| Outcome::Ok), Some(p))
            }),
        )
        .serve(move |_| {
            let tx = senders.borrow_mut().pop().unwrap();
            tx.send(1).unwrap();
        }),
    );

    let q = Queue::<Token>::new();
    let (g, g2, j) = (q.clone(), q.clone(), junk.clone());
    points.push(
        Point::new(
            "queue get",
            Rc::new(move |deadline, p| {
                let r = match deadline {
                    Some(d) => g.get_timeout(d),
                    None => g.get(),
                };
                (r.map_or_else(channel_outcome, |_| Outcome::Ok), Some(p))
            }),
        )
        .waiting(move |_| Some(g2.balance().unsigned_abs()))
        .serve(move |_| q.put(j.token()).unwrap()),
    );

    let q = Queue::<Token>::bounded(1);
    q.put(junk.token()).unwrap();
    let (pq, pq2, cq, j) = (q.clone(), q.clone(), q.clone(), junk.clone());
    let mut put_point = Point::new(
        "bounded queue put",
        Rc::new(move |deadline, p| {
            let r = match deadline {
                Some(d) => pq.put_timeout(p, d),
                None => pq.put(p),
            };
            match r {
                Ok(()) => (Outcome::Ok, None),
                Err(SendError { value, error }) => (channel_outcome(error), Some(value)),
            }
        }),
    )
    .waiting(move |_| Some(pq2.balance().unsigned_abs()))
    .serve(move |_| drop(q.get().unwrap()));
    put_point.cleanup = Rc::new(move || {
        drop(cq.drain()); // the served waiter's value, moved in by the get
        cq.put(j.token()).unwrap(); // full again
    });
    points.push(put_point);

    let barrier = Barrier::new(2);
    let (b, b2) = (barrier.clone(), barrier.clone());
    points.push(
        Point::new(
            "barrier",
            Rc::new(move |deadline, p| {
                let r = match deadline {
                    Some(d) => b.wait_timeout(d),
                    None => b.wait(),
                };
                (r.map_or_else(wait_outcome, |_| Outcome::Ok), Some(p))
            }),
        )
        .waiting(move |_| Some(b2.waiting()))
        .serve(move |_| assert!(barrier.wait().unwrap().is_leader)),
    );

    let (a, out) = (Channel::<u32>::new(), Channel::<Token>::new());
    let (sa, so, wa, wo) = (a.clone(), out.clone(), a.clone(), out);
    let mut select_point = Point::new(
        "select",
        Rc::new(move |deadline, p| {
            let mut s = select()
                .recv(&sa, |_| Outcome::Ok)
                .send(&so, p, || Outcome::Other("the send arm fired".into()));
            if let Some(d) = deadline {
                s = s.timeout(d, || Outcome::Timeout);
            }
            (s.wait().unwrap_or_else(channel_outcome), None)
        }),
    )
    // One waiter, registered on both channels: both balances go back to 0 together.
    .waiting(move |_| Some(wa.balance().unsigned_abs().max(wo.balance().unsigned_abs())))
    .serve(move |_| a.send(1).unwrap());
    select_point.payload_returns = false;
    points.push(select_point);

    let targets: Rc<RefCell<Vec<Event>>> = Rc::default();
    let t = targets.clone();
    points.push(
        Point::new(
            "join",
            Rc::new(move |deadline, p| {
                // Each joiner joins its own target, which runs until served.
                let ev = Event::new();
                t.borrow_mut().push(ev.clone());
                let mut target: JoinHandle<()> =
                    uthread::spawn(move || ev.wait().unwrap()).unwrap();
                let r = match deadline {
                    Some(d) => target.join_timeout(d),
                    None => target.join(),
                };
                (r.map_or_else(join_outcome, |()| Outcome::Ok), Some(p))
            }),
        )
        .serve(move |s| {
            // A joiner is served when its target ends: let the target (alone runnable)
            // run its last slice, which wakes the joiner.
            targets.borrow_mut().pop().unwrap().set();
            s.run_for(uthread::Budget::Resumes(1)).unwrap();
        }),
    );

    keep_a_timer(sched);
    let futures: Rc<RefCell<Vec<tokio::sync::oneshot::Sender<u32>>>> = Rc::default();
    let f = futures.clone();
    points.push(
        Point::new(
            "block_on",
            Rc::new(move |deadline, p| {
                let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
                f.borrow_mut().push(tx);
                let r = match deadline {
                    Some(d) => block_on_timeout(rx, d),
                    None => block_on(rx),
                };
                (r.map_or_else(wait_outcome, |_| Outcome::Ok), Some(p))
            }),
        )
        .serve(move |s| {
            let tx = futures.borrow_mut().pop().unwrap();
            tx.send(1).unwrap();
            s.tick(); // deliver the wake posted by the waker
        }),
    );

    let (tx, rx): (RemoteSender<u32>, _) = sched.remote_channel();
    let rx = Rc::new(rx);
    points.push(
        Point::new(
            "remote receive",
            Rc::new(move |deadline, p| {
                let r = match deadline {
                    Some(d) => rx.recv_timeout(d),
                    None => rx.recv(),
                };
                (r.map_or_else(channel_outcome, |_| Outcome::Ok), Some(p))
            }),
        )
        .serve(move |s| {
            let tx = tx.clone();
            std::thread::spawn(move || tx.send(7).unwrap())
                .join()
                .unwrap();
            s.tick();
        }),
    );

    points
}

/// Spawns a victim that makes one stack token and offers or holds one payload token.
fn spawn_victim(
    point: &Point,
    deadline: Option<Duration>,
    drops: &Drops,
) -> JoinHandle<(Outcome, bool)> {
    let (wait, d) = (point.wait.clone(), drops.clone());
    uthread::spawn(move || {
        let _on_stack = d.token();
        let (outcome, back) = wait(deadline, d.token());
        (outcome, back.is_some())
    })
    .unwrap()
}

/// After the victim is gone: a new waiter blocks, and `serve` wakes it with `Ok`.
fn assert_next_waiter_served(sched: &Scheduler, point: &Point) {
    let drops = Drops::new();
    let next = spawn_victim(point, None, &drops);
    sched.run().unwrap();
    assert!(
        next.tasklet().is_blocked(),
        "{}: the next waiter should wait",
        point.name
    );
    (point.serve)(sched);
    sched.run().unwrap();
    assert!(
        next.is_finished(),
        "{}: the next waiter was not served",
        point.name
    );
    (point.cleanup)();
    let (outcome, _) = next.join().unwrap();
    assert_eq!(outcome, Outcome::Ok, "{}", point.name);
    assert_eq!(drops.count(), 2, "{}", point.name);
}

fn for_each_point(test: impl Fn(&Scheduler, &Point)) {
    let _guard = hang_guard(Duration::from_secs(120));
    let count = points(&manual()).len();
    assert_eq!(count, 19, "every blocking point is covered");
    for i in 0..count {
        // A fresh scheduler and primitive for every case.
        let sched = manual();
        let point = points(&sched).swap_remove(i);
        test(&sched, &point);
    }
}

#[test]
fn kill_at_every_blocking_point() {
    for_each_point(|sched, point| {
        let drops = Drops::new();
        let victim = spawn_victim(point, None, &drops);
        sched.run().unwrap();
        assert!(victim.tasklet().is_blocked(), "{}", point.name);
        assert_eq!((point.waiting)(sched).unwrap_or(1), 1, "{}", point.name);
        victim.tasklet().kill().unwrap();
        assert!(!victim.tasklet().is_alive(), "{}", point.name);
        assert_eq!(
            drops.count(),
            2,
            "{}: every destructor ran once",
            point.name
        );
        assert_eq!(
            (point.waiting)(sched).unwrap_or(0),
            0,
            "{}: taken off the queue",
            point.name
        );
        assert!(
            matches!(victim.join(), Err(JoinError::Killed)),
            "{}",
            point.name
        );
        assert_next_waiter_served(sched, point);
        assert_eq!(drops.count(), 2, "{}: nothing dropped twice", point.name);
    });
}

#[test]
fn kill_pending_at_every_blocking_point_takes_the_waiter_off_at_once() {
    for_each_point(|sched, point| {
        let drops = Drops::new();
        let victim = spawn_victim(point, None, &drops);
        sched.run().unwrap();
        victim.tasklet().kill_pending().unwrap();
        assert!(victim.tasklet().is_scheduled(), "{}", point.name);
        assert_eq!((point.waiting)(sched).unwrap_or(0), 0, "{}", point.name);
        assert_eq!(drops.count(), 0, "{}: not unwound yet", point.name);
        sched.run().unwrap();
        assert_eq!(drops.count(), 2, "{}", point.name);
        assert!(
            matches!(victim.join(), Err(JoinError::Killed)),
            "{}",
            point.name
        );
        assert_next_waiter_served(sched, point);
    });
}

#[test]
fn a_throw_at_every_blocking_point_returns_the_error_and_the_payload() {
    for_each_point(|sched, point| {
        let drops = Drops::new();
        let victim = spawn_victim(point, None, &drops);
        sched.run().unwrap();
        victim.tasklet().throw("abort").unwrap();
        assert!(victim.is_finished(), "{}: it ran at once", point.name);
        assert_eq!((point.waiting)(sched).unwrap_or(0), 0, "{}", point.name);
        let (outcome, returned) = victim.join().unwrap();
        assert_eq!(outcome, Outcome::Thrown, "{}", point.name);
        assert_eq!(returned, point.payload_returns, "{}", point.name);
        assert_eq!(drops.count(), 2, "{}", point.name);
        assert_next_waiter_served(sched, point);
    });
}

#[test]
fn a_timeout_at_every_blocking_point_fires_on_time_and_leaves_the_queue() {
    for_each_point(|sched, point| {
        if !point.timed {
            return;
        }
        let drops = Drops::new();
        let victim = spawn_victim(point, Some(ms(10)), &drops);
        sched.run().unwrap();
        sched.advance(ms(9));
        sched.run().unwrap();
        sched.advance(Duration::from_nanos(999_999));
        sched.run().unwrap();
        assert!(victim.tasklet().is_blocked(), "{}: early", point.name);
        sched.advance(Duration::from_nanos(1));
        assert_eq!(
            (point.waiting)(sched).unwrap_or(0),
            0,
            "{}: the deadline's tick took it off",
            point.name
        );
        sched.run().unwrap();
        let (outcome, returned) = victim.join().unwrap();
        assert_eq!(outcome, point.on_deadline, "{}", point.name);
        assert_eq!(returned, point.payload_returns, "{}", point.name);
        assert_eq!(drops.count(), 2, "{}", point.name);
        assert_next_waiter_served(sched, point);
    });
}

#[test]
fn a_wake_up_that_comes_before_the_deadline_tick_wins_at_every_blocking_point() {
    for_each_point(|sched, point| {
        if !point.timed || point.on_deadline == Outcome::Ok {
            return;
        }
        let drops = Drops::new();
        sched.run().unwrap();
        let timers_before = sched.timer_count();
        let victim = spawn_victim(point, Some(ms(10)), &drops);
        sched.run().unwrap();
        sched.advance(ms(9));
        sched.run().unwrap();
        // Served, then the deadline comes in the same tick before the victim runs.
        (point.serve)(sched);
        sched.advance(ms(1));
        sched.run().unwrap();
        (point.cleanup)();
        let (outcome, _) = victim.join().unwrap();
        assert_eq!(outcome, Outcome::Ok, "{}: exactly one outcome", point.name);
        assert_eq!(drops.count(), 2, "{}", point.name);
        assert!(
            sched.timer_count() <= timers_before,
            "{}: its timer was retired",
            point.name
        );
    });
}

// ------------------------------------------------ the deadline first, the wake-up after

/// A victim times out at the tick; a tasklet that wakes in the same tick then serves the
/// primitive. Returns the victim's outcome (Timeout), for the caller to check what is left.
fn deadline_then_wake_up<T: 'static>(
    sched: &Scheduler,
    victim: impl FnOnce() -> T + 'static,
    waker: impl FnOnce() + 'static,
) -> T {
    let v = sched.spawn(victim).unwrap();
    sched
        .spawn(move || {
            sleep(ms(10)).unwrap();
            waker();
        })
        .unwrap();
    sched.run().unwrap();
    sched.advance(ms(10));
    sched.run().unwrap();
    v.join().unwrap()
}

#[test]
fn a_value_sent_in_the_deadline_tick_comes_back_to_its_sender() {
    let sched = manual();
    let drops = Drops::new();
    let ch = Channel::<Token>::new();
    let (rx, tx) = (ch.clone(), ch.clone());
    let sent = Rc::new(RefCell::new(None));
    let (s, d) = (sent.clone(), drops.clone());
    let got = deadline_then_wake_up(
        &sched,
        move || rx.receive_timeout(ms(10)).map(drop),
        move || {
            // Nobody is waiting any more: the send times out and the value comes back.
            *s.borrow_mut() = Some(tx.send_timeout(d.token(), ms(5)));
        },
    );
    assert!(matches!(got, Err(ChannelError::Timeout)));
    assert_eq!(ch.balance(), 1, "the sender waits with its value");
    sched.advance(ms(5));
    sched.run().unwrap();
    let back = sent.borrow_mut().take().unwrap().unwrap_err();
    assert!(matches!(back.error, ChannelError::Timeout));
    assert_eq!(drops.count(), 0, "the value is back, not lost");
    drop(back);
    assert_eq!(drops.count(), 1);
    assert_eq!(ch.balance(), 0);
}

#[test]
fn a_permit_an_item_a_lock_and_an_event_released_in_the_deadline_tick_stay_available() {
    let sched = manual();

    let sem = Semaphore::new(0);
    let (a, b) = (sem.clone(), sem.clone());
    let got = deadline_then_wake_up(
        &sched,
        move || a.acquire_timeout(ms(10)).map(|p| p.forget()),
        move || b.release(),
    );
    assert!(matches!(got, Err(WaitError::Timeout)));
    assert_eq!(sem.available(), 1, "the permit was not lost");

    let q = Queue::<u32>::new();
    let (a, b) = (q.clone(), q.clone());
    let got = deadline_then_wake_up(
        &sched,
        move || a.get_timeout(ms(10)),
        move || b.put(5).unwrap(),
    );
    assert!(matches!(got, Err(ChannelError::Timeout)));
    assert_eq!(q.drain(), [5], "the item was not lost");

    let lock = Lock::new();
    let go = Event::new();
    let (l, g) = (lock.clone(), go.clone());
    sched
        .spawn(move || {
            let _guard = l.lock().unwrap();
            g.wait().unwrap();
        })
        .unwrap();
    let (a, g) = (lock.clone(), go.clone());
    let got = deadline_then_wake_up(
        &sched,
        move || a.lock_timeout(ms(10)).map(drop),
        move || g.set(),
    );
    assert!(matches!(got, Err(LockError::Wait(WaitError::Timeout))));
    sched.run().unwrap();
    assert!(!lock.is_locked(), "released to nobody: free");
    assert_eq!(lock.waiting(), 0);

    let ev = Event::new();
    let (a, b) = (ev.clone(), ev.clone());
    let got = deadline_then_wake_up(&sched, move || a.wait_timeout(ms(10)), move || b.set());
    assert!(matches!(got, Err(WaitError::Timeout)));
    assert!(ev.is_set());
    assert_eq!(ev.waiting(), 0);
}
