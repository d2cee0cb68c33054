//! Stackless Python's channel conformance tests (`Stackless/unittests/test_channel.py`,
//! the channel parts of `test_miscell.py` and `test_defects.py`), ported to uthread's
//! documented API: blocking and non-blocking send/receive, balance, the preference
//! matrix, `send_exception`/`send_throw`, the block trap, close semantics and iteration.

mod support;

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use support::Log;
use uthread::{
    Channel, ChannelError, Preference, RunOutcome, TryRecvError, TrySendError, WaitError,
};

/// An error with a payload, standing in for Python's `ValueError(1, 2, 3)`: the
/// receiver must get the very value sent, not just its message.
#[derive(Debug, PartialEq)]
struct Args(u32, u32, u32);

impl fmt::Display for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Args({}, {}, {})", self.0, self.1, self.2)
    }
}

impl std::error::Error for Args {}

// testBlockingSend / testBlockingReceive: `tasklet.run()` from main runs the tasklet at
// once; it blocks, and the balance says which side waits.
#[test]
fn a_sender_with_no_receiver_blocks_and_the_balance_is_plus_one() {
    let sched = support::scheduler();
    let ch = Channel::new();
    let tx = ch.clone();
    let t = sched.spawn(move || tx.send(1u32)).unwrap();
    t.tasklet().run().unwrap();
    assert!(t.tasklet().is_blocked());
    assert_eq!(ch.balance(), 1);
    assert_eq!(ch.queue(), [t.tasklet().clone()]);
    assert_eq!(ch.receive().unwrap(), 1);
    sched.run().unwrap();
    assert!(t.join().unwrap().is_ok());
}

#[test]
fn a_receiver_with_no_sender_blocks_and_the_balance_is_minus_one() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let rx = ch.clone();
    let t = sched.spawn(move || rx.receive()).unwrap();
    t.tasklet().run().unwrap();
    assert!(t.tasklet().is_blocked());
    assert_eq!(ch.balance(), -1);
    ch.send(5).unwrap();
    sched.run().unwrap();
    assert_eq!(t.join().unwrap().unwrap(), 5);
}

// testNonBlockingSend / testNonBlockingReceive, with the block trap: uthread's
// equivalent of `block_trap = True` is the `try_` calls, which never block.
#[test]
fn with_a_partner_waiting_main_sends_and_receives_without_blocking() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let got = Rc::new(RefCell::new(Vec::new()));
    let (rx, g) = (ch.clone(), got.clone());
    let receiver = sched
        .spawn(move || g.borrow_mut().push(rx.receive().unwrap()))
        .unwrap();
    receiver.tasklet().run().unwrap();
    assert_eq!(ch.balance(), -1);
    ch.try_send(1).unwrap();
    // Receiver preference: the receiver ran at once.
    assert_eq!(*got.borrow(), [1]);
    assert!(!receiver.tasklet().is_alive());

    let tx = ch.clone();
    let sender = sched.spawn(move || tx.send(2)).unwrap();
    sender.tasklet().run().unwrap();
    assert_eq!(ch.balance(), 1);
    assert_eq!(ch.try_receive().unwrap(), 2);
    // The sender is runnable again; kill it as the Stackless test does.
    assert!(sender.tasklet().is_scheduled());
    sender.tasklet().kill().unwrap();
    assert!(!sender.tasklet().is_alive());
    assert_eq!(sched.alive_count(), 0);
}

// testBlockTrapSend / testBlockTrapRecv: in main and in a tasklet, an operation that
// would block fails instead (here: Full / Empty), and nothing is queued.
#[test]
fn the_block_trap_refuses_to_block_in_main_and_in_a_tasklet() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let check = {
        let ch = ch.clone();
        move || {
            assert!(matches!(ch.try_send(3), Err(TrySendError::Full(3))));
            assert!(matches!(ch.try_receive(), Err(TryRecvError::Empty)));
            assert_eq!(ch.balance(), 0);
            1
        }
    };
    let main_count = check();
    let t = sched.spawn(check).unwrap();
    sched.run().unwrap();
    assert_eq!(main_count + t.join().unwrap(), 2);
}

