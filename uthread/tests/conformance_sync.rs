//! The synchronisation layer that CCP's uthread and stacklesslib put on top of Stackless
//! (`uthread.Sleep`/`BeNice`, `stacklesslib.locks`: Lock, RLock, Semaphore, Condition,
//! Event, Barrier; `uthread.Queue`; stacklesslib's timeouts on every wait), ported to
//! uthread's documented API, plus STACKLESS.md's "improve" items: select and timeouts.

mod support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use support::{ms, Log};
use uthread::{
    join_all, select, try_join_all, Barrier, BoundedSemaphore, Channel, ChannelError, Condition,
    Event, Lock, LockError, OnError, ParallelError, Queue, RLock, RecvError, RunOutcome, Semaphore,
    TaskletState, ValueEvent, WaitError,
};

// uthread.Sleep: sleepers wake in deadline order (FIFO among equal deadlines), each at
// the first tick at or after its deadline.
#[test]
fn sleepers_wake_at_their_deadline_in_order() {
    let sched = support::manual();
    let log = Log::new();
    let delays = [30u64, 10, 20, 10, 0, 50, 20];
    for (i, d) in delays.into_iter().enumerate() {
        let l = log.clone();
        sched
            .spawn(move || {
                uthread::sleep(ms(d)).unwrap();
                l.push(format!("{i}@{}", uthread::now().as_millis()));
            })
            .unwrap();
    }
    sched.run().unwrap();
    assert!(log.get().is_empty(), "a zero sleep waits for the next tick");
    for _ in 0..60 {
        sched.advance(ms(5));
        sched.run().unwrap();
    }
    assert_eq!(
        log.get(),
        ["4@5", "1@10", "3@10", "2@20", "6@20", "0@30", "5@50"]
    );
}

