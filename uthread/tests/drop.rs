//! Dropping a scheduler with live tasklets in every state unwinds all of them, each
//! destructor exactly once, and the stack pool gets every stack back.

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use support::{Drops, Log, Token};
use uthread::{Builder, Channel, ChannelError, JoinError, Scheduler, Tasklet};

/// One tasklet per state a tasklet can be in when its scheduler goes away. Each holds a
/// captured guard (counted by `captured`) and, once started, a guard on its stack
/// (counted by `on_stack`).
struct Zoo {
    captured: Drops,
    on_stack: Drops,
    values: Drops,
    tasklets: Vec<Tasklet>,
    joins: Vec<uthread::JoinHandle<()>>,
    started: usize,
    channels: Vec<Channel<Token>>,
    log: Log,
}

impl Zoo {
    fn build(sched: &Scheduler) -> Zoo {
        let mut zoo = Zoo {
            captured: Drops::new(),
            on_stack: Drops::new(),
            values: Drops::new(),
            tasklets: Vec::new(),
            joins: Vec::new(),
            started: 0,
            channels: Vec::new(),
            log: Log::new(),
        };
        let send_ch = Channel::<Token>::with_name("send");
        let recv_ch = Channel::<Token>::with_name("recv");
        let handed = Channel::<Token>::with_name("handed");
        handed.set_preference(uthread::Preference::Sender);
        zoo.channels = vec![send_ch.clone(), recv_ch.clone(), handed.clone()];

        // Started, scheduled again after a yield.
        zoo.add(sched, Builder::new().name("yielded"), |log| loop {
            if uthread::schedule().is_err() {
                log.push("yielded got an error instead of unwinding");
                break;
            }
        });
        // Started, paused.
        zoo.add(sched, Builder::new().name("paused"), |_| {
            let _ = uthread::schedule_remove();
        });
        // Blocked sending, with a value in the channel.
        let v = zoo.values.token();
        let c = send_ch.clone();
        zoo.add(sched, Builder::new().name("sending"), move |_| {
            let _ = c.send(v);
        });
        // Blocked receiving.
        let c = recv_ch.clone();
        zoo.add(sched, Builder::new().name("receiving"), move |_| {
            let _ = c.receive();
        });
        // Handed a value but not yet resumed (Sender preference keeps it queued).
        let c = handed.clone();
        zoo.add(sched, Builder::new().name("handed"), move |_| {
            let _ = c.receive();
        });
        // Sleeping.
        zoo.add(sched, Builder::new().name("sleeping"), |_| {
            let _ = uthread::sleep(Duration::from_secs(3600));
        });
        // be_nice.
        zoo.add(sched, Builder::new().name("nice"), |_| loop {
            if uthread::be_nice().is_err() {
                break;
            }
        });
        // Caught the kill once, then blocked again.
        let c = recv_ch.clone();
        zoo.add(sched, Builder::new().name("stubborn"), move |log| {
            let _ = catch_unwind(AssertUnwindSafe(|| c.receive()));
            log.push("stubborn caught");
            let _ = c.receive();
            log.push("stubborn survived");
        });
        // Blocks in a destructor while unwinding.
        let c = recv_ch.clone();
        zoo.add(sched, Builder::new().name("drop-blocks"), move |log| {
            struct BlockOnDrop(Channel<Token>, Log);
            impl Drop for BlockOnDrop {
                fn drop(&mut self) {
                    match self.0.receive() {
                        Err(ChannelError::Killed) => self.1.push("drop refused"),
                        _ => self.1.push("drop blocked?"),
                    }
                }
            }
            let _b = BlockOnDrop(c.clone(), log.clone());
            let _ = c.receive();
        });
        zoo.started = zoo.tasklets.len();
        zoo
    }

    fn add(&mut self, sched: &Scheduler, builder: Builder, f: impl FnOnce(&Log) + 'static) {
        let g = self.captured.token();
        let on_stack = self.on_stack.clone();
        let log = self.log.clone();
        let h = builder
            .spawn_on(sched, move || {
                let _g = g;
                let _s = on_stack.token();
                f(&log);
            })
            .unwrap();
        self.tasklets.push(h.tasklet().clone());
        self.joins.push(h);
    }