// testMainTaskletBlockingWithoutASender: the last runnable tasklet cannot block.
#[test]
fn main_receiving_alone_gets_a_deadlock_and_the_run_count_is_one() {
    let sched = support::scheduler();
    sched.enter(|| assert_eq!(uthread::run_count(), 1));
    let ch = Channel::<u32>::new();
    assert!(matches!(ch.receive(), Err(ChannelError::Deadlock)));
    assert!(matches!(ch.send(1), Err(e) if matches!(e.error, ChannelError::Deadlock)));
    assert_eq!(ch.balance(), 0, "main did not stay queued");
}

// TestDeadlock.test_main_receiving_endttasklet / test_main_sending_enddtasklet: main is
// interrupted once the only other tasklet ends without a partner.
#[test]
fn main_blocked_while_the_last_tasklet_ends_gets_a_deadlock() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let t = sched.spawn(|| ()).unwrap();
    assert!(matches!(ch.receive(), Err(ChannelError::Deadlock)));
    assert!(!t.tasklet().is_alive(), "the tasklet ran while main waited");
    let t = sched.spawn(|| ()).unwrap();
    let err = ch.send(7).unwrap_err();
    assert!(matches!(err.error, ChannelError::Deadlock));
    assert_eq!(err.into_inner(), 7, "the value comes back");
    assert!(!t.tasklet().is_alive());
}

// TestDeadlock.test_tasklet_deadlock / test_tasklet_and_main_receive: uthread reports a
// deadlock to the main context (whoever drives the scheduler); the tasklet stays
// blocked where it is (see STACKLESS.md "Deadlock": `run()` returns, reporting which
// tasklets are blocked on what), and can still be served or killed afterwards.
#[test]
fn a_tasklet_and_main_both_waiting_is_a_deadlock_reported_to_main() {
    let sched = support::scheduler();
    let mc = Channel::<u32>::new();
    let c = Channel::<u32>::with_name("inner");
    let rx = c.clone();
    let t = sched.spawn(move || rx.receive()).unwrap();
    assert!(matches!(mc.receive(), Err(ChannelError::Deadlock)));
    assert!(t.tasklet().is_blocked());
    match sched.run().unwrap() {
        RunOutcome::Deadlock(report) => {
            assert_eq!(report.blocked.len(), 1);
            assert_eq!(&report.blocked[0].0, t.tasklet());
            assert!(report.to_string().contains("inner"), "{report}");
        }
        other => panic!("{other:?}"),
    }
    c.send(1).unwrap();
    sched.run().unwrap();
    assert_eq!(t.join().unwrap().unwrap(), 1);
}

// testSendException / testSendThrow: the receiver gets the error itself.
#[test]
fn send_throw_delivers_the_error_value_to_a_waiting_and_to_a_later_receiver() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    // The sender blocks first (no receiver yet), as in the Stackless test.
    let tx = ch.clone();
    let t = sched.spawn(move || tx.send_throw(Args(1, 2, 3))).unwrap();
    t.tasklet().run().unwrap();
    assert_eq!(ch.balance(), 1);
    match ch.receive() {
        Err(ChannelError::Thrown(e)) => assert_eq!(e.downcast_ref::<Args>(), Some(&Args(1, 2, 3))),
        other => panic!("{other:?}"),
    }
    sched.run().unwrap();
    assert!(t.join().unwrap().is_ok());
    // And with the receiver waiting first.
    let rx = ch.clone();
    let r = sched.spawn(move || rx.receive()).unwrap();
    sched.run().unwrap();
    ch.send_throw("plain message").unwrap();
    sched.run().unwrap();
    match r.join().unwrap() {
        Err(ChannelError::Thrown(e)) => assert_eq!(e.into_inner().to_string(), "plain message"),
        other => panic!("{other:?}"),
    }
}

