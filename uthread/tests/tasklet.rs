//! Tasklet operations and introspection: spawn (scheduled or paused), insert, remove, run,
//! switch, and the state queries (alive, scheduled, blocked and on what, paused, current,
//! main, name, run count).

mod support;

use std::collections::HashSet;
use std::time::Duration;

use support::{Drops, Log};
use uthread::{
    BlockedOn, Builder, Channel, ObjectRef, RunOutcome, Scheduler, Tasklet, TaskletError,
    TaskletState,
};

/// Spawns a tasklet that logs `name` and ends.
fn spawn_logger(sched: &Scheduler, log: &Log, name: &'static str) -> Tasklet {
    let log = log.clone();
    Builder::new()
        .name(name)
        .spawn_on(sched, move || log.push(name))
        .unwrap()
        .tasklet()
        .clone()
}

#[test]
fn spawn_schedules_at_once_and_tasklets_run_in_fifo_order() {
    let sched = support::scheduler();
    let log = Log::new();
    let ts: Vec<_> = ["a", "b", "c"]
        .into_iter()
        .map(|n| spawn_logger(&sched, &log, n))
        .collect();
    for t in &ts {
        assert!(t.is_alive());
        assert!(t.is_scheduled());
        assert_eq!(t.state(), TaskletState::Scheduled);
        assert!(!t.is_started());
        assert!(!t.is_paused() && !t.is_blocked() && !t.is_current() && !t.is_main());
    }
    assert_eq!(sched.alive_count(), 3);
    assert_eq!(sched.scheduled_count(), 3);
    assert_eq!(uthread::run_count(), 4, "three queued plus the caller");
    assert!(log.get().is_empty(), "spawn does not run anything");

    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert_eq!(log.take(), ["a", "b", "c"]);
    for t in &ts {
        assert!(!t.is_alive());
        assert_eq!(t.state(), TaskletState::Dead);
        assert!(!t.is_scheduled());
    }
    assert_eq!(sched.alive_count(), 0);
    assert_eq!(sched.scheduled_count(), 0);
    assert_eq!(uthread::run_count(), 1);
}

#[test]
fn join_returns_the_tasklets_value() {
    let sched = support::scheduler();
    let h = sched.spawn(|| String::from("done")).unwrap();
    assert!(!h.is_finished());
    sched.run().unwrap();
    assert!(h.is_finished());
    assert_eq!(h.join().unwrap(), "done");
}

#[test]
fn spawn_paused_runs_only_once_inserted() {
    let sched = support::scheduler();
    let log = Log::new();
    let l = log.clone();
    let h = Builder::new()
        .paused()
        .spawn_on(&sched, move || l.push("ran"))
        .unwrap();
    let t = h.tasklet().clone();
    assert!(t.is_paused());
    assert!(t.is_alive());
    assert!(!t.is_scheduled());
    assert_eq!(sched.scheduled_count(), 0);

    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert!(log.get().is_empty(), "a paused tasklet does not run");
    assert!(t.is_paused());

    t.insert().unwrap();
    assert!(t.is_scheduled());
    sched.run().unwrap();
    assert_eq!(log.take(), ["ran"]);
    assert!(!t.is_alive());
}

#[test]
fn insert_appends_to_the_back_and_is_a_noop_when_already_scheduled() {
    let sched = support::scheduler();
    let log = Log::new();
    let l = log.clone();
    let paused = Builder::new()
        .paused()
        .spawn_on(&sched, move || l.push("p"))
        .unwrap()
        .tasklet()
        .clone();
    let a = spawn_logger(&sched, &log, "a");
    let b = spawn_logger(&sched, &log, "b");
    paused.insert().unwrap();
    // Inserting a scheduled tasklet does not move it.
    a.insert().unwrap();
    sched.run().unwrap();
    assert_eq!(log.take(), ["a", "b", "p"]);
    assert!(!b.is_alive());
}

