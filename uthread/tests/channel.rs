//! Stackless channels: rendezvous in FIFO order, balance, preference and schedule-all
//! (exact run orders), send_throw, send_sequence, iteration, close / open / close_now,
//! the non-blocking and timed variants, and values moved rather than cloned.

mod support;

use std::time::{Duration, Instant};

use support::{Drops, Log, Token};
use uthread::{
    Builder, Channel, ChannelError, Preference, RunOutcome, SendError, TryRecvError, TrySendError,
};

#[derive(Debug, PartialEq)]
struct Oops(&'static str);

impl std::fmt::Display for Oops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "oops: {}", self.0)
    }
}

impl std::error::Error for Oops {}

/// Neither `Clone` nor `Debug`: a channel must move it.
struct Cargo {
    serial: u32,
    payload: Box<[u8; 64]>,
    _guard: Token,
}

#[test]
fn rendezvous_pairs_senders_and_receivers_in_fifo_order() {
    let sched = support::scheduler();
    let ch = Channel::<&'static str>::new();
    for v in ["a", "b", "c"] {
        let tx = ch.clone();
        sched.spawn(move || tx.send(v).unwrap()).unwrap();
    }
    sched.run().unwrap();
    assert_eq!(ch.balance(), 3, "three blocked senders");
    assert_eq!(ch.queue().len(), 3);
    let got: Vec<_> = (0..3).map(|_| ch.receive().unwrap()).collect();
    assert_eq!(got, ["a", "b", "c"]);
    assert_eq!(ch.balance(), 0);

    let log = Log::new();
    let mut receivers = Vec::new();
    for name in ["r1", "r2", "r3"] {
        let (rx, log) = (ch.clone(), log.clone());
        receivers.push(
            sched
                .spawn(move || log.push(format!("{name}={}", rx.receive().unwrap())))
                .unwrap(),
        );
    }
    sched.run().unwrap();
    assert_eq!(ch.balance(), -3, "three blocked receivers");
    assert_eq!(
        ch.queue(),
        receivers
            .iter()
            .map(|h| h.tasklet().clone())
            .collect::<Vec<_>>()
    );
    for v in ["x", "y", "z"] {
        ch.send(v).unwrap();
    }
    sched.run().unwrap();
    assert_eq!(log.take(), ["r1=x", "r2=y", "r3=z"]);
    assert_eq!(ch.balance(), 0);
}

