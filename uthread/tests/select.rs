//! `select`: receive arms on channels, queues, one-shots and remote channels, send arms,
//! timeout and default arms, closed arms, fairness between ready arms, the other arms'
//! wait entries removed when one fires, and kill or throw during a select.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use support::{manual, ms, Drops, Token};
use uthread::{oneshot, select, BlockedOn, Channel, ChannelError, Queue, RunOutcome, SendError};

#[derive(Debug, PartialEq, Eq, Hash, Clone, Copy)]
enum Got {
    A(u32),
    B(u32),
    Sent,
    Timeout,
    Nothing,
}

#[test]
fn a_ready_arm_fires_without_blocking_whatever_its_source() {
    let sched = manual();
    let ch = Channel::<u32>::new();
    let q = Queue::<u32>::new();
    let (otx, orx) = oneshot::<u32>();

    q.put(1).unwrap();
    assert_eq!(
        select().recv(&ch, Got::A).recv(&q, Got::B).wait().unwrap(),
        Got::B(1)
    );

    let c = ch.clone();
    sched.spawn(move || c.send(2).unwrap()).unwrap();
    sched.run().unwrap();
    assert_eq!(ch.balance(), 1);
    assert_eq!(
        select().recv(&q, Got::B).recv(&ch, Got::A).wait().unwrap(),
        Got::A(2)
    );
    assert_eq!(ch.balance(), 0);

    otx.send(4).unwrap();
    assert_eq!(
        select()
            .recv(&ch, Got::A)
            .recv(&orx, Got::B)
            .wait()
            .unwrap(),
        Got::B(4)
    );

    // Last, since a live remote sender keeps an idle scheduler waiting for it.
    let (tx, rx) = sched.remote_channel::<u32>();
    tx.send(3).unwrap();
    assert_eq!(
        select().recv(&ch, Got::A).recv(&rx, Got::B).wait().unwrap(),
        Got::B(3)
    );
}

