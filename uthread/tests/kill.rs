//! Kill in every state (new, scheduled, paused, blocked sending or receiving, sleeping,
//! be_nice, joining), kill_pending, self-kill, killing the dead, channel balance after a
//! kill, destructors run exactly once, and a tasklet that catches the kill.

mod support;

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use support::{Drops, Log};
use uthread::{
    Builder, Channel, ChannelError, JoinError, RunOutcome, Scheduler, TaskletExit, TaskletState,
};

/// What a tasklet's body holds: one guard captured by the closure, one made on its stack.
struct Probe {
    captured: Drops,
    on_stack: Drops,
    log: Log,
}

impl Probe {
    fn new() -> Probe {
        Probe {
            captured: Drops::new(),
            on_stack: Drops::new(),
            log: Log::new(),
        }
    }

    /// A tasklet body that makes a stack guard, runs `block`, and logs if it gets past it.
    fn body(&self, block: impl FnOnce() + 'static) -> impl FnOnce() + 'static {
        let captured = self.captured.token();
        let on_stack = self.on_stack.clone();
        let log = self.log.clone();
        move || {
            let _captured = captured;
            let _local = on_stack.token();
            log.push("started");
            block();
            log.push("got past the block");
        }
    }

    /// Asserts the tasklet unwound: every guard dropped once, nothing past the block.
    fn assert_unwound(&self, started: bool) {
        assert_eq!(self.captured.count(), 1, "captured guard dropped once");
        assert_eq!(self.on_stack.count(), usize::from(started), "stack guard");
        let expected: &[&str] = if started { &["started"] } else { &[] };
        assert_eq!(self.log.get(), expected);
    }
}

#[test]
fn kill_a_new_scheduled_tasklet_drops_its_closure_without_running_it() {
    let sched = support::scheduler();
    let p = Probe::new();
    let h = sched.spawn(p.body(|| ())).unwrap();
    h.tasklet().kill().unwrap();
    assert!(!h.tasklet().is_alive());
    assert_eq!(sched.scheduled_count(), 0);
    assert_eq!(sched.alive_count(), 0);
    p.assert_unwound(false);
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    p.assert_unwound(false);
    assert!(matches!(h.join(), Err(JoinError::Killed)));
}

#[test]
fn kill_a_new_paused_tasklet() {
    let sched = support::scheduler();
    let p = Probe::new();
    let h = Builder::new()
        .paused()
        .spawn_on(&sched, p.body(|| ()))
        .unwrap();
    h.tasklet().kill().unwrap();
    assert_eq!(h.tasklet().state(), TaskletState::Dead);
    p.assert_unwound(false);
    assert!(matches!(h.join(), Err(JoinError::Killed)));
}

#[test]
fn kill_a_started_scheduled_tasklet_unwinds_it_at_its_yield() {
    let sched = support::scheduler();
    let p = Probe::new();
    let h = sched
        .spawn(p.body(|| {
            let _ = uthread::schedule();
        }))
        .unwrap();
    let other = sched.spawn(|| ()).unwrap();
    sched.run_for(uthread::Budget::Resumes(1)).unwrap();
    assert!(h.tasklet().is_scheduled() && h.tasklet().is_started());
    h.tasklet().kill().unwrap();
    assert!(!h.tasklet().is_alive());
    p.assert_unwound(true);
    assert!(other.tasklet().is_scheduled(), "kill ran only the victim");
    assert_eq!(sched.scheduled_count(), 1);
    sched.run().unwrap();
    assert!(matches!(h.join(), Err(JoinError::Killed)));
}

#[test]
fn kill_a_paused_tasklet() {
    let sched = support::scheduler();
    let p = Probe::new();
    let h = sched
        .spawn(p.body(|| {
            let _ = uthread::schedule_remove();
        }))
        .unwrap();
    sched.run().unwrap();
    assert!(h.tasklet().is_paused());
    h.tasklet().kill().unwrap();
    assert!(!h.tasklet().is_alive());
    p.assert_unwound(true);
}

#[test]
fn kill_a_blocked_receiver_takes_it_off_the_channel() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let p = Probe::new();
    let rx = ch.clone();
    let victim = sched
        .spawn(p.body(move || {
            let _ = rx.receive();
        }))
        .unwrap();
    let rx = ch.clone();
    let survivor = sched.spawn(move || rx.receive().unwrap()).unwrap();
    sched.run().unwrap();
    assert_eq!(ch.balance(), -2);
    victim.tasklet().kill().unwrap();
    assert_eq!(ch.balance(), -1, "balance corrected");
    assert_eq!(ch.queue(), [survivor.tasklet().clone()]);
    p.assert_unwound(true);
    // The next value goes to the survivor, not to the dead.
    ch.send(5).unwrap();
    sched.run().unwrap();
    assert_eq!(survivor.join().unwrap(), 5);
    assert_eq!(ch.balance(), 0);
}