#[test]
fn send_blocks_until_a_receiver_takes_the_value() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let log = Log::new();
    let (tx, l) = (ch.clone(), log.clone());
    let sender = sched
        .spawn(move || {
            l.push("sending");
            tx.send(1).unwrap();
            l.push("sent");
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(log.take(), ["sending"]);
    assert!(sender.tasklet().is_blocked());
    assert_eq!(ch.receive().unwrap(), 1);
    sched.run().unwrap();
    assert_eq!(log.take(), ["sent"]);
}

/// A receiver blocks first; then a sender `s` arrives, with `x` queued behind it.
fn sender_meets_waiting_receiver(configure: impl FnOnce(&Channel<u8>)) -> Vec<String> {
    let sched = support::scheduler();
    let ch = Channel::<u8>::new();
    configure(&ch);
    let log = Log::new();
    let (rx, l) = (ch.clone(), log.clone());
    sched
        .spawn(move || {
            l.push("r:wait");
            rx.receive().unwrap();
            l.push("r:got");
        })
        .unwrap();
    sched.run().unwrap();
    let (tx, l) = (ch.clone(), log.clone());
    sched
        .spawn(move || {
            l.push("s:send");
            tx.send(1).unwrap();
            l.push("s:sent");
        })
        .unwrap();
    let l = log.clone();
    sched.spawn(move || l.push("x")).unwrap();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    let mut got = log.take();
    assert_eq!(got.remove(0), "r:wait");
    got
}

/// A sender blocks first; then a receiver `r` arrives, with `x` queued behind it.
fn receiver_meets_waiting_sender(configure: impl FnOnce(&Channel<u8>)) -> Vec<String> {
    let sched = support::scheduler();
    let ch = Channel::<u8>::new();
    configure(&ch);
    let log = Log::new();
    let (tx, l) = (ch.clone(), log.clone());
    sched
        .spawn(move || {
            l.push("s:wait");
            tx.send(1).unwrap();
            l.push("s:sent");
        })
        .unwrap();
    sched.run().unwrap();
    let (rx, l) = (ch.clone(), log.clone());
    sched
        .spawn(move || {
            l.push("r:recv");
            rx.receive().unwrap();
            l.push("r:got");
        })
        .unwrap();
    let l = log.clone();
    sched.spawn(move || l.push("x")).unwrap();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    let mut got = log.take();
    assert_eq!(got.remove(0), "s:wait");
    got
}

#[test]
fn preference_receiver_is_the_default_and_runs_the_receiver_at_once() {
    assert_eq!(Channel::<u8>::new().preference(), Preference::Receiver);
    // The receiver runs now; the sender is right behind it, before x.
    assert_eq!(
        sender_meets_waiting_receiver(|_| ()),
        ["s:send", "r:got", "s:sent", "x"]
    );
    // The receiver is the caller: it carries on; the sender is appended.
    assert_eq!(
        receiver_meets_waiting_sender(|_| ()),
        ["r:recv", "r:got", "x", "s:sent"]
    );
}

#[test]
fn preference_sender_lets_the_sender_run_first() {
    let cfg = |ch: &Channel<u8>| ch.set_preference(Preference::Sender);
    // The sender carries on; the receiver is appended.
    assert_eq!(
        sender_meets_waiting_receiver(cfg),
        ["s:send", "s:sent", "x", "r:got"]
    );
    // The sender runs now; the receiver is right behind it, before x.
    assert_eq!(
        receiver_meets_waiting_sender(cfg),
        ["r:recv", "s:sent", "r:got", "x"]
    );
}

#[test]
fn preference_neither_lets_the_caller_carry_on_and_appends_the_partner() {
    let cfg = |ch: &Channel<u8>| ch.set_preference(Preference::Neither);
    assert_eq!(
        sender_meets_waiting_receiver(cfg),
        ["s:send", "s:sent", "x", "r:got"]
    );
    assert_eq!(
        receiver_meets_waiting_sender(cfg),
        ["r:recv", "r:got", "x", "s:sent"]
    );
}

#[test]
fn schedule_all_appends_the_partner_and_yields_to_the_next_runnable() {
    for pref in [
        Preference::Receiver,
        Preference::Sender,
        Preference::Neither,
    ] {
        let cfg = |ch: &Channel<u8>| {
            ch.set_preference(pref);
            ch.set_schedule_all(true);
            assert!(ch.schedule_all());
        };
        assert_eq!(
            sender_meets_waiting_receiver(cfg),
            ["s:send", "x", "r:got", "s:sent"],
            "{pref:?}"
        );
        assert_eq!(
            receiver_meets_waiting_sender(cfg),
            ["r:recv", "x", "s:sent", "r:got"],
            "{pref:?}"
        );
    }
}

#[test]
fn preferences_map_to_stackless_numbers() {
    for (p, n) in [
        (Preference::Receiver, -1),
        (Preference::Sender, 1),
        (Preference::Neither, 0),
    ] {
        assert_eq!(p.as_stackless(), n);
        assert_eq!(Preference::from_stackless(n.into()), p);
    }
    assert_eq!(Preference::from_stackless(-7), Preference::Receiver);
    assert_eq!(Preference::from_stackless(42), Preference::Sender);
}

#[test]
fn main_receiving_from_a_waiting_sender_with_receiver_preference_carries_on() {
    let sched = support::scheduler();
    let ch = Channel::<u8>::new();
    let log = Log::new();
    let (tx, l) = (ch.clone(), log.clone());
    sched
        .spawn(move || {
            tx.send(4).unwrap();
            l.push("sent");
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(ch.receive().unwrap(), 4);
    assert!(
        log.get().is_empty(),
        "main kept running; the sender was appended"
    );
    sched.run().unwrap();
    assert_eq!(log.take(), ["sent"]);
}

#[test]
fn send_throw_makes_the_receiver_fail_with_the_error() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let rx = ch.clone();
    let receiver = sched.spawn(move || rx.receive()).unwrap();
    sched.run().unwrap();
    ch.send_throw(Oops("sent")).unwrap();
    sched.run().unwrap();
    match receiver.join().unwrap() {
        Err(ChannelError::Thrown(t)) => {
            assert_eq!(t.downcast_ref::<Oops>(), Some(&Oops("sent")));
        }
        other => panic!("expected the thrown error, got {other:?}"),
    }

    // It blocks like a send until a receiver comes.
    let tx = ch.clone();
    let thrower = sched.spawn(move || tx.send_throw("later")).unwrap();
    sched.run().unwrap();
    assert_eq!(ch.balance(), 1);
    match ch.receive() {
        Err(ChannelError::Thrown(t)) => assert_eq!(t.into_inner().to_string(), "later"),
        other => panic!("expected the thrown error, got {other:?}"),
    }
    sched.run().unwrap();
    assert!(thrower.join().unwrap().is_ok());
    assert_eq!(ch.balance(), 0);
}

#[test]
fn send_sequence_sends_each_item_and_counts_them() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let rx = ch.clone();
    let receiver = sched.spawn(move || rx.iter().collect::<Vec<_>>()).unwrap();
    let tx = ch.clone();
    let sender = sched
        .spawn(move || {
            let n = tx.send_sequence(vec![5, 6, 7]).unwrap();
            tx.close_now();
            n
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(sender.join().unwrap(), 3);
    assert_eq!(receiver.join().unwrap(), [5, 6, 7]);
}

#[test]
fn send_sequence_stops_at_the_first_failure_and_returns_the_value() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let rx = ch.clone();
    sched
        .spawn(move || {
            assert_eq!(rx.receive().unwrap(), 0);
            assert_eq!(rx.receive().unwrap(), 1);
            rx.close();
        })
        .unwrap();
    let tx = ch.clone();
    let sender = sched.spawn(move || tx.send_sequence(0..5)).unwrap();
    sched.run().unwrap();
    match sender.join().unwrap() {
        Err((
            2,
            SendError {
                value: 2,
                error: ChannelError::Closed,
            },
        )) => {}
        other => panic!("expected the third send to fail, got {other:?}"),
    }
}

#[test]
fn iterating_receives_until_closed_and_drained_of_senders() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    for v in 1..=3 {
        let tx = ch.clone();
        sched.spawn(move || tx.send(v).unwrap()).unwrap();
    }
    sched.run().unwrap();
    assert_eq!(ch.balance(), 3);
    ch.close();
    let rx = ch.clone();
    let receiver = sched
        .spawn(move || {
            let mut got = Vec::new();
            for v in &rx {
                got.push(v);
            }
            got
        })
        .unwrap();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert_eq!(receiver.join().unwrap(), [1, 2, 3]);
    assert!(ch.is_closed());
}

#[test]
fn close_keeps_waiters_until_a_partner_comes_and_refuses_new_blocking_calls() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let mut receivers = Vec::new();
    for _ in 0..2 {
        let rx = ch.clone();
        receivers.push(sched.spawn(move || rx.receive()).unwrap());
    }
    sched.run().unwrap();
    ch.close();
    assert!(ch.is_closing());
    assert!(!ch.is_closed(), "closing but waiters remain");
    assert_eq!(ch.balance(), -2, "close does not wake anyone");
    assert!(receivers.iter().all(|r| r.tasklet().is_blocked()));

    // A receive that would block fails at once.
    let rx = ch.clone();
    let late = sched.spawn(move || rx.receive()).unwrap();
    sched.run().unwrap();
    assert!(matches!(late.join().unwrap(), Err(ChannelError::Closed)));
    assert_eq!(ch.balance(), -2);

    // A send finds a partner, so it goes through.
    ch.send(10).unwrap();
    assert!(!ch.is_closed());
    ch.send(11).unwrap();
    assert_eq!(ch.balance(), 0);
    assert!(ch.is_closed(), "closing and nobody waits");
    sched.run().unwrap();
    let got: Vec<_> = receivers
        .into_iter()
        .map(|r| r.join().unwrap().unwrap())
        .collect();
    assert_eq!(got, [10, 11]);

    // Now both directions fail at once, and a send gives its value back.
    match ch.send(12) {
        Err(SendError {
            value: 12,
            error: ChannelError::Closed,
        }) => {}
        other => panic!("expected a closed error, got {other:?}"),
    }
    assert!(matches!(ch.receive(), Err(ChannelError::Closed)));
    assert!(matches!(ch.send_throw("x"), Err(ChannelError::Closed)));
}