#[test]
fn a_waiting_select_is_served_by_the_first_partner_and_leaves_every_other_queue() {
    let sched = manual();
    let a = Channel::<u32>::with_name("a");
    let b = Channel::<u32>::new();
    let q = Queue::<u32>::new();
    let (otx, orx) = oneshot::<u32>();
    let (a2, b2, q2) = (a.clone(), b.clone(), q.clone());
    let chooser = sched
        .spawn(move || {
            select()
                .recv(&a2, Got::A)
                .recv(&b2, Got::B)
                .recv(&q2, |v| Got::B(v + 100))
                .recv(&orx, |v| Got::B(v + 1000))
                .wait()
                .unwrap()
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(
        chooser.tasklet().blocked_on(),
        Some(BlockedOn::Select { arms: 4 })
    );
    assert_eq!((a.balance(), b.balance(), q.balance()), (-1, -1, -1));
    b.send(7).unwrap();
    assert_eq!(
        (a.balance(), b.balance(), q.balance()),
        (0, 0, 0),
        "the other arms' entries went with the wake"
    );
    sched.run().unwrap();
    assert_eq!(chooser.join().unwrap(), Got::B(7));
    // Nothing was left behind: a later send on `a` blocks, a later put stays buffered,
    // and the one-shot value stays for its receiver (dropped with the select).
    assert!(a.try_send(1).is_err());
    q.put(5).unwrap();
    assert_eq!(q.len(), 1);
    assert!(otx.is_closed());
}

#[test]
fn a_send_arm_fires_when_a_receiver_takes_the_value() {
    let sched = manual();
    let out = Channel::<u32>::new();
    let other = Channel::<u32>::new();
    let (o, x) = (out.clone(), other.clone());
    let sender = sched
        .spawn(move || {
            select()
                .send(&o, 5, || Got::Sent)
                .recv(&x, Got::A)
                .wait()
                .unwrap()
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!((out.balance(), other.balance()), (1, -1));
    assert_eq!(out.receive().unwrap(), 5);
    sched.run().unwrap();
    assert_eq!(sender.join().unwrap(), Got::Sent);
    assert_eq!((out.balance(), other.balance()), (0, 0));

    // A receiver already waiting: the send arm fires at once.
    let o = out.clone();
    let receiver = sched.spawn(move || o.receive().unwrap()).unwrap();
    sched.run().unwrap();
    assert_eq!(
        select().send(&out, 6, || Got::Sent).wait().unwrap(),
        Got::Sent
    );
    sched.run().unwrap();
    assert_eq!(receiver.join().unwrap(), 6);
}

#[test]
fn the_value_of_a_send_arm_that_did_not_fire_is_dropped_exactly_once() {
    let sched = manual();
    let drops = Drops::new();
    let out = Channel::<Token>::new();
    let trigger = Channel::<u32>::new();
    let (o, t, d) = (out.clone(), trigger.clone(), drops.clone());
    let chooser = sched
        .spawn(move || {
            select()
                .send(&o, d.token(), || Got::Sent)
                .recv(&t, Got::A)
                .wait()
                .unwrap()
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(out.balance(), 1);
    trigger.send(1).unwrap();
    assert_eq!(out.balance(), 0);
    sched.run().unwrap();
    assert_eq!(chooser.join().unwrap(), Got::A(1));
    assert_eq!(drops.count(), 1);
    assert!(matches!(
        out.try_receive(),
        Err(uthread::TryRecvError::Empty)
    ));
}

#[test]
fn the_timeout_arm_fires_at_its_deadline_and_is_retired_when_another_arm_fires() {
    let sched = manual();
    let ch = Channel::<u32>::new();
    let c = ch.clone();
    let waiter = sched
        .spawn(move || {
            select()
                .recv(&c, Got::A)
                .timeout(ms(10), || Got::Timeout)
                .wait()
                .unwrap()
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(sched.timer_count(), 1);
    sched.advance(ms(9));
    sched.run().unwrap();
    assert!(!waiter.is_finished());
    sched.advance(ms(1));
    assert_eq!(ch.balance(), 0, "the tick took it off the channel");
    sched.run().unwrap();
    assert_eq!(waiter.join().unwrap(), Got::Timeout);

    let c = ch.clone();
    let waiter = sched
        .spawn(move || {
            select()
                .recv(&c, Got::A)
                .timeout(ms(10), || Got::Timeout)
                .wait()
                .unwrap()
        })
        .unwrap();
    sched.run().unwrap();
    ch.send(3).unwrap();
    sched.run().unwrap();
    assert_eq!(waiter.join().unwrap(), Got::A(3));
    assert_eq!(sched.timer_count(), 0);
    sched.advance(ms(20));
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
}

#[test]
fn a_zero_timeout_polls() {
    let _sched = manual();
    let ch = Channel::<u32>::new();
    assert_eq!(
        select()
            .recv(&ch, Got::A)
            .timeout(Duration::ZERO, || Got::Timeout)
            .wait()
            .unwrap(),
        Got::Timeout
    );
    assert_eq!(ch.balance(), 0);
}

#[test]
fn the_default_arm_makes_select_non_blocking() {
    let _sched = manual();
    let ch = Channel::<u32>::new();
    let q = Queue::<u32>::new();
    let got = select()
        .recv(&ch, Got::A)
        .recv(&q, Got::B)
        .default(|| Got::Nothing)
        .wait()
        .unwrap();
    assert_eq!(got, Got::Nothing);
    assert_eq!((ch.balance(), q.balance()), (0, 0));
    q.put(8).unwrap();
    let got = select()
        .recv(&ch, Got::A)
        .recv(&q, Got::B)
        .default(|| Got::Nothing)
        .wait()
        .unwrap();
    assert_eq!(got, Got::B(8));
    // A send arm with nobody to take the value: the default, and the value is dropped.
    let drops = Drops::new();
    let out = Channel::<Token>::new();
    let got = select()
        .send(&out, drops.token(), || Got::Sent)
        .default(|| Got::Nothing)
        .wait()
        .unwrap();
    assert_eq!(got, Got::Nothing);
    assert_eq!(drops.count(), 1);
}

#[test]
fn a_select_whose_arms_are_all_closed_fails_with_closed() {
    let sched = manual();
    let ch = Channel::<u32>::new();
    let q = Queue::<u32>::new();
    ch.close();
    q.close();
    assert!(matches!(
        select().recv(&ch, Got::A).recv(&q, Got::B).wait(),
        Err(ChannelError::Closed)
    ));
    let (tx, rx) = sched.remote_channel::<u32>();
    drop(tx);
    let (otx, orx) = oneshot::<u32>();
    drop(otx);
    assert!(matches!(
        select().recv(&rx, Got::A).recv(&orx, Got::B).wait(),
        Err(ChannelError::Closed)
    ));
    // Closed arms are skipped while another can still fire.
    let open = Queue::<u32>::new();
    open.put(1).unwrap();
    assert_eq!(
        select()
            .recv(&ch, Got::A)
            .recv(&open, Got::B)
            .wait()
            .unwrap(),
        Got::B(1)
    );
    // A queue closed with items left still delivers them first.
    let draining = Queue::<u32>::new();
    draining.put(2).unwrap();
    draining.close();
    assert_eq!(select().recv(&draining, Got::B).wait().unwrap(), Got::B(2));
    assert!(select().recv(&draining, Got::B).wait().is_err());
}

#[test]
fn an_arm_closed_during_the_wait_does_not_end_the_select_while_another_is_open() {
    let sched = manual();
    let a = Channel::<u32>::new();
    let b = Channel::<u32>::new();
    let q = Queue::<u32>::new();
    let (otx, orx) = oneshot::<u32>();
    let (a2, b2, q2) = (a.clone(), b.clone(), q.clone());
    let chooser = sched
        .spawn(move || {
            select()
                .recv(&a2, Got::A)
                .recv(&q2, Got::A)
                .recv(&orx, Got::A)
                .recv(&b2, Got::B)
                .wait()
        })
        .unwrap();
    sched.run().unwrap();
    a.close_now();
    q.close();
    drop(otx);
    sched.run().unwrap();
    assert!(
        !chooser.is_finished(),
        "closed arms are skipped; b is still open"
    );
    assert_eq!(b.balance(), -1);
    b.send(4).unwrap();
    sched.run().unwrap();
    assert_eq!(chooser.join().unwrap().unwrap(), Got::B(4));

    // Once the last open arm closes too, the select fails with Closed.
    let (a2, b2) = (a.clone(), b.clone());
    let chooser = sched
        .spawn(move || select().recv(&a2, Got::A).recv(&b2, Got::B).wait())
        .unwrap();
    sched.run().unwrap();
    b.close_now();
    sched.run().unwrap();
    assert!(matches!(chooser.join().unwrap(), Err(ChannelError::Closed)));
}

#[test]
fn ready_arms_fire_fairly() {
    let _sched = manual();
    const ROUNDS: u32 = 2000;
    let a = Queue::<u32>::new();
    let b = Queue::<u32>::new();
    for i in 0..ROUNDS {
        a.put(i).unwrap();
        b.put(i).unwrap();
    }
    let mut count: HashMap<char, u32> = HashMap::new();
    let mut longest_run = 0;
    let mut run = (' ', 0);
    for _ in 0..ROUNDS {
        let which = select().recv(&a, |_| 'a').recv(&b, |_| 'b').wait().unwrap();
        *count.entry(which).or_default() += 1;
        run = if run.0 == which {
            (which, run.1 + 1)
        } else {
            (which, 1)
        };
        longest_run = longest_run.max(run.1);
    }
    let (ca, cb) = (count[&'a'], count[&'b']);
    assert_eq!(ca + cb, ROUNDS);
    // Both always ready: each should win about half the time, never starve for long.
    assert!(
        ca > ROUNDS * 2 / 5 && cb > ROUNDS * 2 / 5,
        "a won {ca}, b won {cb}"
    );
    assert!(longest_run < 40, "one arm won {longest_run} times in a row");
}

#[test]
fn three_ready_channel_arms_all_get_their_turn() {
    let sched = manual();
    let chans: Vec<Channel<usize>> = (0..3).map(|_| Channel::new()).collect();
    // Each channel has a sender that sends forever.
    for (i, ch) in chans.iter().enumerate() {
        let ch = ch.clone();
        sched.spawn(move || while ch.send(i).is_ok() {}).unwrap();
    }
    sched.run().unwrap();
    let mut wins = [0u32; 3];
    for _ in 0..900 {
        let i = select()
            .recv(&chans[0], |v| v)
            .recv(&chans[1], |v| v)
            .recv(&chans[2], |v| v)
            .wait()
            .unwrap();
        wins[i] += 1;
        sched.run().unwrap(); // the sender that was served blocks again
    }
    assert!(wins.iter().all(|&w| w > 200), "wins {wins:?}");
    for ch in &chans {
        ch.close_now();
    }
    sched.run().unwrap();
    assert_eq!(sched.alive_count(), 0);
}

#[test]
fn killing_a_select_removes_every_entry_and_drops_what_it_held_once() {
    let sched = manual();
    let drops = Drops::new();
    let a = Channel::<u32>::new();
    let out = Channel::<Token>::new();
    let q = Queue::<u32>::new();
    let (a2, o2, q2, d) = (a.clone(), out.clone(), q.clone(), drops.clone());
    let victim = sched
        .spawn(move || {
            let _on_stack = d.token();
            let _ = select()
                .recv(&a2, Got::A)
                .send(&o2, d.token(), || Got::Sent)
                .recv(&q2, Got::B)
                .timeout(Duration::from_secs(60), || Got::Timeout)
                .wait();
            unreachable!("killed in the select");
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!((a.balance(), out.balance(), q.balance()), (-1, 1, -1));
    assert_eq!(sched.timer_count(), 1);
    victim.tasklet().kill().unwrap();
    assert_eq!(drops.count(), 2, "the stack token and the unsent value");
    assert_eq!((a.balance(), out.balance(), q.balance()), (0, 0, 0));
    assert_eq!(sched.timer_count(), 0);
    // The channels still work for the next select.
    let a2 = a.clone();
    let next = sched
        .spawn(move || select().recv(&a2, Got::A).wait().unwrap())
        .unwrap();
    sched.run().unwrap();
    a.send(1).unwrap();
    sched.run().unwrap();
    assert_eq!(next.join().unwrap(), Got::A(1));
}

#[test]
fn errors_thrown_into_a_select_or_sent_on_an_arm_come_back_as_thrown() {
    let sched = manual();
    let a = Channel::<u32>::new();
    let b = Channel::<u32>::new();
    let (a2, b2) = (a.clone(), b.clone());
    let victim = sched
        .spawn(move || select().recv(&a2, Got::A).recv(&b2, Got::B).wait())
        .unwrap();
    sched.run().unwrap();
    victim.tasklet().throw("abort").unwrap();
    assert!(matches!(
        victim.join().unwrap(),
        Err(ChannelError::Thrown(_))
    ));
    assert_eq!((a.balance(), b.balance()), (0, 0));

    let (a2, b2) = (a.clone(), b.clone());
    let victim = sched
        .spawn(move || select().recv(&a2, Got::A).recv(&b2, Got::B).wait())
        .unwrap();
    sched.run().unwrap();
    b.send_throw("bad cargo").unwrap();
    sched.run().unwrap();
    match victim.join().unwrap() {
        Err(ChannelError::Thrown(t)) => assert!(t.to_string().contains("bad cargo")),
        other => panic!("{other:?}"),
    }
    assert_eq!((a.balance(), b.balance()), (0, 0));
}

#[test]
fn the_main_context_selects_by_running_tasklets_and_gets_a_deadlock_if_nothing_can_fire() {
    let sched = support::scheduler();
    let a = Channel::<u32>::new();
    let a2 = a.clone();
    sched
        .spawn(move || {
            uthread::schedule().unwrap();
            a2.send(9).unwrap();
        })
        .unwrap();
    assert_eq!(select().recv(&a, Got::A).wait().unwrap(), Got::A(9));
    assert!(matches!(
        select().recv(&a, Got::A).wait(),
        Err(ChannelError::Deadlock)
    ));
    assert_eq!(a.balance(), 0);
}

#[test]
fn two_selects_competing_for_one_value_get_it_once() {
    let sched = manual();
    let ch = Channel::<u32>::new();
    let other = Channel::<u32>::new();
    let mut choosers = Vec::new();
    for _ in 0..2 {
        let (c, o) = (ch.clone(), other.clone());
        choosers.push(
            sched
                .spawn(move || {
                    select()
                        .recv(&c, Got::A)
                        .recv(&o, Got::B)
                        .timeout(ms(5), || Got::Timeout)
                        .wait()
                        .unwrap()
                })
                .unwrap(),
        );
    }
    sched.run().unwrap();
    assert_eq!(ch.balance(), -2);
    ch.send(1).unwrap();
    sched.advance(ms(5));
    sched.run().unwrap();
    let got: Vec<Got> = choosers.into_iter().map(|c| c.join().unwrap()).collect();
    assert_eq!(got, [Got::A(1), Got::Timeout]);
    assert_eq!((ch.balance(), other.balance()), (0, 0));
}

#[test]
fn a_timeout_and_a_send_in_the_same_tick_have_exactly_one_outcome() {
    for sender_first in [true, false] {
        let sched = manual();
        let ch = Channel::<u32>::new();
        let c = ch.clone();
        let send = move || {
            uthread::sleep(ms(5)).unwrap();
            c.send_timeout(7, ms(5))
        };
        let c = ch.clone();
        let choose = move || {
            select()
                .recv(&c, Got::A)
                .timeout(ms(5), || Got::Timeout)
                .wait()
                .unwrap()
        };
        let (sender, chooser) = if sender_first {
            let s = sched.spawn(send).unwrap();
            (s, sched.spawn(choose).unwrap())
        } else {
            let c = sched.spawn(choose).unwrap();
            (sched.spawn(send).unwrap(), c)
        };
        sched.run().unwrap();
        sched.advance(ms(5));
        sched.run().unwrap();
        sched.advance(ms(5));
        sched.run().unwrap();
        let got = chooser.join().unwrap();
        let sent = sender.join().unwrap();
        match (got, sent) {
            (Got::A(7), Ok(())) => {}
            (Got::Timeout, Err(SendError { value: 7, .. })) => {}
            (got, sent) => panic!("sender_first={sender_first}: got {got:?}, sent {sent:?}"),
        }
        assert_eq!(ch.balance(), 0);
    }
}

/// The rotating order among ready arms belongs to the scheduler: another scheduler's
/// selects on the same thread do not change which arm this one's selects choose (shards
/// that share a thread replay as they do on threads of their own).
#[test]
fn the_order_among_ready_arms_is_kept_per_scheduler_not_per_thread() {
    use std::cell::RefCell;
    use std::rc::Rc;

    /// Runs 32 selects with both arms ready on `sched`, each followed by `between`.
    fn choices(sched: &uthread::Scheduler, between: &dyn Fn()) -> Vec<Got> {
        let got = Rc::new(RefCell::new(Vec::new()));
        for _ in 0..32 {
            let (a, b) = (Queue::<u32>::new(), Queue::<u32>::new());
            a.put(1).unwrap();
            b.put(2).unwrap();
            let got = got.clone();
            sched
                .spawn(move || {
                    let choice = select().recv(&a, Got::A).recv(&b, Got::B).wait().unwrap();
                    got.borrow_mut().push(choice);
                })
                .unwrap();
            sched.run().unwrap();
            between();
        }
        Rc::try_unwrap(got).unwrap().into_inner()
    }

    let alone = choices(&manual(), &|| {});
    let other = manual();
    let interleaved = choices(&manual(), &|| {
        // Three selects on another scheduler of this thread between each of ours.
        for _ in 0..3 {
            let (a, b) = (Queue::<u32>::new(), Queue::<u32>::new());
            a.put(1).unwrap();
            b.put(2).unwrap();
            other
                .spawn(move || {
                    select().recv(&a, Got::A).recv(&b, Got::B).wait().unwrap();
                })
                .unwrap();
            other.run().unwrap();
        }
    });
    assert_eq!(alone, interleaved);
    assert!(alone.contains(&Got::A(1)) && alone.contains(&Got::B(2)));
}