#[test]
fn kill_a_blocked_sender_takes_it_off_the_channel_and_drops_its_value_once() {
    let sched = support::scheduler();
    let ch = Channel::<support::Token>::new();
    let values = Drops::new();
    let p = Probe::new();
    let tx = ch.clone();
    let v = values.token();
    let victim = sched
        .spawn(p.body(move || {
            let _ = tx.send(v);
        }))
        .unwrap();
    sched.run().unwrap();
    assert_eq!(ch.balance(), 1);
    victim.tasklet().kill().unwrap();
    assert_eq!(ch.balance(), 0);
    assert!(ch.queue().is_empty());
    assert_eq!(
        values.count(),
        1,
        "the unsent value is dropped exactly once"
    );
    p.assert_unwound(true);
    assert!(matches!(
        ch.try_receive(),
        Err(uthread::TryRecvError::Empty)
    ));
}

#[test]
fn kill_a_tasklet_in_the_middle_of_a_channel_queue_keeps_the_fifo_order() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let senders: Vec<_> = (0..4)
        .map(|v| {
            let tx = ch.clone();
            sched.spawn(move || tx.send(v).unwrap()).unwrap()
        })
        .collect();
    sched.run().unwrap();
    senders[1].tasklet().kill().unwrap();
    senders[2].tasklet().kill_pending().unwrap();
    assert_eq!(ch.balance(), 2);
    assert_eq!(ch.receive().unwrap(), 0);
    assert_eq!(ch.receive().unwrap(), 3);
    assert_eq!(ch.balance(), 0);
    sched.run().unwrap();
    assert!(senders.iter().all(|s| !s.tasklet().is_alive()));
}

#[test]
fn kill_a_sleeping_tasklet_cancels_its_timer() {
    let sched = support::builder().manual_clock().build();
    let p = Probe::new();
    let h = sched
        .spawn(p.body(|| {
            let _ = uthread::sleep(Duration::from_secs(10));
        }))
        .unwrap();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Idle { .. }));
    assert_eq!(sched.timer_count(), 1);
    h.tasklet().kill().unwrap();
    p.assert_unwound(true);
    assert_eq!(sched.timer_count(), 0);
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    sched.advance(Duration::from_secs(10));
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    p.assert_unwound(true);
}

#[test]
fn kill_a_tasklet_waiting_in_be_nice() {
    let sched = support::builder().manual_clock().build();
    let p = Probe::new();
    let h = sched
        .spawn(p.body(|| {
            let _ = uthread::be_nice();
        }))
        .unwrap();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Idle { .. }));
    assert_eq!(sched.nice_count(), 1);
    h.tasklet().kill().unwrap();
    p.assert_unwound(true);
    assert_eq!(
        sched.nice_count(),
        0,
        "nobody waits for the next tick any more"
    );
    assert!(
        matches!(sched.run().unwrap(), RunOutcome::Finished),
        "nothing left to wait for"
    );
    sched.tick();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    p.assert_unwound(true);
}

#[test]
fn kill_a_tasklet_blocked_in_join() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let rx = ch.clone();
    let target = sched.spawn(move || rx.receive().unwrap()).unwrap();
    let p = Probe::new();
    let joiner = sched
        .spawn(p.body(move || {
            let _ = target.join();
        }))
        .unwrap();
    sched.run().unwrap();
    assert!(matches!(
        joiner.tasklet().blocked_on(),
        Some(uthread::BlockedOn::Join(_))
    ));
    joiner.tasklet().kill().unwrap();
    p.assert_unwound(true);
    ch.send(1).unwrap();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
}

#[test]
fn kill_from_another_tasklet_runs_the_victim_then_the_killer() {
    let sched = support::scheduler();
    let log = Log::new();
    let ch = Channel::<u32>::new();
    let (rx, l) = (ch.clone(), log.clone());
    let victim = sched
        .spawn(move || {
            struct Last(Log);
            impl Drop for Last {
                fn drop(&mut self) {
                    self.0.push("victim unwound");
                }
            }
            let _last = Last(l.clone());
            let _ = rx.receive();
            l.push("victim got past");
        })
        .unwrap()
        .tasklet()
        .clone();
    let l = log.clone();
    sched
        .spawn(move || {
            l.push("killing");
            victim.kill().unwrap();
            l.push(format!("killed, alive={}", victim.is_alive()));
        })
        .unwrap();
    let l = log.clone();
    sched.spawn(move || l.push("bystander")).unwrap();
    sched.run().unwrap();
    assert_eq!(
        log.take(),
        [
            "killing",
            "victim unwound",
            "killed, alive=false",
            "bystander"
        ]
    );
    assert_eq!(ch.balance(), 0);
}