    /// Runs every tasklet until it waits, hands the `handed` receiver its value, then
    /// adds two that never start (one scheduled, one paused).
    fn settle(&mut self, sched: &Scheduler) {
        sched.run_for(uthread::Budget::Resumes(20)).unwrap();
        self.channels[2].send(self.values.token()).unwrap();
        self.add(sched, Builder::new().name("new"), |_| ());
        self.add(sched, Builder::new().name("new-paused").paused(), |_| ());
        for t in &self.tasklets {
            assert!(t.is_alive(), "{t:?}");
        }
        assert_eq!(self.on_stack.count(), 0, "nothing unwound yet");
    }

    fn assert_all_unwound(&self) {
        let n = self.tasklets.len();
        assert_eq!(self.captured.count(), n, "each closure dropped once");
        assert_eq!(
            self.on_stack.count(),
            self.started,
            "each stack unwound once"
        );
        assert_eq!(self.values.count(), 2, "the values in flight dropped once");
        assert!(self.tasklets.iter().all(|t| !t.is_alive()));
        for c in &self.channels {
            assert_eq!(c.balance(), 0, "nobody left on {:?}", c.name());
        }
        let log = self.log.get();
        assert!(log.contains(&"stubborn caught".to_owned()));
        assert!(!log.contains(&"stubborn survived".to_owned()));
        assert!(!log.contains(&"yielded got an error instead of unwinding".to_owned()));
        assert!(log.contains(&"drop refused".to_owned()));
    }
}

#[test]
fn dropping_a_scheduler_unwinds_tasklets_in_every_state_once() {
    let sched = support::builder().manual_clock().build();
    let mut zoo = Zoo::build(&sched);
    zoo.settle(&sched);
    drop(sched);
    zoo.assert_all_unwound();
    let Zoo { joins, .. } = zoo;
    for h in joins {
        assert!(matches!(h.join(), Err(JoinError::Killed)));
    }
}

#[test]
fn kill_all_unwinds_everything_and_returns_every_stack_to_the_pool() {
    let sched = support::builder().manual_clock().build();
    let baseline = sched.stack_stats();
    assert_eq!(baseline.in_use, 0);
    let mut zoo = Zoo::build(&sched);
    zoo.settle(&sched);
    let live = sched.stack_stats();
    // Dedicated stacks or places on a shared stack (UTHREAD_TEST_STACKS=copying).
    assert_eq!(live.in_use + live.copying, zoo.tasklets.len());
    sched.kill_all();
    zoo.assert_all_unwound();
    assert_eq!(sched.alive_count(), 0);
    assert_eq!(sched.scheduled_count(), 0);
    assert_eq!(sched.blocked_count(), 0);
    assert_eq!(sched.timer_count(), 0);
    let after = sched.stack_stats();
    assert_eq!(
        after.in_use + after.copying,
        baseline.in_use + baseline.copying,
        "every stack came back"
    );
    assert_eq!(after.idle as u64, after.mapped, "and waits in the pool");
    sched.trim_stacks();
    assert_eq!(sched.stack_stats().idle, 0);

    // The scheduler still works afterwards.
    let h = sched.spawn(|| 5).unwrap();
    sched.run().unwrap();
    assert_eq!(h.join().unwrap(), 5);
}

#[test]
fn stacks_are_reused_after_tasklets_end() {
    // The dedicated pool's bookkeeping, whatever UTHREAD_TEST_STACKS says.
    let sched = support::builder()
        .stack_strategy(uthread::StackStrategy::dedicated())
        .build();
    for _ in 0..4 {
        sched.spawn(|| ()).unwrap();
    }
    sched.run().unwrap();
    let s = sched.stack_stats();
    assert_eq!((s.in_use, s.idle, s.mapped, s.reused), (0, 4, 4, 0));
    for _ in 0..4 {
        sched.spawn(|| ()).unwrap();
    }
    let s = sched.stack_stats();
    assert_eq!((s.in_use, s.idle, s.mapped, s.reused), (4, 0, 4, 4));
    sched.run().unwrap();
    sched.reserve_stacks(3).unwrap();
    let s = sched.stack_stats();
    assert_eq!((s.in_use, s.idle, s.mapped), (0, 7, 7));
}

