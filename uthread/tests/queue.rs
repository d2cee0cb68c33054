//! Queues: unbounded puts never block, gets wait in FIFO order, bounded puts block while
//! full and keep their order, close wakes getters and gives putters their values back,
//! timeouts and kills leave the queue consistent, and drain returns everything in order.

mod support;

use support::{manual, ms, Drops, Log, Token};
use uthread::{BlockedOn, ChannelError, Queue, RunOutcome, SendError, TryRecvError, TrySendError};

#[test]
fn an_unbounded_queue_buffers_without_blocking_and_gives_items_in_order() {
    let sched = manual();
    let q = Queue::with_name("mailbox");
    assert_eq!(q.name(), Some("mailbox"));
    assert_eq!(q.capacity(), None);
    assert!(q.is_empty());
    assert!(matches!(q.try_get(), Err(TryRecvError::Empty)));
    for i in 0..1000 {
        q.put(i).unwrap(); // the main context, no tasklet to take them: never blocks
    }
    assert_eq!(q.len(), 1000);
    q.try_put(1000).unwrap();
    let got: Vec<i32> = (0..1001).map(|_| q.get().unwrap()).collect();
    assert_eq!(got, (0..1001).collect::<Vec<_>>());
    assert_eq!(q.balance(), 0);
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
}

#[test]
fn getters_wait_in_fifo_order_and_each_put_serves_the_first() {
    let sched = manual();
    let q = Queue::<u32>::new();
    let log = Log::new();
    let mut getters = Vec::new();
    for i in 0..3 {
        let (q, log) = (q.clone(), log.clone());
        getters.push(
            sched
                .spawn(move || log.push(format!("{i} got {}", q.get().unwrap())))
                .unwrap(),
        );
    }
    sched.run().unwrap();
    assert_eq!(q.balance(), -3);
    assert!(matches!(
        getters[0].tasklet().blocked_on(),
        Some(BlockedOn::QueueGet(ref o)) if o.id == q.id()
    ));
    q.put(10).unwrap();
    assert_eq!(q.balance(), -2);
    assert!(q.is_empty(), "handed straight to the first getter");
    q.put(20).unwrap();
    q.put(30).unwrap();
    sched.run().unwrap();
    assert_eq!(log.take(), ["0 got 10", "1 got 20", "2 got 30"]);
    assert_eq!(q.balance(), 0);
}

#[test]
fn a_bounded_queue_blocks_putters_while_full_and_keeps_their_order() {
    let sched = manual();
    let q = Queue::bounded_with_name(2, "hangar");
    assert_eq!(q.capacity(), Some(2));
    q.put(0).unwrap();
    q.put(1).unwrap();
    assert!(matches!(q.try_put(99), Err(TrySendError::Full(99))));
    let mut putters = Vec::new();
    for i in 2..5 {
        let q = q.clone();
        putters.push(sched.spawn(move || q.put(i)).unwrap());
    }
    sched.run().unwrap();
    assert_eq!(q.balance(), 3, "three putters wait");
    assert_eq!(q.len(), 2);
    assert!(matches!(
        putters[0].tasklet().blocked_on(),
        Some(BlockedOn::QueuePut(ref o)) if o.name.as_deref() == Some("hangar")
    ));
    // Each get makes room for the first waiting putter, at the back of the queue.
    assert_eq!(q.get().unwrap(), 0);
    assert_eq!((q.len(), q.balance()), (2, 2));
    let rest: Vec<i32> = (0..4).map(|_| q.get().unwrap()).collect();
    assert_eq!(rest, [1, 2, 3, 4]);
    sched.run().unwrap();
    for p in putters {
        assert!(p.join().unwrap().is_ok());
    }
    assert_eq!(q.balance(), 0);
    assert_eq!(Queue::<u8>::bounded(0).capacity(), Some(1), "at least one");
}

#[test]
fn drain_takes_everything_in_order_and_lets_the_waiting_putters_in() {
    let sched = manual();
    let q = Queue::bounded(2);
    q.put(0).unwrap();
    q.put(1).unwrap();
    for i in 2..4 {
        let q = q.clone();
        sched.spawn(move || q.put(i).unwrap()).unwrap();
    }
    sched.run().unwrap();
    assert_eq!(q.drain(), [0, 1, 2, 3]);
    assert_eq!(q.balance(), 0);
    assert!(q.drain().is_empty());
    sched.run().unwrap();
    assert_eq!(sched.alive_count(), 0);
}