#[test]
fn kill_pending_only_makes_the_victim_runnable() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let p = Probe::new();
    let rx = ch.clone();
    let victim = sched
        .spawn(p.body(move || {
            let _ = rx.receive();
        }))
        .unwrap();
    sched.run().unwrap();
    let log = Log::new();
    let l = log.clone();
    sched.spawn(move || l.push("queued first")).unwrap();
    victim.tasklet().kill_pending().unwrap();
    assert_eq!(ch.balance(), 0, "taken off its wait at once");
    assert!(victim.tasklet().is_alive());
    assert!(victim.tasklet().is_scheduled());
    assert_eq!(p.on_stack.count(), 0, "not unwound yet");
    sched.run().unwrap();
    assert_eq!(
        log.take(),
        ["queued first"],
        "it unwinds when its turn comes"
    );
    assert!(!victim.tasklet().is_alive());
    p.assert_unwound(true);
    assert!(matches!(victim.join(), Err(JoinError::Killed)));
}

#[test]
fn kill_pending_of_a_scheduled_tasklet() {
    let sched = support::scheduler();
    let p = Probe::new();
    let h = sched
        .spawn(p.body(|| {
            let _ = uthread::schedule();
        }))
        .unwrap();
    sched.run_for(uthread::Budget::Resumes(1)).unwrap();
    h.tasklet().kill_pending().unwrap();
    assert!(h.tasklet().is_alive());
    sched.run().unwrap();
    p.assert_unwound(true);
}

#[test]
fn a_tasklet_can_kill_itself() {
    let sched = support::scheduler();
    let p = Probe::new();
    let h = sched
        .spawn(p.body(|| {
            let me = uthread::current().unwrap();
            let _ = me.kill();
            unreachable!("kill of yourself does not return");
        }))
        .unwrap();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    p.assert_unwound(true);
    assert!(matches!(h.join(), Err(JoinError::Killed)));
}

#[test]
fn killing_a_dead_tasklet_does_nothing() {
    let sched = support::scheduler();
    let returned = sched.spawn(|| 1).unwrap();
    let t = returned.tasklet().clone();
    sched.run().unwrap();
    assert_eq!(t.kill(), Ok(()));
    assert_eq!(t.kill_pending(), Ok(()));
    assert_eq!(returned.join().unwrap(), 1, "the result survives");

    let killed = sched.spawn(|| ()).unwrap();
    killed.tasklet().kill().unwrap();
    assert_eq!(killed.tasklet().kill(), Ok(()));
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
}

#[test]
fn a_tasklet_that_catches_the_kill_is_killed_again_at_its_next_blocking_call() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let p = Probe::new();
    let log = p.log.clone();
    let rx = ch.clone();
    let h = sched
        .spawn(p.body(move || {
            let caught = catch_unwind(AssertUnwindSafe(|| rx.receive()));
            let payload: Box<dyn Any + Send> = caught.expect_err("the kill unwinds");
            assert!(payload.is::<TaskletExit>());
            log.push("caught the kill");
            // Swallowed it; the next blocking call unwinds again.
            let _ = rx.receive();
            log.push("blocked again");
        }))
        .unwrap();
    sched.run().unwrap();
    h.tasklet().kill().unwrap();
    assert!(!h.tasklet().is_alive());
    assert_eq!(p.log.get(), ["started", "caught the kill"]);
    assert_eq!(p.captured.count(), 1);
    assert_eq!(p.on_stack.count(), 1);
    assert_eq!(ch.balance(), 0);
    assert!(matches!(h.join(), Err(JoinError::Killed)));
}

#[test]
fn a_tasklet_that_catches_the_kill_and_yields_is_killed_again() {
    let sched = support::scheduler();
    let p = Probe::new();
    let log = p.log.clone();
    let h = sched
        .spawn(p.body(move || {
            let _ = catch_unwind(AssertUnwindSafe(uthread::schedule_remove));
            log.push("caught");
            let _ = uthread::schedule();
            log.push("yielded");
        }))
        .unwrap();
    sched.run().unwrap();
    h.tasklet().kill().unwrap();
    assert_eq!(p.log.get(), ["started", "caught"]);
    assert!(!h.tasklet().is_alive());
}

#[test]
fn a_destructor_that_blocks_while_unwinding_from_a_kill_is_refused() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let results = Log::new();
    struct SendOnDrop(Channel<u32>, Log);
    impl Drop for SendOnDrop {
        fn drop(&mut self) {
            match self.0.send(1) {
                Err(e) => self.1.push(format!("{:?}", e.error)),
                Ok(()) => self.1.push("sent"),
            }
        }
    }
    let (c, r) = (ch.clone(), results.clone());
    let h = sched
        .spawn(move || {
            let _d = SendOnDrop(c.clone(), r);
            let _ = c.receive();
        })
        .unwrap();
    sched.run().unwrap();
    h.tasklet().kill().unwrap();
    assert_eq!(results.take(), [format!("{:?}", ChannelError::Killed)]);
    assert_eq!(ch.balance(), 0);
}