/// Runs one rendezvous: `first` blocks on the channel, then `second` meets it while a
/// third tasklet `X` waits in the run queue behind `second`. Returns the order of the
/// events "S" (the send returned), "R" (the receive returned) and "X".
fn rendezvous_order(preference: Preference, schedule_all: bool, sender_first: bool) -> String {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    ch.set_preference(preference);
    ch.set_schedule_all(schedule_all);
    let log = Log::new();
    let sender = {
        let (ch, log) = (ch.clone(), log.clone());
        move || {
            ch.send(1).unwrap();
            log.push("S");
        }
    };
    let receiver = {
        let (ch, log) = (ch.clone(), log.clone());
        move || {
            ch.receive().unwrap();
            log.push("R");
        }
    };
    if sender_first {
        sched.spawn(sender).unwrap();
        sched.run().unwrap();
        sched.spawn(receiver).unwrap();
    } else {
        sched.spawn(receiver).unwrap();
        sched.run().unwrap();
        sched.spawn(sender).unwrap();
    }
    let x = log.clone();
    sched.spawn(move || x.push("X")).unwrap();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    log.take().concat()
}

// The preference rules of STACKLESS.md, for both arrival orders.
#[test]
fn preference_matrix_for_a_sender_meeting_a_waiting_receiver() {
    // -1: the receiver runs at once, the sender right behind it.
    assert_eq!(rendezvous_order(Preference::Receiver, false, false), "RSX");
    // +1: the sender carries on, the receiver is appended.
    assert_eq!(rendezvous_order(Preference::Sender, false, false), "SXR");
    // 0: the caller (the sender) carries on, the partner is appended.
    assert_eq!(rendezvous_order(Preference::Neither, false, false), "SXR");
    // schedule_all: the partner is appended and the caller yields to the next runnable.
    assert_eq!(rendezvous_order(Preference::Receiver, true, false), "XRS");
}

#[test]
fn preference_matrix_for_a_receiver_meeting_a_waiting_sender() {
    // -1: the receiver (the caller) carries on, the sender is appended.
    assert_eq!(rendezvous_order(Preference::Receiver, false, true), "RXS");
    // +1: the sender runs at once, the receiver right behind it.
    assert_eq!(rendezvous_order(Preference::Sender, false, true), "SRX");
    // 0: the caller carries on.
    assert_eq!(rendezvous_order(Preference::Neither, false, true), "RXS");
    // schedule_all overrides the preference.
    assert_eq!(rendezvous_order(Preference::Sender, true, true), "XSR");
}

#[test]
fn stackless_preference_numbers_round_trip() {
    for n in [-5, -1, 0, 1, 7] {
        let p = Preference::from_stackless(n);
        assert_eq!(i32::from(p.as_stackless()), n.signum());
    }
    assert_eq!(Channel::<u8>::new().preference().as_stackless(), -1);
}

// Ordering: several senders and receivers are paired strictly first come, first served,
// whichever side queues.
#[test]
fn waiters_on_either_side_are_served_in_fifo_order() {
    let sched = support::manual();
    let ch = Channel::<u32>::new();
    let got = Rc::new(RefCell::new(Vec::new()));
    for i in 0..5 {
        let tx = ch.clone();
        sched.spawn(move || tx.send(i).unwrap()).unwrap();
    }
    sched.run().unwrap();
    assert_eq!(ch.balance(), 5);
    for r in 0..5 {
        let (rx, got) = (ch.clone(), got.clone());
        sched
            .spawn(move || {
                let v = rx.receive().unwrap();
                got.borrow_mut().push((r, v));
            })
            .unwrap();
    }
    sched.run().unwrap();
    assert_eq!(*got.borrow(), (0..5).map(|i| (i, i)).collect::<Vec<_>>());
    got.borrow_mut().clear();
    for r in 0..5 {
        let (rx, got) = (ch.clone(), got.clone());
        sched
            .spawn(move || {
                let v = rx.receive().unwrap();
                got.borrow_mut().push((r, v));
            })
            .unwrap();
    }
    sched.run().unwrap();
    assert_eq!(ch.balance(), -5);
    let tx = ch.clone();
    sched
        .spawn(move || assert_eq!(tx.send_sequence(10..15).unwrap(), 5))
        .unwrap();
    sched.run().unwrap();
    assert_eq!(
        *got.borrow(),
        (0..5).map(|i| (i, i + 10)).collect::<Vec<_>>()
    );
    assert_eq!(ch.balance(), 0);
}