#[test]
fn close_wakes_getters_and_gives_waiting_putters_their_values_back() {
    let sched = manual();
    let empty = Queue::<u32>::new();
    let full = Queue::bounded(1);
    full.put(String::from("stored")).unwrap();
    let e = empty.clone();
    let getter = sched.spawn(move || e.get()).unwrap();
    let f = full.clone();
    let putter = sched.spawn(move || f.put(String::from("waiting"))).unwrap();
    sched.run().unwrap();
    empty.close();
    full.close();
    assert!(empty.is_closed() && full.is_closed());
    sched.run().unwrap();
    assert!(matches!(getter.join().unwrap(), Err(ChannelError::Closed)));
    match putter.join().unwrap() {
        Err(SendError {
            value,
            error: ChannelError::Closed,
        }) => assert_eq!(value, "waiting"),
        other => panic!("{other:?}"),
    }
    // Puts fail from now on, with the value back; gets drain what is left, then fail.
    assert!(
        matches!(full.put(String::from("late")), Err(SendError { ref value, .. }) if value == "late")
    );
    assert!(matches!(
        full.try_put(String::from("x")),
        Err(TrySendError::Closed(_))
    ));
    assert_eq!(full.get().unwrap(), "stored");
    assert!(matches!(full.get(), Err(ChannelError::Closed)));
    assert!(matches!(full.try_get(), Err(TryRecvError::Closed)));
    assert_eq!((empty.balance(), full.balance()), (0, 0));
}

#[test]
fn timed_gets_and_puts_leave_the_queue_and_return_the_value() {
    let sched = manual();
    let q = Queue::<u32>::bounded(1);
    let g = q.clone();
    let getter = sched.spawn(move || g.get_timeout(ms(5))).unwrap();
    sched.run().unwrap();
    assert_eq!(q.balance(), -1);
    sched.advance(ms(5));
    assert_eq!(q.balance(), 0);
    sched.run().unwrap();
    assert!(matches!(getter.join().unwrap(), Err(ChannelError::Timeout)));

    q.put(1).unwrap();
    let p = q.clone();
    let putter = sched.spawn(move || p.put_timeout(2, ms(5))).unwrap();
    sched.run().unwrap();
    assert_eq!(q.balance(), 1);
    sched.advance(ms(5));
    sched.run().unwrap();
    match putter.join().unwrap() {
        Err(SendError {
            value: 2,
            error: ChannelError::Timeout,
        }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(q.balance(), 0);
    assert_eq!(q.drain(), [1], "the timed-out value was not stored");
    // Timed calls that need not wait succeed at once.
    q.put_timeout(3, ms(1)).unwrap();
    assert_eq!(q.get_timeout(ms(1)).unwrap(), 3);
}

#[test]
fn a_killed_putter_drops_its_value_once_and_the_next_putter_is_still_served() {
    let sched = manual();
    let drops = Drops::new();
    let q = Queue::<Token>::bounded(1);
    q.put(drops.token()).unwrap();
    let (qq, d) = (q.clone(), drops.clone());
    let victim = sched
        .spawn(move || {
            let _on_stack = d.token();
            let _ = qq.put(d.token());
            unreachable!("killed while waiting for room");
        })
        .unwrap();
    let (qq, d) = (q.clone(), drops.clone());
    let next = sched.spawn(move || qq.put(d.token()).is_ok()).unwrap();
    sched.run().unwrap();
    assert_eq!(q.balance(), 2);
    victim.tasklet().kill().unwrap();
    assert_eq!(drops.count(), 2, "the victim's stack token and its value");
    assert_eq!(q.balance(), 1);
    drop(q.get().unwrap());
    sched.run().unwrap();
    assert!(next.join().unwrap());
    assert_eq!(q.len(), 1);
    drop(q.drain());
    assert_eq!(drops.count(), 4);
}

#[test]
fn the_main_context_getting_from_an_empty_queue_nobody_fills_is_a_deadlock() {
    let sched = manual();
    let q = Queue::<u32>::new();
    assert!(matches!(q.get(), Err(ChannelError::Deadlock)));
    assert_eq!(q.balance(), 0);
    // With a tasklet that will put, the main context's get runs it and returns.
    let p = q.clone();
    sched
        .spawn(move || {
            uthread::schedule().unwrap();
            p.put(5).unwrap();
        })
        .unwrap();
    assert_eq!(q.get().unwrap(), 5);
}

#[test]
fn an_unbounded_put_from_a_destructor_during_a_kill_is_delivered() {
    struct Farewell(Queue<&'static str>);
    impl Drop for Farewell {
        fn drop(&mut self) {
            // Puts on an unbounded queue never block, so this is safe while unwinding.
            self.0.put("goodbye").unwrap();
        }
    }
    let sched = manual();
    let q = Queue::new();
    let f = Farewell(q.clone());
    let t = sched
        .spawn(move || {
            let _f = f;
            uthread::sleep(ms(1000)).unwrap();
        })
        .unwrap();
    sched.run().unwrap();
    t.tasklet().kill().unwrap();
    assert_eq!(q.drain(), ["goodbye"]);
}