// uthread.BeNice: a tasklet yields until the next frame; calling it again in the same
// wake-up waits for the following frame; each frame wakes exactly the tasklets that
// were waiting when it began.
#[test]
fn be_nice_wakes_each_waiter_once_per_frame() {
    let sched = support::manual();
    let frames_seen = Rc::new(RefCell::new(Vec::new()));
    for i in 0..3 {
        let f = frames_seen.clone();
        sched
            .spawn(move || {
                for _ in 0..3 {
                    uthread::be_nice().unwrap();
                    f.borrow_mut().push((i, uthread::now().as_millis()));
                }
            })
            .unwrap();
    }
    // A tasklet that calls be_nice twice per wake-up only advances every other frame.
    let double = Rc::new(Cell::new(0));
    let d = double.clone();
    sched
        .spawn(move || {
            for _ in 0..2 {
                uthread::be_nice().unwrap();
                uthread::be_nice().unwrap();
                d.set(d.get() + 1);
            }
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(sched.nice_count(), 4);
    for frame in 1..=4u64 {
        sched.advance(ms(1));
        sched.run().unwrap();
        let seen = frames_seen.borrow();
        let this: Vec<_> = seen.iter().filter(|(_, t)| *t == frame as u128).collect();
        if frame <= 3 {
            assert_eq!(this.len(), 3, "frame {frame}: {seen:?}");
        } else {
            assert!(this.is_empty());
        }
    }
    assert_eq!(double.get(), 2);
    assert_eq!(sched.alive_count(), 0);
}

// stacklesslib Lock: strict. Re-acquiring or releasing a lock you do not hold is an
// error (not a hang); waiters get it in FIFO order; a timed acquire gives up.
#[test]
fn lock_is_strict_fifo_and_timed() {
    let sched = support::manual();
    let lock = Rc::new(Lock::new());
    let log = Log::new();
    let (l, lg) = (lock.clone(), log.clone());
    let holder = sched
        .spawn(move || {
            l.acquire().unwrap();
            assert!(matches!(l.acquire(), Err(LockError::Reentered)));
            assert!(matches!(l.lock(), Err(LockError::Reentered)));
            assert!(l.is_held_by_current());
            uthread::sleep(ms(10)).unwrap();
            lg.push("holder releases");
            l.release().unwrap();
            assert!(matches!(l.release(), Err(LockError::NotOwner)));
        })
        .unwrap();
    for i in 0..3 {
        let (l, lg) = (lock.clone(), log.clone());
        sched
            .spawn(move || {
                let _g = l.lock().unwrap();
                lg.push(format!("waiter {i}"));
            })
            .unwrap();
    }
    let (l, lg) = (lock.clone(), log.clone());
    sched
        .spawn(move || match l.lock_timeout(ms(5)) {
            Err(LockError::Wait(WaitError::Timeout)) => lg.push("timed out"),
            other => lg.push(format!("unexpected {:?}", other.map(|_| ()))),
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(lock.waiting(), 4);
    assert_eq!(lock.owner().as_ref(), Some(holder.tasklet()));
    assert!(
        matches!(lock.release(), Err(LockError::NotOwner)),
        "main does not hold it"
    );
    sched.advance(ms(5));
    sched.run().unwrap();
    assert_eq!(lock.waiting(), 3);
    sched.advance(ms(5));
    sched.run().unwrap();
    assert_eq!(
        log.get(),
        [
            "timed out",
            "holder releases",
            "waiter 0",
            "waiter 1",
            "waiter 2"
        ]
    );
    assert!(!lock.is_locked());
}

// stacklesslib RLock: re-entrant for its owner, counted; others wait until the count is 0.
#[test]
fn rlock_counts_depth_and_only_the_owner_may_release() {
    let sched = support::scheduler();
    let lock = Rc::new(RLock::new());
    let log = Log::new();
    let (l, lg) = (lock.clone(), log.clone());
    sched
        .spawn(move || {
            let a = l.lock().unwrap();
            let b = l.lock().unwrap();
            l.acquire().unwrap();
            assert_eq!(l.depth(), 3);
            uthread::schedule().unwrap();
            lg.push("owner at depth 3");
            l.release().unwrap();
            drop(b);
            uthread::schedule().unwrap();
            lg.push("owner at depth 1");
            drop(a);
            // Released at depth 0: handed straight to the waiter.
            assert!(!l.is_held_by_current());
        })
        .unwrap();
    let (l, lg) = (lock.clone(), log.clone());
    sched
        .spawn(move || {
            assert!(matches!(l.release(), Err(LockError::NotOwner)));
            let _g = l.lock().unwrap();
            lg.push("other got it");
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(
        log.get(),
        ["owner at depth 3", "owner at depth 1", "other got it"]
    );
}

// Semaphore and BoundedSemaphore (Python semantics): counting, FIFO hand-off, and the
// bounded one refuses an extra release.
#[test]
fn semaphores_count_and_the_bounded_one_refuses_extra_releases() {
    let sched = support::scheduler();
    let sem = Semaphore::new(2);
    let inside = Rc::new(Cell::new(0));
    let most = Rc::new(Cell::new(0));
    let order = Log::new();
    for i in 0..6 {
        let (s, inside, most, order) = (sem.clone(), inside.clone(), most.clone(), order.clone());
        sched
            .spawn(move || {
                let _p = s.acquire().unwrap();
                order.push(format!("{i}"));
                inside.set(inside.get() + 1);
                most.set(most.get().max(inside.get()));
                uthread::schedule().unwrap();
                inside.set(inside.get() - 1);
            })
            .unwrap();
    }
    sched.run().unwrap();
    assert_eq!(most.get(), 2);
    assert_eq!(order.get().concat(), "012345");
    assert_eq!(sem.available(), 2);
    let bounded = BoundedSemaphore::new(1);
    assert!(bounded.release().is_err());
    let p = bounded.try_acquire().unwrap();
    assert!(bounded.try_acquire().is_none());
    p.forget();
    assert_eq!(bounded.available(), 0);
    bounded.release().unwrap();
    assert!(bounded.release().is_err());
    assert_eq!(bounded.available(), 1);
}

// Event: set wakes every waiter, later waits pass; clear makes them wait again; timed
// waits give up; main waiting on an event nobody can set is a deadlock.
#[test]
fn event_set_clear_and_timeouts() {
    let sched = support::manual();
    let ev = Event::new();
    let woke = Rc::new(Cell::new(0));
    for _ in 0..3 {
        let (e, w) = (ev.clone(), woke.clone());
        sched
            .spawn(move || {
                e.wait().unwrap();
                w.set(w.get() + 1);
            })
            .unwrap();
    }
    let e = ev.clone();
    let timed = sched.spawn(move || e.wait_timeout(ms(5))).unwrap();
    sched.run().unwrap();
    assert_eq!(ev.waiting(), 4);
    sched.advance(ms(5));
    sched.run().unwrap();
    assert!(matches!(timed.join().unwrap(), Err(WaitError::Timeout)));
    assert_eq!(ev.waiting(), 3);
    ev.set();
    sched.run().unwrap();
    assert_eq!(woke.get(), 3);
    assert!(ev.is_set());
    ev.wait().unwrap();
    ev.clear();
    assert!(matches!(ev.wait(), Err(WaitError::Deadlock)));
    let ve = ValueEvent::new();
    let v2 = ve.clone();
    let getter = sched.spawn(move || v2.wait()).unwrap();
    sched.run().unwrap();
    ve.set(41u32);
    sched.run().unwrap();
    assert_eq!(getter.join().unwrap().unwrap(), 41);
}

// Condition: producer/consumer with wait_until; notify_one wakes in FIFO order;
// notify_all wakes the rest; a waiter returns holding the lock.
#[test]
fn condition_producer_consumer() {
    let sched = support::scheduler();
    let lock = Rc::new(Lock::new());
    let cond = Condition::new();
    let items = Rc::new(RefCell::new(Vec::<u32>::new()));
    let got = Log::new();
    for c in 0..3 {
        let (lock, cond, items, got) = (lock.clone(), cond.clone(), items.clone(), got.clone());
        sched
            .spawn(move || {
                let guard = lock.lock().unwrap();
                let guard = cond
                    .wait_until(guard, || !items.borrow().is_empty())
                    .unwrap();
                assert!(lock.is_held_by_current());
                let item = items.borrow_mut().remove(0);
                got.push(format!("c{c}:{item}"));
                drop(guard);
            })
            .unwrap();
    }
    sched.run().unwrap();
    assert_eq!(cond.waiting(), 3);
    let (l, cnd, it) = (lock.clone(), cond.clone(), items.clone());
    sched
        .spawn(move || {
            for i in 0..3 {
                let _g = l.lock().unwrap();
                it.borrow_mut().push(i);
                cnd.notify_one();
            }
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(got.get(), ["c0:0", "c1:1", "c2:2"]);
    assert_eq!(cond.waiting(), 0);
    assert!(!lock.is_locked());
}

// uthread.Queue: FIFO, a bounded queue blocks putters while full, close wakes getters,
// a timed get gives up.
#[test]
fn queue_fifo_bounded_close_and_timeout() {
    let sched = support::manual();
    let q = Queue::bounded(2);
    let closed = Event::new();
    let (tx, c) = (q.clone(), closed.clone());
    let putter = sched
        .spawn(move || {
            for i in 0..5 {
                tx.put(i).unwrap();
            }
            c.wait().unwrap();
            let err = tx.put(99).unwrap_err();
            (err.into_inner(), tx.is_closed())
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(q.len(), 2);
    assert_eq!(q.balance(), 1, "one putter waits");
    let rx = q.clone();
    let getter = sched
        .spawn(move || {
            let mut got = Vec::new();
            while let Ok(v) = rx.get() {
                got.push(v);
            }
            got
        })
        .unwrap();
    sched.run().unwrap();
    q.close();
    closed.set();
    sched.run().unwrap();
    assert_eq!(getter.join().unwrap(), [0, 1, 2, 3, 4]);
    assert_eq!(putter.join().unwrap(), (99, true));
    let q2 = Queue::<u32>::new();
    let rx = q2.clone();
    let timed = sched.spawn(move || rx.get_timeout(ms(3))).unwrap();
    sched.run().unwrap();
    sched.advance(ms(3));
    sched.run().unwrap();
    assert!(matches!(timed.join().unwrap(), Err(RecvError::Timeout)));
    assert_eq!(q2.balance(), 0);
}

// Barrier: everyone waits until all arrive, one leader per round, round after round.
#[test]
fn barrier_rounds_have_one_leader_each() {
    let sched = support::scheduler();
    let b = Barrier::new(3);
    let leaders = Rc::new(Cell::new(0));
    let log = Log::new();
    for i in 0..3 {
        let (b, leaders, log) = (b.clone(), leaders.clone(), log.clone());
        sched
            .spawn(move || {
                for round in 0..3 {
                    log.push(format!("arrive {round}"));
                    if b.wait().unwrap().is_leader {
                        leaders.set(leaders.get() + 1);
                    }
                    let _ = i;
                }
            })
            .unwrap();
    }
    sched.run().unwrap();
    assert_eq!(leaders.get(), 3);
    let log = log.get();
    // No one arrives at round r+1 before all arrived at round r.
    for r in 0..3 {
        let first_next = log.iter().position(|l| *l == format!("arrive {}", r + 1));
        let last_this = log
            .iter()
            .rposition(|l| *l == format!("arrive {r}"))
            .unwrap();
        if let Some(f) = first_next {
            assert!(f > last_this, "{log:?}");
        }
    }
}

// STACKLESS.md "Time": every blocking call can be given a deadline; on expiry it
// returns a timeout error and leaves the wait queue (balance corrected).
#[test]
fn every_timed_wait_leaves_its_queue_on_timeout() {
    let sched = support::manual();
    let ch = Channel::<u32>::new();
    let out = Channel::<u32>::new();
    let q = Queue::<u32>::bounded(1);
    q.try_put(0).unwrap();
    let lock = Rc::new(Lock::new());
    lock.acquire().unwrap();
    let sem = Semaphore::new(0);
    let ev = Event::new();
    let barrier = Barrier::new(2);
    let results = Log::new();
    macro_rules! timed {
        ($name:literal, $body:expr) => {{
            let r = results.clone();
            sched
                .spawn(move || {
                    let ok = $body;
                    r.push(format!("{}:{}", $name, ok));
                })
                .unwrap();
        }};
    }
    let c = ch.clone();
    timed!(
        "recv",
        matches!(c.receive_timeout(ms(4)), Err(ChannelError::Timeout))
    );
    let c = out.clone();
    timed!("send", {
        let e = c.send_timeout(7, ms(4)).unwrap_err();
        matches!(e.error, ChannelError::Timeout) && e.into_inner() == 7
    });
    let qq = q.clone();
    timed!("put", qq.put_timeout(1, ms(4)).is_err());
    let l = lock.clone();
    timed!("lock", l.lock_timeout(ms(4)).is_err());
    let s = sem.clone();
    timed!("sem", s.acquire_timeout(ms(4)).is_err());
    let e = ev.clone();
    timed!("event", e.wait_timeout(ms(4)).is_err());
    let b = barrier.clone();
    timed!("barrier", b.wait_timeout(ms(4)).is_err());
    let c = ch.clone();
    timed!(
        "select",
        select()
            .recv(&c, |_| false)
            .timeout(ms(4), || true)
            .wait()
            .unwrap()
    );
    sched.run().unwrap();
    assert_eq!(sched.blocked_count(), 8);
    assert_eq!(sched.timer_count(), 8);
    sched.advance(ms(3));
    sched.run().unwrap();
    assert!(results.get().is_empty());
    sched.advance(ms(1));
    sched.run().unwrap();
    let mut got = results.get();
    got.sort();
    assert_eq!(
        got,
        [
            "barrier:true",
            "event:true",
            "lock:true",
            "put:true",
            "recv:true",
            "select:true",
            "sem:true",
            "send:true"
        ]
    );
    assert_eq!((ch.balance(), out.balance()), (0, 0));
    assert_eq!(q.balance(), 0);
    assert_eq!(
        (
            lock.waiting(),
            sem.waiting(),
            ev.waiting(),
            barrier.waiting()
        ),
        (0, 0, 0, 0)
    );
    assert_eq!(sched.alive_count(), 0);
}

// select (STACKLESS.md "improve"): whichever source is ready fires; a send arm; a default
// makes it non-blocking; main selecting on nothing that can fire is a deadlock.
#[test]
fn select_over_channels_and_queues() {
    let sched = support::manual();
    let a = Channel::<u32>::new();
    let b = Queue::<u32>::new();
    let out = Channel::<&'static str>::new();
    let (a2, b2, out2) = (a.clone(), b.clone(), out.clone());
    let t = sched
        .spawn(move || {
            let mut seen = Vec::new();
            for _ in 0..3 {
                let got = select()
                    .recv(&a2, |v| format!("a{v}"))
                    .recv(&b2, |v| format!("b{v}"))
                    .send(&out2, "hello", || "sent".to_owned())
                    .wait()
                    .unwrap();
                seen.push(got);
            }
            seen
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(t.tasklet().state(), TaskletState::Blocked);
    b.put(1).unwrap();
    sched.run().unwrap();
    a.send(2).unwrap();
    sched.run().unwrap();
    assert_eq!(out.receive().unwrap(), "hello");
    sched.run().unwrap();
    assert_eq!(t.join().unwrap(), ["b1", "a2", "sent"]);
    assert_eq!((a.balance(), b.balance(), out.balance()), (0, 0, 0));
    let polled = select().recv(&a, |v| v).default(|| 0).wait().unwrap();
    assert_eq!(polled, 0);
    assert!(matches!(
        select().recv(&a, |v| v).wait(),
        Err(ChannelError::Deadlock)
    ));
    assert_eq!(a.balance(), 0);
}

// join_all / try_join_all (stacklesslib parallel): results in order, the first error
// surfaces and the others are killed.
#[test]
fn join_all_keeps_order_and_try_join_all_surfaces_the_first_error() {
    let sched = support::manual();
    let t = sched
        .spawn(|| {
            let jobs: Vec<Box<dyn FnOnce() -> u64>> = (0..5u64)
                .map(|i| {
                    Box::new(move || {
                        uthread::sleep(ms(10 - 2 * i)).unwrap();
                        i * i
                    }) as Box<dyn FnOnce() -> u64>
                })
                .collect();
            let all = join_all(jobs, OnError::KillOthers).unwrap();
            let jobs: Vec<Box<dyn FnOnce() -> Result<u32, String>>> = vec![
                Box::new(|| {
                    uthread::sleep(ms(100)).unwrap();
                    Ok(1)
                }),
                Box::new(|| {
                    uthread::sleep(ms(1)).unwrap();
                    Err("second fails first".to_owned())
                }),
                Box::new(|| {
                    uthread::sleep(ms(5)).unwrap();
                    Err("third fails later".to_owned())
                }),
            ];
            let first = match try_join_all(jobs, OnError::KillOthers) {
                Err(ParallelError::Failed { index, error }) => format!("{index}:{error}"),
                other => format!("{other:?}"),
            };
            (all, first)
        })
        .unwrap();
    for _ in 0..20 {
        sched.advance(ms(1));
        sched.run().unwrap();
    }
    let (all, first) = t.join().unwrap();
    assert_eq!(all, [0, 1, 4, 9, 16]);
    assert_eq!(first, "1:second fails first");
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert_eq!(sched.alive_count(), 0);
}

// A non-blocking channel (uthread's Queue, unbounded): puts never block, even from main
// with nobody reading, and the items wait in order.
#[test]
fn an_unbounded_queue_never_blocks_a_sender() {
    let sched = support::scheduler();
    let q = Queue::new();
    for i in 0..1000 {
        q.put(i).unwrap();
    }
    assert_eq!(q.len(), 1000);
    let rx = q.clone();
    let t = sched
        .spawn(move || (0..1000).map(|_| rx.get().unwrap()).sum::<u32>())
        .unwrap();
    sched.run().unwrap();
    assert_eq!(t.join().unwrap(), (0..1000).sum());
}

// Tasklet-local storage: each tasklet sees only its own values.
#[test]
fn tasklet_locals_are_per_tasklet() {
    let sched = support::scheduler();
    let mut hs = Vec::new();
    for i in 0..3u32 {
        hs.push(
            sched
                .spawn(move || {
                    uthread::local::set(i).unwrap();
                    uthread::schedule().unwrap();
                    uthread::local::with(|v: &u32| *v).unwrap()
                })
                .unwrap(),
        );
    }
    sched.run().unwrap();
    let got: Vec<u32> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(got, [0, 1, 2]);
}

// A zero-capacity bounded queue is a documented corner: whatever it means, putting into
// it must neither panic nor hang the scheduler, and a getter waiting on it must not be
// left stranded by a put.
#[test]
fn a_zero_capacity_queue_neither_panics_nor_strands_a_getter() {
    let _guard = support::hang_guard(Duration::from_secs(20));
    let sched = support::manual();
    let q = Queue::<u32>::bounded(0);
    let rx = q.clone();
    let getter = sched.spawn(move || rx.get_timeout(ms(10))).unwrap();
    sched.run().unwrap();
    let tx = q.clone();
    let putter = sched
        .spawn(move || tx.put_timeout(5, ms(10)).is_ok())
        .unwrap();
    sched.run().unwrap();
    sched.advance(ms(10));
    sched.run().unwrap();
    let got = getter.join().unwrap();
    let put = putter.join().unwrap();
    assert_eq!(
        got.is_ok(),
        put,
        "the item went to the getter or stayed with the putter"
    );
}

// STACKLESS.md "Deadlock": the main context blocking where nothing can ever wake it gets
// a deadlock error from every kind of wait, and leaves no entry behind.
#[test]
fn main_deadlocks_on_every_primitive_and_leaves_every_queue_clean() {
    let sched = support::manual();
    // A tasklet holds the lock and waits forever on a channel nobody sends on.
    let lock = Rc::new(Lock::new());
    let never = Channel::<u32>::new();
    let (l, n) = (lock.clone(), never.clone());
    let holder = sched
        .spawn(move || {
            let _g = l.lock().unwrap();
            let _ = n.receive();
        })
        .unwrap();
    sched.run().unwrap();
    let is_deadlock = |e: &WaitError| matches!(e, WaitError::Deadlock);
    assert!(matches!(
        lock.lock(),
        Err(LockError::Wait(WaitError::Deadlock))
    ));
    assert_eq!(lock.waiting(), 0);
    let sem = Semaphore::new(0);
    assert!(sem.acquire().is_err_and(|e| is_deadlock(&e)));
    assert_eq!(sem.waiting(), 0);
    let ev = Event::new();
    assert!(ev.wait().is_err_and(|e| is_deadlock(&e)));
    assert_eq!(ev.waiting(), 0);
    let barrier = Barrier::new(2);
    assert!(barrier.wait().is_err_and(|e| is_deadlock(&e)));
    assert_eq!(barrier.waiting(), 0);
    let q = Queue::<u32>::new();
    assert!(matches!(q.get(), Err(ChannelError::Deadlock)));
    assert_eq!(q.balance(), 0);
    let full = Queue::bounded(1);
    full.put(1).unwrap();
    assert!(full
        .put(2)
        .is_err_and(|e| matches!(e.error, ChannelError::Deadlock)));
    assert_eq!(full.balance(), 0);
    let other_lock = Lock::new();
    let cond = Condition::new();
    let g = other_lock.lock().unwrap();
    assert!(matches!(
        cond.wait(g),
        Err(LockError::Wait(WaitError::Deadlock))
    ));
    assert_eq!(cond.waiting(), 0);
    assert!(
        !other_lock.is_locked(),
        "an interrupted condition wait does not hold the lock"
    );
    let (a, b) = (Channel::<u32>::new(), Queue::<u32>::new());
    assert!(matches!(
        select().recv(&a, |v| v).recv(&b, |v| v).wait(),
        Err(ChannelError::Deadlock)
    ));
    assert_eq!((a.balance(), b.balance()), (0, 0));
    assert!(matches!(
        holder.tasklet().blocked_on(),
        Some(uthread::BlockedOn::Receive(_))
    ));
    // Joining the stuck tasklet is a deadlock too.
    let r = holder.join();
    assert!(
        matches!(r, Err(uthread::JoinError::Wait(WaitError::Deadlock))),
        "{r:?}"
    );
    assert_eq!(never.balance(), -1);
    drop(sched);
    assert_eq!(never.balance(), 0);
    assert!(!lock.is_locked());
}

// A tasklet that joins itself can never finish: it is told so rather than blocked forever.
#[test]
fn a_tasklet_joining_itself_is_refused() {
    let _guard = support::hang_guard(Duration::from_secs(20));
    let sched = support::scheduler();
    let slot = Rc::new(RefCell::new(None::<uthread::JoinHandle<()>>));
    let log = Log::new();
    let (s, l) = (slot.clone(), log.clone());
    let t = sched
        .spawn(move || {
            let mut me = s.borrow_mut().take().unwrap();
            let timed = me.join_timeout(ms(1));
            l.push(format!("{:?}", timed.map_err(|e| e.to_string())));
            let r = me.join();
            l.push(format!("{:?}", r.map_err(|e| e.to_string())));
        })
        .unwrap();
    let tasklet = t.tasklet().clone();
    *slot.borrow_mut() = Some(t);
    let outcome = sched.run().unwrap();
    assert!(
        matches!(outcome, RunOutcome::Finished),
        "{outcome:?}, the tasklet is {:?}",
        tasklet.state()
    );
    let err = format!(
        "{:?}",
        Err::<(), _>(uthread::JoinError::Wait(WaitError::Deadlock).to_string())
    );
    assert_eq!(log.get(), [err.clone(), err]);
}
