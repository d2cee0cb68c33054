//! Deadlock: a main-context call that would block with nothing runnable fails with a
//! deadlock error instead of hanging, and `run()` reports which tasklets are blocked on
//! what, in several shapes.

mod support;

use std::time::Duration;

use uthread::{BlockedOn, Builder, Channel, ChannelError, JoinError, RunOutcome, WaitError};

fn deadlock_report(outcome: RunOutcome) -> uthread::DeadlockReport {
    match outcome {
        RunOutcome::Deadlock(report) => report,
        other => panic!("expected a deadlock, got {other:?}"),
    }
}

#[test]
fn main_receiving_with_nothing_runnable_gets_deadlock() {
    let _sched = support::scheduler();
    let ch = Channel::<u32>::new();
    assert!(matches!(ch.receive(), Err(ChannelError::Deadlock)));
    assert_eq!(ch.balance(), 0, "main is not left on the channel");
    assert!(matches!(
        ch.send(1),
        Err(uthread::SendError {
            value: 1,
            error: ChannelError::Deadlock
        })
    ));
    assert_eq!(ch.balance(), 0);
}

#[test]
fn main_receiving_after_every_tasklet_ran_gets_deadlock() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let other = Channel::<u32>::new();
    let rx = other.clone();
    let stuck = sched.spawn(move || rx.receive().unwrap()).unwrap();
    let tx = ch.clone();
    sched
        .spawn(move || {
            tx.send(1).unwrap();
            uthread::schedule().unwrap();
        })
        .unwrap();
    assert_eq!(
        ch.receive().unwrap(),
        1,
        "a sender could come, so main waited"
    );
    // Now nobody can send on `ch`: the receive fails instead of hanging.
    assert!(matches!(ch.receive(), Err(ChannelError::Deadlock)));
    assert_eq!(ch.balance(), 0);
    assert!(
        stuck.tasklet().is_blocked(),
        "other blocked tasklets stay blocked"
    );
    other.send(2).unwrap();
    assert_eq!(stuck.join().unwrap(), 2);
}

#[test]
fn run_reports_two_tasklets_waiting_on_each_other() {
    let sched = support::scheduler();
    let ping = Channel::<u32>::with_name("ping");
    let pong = Channel::<u32>::with_name("pong");
    let (rx, tx) = (ping.clone(), pong.clone());
    let a = Builder::new()
        .name("alice")
        .spawn_on(&sched, move || {
            let v = rx.receive().unwrap();
            tx.send(v).unwrap();
        })
        .unwrap();
    let (rx, tx) = (pong.clone(), ping.clone());
    let b = Builder::new()
        .name("bob")
        .spawn_on(&sched, move || {
            let v = rx.receive().unwrap();
            tx.send(v).unwrap();
        })
        .unwrap();
    let report = deadlock_report(sched.run().unwrap());
    assert_eq!(report.blocked.len(), 2);
    let find = |t: &uthread::Tasklet| {
        report
            .blocked
            .iter()
            .find(|(x, _)| x == t)
            .map(|(_, on)| on.clone())
            .expect("listed")
    };
    assert_eq!(
        find(a.tasklet()),
        BlockedOn::Receive(uthread::ObjectRef {
            id: ping.id(),
            name: Some("ping".into())
        })
    );
    assert_eq!(
        find(b.tasklet()),
        BlockedOn::Receive(uthread::ObjectRef {
            id: pong.id(),
            name: Some("pong".into())
        })
    );
    let shown = report.to_string();
    for needle in [
        "2 tasklet(s)",
        "alice",
        "bob",
        "'ping'",
        "'pong'",
        "receiving",
    ] {
        assert!(shown.contains(needle), "{needle:?} missing from {shown}");
    }
    // Main can break the cycle: alice echoes to bob, who echoes back to main.
    ping.send(7).unwrap();
    assert_eq!(ping.receive().unwrap(), 7);
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert!(a.is_finished() && b.is_finished());
}