// TestClose.testSequence: close() does not wake a blocked receiver, so the sender pumps
// until the channel is closed (the Stackless wart STACKLESS.md records).
#[test]
fn close_then_pump_until_closed_ends_an_iterating_receiver() {
    let sched = support::scheduler();
    let ch = Channel::<Option<u32>>::new();
    let data = Rc::new(RefCell::new(Vec::new()));
    let tx = ch.clone();
    sched
        .spawn(move || {
            tx.send_sequence((0..10).map(Some)).unwrap();
            tx.close();
            let mut pumps = 0;
            while tx.is_closing() && !tx.is_closed() {
                tx.send(None).unwrap();
                pumps += 1;
            }
            pumps
        })
        .unwrap();
    let (rx, d) = (ch.clone(), data.clone());
    sched
        .spawn(move || {
            for item in &rx {
                d.borrow_mut().push(item);
            }
        })
        .unwrap();
    sched.run().unwrap();
    let mut data = data.borrow().clone();
    while data.last() == Some(&None) {
        data.pop();
    }
    assert_eq!(data, (0..10).map(Some).collect::<Vec<_>>());
    assert!(ch.is_closed());
}

// TestClose.testSequence2: an error sent at the end ends the receiver's iteration.
#[test]
fn send_sequence_then_send_throw_and_close_ends_the_iteration() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let tx = ch.clone();
    let sender = sched
        .spawn(move || {
            let n = tx.send_sequence(0..10).unwrap();
            tx.send_throw("stop iteration").unwrap();
            tx.close();
            n
        })
        .unwrap();
    let rx = ch.clone();
    let receiver = sched.spawn(move || rx.iter().collect::<Vec<_>>()).unwrap();
    sched.run().unwrap();
    assert_eq!(sender.join().unwrap(), 10);
    assert_eq!(receiver.join().unwrap(), (0..10).collect::<Vec<_>>());
    assert!(ch.is_closed());
}

// TestClose.testSender / testReceiver / testIterator.
#[test]
fn a_closed_channel_refuses_send_and_receive_and_its_iterator_is_empty() {
    let _sched = support::scheduler();
    let ch = Channel::<u32>::new();
    ch.close();
    assert!(ch.is_closing() && ch.is_closed());
    let err = ch.send(4).unwrap_err();
    assert!(matches!(err.error, ChannelError::Closed));
    assert_eq!(err.into_inner(), 4);
    assert!(matches!(ch.receive(), Err(ChannelError::Closed)));
    assert!(matches!(ch.send_throw("x"), Err(ChannelError::Closed)));
    assert_eq!(ch.iter().next(), None);
    assert!(matches!(ch.try_send(1), Err(TrySendError::Closed(1))));
    assert!(matches!(ch.try_receive(), Err(TryRecvError::Closed)));
    ch.open();
    assert!(!ch.is_closing() && !ch.is_closed());
    assert!(matches!(ch.try_receive(), Err(TryRecvError::Empty)));
}

// closing vs closed: a closing channel with waiters is not closed until they are served;
// it still pairs new partners with them.
#[test]
fn a_closing_channel_still_serves_its_waiters_and_is_closed_once_they_are_gone() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    for i in 0..2 {
        let tx = ch.clone();
        sched.spawn(move || tx.send(i).unwrap()).unwrap();
    }
    sched.run().unwrap();
    ch.close();
    assert!(ch.is_closing() && !ch.is_closed());
    assert_eq!(ch.receive().unwrap(), 0);
    assert!(!ch.is_closed());
    assert_eq!(ch.receive().unwrap(), 1);
    assert!(ch.is_closed());
    assert!(matches!(ch.receive(), Err(ChannelError::Closed)));
    sched.run().unwrap();
}