#[test]
fn a_send_that_would_block_on_a_closing_channel_fails_even_with_senders_waiting() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let tx = ch.clone();
    sched.spawn(move || tx.send(1).unwrap()).unwrap();
    sched.run().unwrap();
    ch.close();
    let tx = ch.clone();
    let late = sched.spawn(move || tx.send(2)).unwrap();
    sched.run().unwrap();
    assert!(matches!(
        late.join().unwrap(),
        Err(SendError {
            value: 2,
            error: ChannelError::Closed
        })
    ));
    assert_eq!(ch.balance(), 1);
    assert_eq!(
        ch.receive().unwrap(),
        1,
        "the waiting sender still gets through"
    );
    assert!(ch.is_closed());
}

#[test]
fn open_reverses_closing() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    ch.close();
    assert!(ch.is_closing() && ch.is_closed());
    ch.open();
    assert!(!ch.is_closing() && !ch.is_closed());
    let tx = ch.clone();
    let sender = sched.spawn(move || tx.send(3)).unwrap();
    sched.run().unwrap();
    assert!(sender.tasklet().is_blocked(), "sends block again");
    assert_eq!(ch.receive().unwrap(), 3);
    sched.run().unwrap();
    assert!(sender.join().unwrap().is_ok());
}

#[test]
fn close_now_wakes_every_waiter_and_gives_senders_their_values_back() {
    let sched = support::scheduler();
    let drops = Drops::new();
    let ch = Channel::<Cargo>::new();
    let mut senders = Vec::new();
    for serial in 0..3 {
        let tx = ch.clone();
        let cargo = Cargo {
            serial,
            payload: Box::new([serial as u8; 64]),
            _guard: drops.token(),
        };
        senders.push(
            sched
                .spawn(move || tx.send(cargo).map_err(|e| (e.value.serial, e.error)))
                .unwrap(),
        );
    }
    sched.run().unwrap();
    assert_eq!(ch.balance(), 3);
    ch.close_now();
    assert_eq!(ch.balance(), 0, "nobody waits any more");
    assert!(ch.is_closing() && ch.is_closed());
    assert!(senders.iter().all(|s| s.tasklet().is_scheduled()));
    sched.run().unwrap();
    for (serial, s) in senders.into_iter().enumerate() {
        match s.join().unwrap() {
            Err((got, ChannelError::Closed)) => assert_eq!(got, serial as u32),
            other => panic!("expected the value back with Closed, got {other:?}"),
        }
    }
    assert_eq!(drops.count(), 3, "each value dropped once, by its sender");
}