#[test]
fn run_reports_blocked_senders_and_joiners() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::with_name("out");
    let tx = ch.clone();
    let sender = Builder::new()
        .name("producer")
        .spawn_on(&sched, move || tx.send(1).unwrap())
        .unwrap();
    let sender_id = sender.tasklet().id();
    let joiner = Builder::new()
        .name("waiter")
        .spawn_on(&sched, move || sender.join().unwrap())
        .unwrap();
    let report = deadlock_report(sched.run().unwrap());
    assert_eq!(report.blocked.len(), 2);
    assert!(report.blocked.iter().any(|(_, on)| matches!(
        on,
        BlockedOn::Send(o) if o.id == ch.id()
    )));
    assert!(report
        .blocked
        .iter()
        .any(|(t, on)| t == joiner.tasklet() && *on == BlockedOn::Join(sender_id)));
    let shown = report.to_string();
    assert!(shown.contains("sending on channel 'out'"), "{shown}");
    assert!(shown.contains("joining tasklet"), "{shown}");
    assert_eq!(ch.receive().unwrap(), 1);
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    joiner.join().unwrap();
}

#[test]
fn run_reports_a_chain_of_three() {
    let sched = support::scheduler();
    let chans: Vec<Channel<u32>> = (0..3).map(|_| Channel::new()).collect();
    for i in 0..3 {
        let rx = chans[i].clone();
        let tx = chans[(i + 1) % 3].clone();
        sched
            .spawn(move || {
                let v = rx.receive().unwrap();
                let _ = tx.send(v + 1);
            })
            .unwrap();
    }
    let report = deadlock_report(sched.run().unwrap());
    assert_eq!(report.blocked.len(), 3);
    assert!(report
        .blocked
        .iter()
        .all(|(_, on)| matches!(on, BlockedOn::Receive(_))));
    for c in &chans {
        assert_eq!(c.balance(), -1);
    }
    sched.kill_all();
    for c in &chans {
        assert_eq!(c.balance(), 0);
    }
}

#[test]
fn run_with_nothing_blocked_finishes() {
    let sched = support::scheduler();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    sched.spawn(|| ()).unwrap();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
}

#[test]
fn main_joining_a_blocked_tasklet_gets_deadlock() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let rx = ch.clone();
    {
        let rx = rx.clone();
        let blocked = sched.spawn(move || rx.receive().unwrap()).unwrap();
        assert!(matches!(
            blocked.join(),
            Err(JoinError::Wait(WaitError::Deadlock))
        ));
        ch.send(0).unwrap();
    }
    let mut h = sched.spawn(move || rx.receive().unwrap()).unwrap();
    // On a manual clock a deadline nobody advances to cannot help either.
    let manual = support::builder().manual_clock().build();
    let ch2 = Channel::<u32>::new();
    let rx2 = ch2.clone();
    let mut h2 = Builder::new()
        .spawn_on(&manual, move || rx2.receive().unwrap())
        .unwrap();
    manual.enter(|| {
        assert!(matches!(
            h2.join_timeout(Duration::from_secs(1)),
            Err(JoinError::Wait(WaitError::Deadlock))
        ));
    });
    assert!(
        matches!(
            h.join_timeout(Duration::from_millis(1)),
            Err(JoinError::Wait(WaitError::Timeout))
        ),
        "on a real clock the deadline is what wakes main"
    );
    ch.send(5).unwrap();
    assert_eq!(h.join().unwrap(), 5);
    manual.enter(|| ch2.send(6).unwrap());
    assert_eq!(manual.enter(|| h2.join()).unwrap(), 6);
}

#[test]
fn main_sleeping_on_a_manual_clock_nobody_advances_gets_deadlock() {
    let _sched = support::builder().manual_clock().build();
    assert!(matches!(
        uthread::sleep(Duration::from_secs(1)),
        Err(WaitError::Deadlock)
    ));
}

#[test]
fn a_blocked_tasklet_is_not_a_deadlock_while_a_timer_can_wake_it() {
    let sched = support::builder().manual_clock().build();
    let ch = Channel::<u32>::new();
    let rx = ch.clone();
    sched
        .spawn(move || rx.receive_timeout(Duration::from_secs(1)))
        .unwrap();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Idle { .. }));
    sched.advance(Duration::from_secs(1));
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
}

#[test]
fn deadlock_outcome_lists_only_blocked_tasklets_not_paused_ones() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let rx = ch.clone();
    let blocked = sched.spawn(move || rx.receive().unwrap()).unwrap();
    let paused = Builder::new().paused().spawn_on(&sched, || ()).unwrap();
    let report = deadlock_report(sched.run().unwrap());
    assert_eq!(report.blocked.len(), 1);
    assert_eq!(&report.blocked[0].0, blocked.tasklet());
    assert!(paused.tasklet().is_paused());
    ch.send(0).unwrap();
    // A paused tasklet alone is neither a deadlock nor running.
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
}