#[test]
fn a_destructor_that_spawns_during_teardown_is_handled() {
    let drops = Drops::new();
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let rx = ch.clone();
    let d = drops.clone();
    sched
        .spawn(move || {
            struct SpawnOnDrop(Drops);
            impl Drop for SpawnOnDrop {
                fn drop(&mut self) {
                    let g = self.0.token();
                    // The spawned tasklet holds a guard; teardown must kill it too.
                    let _ = uthread::spawn(move || {
                        let _g = g;
                        let _ = uthread::schedule_remove();
                    });
                }
            }
            let _s = SpawnOnDrop(d);
            let _ = rx.receive();
        })
        .unwrap();
    sched.run().unwrap();
    drop(sched);
    assert_eq!(drops.count(), 1);
}

#[test]
fn dropping_a_scheduler_with_only_finished_tasklets_is_quiet() {
    let drops = Drops::new();
    let sched = support::scheduler();
    let g = drops.token();
    let h = sched.spawn(move || drop(g)).unwrap();
    sched.run().unwrap();
    drop(sched);
    assert_eq!(drops.count(), 1);
    assert!(h.join().is_ok(), "the result outlives the scheduler");
}

#[test]
fn channels_outliving_their_scheduler_are_left_consistent() {
    let ch = Channel::<Token>::new();
    let values = Drops::new();
    {
        let sched = support::scheduler();
        for _ in 0..3 {
            let (tx, v) = (ch.clone(), values.token());
            sched.spawn(move || tx.send(v).unwrap()).unwrap();
        }
        sched.run().unwrap();
        assert_eq!(ch.balance(), 3);
    }
    assert_eq!(ch.balance(), 0);
    assert!(ch.queue().is_empty());
    assert_eq!(values.count(), 3);
}

#[test]
fn dropping_one_of_two_schedulers_leaves_the_other_alone() {
    let a = support::scheduler();
    let b = support::scheduler();
    let ch = Channel::<u32>::new();
    let rx = ch.clone();
    let in_b = Builder::new()
        .spawn_on(&b, move || rx.receive().unwrap())
        .unwrap();
    b.run().unwrap();
    let in_a = a.spawn(|| ()).unwrap();
    drop(a);
    assert!(!in_a.tasklet().is_alive());
    assert!(in_b.tasklet().is_blocked());
    b.enter(|| ch.send(9).unwrap());
    assert_eq!(in_b.join().unwrap(), 9);
}

#[test]
fn dropping_a_scheduler_while_the_thread_panics_still_unwinds_its_tasklets() {
    let drops = Drops::new();
    let log = Log::new();
    let (d, l) = (drops.clone(), log.clone());
    let result = catch_unwind(AssertUnwindSafe(move || {
        let sched = support::scheduler();
        let ch = Channel::<u32>::new();
        for name in ["yielder", "receiver"] {
            let (g, l, rx) = (d.token(), l.clone(), ch.clone());
            sched
                .spawn(move || {
                    let _g = g;
                    // Stops after a few errors so that a regression fails instead of
                    // spinning for ever.
                    for _ in 0..3 {
                        let r = if name == "yielder" {
                            uthread::schedule().map_err(|e| e.to_string())
                        } else {
                            rx.receive().map(drop).map_err(|e| e.to_string())
                        };
                        if let Err(e) = r {
                            l.push(format!("{name}: {e}"));
                        }
                    }
                    l.push(format!("{name} returned"));
                })
                .unwrap();
        }
        sched.run_for(uthread::Budget::Resumes(3)).unwrap();
        // The game loop fails; the scheduler is dropped during the unwind.
        std::panic::resume_unwind(Box::new("frame failed"));
    }));
    assert!(result.is_err());
    assert_eq!(drops.count(), 2, "both unwound");
    assert_eq!(log.get(), Vec::<String>::new(), "killed, not handed errors");
}

#[test]
fn the_main_contexts_locals_and_guardless_locks_end_with_its_scheduler() {
    // Found by the valgrind run: main's tasklet-local storage was never dropped, and a
    // lock main acquired without a guard (kept there) tied main's record into a cycle
    // that leaked the whole scheduler.
    let drops = Drops::new();
    let lock = uthread::Lock::new();
    {
        let _sched = support::scheduler();
        uthread::local::set(drops.token()).unwrap();
        lock.acquire().unwrap();
        assert!(lock.is_locked());
    }
    assert_eq!(drops.count(), 1, "main's locals were dropped once");
    assert!(
        !lock.is_locked(),
        "released when main's scheduler went away"
    );
    assert!(lock.try_lock().is_none(), "no scheduler on this thread now");
    let _sched = support::scheduler();
    drop(lock.try_lock().expect("free for the next scheduler"));
}