#[test]
fn close_now_wakes_blocked_receivers_with_closed() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let receivers: Vec<_> = (0..3)
        .map(|_| {
            let rx = ch.clone();
            sched.spawn(move || rx.receive()).unwrap()
        })
        .collect();
    sched.run().unwrap();
    assert_eq!(ch.balance(), -3);
    ch.close_now();
    assert_eq!(ch.balance(), 0);
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    for r in receivers {
        assert!(matches!(r.join().unwrap(), Err(ChannelError::Closed)));
    }
}

#[test]
fn try_send_and_try_receive_never_block() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    assert!(matches!(ch.try_send(1), Err(TrySendError::Full(1))));
    assert!(matches!(ch.try_receive(), Err(TryRecvError::Empty)));
    assert_eq!(ch.balance(), 0);

    // With a partner waiting they go through.
    let rx = ch.clone();
    let receiver = sched.spawn(move || rx.receive().unwrap()).unwrap();
    sched.run().unwrap();
    assert!(
        matches!(ch.try_receive(), Err(TryRecvError::Empty)),
        "a receiver is no sender"
    );
    ch.try_send(2).unwrap();
    sched.run().unwrap();
    assert_eq!(receiver.join().unwrap(), 2);

    let tx = ch.clone();
    sched.spawn(move || tx.send(3).unwrap()).unwrap();
    sched.run().unwrap();
    assert!(
        matches!(ch.try_send(9), Err(TrySendError::Full(9))),
        "a sender is no receiver"
    );
    assert_eq!(ch.try_receive().unwrap(), 3);

    let tx = ch.clone();
    sched
        .spawn(move || tx.send_throw(Oops("try")).unwrap())
        .unwrap();
    sched.run().unwrap();
    match ch.try_receive() {
        Err(TryRecvError::Thrown(t)) => assert_eq!(t.downcast_ref(), Some(&Oops("try"))),
        other => panic!("expected the thrown error, got {other:?}"),
    }

    // Closing: they fail with Closed unless a partner waits.
    let tx = ch.clone();
    sched.spawn(move || tx.send(4).unwrap()).unwrap();
    sched.run().unwrap();
    ch.close();
    assert!(matches!(ch.try_send(5), Err(TrySendError::Closed(5))));
    assert_eq!(ch.try_receive().unwrap(), 4);
    assert!(matches!(ch.try_receive(), Err(TryRecvError::Closed)));
    assert_eq!(TrySendError::Closed(6).into_inner(), 6);
    sched.run().unwrap();
}