#[test]
fn insert_of_a_blocked_or_dead_tasklet_is_refused() {
    let sched = support::scheduler();
    let ch = Channel::<u8>::new();
    let rx = ch.clone();
    let blocked = sched.spawn(move || rx.receive().unwrap()).unwrap();
    let dead = sched.spawn(|| ()).unwrap();
    sched.run().unwrap();
    assert!(blocked.tasklet().is_blocked());
    assert_eq!(blocked.tasklet().insert(), Err(TaskletError::Blocked));
    assert!(
        blocked.tasklet().is_blocked(),
        "a refused insert changes nothing"
    );
    assert_eq!(ch.balance(), -1);
    assert_eq!(dead.tasklet().insert(), Err(TaskletError::Dead));
    assert_eq!(dead.tasklet().remove(), Err(TaskletError::Dead));
    ch.send(1).unwrap();
    assert_eq!(blocked.join().unwrap(), 1);
}

#[test]
fn remove_takes_a_scheduled_tasklet_out_of_the_queue() {
    let sched = support::scheduler();
    let log = Log::new();
    let a = spawn_logger(&sched, &log, "a");
    let b = spawn_logger(&sched, &log, "b");
    let c = spawn_logger(&sched, &log, "c");
    b.remove().unwrap();
    assert!(b.is_paused());
    assert_eq!(sched.scheduled_count(), 2);
    // Removing a paused tasklet again does nothing.
    b.remove().unwrap();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert_eq!(log.take(), ["a", "c"]);
    assert!(b.is_alive() && b.is_paused());
    assert!(!a.is_alive() && !c.is_alive());
    b.insert().unwrap();
    sched.run().unwrap();
    assert_eq!(log.take(), ["b"]);
}

#[test]
fn remove_of_a_started_tasklet_pauses_it_where_it_yielded() {
    let sched = support::scheduler();
    let log = Log::new();
    let l = log.clone();
    let t = sched
        .spawn(move || {
            l.push("1");
            uthread::schedule().unwrap();
            l.push("2");
        })
        .unwrap();
    sched.run_for(uthread::Budget::Resumes(1)).unwrap();
    assert!(t.tasklet().is_scheduled() && t.tasklet().is_started());
    t.tasklet().remove().unwrap();
    sched.run().unwrap();
    assert_eq!(log.take(), ["1"]);
    t.tasklet().insert().unwrap();
    sched.run().unwrap();
    assert_eq!(log.take(), ["2"]);
    assert_eq!(t.join().unwrap(), ());
}

#[test]
fn remove_of_a_blocked_or_current_tasklet_is_refused() {
    let sched = support::scheduler();
    let ch = Channel::<u8>::new();
    let rx = ch.clone();
    let blocked = sched.spawn(move || rx.receive().unwrap()).unwrap();
    let me = sched
        .spawn(|| uthread::current().unwrap().remove())
        .unwrap();
    sched.run().unwrap();
    assert_eq!(blocked.tasklet().remove(), Err(TaskletError::Blocked));
    assert_eq!(me.join().unwrap(), Err(TaskletError::IsCurrent));
    assert_eq!(ch.balance(), -1);
    ch.send(0).unwrap();
    assert_eq!(blocked.join().unwrap(), 0);
}

/// `a` logs, calls `op` on `b`, logs again; `x` is queued between them.
fn run_or_switch(op: fn(&Tasklet) -> Result<(), TaskletError>) -> (Scheduler, Log, Tasklet) {
    let sched = support::scheduler();
    let log = Log::new();
    let l = log.clone();
    let b = spawn_logger(&sched, &log, "b");
    b.remove().unwrap();
    let target = b.clone();
    let a = Builder::new()
        .name("a")
        .spawn_on(&sched, move || {
            l.push("a1");
            op(&target).unwrap();
            l.push("a2");
        })
        .unwrap()
        .tasklet()
        .clone();
    spawn_logger(&sched, &log, "x");
    b.insert().unwrap(); // queue: a, x, b
    (sched, log, a)
}

#[test]
fn run_switches_to_the_target_now_and_the_caller_stays_runnable_right_behind_it() {
    let (sched, log, a) = run_or_switch(Tasklet::run);
    sched.run().unwrap();
    assert_eq!(log.take(), ["a1", "b", "a2", "x"]);
    assert!(!a.is_alive());
}

#[test]
fn switch_switches_to_the_target_now_and_pauses_the_caller() {
    let (sched, log, a) = run_or_switch(Tasklet::switch);
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert_eq!(log.take(), ["a1", "b", "x"]);
    assert!(a.is_alive() && a.is_paused());
    a.insert().unwrap();
    sched.run().unwrap();
    assert_eq!(log.take(), ["a2"]);
    assert!(!a.is_alive());
}