// Stackless's "improve" note: close_now ends a conversation by waking every waiter.
#[test]
fn close_now_wakes_blocked_receivers_so_iteration_ends_without_pumping() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let mut rs = Vec::new();
    for _ in 0..3 {
        let rx = ch.clone();
        rs.push(sched.spawn(move || rx.iter().count()).unwrap());
    }
    let tx = ch.clone();
    sched
        .spawn(move || {
            tx.send_sequence(0..6).unwrap();
            tx.close_now();
        })
        .unwrap();
    sched.run().unwrap();
    let total: usize = rs.into_iter().map(|r| r.join().unwrap()).sum();
    assert_eq!(total, 6);
    assert!(ch.is_closed());
}

// test_defects Channel.testTemporaryChannel(2): a tasklet blocked on a channel only it
// knows about is a deadlock for run(), not a crash; the scheduler drops it cleanly.
#[test]
fn a_tasklet_blocked_on_a_channel_nobody_else_holds() {
    let sched = support::scheduler();
    let t = sched
        .spawn(|| Channel::<u32>::new().receive().map_err(|e| e.to_string()))
        .unwrap();
    let t2 = sched.spawn(|| ()).unwrap();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Deadlock(_)));
    assert!(t.tasklet().is_blocked());
    assert!(!t2.tasklet().is_alive());
    drop(sched);
    assert!(!t.tasklet().is_alive());
}

// The channel callback (Stackless `set_channel_callback`): every operation is seen with
// its direction and whether it blocks.
#[test]
fn the_channel_callback_sees_direction_and_blocking() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::with_name("cb");
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    sched.set_channel_callback(Some(Box::new(move |ev| {
        s.borrow_mut().push((
            ev.tasklet.name().unwrap_or_default(),
            ev.channel_name.map(str::to_owned),
            ev.sending,
            ev.will_block,
        ));
    })));
    let rx = ch.clone();
    uthread::Builder::new()
        .name("r")
        .spawn_on(&sched, move || rx.receive().unwrap())
        .unwrap();
    let tx = ch.clone();
    uthread::Builder::new()
        .name("s")
        .spawn_on(&sched, move || tx.send(1).unwrap())
        .unwrap();
    sched.run().unwrap();
    sched.set_channel_callback(None);
    let cb = Some("cb".to_owned());
    assert_eq!(
        *seen.borrow(),
        [
            ("r".to_owned(), cb.clone(), false, true),
            ("s".to_owned(), cb, true, false)
        ]
    );
}

// Killing a blocked tasklet corrects the balance on either side (the Stackless
// implementation bug STACKLESS.md mentions left it queued).
#[test]
fn killing_blocked_senders_and_receivers_corrects_the_balance_each_time() {
    let sched = support::manual();
    let ch = Channel::<u32>::new();
    let senders: Vec<_> = (0..3)
        .map(|i| {
            let tx = ch.clone();
            sched.spawn(move || tx.send(i)).unwrap()
        })
        .collect();
    sched.run().unwrap();
    assert_eq!(ch.balance(), 3);
    senders[1].tasklet().kill().unwrap();
    assert_eq!(ch.balance(), 2);
    senders[0].tasklet().kill_pending().unwrap();
    assert_eq!(
        ch.balance(),
        1,
        "a pending kill takes it off the channel at once"
    );
    assert_eq!(ch.receive().unwrap(), 2);
    assert_eq!(ch.balance(), 0);
    sched.run().unwrap();
    let receivers: Vec<_> = (0..2)
        .map(|_| {
            let rx = ch.clone();
            sched.spawn(move || rx.receive()).unwrap()
        })
        .collect();
    sched.run().unwrap();
    assert_eq!(ch.balance(), -2);
    receivers[0].tasklet().kill().unwrap();
    assert_eq!(ch.balance(), -1);
    receivers[1]
        .tasklet()
        .throw(std::io::Error::other("go away"))
        .unwrap();
    assert_eq!(ch.balance(), 0);
    assert!(matches!(
        receivers.into_iter().nth(1).unwrap().join().unwrap(),
        Err(ChannelError::Thrown(_))
    ));
    let _ = WaitError::Deadlock;
}