#[test]
fn send_timeout_gives_up_at_the_deadline_with_the_value_back() {
    let sched = support::builder().manual_clock().build();
    let ch = Channel::<u32>::new();
    let tx = ch.clone();
    let sender = sched
        .spawn(move || tx.send_timeout(8, Duration::from_millis(100)))
        .unwrap();
    match sched.run().unwrap() {
        RunOutcome::Idle { next_deadline } => {
            assert_eq!(next_deadline, Some(Duration::from_millis(100)));
        }
        other => panic!("expected idle on the manual clock, got {other:?}"),
    }
    assert_eq!(ch.balance(), 1);
    sched.advance(Duration::from_millis(99));
    assert!(matches!(sched.run().unwrap(), RunOutcome::Idle { .. }));
    assert!(sender.tasklet().is_blocked(), "not yet");
    sched.advance(Duration::from_millis(1));
    assert_eq!(ch.balance(), 0, "taken off the channel at the deadline");
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert!(matches!(
        sender.join().unwrap(),
        Err(SendError {
            value: 8,
            error: ChannelError::Timeout
        })
    ));
}

#[test]
fn receive_timeout_gives_up_at_the_deadline() {
    let sched = support::builder().manual_clock().build();
    let ch = Channel::<u32>::new();
    let rx = ch.clone();
    let receiver = sched
        .spawn(move || rx.receive_timeout(Duration::from_secs(1)))
        .unwrap();
    sched.run().unwrap();
    assert_eq!(ch.balance(), -1);
    assert_eq!(sched.timer_count(), 1);
    sched.advance(Duration::from_secs(1));
    assert_eq!(ch.balance(), 0);
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert!(matches!(
        receiver.join().unwrap(),
        Err(ChannelError::Timeout)
    ));
    assert_eq!(sched.timer_count(), 0);
}

#[test]
fn a_timed_operation_served_in_time_succeeds_and_disarms_its_timer() {
    let sched = support::builder().manual_clock().build();
    let ch = Channel::<u32>::new();
    let rx = ch.clone();
    let receiver = sched
        .spawn(move || rx.receive_timeout(Duration::from_secs(1)))
        .unwrap();
    sched.run().unwrap();
    sched.advance(Duration::from_millis(500));
    ch.send(5).unwrap();
    assert_eq!(sched.timer_count(), 0, "the timer no longer counts");
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert_eq!(receiver.join().unwrap().unwrap(), 5);
    sched.advance(Duration::from_secs(1));
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));

    let tx = ch.clone();
    let sender = sched
        .spawn(move || tx.send_timeout(6, Duration::from_secs(1)))
        .unwrap();
    sched.run().unwrap();
    assert_eq!(ch.receive().unwrap(), 6);
    sched.run().unwrap();
    assert!(sender.join().unwrap().is_ok());
}

#[test]
fn main_receive_timeout_on_a_real_clock_times_out() {
    let _sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let t0 = Instant::now();
    assert!(matches!(
        ch.receive_timeout(Duration::from_millis(10)),
        Err(ChannelError::Timeout)
    ));
    assert!(t0.elapsed() >= Duration::from_millis(10));
    assert_eq!(ch.balance(), 0);
}

#[test]
fn values_are_moved_not_cloned() {
    let sched = support::scheduler();
    let drops = Drops::new();
    let ch = Channel::<Cargo>::with_name("freight");
    // Once through a waiting receiver, once through a waiting sender.
    let tx = ch.clone();
    let cargo = Cargo {
        serial: 1,
        payload: Box::new([7; 64]),
        _guard: drops.token(),
    };
    let sent_at = &*cargo.payload as *const [u8; 64] as usize;
    let sender = sched.spawn(move || tx.send(cargo).is_ok()).unwrap();
    sched.run().unwrap();
    let got = ch.receive().unwrap();
    assert_eq!(got.serial, 1);
    assert_eq!(
        &*got.payload as *const [u8; 64] as usize, sent_at,
        "the same box"
    );
    assert_eq!(drops.count(), 0);
    drop(got);
    assert_eq!(drops.count(), 1);
    sched.run().unwrap();
    assert!(sender.join().unwrap());

    let rx = ch.clone();
    let receiver = sched
        .spawn(move || {
            let c = rx.receive().unwrap();
            (
                c.serial,
                &*c.payload as *const [u8; 64] as usize,
                c.payload[0],
            )
        })
        .unwrap();
    sched.run().unwrap();
    let cargo = Cargo {
        serial: 2,
        payload: Box::new([9; 64]),
        _guard: drops.token(),
    };
    let sent_at = &*cargo.payload as *const [u8; 64] as usize;
    assert!(ch.send(cargo).is_ok());
    sched.run().unwrap();
    assert_eq!(receiver.join().unwrap(), (2, sent_at, 9));
    assert_eq!(drops.count(), 2);

    // Debug works without T: Debug.
    let shown = format!("{ch:?}");
    assert!(
        shown.contains("freight") && shown.contains("balance"),
        "{shown}"
    );
    let err = Channel::<Cargo>::new();
    err.close();
    let e = err
        .send(Cargo {
            serial: 3,
            payload: Box::new([0; 64]),
            _guard: drops.token(),
        })
        .unwrap_err();
    assert!(format!("{e:?} {e}").contains("Closed"));
    assert_eq!(e.into_inner().serial, 3);
    assert_eq!(drops.count(), 3);
}