#[test]
fn run_from_main_runs_the_target_then_returns_to_main() {
    let sched = support::scheduler();
    let log = Log::new();
    let a = spawn_logger(&sched, &log, "a");
    let b = spawn_logger(&sched, &log, "b");
    b.run().unwrap();
    assert_eq!(log.take(), ["b"], "only the target ran");
    assert!(a.is_scheduled());
    sched.run().unwrap();
    assert_eq!(log.take(), ["a"]);
}

#[test]
fn switch_from_main_runs_the_target_and_main_resumes_when_nothing_else_can_run() {
    let sched = support::scheduler();
    let log = Log::new();
    let a = spawn_logger(&sched, &log, "a");
    let b = spawn_logger(&sched, &log, "b");
    b.switch().unwrap();
    assert_eq!(log.take(), ["b", "a"]);
    assert!(!a.is_alive());
    assert!(sched.main().is_current());
}

#[test]
fn run_and_switch_to_blocked_dead_or_current_tasklets() {
    let sched = support::scheduler();
    let ch = Channel::<u8>::new();
    let rx = ch.clone();
    let blocked = sched.spawn(move || rx.receive().unwrap()).unwrap();
    let dead = sched.spawn(|| ()).unwrap();
    let me = sched
        .spawn(|| {
            let me = uthread::current().unwrap();
            (me.run(), me.switch())
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(blocked.tasklet().run(), Err(TaskletError::Blocked));
    assert_eq!(blocked.tasklet().switch(), Err(TaskletError::Blocked));
    assert_eq!(dead.tasklet().run(), Err(TaskletError::Dead));
    assert_eq!(dead.tasklet().switch(), Err(TaskletError::Dead));
    assert_eq!(me.join().unwrap(), (Ok(()), Ok(())), "to yourself: no-op");
    assert!(blocked.tasklet().is_blocked());
    ch.send(3).unwrap();
    assert_eq!(blocked.join().unwrap(), 3);
}

#[test]
fn run_on_a_tasklet_of_another_scheduler_is_refused() {
    let one = support::scheduler();
    let two = support::scheduler();
    let theirs = two.spawn(|| ()).unwrap();
    let t = theirs.tasklet().clone();
    let refused = one.spawn(move || t.run()).unwrap();
    one.run().unwrap();
    assert_eq!(refused.join().unwrap(), Err(TaskletError::OtherScheduler));
    assert!(theirs.tasklet().is_scheduled());
    two.run().unwrap();
    assert!(theirs.is_finished());
}

#[test]
fn introspection_from_inside_a_tasklet() {
    let sched = support::scheduler();
    let main = sched.main();
    let h = Builder::new()
        .name("scout")
        .spawn_on(&sched, move || {
            let me = uthread::current().unwrap();
            (
                me.is_current(),
                me.is_main(),
                me.state(),
                me.is_started(),
                me.is_alive(),
                me.name(),
                main.is_current(),
                main.is_main(),
            )
        })
        .unwrap();
    sched.run().unwrap();
    let (cur, is_main, state, started, alive, name, main_cur, main_main) = h.join().unwrap();
    assert!(cur);
    assert!(!is_main);
    assert_eq!(state, TaskletState::Running);
    assert!(started && alive);
    assert_eq!(name.as_deref(), Some("scout"));
    assert!(!main_cur, "main is not current while a tasklet runs");
    assert!(main_main);
}

#[test]
fn introspection_of_the_main_context() {
    let sched = support::scheduler();
    let main = sched.main();
    assert!(main.is_main());
    assert!(main.is_current());
    assert!(main.is_alive());
    assert_eq!(main.state(), TaskletState::Running);
    assert_eq!(uthread::current().unwrap(), main);
    assert_eq!(main.kill(), Err(TaskletError::IsMain));
    assert!(!sched.tasklets().contains(&main), "main is not listed");
}

#[test]
fn blocked_on_says_what_and_which_direction() {
    let sched = support::builder().manual_clock().build();
    let inbox = Channel::<u8>::with_name("inbox");
    let outbox = Channel::<u8>::new();
    let (rx, tx) = (inbox.clone(), outbox.clone());
    let receiver = sched.spawn(move || rx.receive().unwrap()).unwrap();
    let sender = sched.spawn(move || tx.send(5).unwrap()).unwrap();
    let sleeper = sched
        .spawn(|| uthread::sleep(Duration::from_secs(2)).unwrap())
        .unwrap();
    let nice = sched.spawn(|| uthread::be_nice().unwrap()).unwrap();
    assert_eq!(receiver.tasklet().blocked_on(), None);
    assert!(matches!(sched.run().unwrap(), RunOutcome::Idle { .. }));

    let r = receiver.tasklet();
    assert!(r.is_blocked() && !r.is_scheduled() && !r.is_paused());
    assert_eq!(r.state(), TaskletState::Blocked);
    assert_eq!(
        r.blocked_on(),
        Some(BlockedOn::Receive(ObjectRef {
            id: inbox.id(),
            name: Some("inbox".into()),
        }))
    );
    assert!(r.blocked_on().unwrap().to_string().contains("'inbox'"));
    assert_eq!(inbox.queue(), std::slice::from_ref(r));
    assert_eq!(
        sender.tasklet().blocked_on(),
        Some(BlockedOn::Send(ObjectRef {
            id: outbox.id(),
            name: None,
        }))
    );
    assert_eq!(
        sleeper.tasklet().blocked_on(),
        Some(BlockedOn::Sleep {
            until: Duration::from_secs(2)
        })
    );
    assert_eq!(nice.tasklet().blocked_on(), Some(BlockedOn::NextTick));
    assert_eq!(sched.blocked_count(), 4);

    inbox.send(1).unwrap();
    assert_eq!(outbox.receive().unwrap(), 5);
    assert!(!r.is_alive());
    assert_eq!(r.blocked_on(), None);
    sched.advance(Duration::from_secs(2));
    sched.run().unwrap();
    assert!(sleeper.is_finished() && nice.is_finished());
}

#[test]
fn run_count_counts_the_current_tasklet() {
    let sched = support::scheduler();
    assert_eq!(uthread::run_count(), 1);
    let counts = Log::new();
    for _ in 0..3 {
        let counts = counts.clone();
        sched
            .spawn(move || counts.push(uthread::run_count().to_string()))
            .unwrap();
    }
    assert_eq!(uthread::run_count(), 4);
    sched.run().unwrap();
    // Each sees itself plus those still queued behind it.
    assert_eq!(counts.take(), ["3", "2", "1"]);
    assert_eq!(uthread::run_count(), 1);
}

#[test]
fn names_and_renaming() {
    let sched = support::scheduler();
    let named = Builder::new()
        .name("gate-guard")
        .spawn_on(&sched, || ())
        .unwrap();
    let anonymous = sched.spawn(|| ()).unwrap();
    assert_eq!(named.tasklet().name().as_deref(), Some("gate-guard"));
    assert_eq!(anonymous.tasklet().name(), None);
    anonymous.tasklet().set_name("renamed");
    assert_eq!(anonymous.tasklet().name().as_deref(), Some("renamed"));
    let shown = format!("{} {:?}", named.tasklet(), named.tasklet());
    assert!(shown.contains("gate-guard"), "{shown}");
    assert_eq!(sched.main().name().as_deref(), Some("main"));
    sched.run().unwrap();
    assert_eq!(
        named.tasklet().name().as_deref(),
        Some("gate-guard"),
        "a dead tasklet's handle still names it (for logs)"
    );
}

#[test]
fn new_tasklets_inherit_the_creators_atomic_flag() {
    let sched = support::scheduler();
    assert!(!sched.main().is_atomic());
    let plain = sched.spawn(|| ()).unwrap();
    assert!(!plain.tasklet().is_atomic());
    let h = sched
        .spawn(|| {
            let was = uthread::set_atomic(true);
            let child = uthread::spawn(|| ()).unwrap();
            let overridden = Builder::new().atomic(false).spawn(|| ()).unwrap();
            let flags = (
                was,
                uthread::current().unwrap().is_atomic(),
                child.tasklet().is_atomic(),
                overridden.tasklet().is_atomic(),
            );
            assert!(uthread::set_atomic(false));
            flags
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(h.join().unwrap(), (false, true, true, false));
}

#[test]
fn switch_count_counts_resumes() {
    let sched = support::scheduler();
    let h = sched
        .spawn(|| {
            for _ in 0..3 {
                uthread::schedule().unwrap();
            }
            uthread::current().unwrap().switch_count()
        })
        .unwrap();
    let t = h.tasklet().clone();
    assert_eq!(t.switch_count(), 0);
    sched.run_for(uthread::Budget::Resumes(2)).unwrap();
    assert_eq!(t.switch_count(), 2);
    sched.run().unwrap();
    // Read during the fourth resume, which is not yet counted.
    assert_eq!(h.join().unwrap(), 3);
}

#[test]
fn handles_are_equal_and_hash_by_identity() {
    let sched = support::scheduler();
    let a = sched.spawn(|| ()).unwrap();
    let b = sched.spawn(|| ()).unwrap();
    let set: HashSet<Tasklet> = [
        a.tasklet().clone(),
        a.tasklet().clone(),
        b.tasklet().clone(),
    ]
    .into_iter()
    .collect();
    assert_eq!(set.len(), 2);
    assert_ne!(a.tasklet(), b.tasklet());
    assert_eq!(sched.tasklet(a.tasklet().id()).as_ref(), Some(a.tasklet()));
    let listed = sched.tasklets();
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(a.tasklet()) && listed.contains(b.tasklet()));
    sched.run().unwrap();
    assert_eq!(sched.tasklet(a.tasklet().id()), None);
    assert!(sched.tasklets().is_empty());
}

#[test]
fn stack_size_is_rounded_up_to_pages_with_a_minimum() {
    let sched = support::builder().stack_size(64 * 1024).build();
    let default = sched.spawn(|| ()).unwrap();
    assert_eq!(default.tasklet().stack_size(), 64 * 1024);
    let odd = Builder::new()
        .stack_size(20_000)
        .spawn_on(&sched, || ())
        .unwrap();
    let page = 4096; // x86-64 Linux
    assert_eq!(
        odd.tasklet().stack_size(),
        20_000usize.div_ceil(page) * page
    );
    let tiny = Builder::new()
        .stack_size(1)
        .spawn_on(&sched, || ())
        .unwrap();
    assert_eq!(tiny.tasklet().stack_size(), 16 * 1024);
    sched.run().unwrap();
    assert_eq!(default.tasklet().stack_size(), 0, "dead: no stack");
}

#[test]
fn spawn_from_inside_a_tasklet_appends_to_the_queue() {
    let sched = support::scheduler();
    let log = Log::new();
    let l = log.clone();
    sched
        .spawn(move || {
            let l2 = l.clone();
            uthread::spawn(move || l2.push("child")).unwrap();
            l.push("parent");
        })
        .unwrap();
    spawn_logger(&sched, &log, "sibling");
    sched.run().unwrap();
    assert_eq!(log.take(), ["parent", "sibling", "child"]);
}

#[test]
fn handles_outliving_their_scheduler_report_it() {
    let sched = support::scheduler();
    let h = sched.spawn(|| ()).unwrap();
    let t = h.tasklet().clone();
    drop(sched);
    assert!(!t.is_alive());
    assert_eq!(t.state(), TaskletState::Dead);
    assert_eq!(t.insert(), Err(TaskletError::NoScheduler));
    assert_eq!(t.remove(), Err(TaskletError::NoScheduler));
    assert_eq!(t.run(), Err(TaskletError::NoScheduler));
    assert_eq!(t.throw("late"), Err(TaskletError::NoScheduler));
    assert_eq!(t.kill(), Ok(()), "killing the dead does nothing");
    assert!(matches!(h.join(), Err(uthread::JoinError::Killed)));
}

#[test]
fn spawn_without_a_scheduler_fails() {
    // A fresh thread has no scheduler.
    std::thread::spawn(|| {
        assert!(matches!(
            uthread::spawn(|| ()),
            Err(uthread::SpawnError::NoScheduler)
        ));
        assert!(uthread::current().is_none());
        assert_eq!(uthread::run_count(), 0);
        assert!(matches!(
            uthread::schedule(),
            Err(uthread::WaitError::NoScheduler)
        ));
    })
    .join()
    .unwrap();
}

#[test]
fn the_closure_of_a_finished_tasklet_is_dropped_once() {
    let sched = support::scheduler();
    let drops = Drops::new();
    let g = drops.token();
    sched.spawn(move || drop(g)).unwrap();
    let g2 = drops.token();
    sched
        .spawn(move || {
            let _keep = &g2;
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(drops.count(), 2);
}