#[test]
fn killing_a_receiver_that_was_already_handed_a_value_drops_the_value_once() {
    let sched = support::scheduler();
    let ch = Channel::<support::Token>::new();
    ch.set_preference(uthread::Preference::Sender);
    let values = Drops::new();
    let p = Probe::new();
    let rx = ch.clone();
    let victim = sched
        .spawn(p.body(move || {
            let _ = rx.receive();
        }))
        .unwrap();
    sched.run().unwrap();
    // Sender preference: main keeps running; the receiver holds the value, queued.
    ch.send(values.token()).unwrap();
    assert!(victim.tasklet().is_scheduled());
    assert_eq!(values.count(), 0);
    victim.tasklet().kill().unwrap();
    assert_eq!(values.count(), 1);
    p.assert_unwound(true);
}

#[test]
fn the_main_context_cannot_be_killed() {
    let sched = support::scheduler();
    assert_eq!(sched.main().kill(), Err(uthread::TaskletError::IsMain));
    assert_eq!(
        sched.main().kill_pending(),
        Err(uthread::TaskletError::IsMain)
    );
    // Not from a tasklet either.
    let main = sched.main();
    let h = sched.spawn(move || main.kill()).unwrap();
    sched.run().unwrap();
    assert_eq!(h.join().unwrap(), Err(uthread::TaskletError::IsMain));
    assert!(sched.main().is_alive());
}

/// Spawns a tasklet that panics and then, in a destructor run by that panic, waits on
/// `gate`: it stays suspended half-way through its unwind.
fn spawn_panicker_blocked_in_its_unwind(sched: &Scheduler, gate: &Channel<u32>, log: &Log) {
    let (g, l) = (gate.clone(), log.clone());
    sched
        .spawn(move || {
            struct WaitOnDrop(Channel<u32>, Log);
            impl Drop for WaitOnDrop {
                fn drop(&mut self) {
                    let r = self.0.receive();
                    self.1.push(format!("panicker's destructor got {r:?}"));
                }
            }
            let _w = WaitOnDrop(g, l);
            panic!("panics, then blocks while unwinding");
        })
        .unwrap();
}

#[test]
fn kill_unwinds_even_while_another_tasklet_is_suspended_in_the_middle_of_a_panic() {
    // The thread's panic count covers every stack: a tasklet suspended half-way through
    // its panic must not turn other tasklets' kills into errors.
    let sched = support::scheduler();
    sched.set_error_handler(|_| ());
    let p = Probe::new();
    let ch = Channel::<u32>::new();
    let rx = ch.clone();
    let plog = p.log.clone();
    let victim = sched
        .spawn(p.body(move || {
            for _ in 0..3 {
                if let Err(e) = rx.receive() {
                    plog.push(format!("error instead of unwind: {e}"));
                }
            }
        }))
        .unwrap();
    let gate = Channel::<u32>::new();
    let log = Log::new();
    spawn_panicker_blocked_in_its_unwind(&sched, &gate, &log);
    sched.run().unwrap();
    assert_eq!(gate.balance(), -1, "the panicker waits in its destructor");
    victim.tasklet().kill().unwrap();
    p.assert_unwound(true);
    gate.send(1).unwrap();
    sched.run().unwrap();
    assert_eq!(log.take(), ["panicker's destructor got Ok(1)"]);
}

#[test]
fn killing_a_tasklet_suspended_in_the_middle_of_its_own_panic_does_not_abort() {
    // Unwinding it again from inside its destructor would abort the process; its blocking
    // call is refused instead and the original panic carries on.
    let sched = support::scheduler();
    let failures = Log::new();
    let f = failures.clone();
    sched.set_error_handler(move |failure| {
        f.push(failure.panic_message().unwrap_or("?").to_owned());
    });
    let gate = Channel::<u32>::new();
    let log = Log::new();
    spawn_panicker_blocked_in_its_unwind(&sched, &gate, &log);
    sched.run().unwrap();
    let panicker = gate.queue()[0].clone();
    panicker.kill().unwrap();
    assert!(!panicker.is_alive());
    assert_eq!(
        log.take(),
        [format!(
            "panicker's destructor got Err({:?})",
            ChannelError::Killed
        )]
    );
    assert_eq!(gate.balance(), 0);
    assert_eq!(failures.take(), ["panics, then blocks while unwinding"]);
}