#[test]
fn channel_identity_and_introspection() {
    let a = Channel::<u8>::with_name("a");
    let b = Channel::<u8>::default();
    assert_ne!(a.id(), b.id());
    assert_eq!(a.clone().id(), a.id(), "clones are the same channel");
    assert_eq!(a.name(), Some("a"));
    assert_eq!(b.name(), None);
    assert!(a.queue().is_empty());
    assert_eq!(a.balance(), 0);
}

#[test]
fn channel_calls_without_a_scheduler_fail() {
    std::thread::spawn(|| {
        let ch = Channel::<u8>::new();
        assert!(matches!(
            ch.send(1),
            Err(SendError {
                value: 1,
                error: ChannelError::NoScheduler
            })
        ));
        assert!(matches!(ch.receive(), Err(ChannelError::NoScheduler)));
        assert_eq!(ch.balance(), 0);
    })
    .join()
    .unwrap();
}

#[test]
fn a_named_tasklet_blocked_on_a_named_channel_shows_in_its_debug() {
    let sched = support::scheduler();
    let ch = Channel::<u8>::with_name("radio");
    let rx = ch.clone();
    let h = Builder::new()
        .name("listener")
        .spawn_on(&sched, move || rx.receive().unwrap())
        .unwrap();
    sched.run().unwrap();
    let shown = format!("{:?}", h.tasklet());
    assert!(
        shown.contains("listener") && shown.contains("radio"),
        "{shown}"
    );
    ch.send(0).unwrap();
}

#[test]
fn an_idle_report_names_the_next_live_deadline_not_a_disarmed_one() {
    let sched = support::builder().manual_clock().build();
    let ch = Channel::<u32>::new();
    let rx = ch.clone();
    sched
        .spawn(move || rx.receive_timeout(Duration::from_secs(1)).unwrap())
        .unwrap();
    sched
        .spawn(|| uthread::sleep(Duration::from_secs(5)).unwrap())
        .unwrap();
    sched.run().unwrap();
    ch.send(1).unwrap(); // the 1 s timer is disarmed
    match sched.run().unwrap() {
        RunOutcome::Idle { next_deadline } => {
            assert_eq!(next_deadline, Some(Duration::from_secs(5)));
        }
        other => panic!("expected idle, got {other:?}"),
    }
    sched.advance(Duration::from_secs(5));
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
}

#[test]
fn a_channel_shared_by_two_schedulers_on_one_thread() {
    let a = support::scheduler();
    let b = support::scheduler();
    let ch = Channel::<u32>::new();
    let rx = ch.clone();
    let receiver = Builder::new()
        .spawn_on(&b, move || rx.receive().unwrap())
        .unwrap();
    assert!(matches!(b.run().unwrap(), RunOutcome::Deadlock(_)));
    let tx = ch.clone();
    let log = Log::new();
    let l = log.clone();
    Builder::new()
        .spawn_on(&a, move || {
            tx.send(8).unwrap();
            l.push("sender carried on");
        })
        .unwrap();
    assert!(matches!(a.run().unwrap(), RunOutcome::Finished));
    assert_eq!(log.take(), ["sender carried on"]);
    assert_eq!(ch.balance(), 0);
    assert!(
        receiver.tasklet().is_scheduled(),
        "woken in its own scheduler"
    );
    assert!(matches!(b.run().unwrap(), RunOutcome::Finished));
    assert_eq!(receiver.join().unwrap(), 8);
}
