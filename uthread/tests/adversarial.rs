//! Adversarial programs against the public API, from safe code only: re-entrancy through
//! destructors and hooks, panics where the library drops user values, kills and closes
//! racing each other, and crowds of waiters. The library must never abort, hang or panic
//! on its own account; the tests that could abort the whole binary if it did run their
//! body in a child process.

mod support;

use std::cell::{Cell, RefCell};
use std::process::Command;
use std::rc::Rc;
use std::time::Duration;

use support::Drops;
use uthread::{
    Channel, ChannelError, Event, JoinError, Lock, Queue, RunError, RunOutcome, Scheduler,
    TaskletError, WaitError,
};

/// Runs the test named `child` of this binary in a child process (its body runs only
/// there, where `UTHREAD_ADVERSARIAL_CHILD` is set) and returns its exit status and output.
fn in_child(child: &str) -> (std::process::ExitStatus, String, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", child, "--nocapture", "--test-threads=1"])
        .env("UTHREAD_ADVERSARIAL_CHILD", "1")
        .output()
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A crowd of `n` waiters, smaller under valgrind (`UTHREAD_TEST_TIME_SCALE`, which
/// `scripts/valgrind.sh` sets, slows everything down about that much).
fn crowd(n: u32) -> u32 {
    let scale = std::env::var("UTHREAD_TEST_TIME_SCALE")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    (n / scale).max(8) & !3
}

fn is_child() -> bool {
    std::env::var_os("UTHREAD_ADVERSARIAL_CHILD").is_some()
}

/// Runs `child` in a child process and asserts that it exited cleanly after printing
/// `done` (so neither an abort nor a hang-guard abort went unnoticed).
fn assert_child_ok(child: &str) {
    let (status, stdout, stderr) = in_child(child);
    assert!(
        status.success() && stdout.contains("child done"),
        "child {child} failed ({status}):\n{stdout}\n{stderr}"
    );
}

/// A value whose destructor sends on a channel (a `try_send`, so it never blocks) and
/// records what happened.
struct SendsOnDrop {
    to: Channel<u32>,
    outcome: Rc<RefCell<Vec<String>>>,
}

impl Drop for SendsOnDrop {
    fn drop(&mut self) {
        let r = self.to.try_send(7);
        self.outcome.borrow_mut().push(format!("{:?}", r.is_ok()));
    }
}

#[test]
fn a_value_whose_drop_uses_a_channel_is_dropped_once_when_its_blocked_sender_is_killed() {
    let sched = support::scheduler();
    let ch = Channel::<SendsOnDrop>::new();
    let side = Channel::<u32>::new();
    let outcome = Rc::new(RefCell::new(Vec::new()));
    let (tx, value) = (
        ch.clone(),
        SendsOnDrop {
            to: side.clone(),
            outcome: outcome.clone(),
        },
    );
    let sender = sched.spawn(move || tx.send(value).is_ok()).unwrap();
    // Someone waits on the side channel, so the destructor's try_send succeeds.
    let side_rx = side.clone();
    let listener = sched.spawn(move || side_rx.receive()).unwrap();
    sched.run().unwrap();
    assert_eq!(ch.balance(), 1);
    assert_eq!(side.balance(), -1);
    sender.tasklet().kill().unwrap();
    assert_eq!(ch.balance(), 0, "the killed sender left the channel");
    assert_eq!(
        *outcome.borrow(),
        ["true"],
        "dropped once, its send went through"
    );
    sched.run().unwrap();
    assert_eq!(listener.join().unwrap().unwrap(), 7);
    assert!(matches!(sender.join(), Err(JoinError::Killed)));
}

/// A destructor that blocks on a channel while its tasklet is being killed is refused
/// (the kill is not unwound twice); a destructor of a value that a *receiver* is handed
/// runs in the receiver and may block normally.
#[test]
fn a_value_whose_drop_blocks_is_refused_inside_a_kill_and_served_elsewhere() {
    struct BlocksOnDrop {
        on: Channel<u32>,
        got: Rc<RefCell<Vec<Result<u32, String>>>>,
    }
    impl Drop for BlocksOnDrop {
        fn drop(&mut self) {
            let r = self.on.receive().map_err(|e| e.to_string());
            self.got.borrow_mut().push(r);
        }
    }
    let sched = support::scheduler();
    let ch = Channel::<BlocksOnDrop>::new();
    let side = Channel::<u32>::new();
    let got = Rc::new(RefCell::new(Vec::new()));
    let make = || BlocksOnDrop {
        on: side.clone(),
        got: got.clone(),
    };
    // Killed while blocked sending: its value is dropped in the unwind; the receive in
    // the destructor must fail instead of blocking or unwinding again.
    let (tx, v) = (ch.clone(), make());
    let victim = sched.spawn(move || tx.send(v).is_ok()).unwrap();
    sched.run().unwrap();
    victim.tasklet().kill().unwrap();
    assert_eq!(got.borrow().len(), 1);
    assert!(got.borrow()[0].is_err(), "{:?}", got.borrow());
    assert_eq!(side.balance(), 0);
    assert_eq!(ch.balance(), 0);
    // Handed to a receiver that drops it: its destructor waits for a feeder.
    let (tx, v) = (ch.clone(), make());
    sched.spawn(move || tx.send(v).unwrap()).unwrap();
    let rx = ch.clone();
    sched.spawn(move || drop(rx.receive().unwrap())).unwrap();
    let feed = side.clone();
    sched.spawn(move || feed.send(42).unwrap()).unwrap();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    assert_eq!(got.borrow()[1], Ok(42));
}

/// A guard that kills another tasklet when dropped.
struct KillsOnDrop(Rc<RefCell<Option<uthread::Tasklet>>>, Rc<Cell<u32>>);

impl Drop for KillsOnDrop {
    fn drop(&mut self) {
        if let Some(t) = self.0.borrow_mut().take() {
            let _ = t.kill();
        }
        self.1.set(self.1.get() + 1);
    }
}

#[test]
fn a_kill_from_a_destructor_run_by_a_kill_chains_down_a_line_of_tasklets() {
    let sched = support::manual();
    let ch = Channel::<u32>::new();
    let dropped = Rc::new(Cell::new(0));
    let n = 200;
    // Tasklet i holds a guard that kills tasklet i + 1; all block on the channel.
    let slots: Vec<Rc<RefCell<Option<uthread::Tasklet>>>> =
        (0..n).map(|_| Rc::new(RefCell::new(None))).collect();
    let mut handles = Vec::new();
    for slot in &slots {
        let guard = KillsOnDrop(slot.clone(), dropped.clone());
        let rx = ch.clone();
        handles.push(
            sched
                .spawn(move || {
                    let _guard = guard;
                    let _ = rx.receive();
                })
                .unwrap(),
        );
    }
    for i in 0..n - 1 {
        *slots[i].borrow_mut() = Some(handles[i + 1].tasklet().clone());
    }
    sched.run().unwrap();
    assert_eq!(ch.balance(), -(n as isize));
    handles[0].tasklet().kill().unwrap();
    assert_eq!(dropped.get(), n as u32, "every guard dropped once");
    assert_eq!(ch.balance(), 0);
    assert!(handles.iter().all(|h| !h.tasklet().is_alive()));
    assert_eq!(sched.alive_count(), 0);
}

#[test]
fn a_destructor_run_by_a_kill_may_kill_its_killer_and_itself() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    let killer_slot = Rc::new(RefCell::new(None::<uthread::Tasklet>));
    let self_slot = Rc::new(RefCell::new(None::<uthread::Tasklet>));
    let dropped = Rc::new(Cell::new(0));
    let (a, b) = (
        KillsOnDrop(killer_slot.clone(), dropped.clone()),
        KillsOnDrop(self_slot.clone(), dropped.clone()),
    );
    let rx = ch.clone();
    let victim = sched
        .spawn(move || {
            let _kill_self = b;
            let _kill_killer = a;
            let _ = rx.receive();
        })
        .unwrap();
    let done = Rc::new(Cell::new(false));
    let (v, d) = (victim.tasklet().clone(), done.clone());
    let killer = sched
        .spawn(move || {
            // Wait until the victim blocks, then kill it.
            uthread::schedule().unwrap();
            let r = v.kill();
            d.set(true); // not reached: the victim's destructor kills us
            r
        })
        .unwrap();
    *killer_slot.borrow_mut() = Some(killer.tasklet().clone());
    *self_slot.borrow_mut() = Some(victim.tasklet().clone());
    sched.run().unwrap();
    assert_eq!(dropped.get(), 2);
    assert!(!victim.tasklet().is_alive());
    assert!(!killer.tasklet().is_alive());
    assert!(
        !done.get(),
        "the killer was killed by its victim's destructor"
    );
    assert_eq!(ch.balance(), 0);
    assert!(matches!(killer.join(), Err(JoinError::Killed)));
}

#[test]
fn closing_a_channel_from_destructors_while_its_waiters_are_being_killed() {
    struct ClosesOnDrop(Channel<u32>);
    impl Drop for ClosesOnDrop {
        fn drop(&mut self) {
            self.0.close_now();
        }
    }
    let sched = support::manual();
    let ch = Channel::<u32>::new();
    let drops = Drops::new();
    let mut handles = Vec::new();
    for i in 0..50 {
        let (rx, token) = (ch.clone(), drops.token());
        let closer = (i % 7 == 3).then(|| ClosesOnDrop(ch.clone()));
        handles.push(
            sched
                .spawn(move || {
                    let _token = token;
                    let _closer = closer;
                    rx.receive()
                })
                .unwrap(),
        );
    }
    sched.run().unwrap();
    assert_eq!(ch.balance(), -50);
    // Kill every other waiter; the closers among them wake all the rest with Closed.
    for h in handles.iter().step_by(2) {
        h.tasklet().kill().unwrap();
    }
    sched.run().unwrap();
    assert_eq!(ch.balance(), 0);
    assert!(ch.is_closed());
    assert_eq!(drops.count(), 50);
    for (i, h) in handles.into_iter().enumerate() {
        match h.join() {
            Err(JoinError::Killed) => assert_eq!(i % 2, 0),
            Ok(Err(ChannelError::Closed)) => assert_eq!(i % 2, 1),
            other => panic!("waiter {i}: {other:?}"),
        }
    }
}

#[test]
fn kill_all_while_destructors_close_and_send_on_the_channel_the_others_wait_on() {
    struct Noisy(Channel<u32>);
    impl Drop for Noisy {
        fn drop(&mut self) {
            let _ = self.0.try_send(1);
            self.0.close_now();
            self.0.open();
        }
    }
    let sched = support::manual();
    let ch = Channel::<u32>::new();
    let drops = Drops::new();
    for i in 0..40 {
        let (c, token, noisy) = (ch.clone(), drops.token(), Noisy(ch.clone()));
        sched
            .spawn(move || {
                let _t = token;
                let _n = noisy;
                if i % 2 == 0 {
                    let _ = c.receive();
                } else {
                    let _ = c.send(i);
                }
                let _ = c.receive();
            })
            .unwrap();
    }
    sched.run().unwrap();
    sched.kill_all();
    assert_eq!(drops.count(), 40);
    assert_eq!(sched.alive_count(), 0);
    assert_eq!(ch.balance(), 0);
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
}

#[test]
fn a_hundred_thousand_receivers_on_one_channel_are_served_in_order_then_closed() {
    let _guard = support::hang_guard(Duration::from_secs(120));
    let sched = support::manual();
    let ch = Channel::<u32>::new();
    let got = Rc::new(RefCell::new(Vec::new()));
    let n: u32 = crowd(100_000);
    for i in 0..n {
        let (rx, got) = (ch.clone(), got.clone());
        sched
            .spawn(move || {
                if let Ok(v) = rx.receive() {
                    got.borrow_mut().push((i, v));
                }
            })
            .unwrap();
    }
    sched.run().unwrap();
    assert_eq!(ch.balance(), -(n as isize));
    // Feed half (in FIFO order), kill a quarter from the back, close_now the rest.
    let tx = ch.clone();
    sched
        .spawn(move || tx.send_sequence(0..n / 2).unwrap())
        .unwrap();
    sched.run().unwrap();
    assert_eq!(ch.balance(), -((n / 2) as isize));
    let waiting = ch.queue();
    for t in waiting.iter().rev().take((n / 4) as usize) {
        t.kill().unwrap();
    }
    assert_eq!(ch.balance(), -((n / 4) as isize));
    ch.close_now();
    assert_eq!(ch.balance(), 0);
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    let got = got.borrow();
    assert_eq!(got.len(), (n / 2) as usize);
    assert!(
        got.iter().all(|&(i, v)| i == v),
        "FIFO: receiver i got value i"
    );
    assert_eq!(sched.alive_count(), 0);
}

#[test]
fn ten_thousand_lock_waiters_killed_from_the_back_leave_the_lock_usable() {
    let sched = support::manual();
    let lock = Rc::new(Lock::new());
    let order = Rc::new(RefCell::new(Vec::new()));
    let n = crowd(10_000);
    let half = n / 2;
    let holder = {
        let lock = lock.clone();
        sched
            .spawn(move || {
                let _g = lock.lock().unwrap();
                uthread::schedule_remove().unwrap();
            })
            .unwrap()
    };
    let mut waiters = Vec::new();
    for i in 0..n {
        let (lock, order) = (lock.clone(), order.clone());
        waiters.push(
            sched
                .spawn(move || {
                    let _g = lock.lock().unwrap();
                    order.borrow_mut().push(i);
                })
                .unwrap(),
        );
    }
    sched.run().unwrap();
    assert_eq!(lock.waiting(), n as usize);
    for w in waiters.iter().skip(half as usize).rev() {
        w.tasklet().kill().unwrap();
    }
    assert_eq!(lock.waiting(), half as usize);
    holder.tasklet().insert().unwrap();
    sched.run().unwrap();
    assert_eq!(*order.borrow(), (0..half).collect::<Vec<_>>());
    assert!(!lock.is_locked());
}

// ---------------------------------------------------------------------------------------
// Panics where the library drops user values.

/// Panics when dropped (unless the thread is already panicking, so that an unwind through
/// it never aborts on its own account).
struct PanicsOnDrop(&'static str);

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("{}", self.0);
        }
    }
}

/// Panics when dropped, even in an unwind (which aborts unless something catches it).
struct AlwaysPanicsOnDrop;

impl Drop for AlwaysPanicsOnDrop {
    fn drop(&mut self) {
        panic!("always");
    }
}

#[test]
fn killing_an_unstarted_tasklet_whose_closure_panics_on_drop_leaves_the_scheduler_usable() {
    assert_child_ok("child_unstarted_closure_panics_on_drop");
}

/// Before the fix the closure's panic unwound through the coroutine library, which then
/// dropped the closure a second time (a double free: glibc aborted at thread exit).
#[test]
fn child_unstarted_closure_panics_on_drop() {
    if !is_child() {
        return;
    }
    let sched = support::scheduler();
    let spawn_bomb = |what: &'static str| {
        let bomb = PanicsOnDrop(what);
        sched
            .spawn(move || {
                let _b = &bomb;
            })
            .unwrap()
    };
    // Killed before it ever ran: its closure is dropped unrun.
    let killed = spawn_bomb("killed unrun");
    killed.tasklet().kill().unwrap();
    assert!(!killed.tasklet().is_alive());
    assert!(matches!(killed.join(), Err(JoinError::Panicked(m)) if m == "killed unrun"));
    // A pending kill: its first slice unwinds before the body, dropping the closure in
    // the unwind (where this bomb keeps quiet).
    let pending = spawn_bomb("pending kill");
    pending.tasklet().kill_pending().unwrap();
    // The same with a destructor that panics even inside an unwind: the library catches
    // it where it drops the closure, so the unwind is not aborted.
    let stubborn = {
        let bomb = AlwaysPanicsOnDrop;
        sched
            .spawn(move || {
                let _b = &bomb;
            })
            .unwrap()
    };
    stubborn.tasklet().kill_pending().unwrap();
    let ok = sched.spawn(|| 5).unwrap();
    sched.run().unwrap();
    assert!(matches!(pending.join(), Err(JoinError::Killed)));
    let r = stubborn.join();
    assert!(
        matches!(r, Err(JoinError::Panicked(ref m)) if m == "always"),
        "{r:?}"
    );
    assert_eq!(ok.join().unwrap(), 5);
    // Torn down with the scheduler, never having run.
    let paused = uthread::Builder::new()
        .paused()
        .spawn_on(&sched, {
            let bomb = AlwaysPanicsOnDrop;
            move || {
                let _b = &bomb;
            }
        })
        .unwrap();
    drop(sched);
    let r = paused.join();
    assert!(
        matches!(r, Err(JoinError::Panicked(ref m)) if m == "always"),
        "{r:?}"
    );
    println!("child done");
}

#[test]
fn a_return_value_that_panics_on_drop_with_its_handle_dropped() {
    let sched = support::scheduler();
    let h = sched.spawn(|| PanicsOnDrop("result drop")).unwrap();
    sched.run().unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(h)));
    assert!(r.is_err(), "the user's destructor panicked in the dropper");
    let ok = sched.spawn(|| 1).unwrap();
    sched.run().unwrap();
    assert_eq!(ok.join().unwrap(), 1);
}

#[test]
fn a_panicking_destructor_of_a_blocked_senders_value_when_the_sender_is_killed() {
    assert_child_ok("child_panicking_destructor_of_a_blocked_senders_value");
}

#[test]
fn child_panicking_destructor_of_a_blocked_senders_value() {
    if !is_child() {
        return;
    }
    let sched = support::scheduler();
    let ch = Channel::<PanicsOnDrop>::new();
    let tx = ch.clone();
    let sender = sched
        .spawn(move || tx.send(PanicsOnDrop("value in wait list")).is_ok())
        .unwrap();
    sched.run().unwrap();
    assert_eq!(ch.balance(), 1);
    // The value belongs to the sender; its drop panics while the kill unwinds the sender.
    let _ = sender.tasklet().kill();
    assert!(!sender.tasklet().is_alive());
    assert_eq!(ch.balance(), 0);
    let _ = sched.run();
    println!("child done");
}

#[test]
fn a_panicking_destructor_of_a_queued_value_when_the_scheduler_is_dropped() {
    assert_child_ok("child_panicking_destructor_when_the_scheduler_is_dropped");
}

#[test]
fn child_panicking_destructor_when_the_scheduler_is_dropped() {
    if !is_child() {
        return;
    }
    let sched = support::scheduler();
    let ch = Channel::<PanicsOnDrop>::new();
    for _ in 0..3 {
        let tx = ch.clone();
        sched
            .spawn(move || tx.send(PanicsOnDrop("teardown")).is_ok())
            .unwrap();
    }
    sched.run().unwrap();
    assert_eq!(ch.balance(), 3);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(sched)));
    drop(r);
    assert_eq!(ch.balance(), 0);
    println!("child done");
}

#[test]
fn a_panicking_destructor_of_a_value_that_close_now_gives_back() {
    let sched = support::scheduler();
    let ch = Channel::<PanicsOnDrop>::new();
    let tx = ch.clone();
    let sender = sched
        .spawn(move || match tx.send(PanicsOnDrop("given back")) {
            Err(e) => {
                let closed = matches!(e.error, ChannelError::Closed);
                std::mem::forget(e.into_inner());
                closed
            }
            Ok(()) => false,
        })
        .unwrap();
    sched.run().unwrap();
    ch.close_now();
    sched.run().unwrap();
    assert!(
        sender.join().unwrap(),
        "the sender got Closed and its value back"
    );
}

// ---------------------------------------------------------------------------------------
// Hooks and handlers misbehaving.

#[test]
fn a_panicking_schedule_callback_does_not_abort_and_the_scheduler_recovers() {
    assert_child_ok("child_panicking_schedule_callback");
}

#[test]
fn child_panicking_schedule_callback() {
    if !is_child() {
        return;
    }
    let sched = support::scheduler();
    sched.set_schedule_callback(Some(Box::new(|_prev, next| {
        if next.is_some_and(|n| n.name().as_deref() == Some("trigger")) {
            panic!("schedule callback");
        }
    })));
    let t = uthread::Builder::new()
        .name("trigger")
        .spawn_on(&sched, || 3)
        .unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sched.run()));
    println!(
        "first run: {:?}",
        r.as_ref().map(|r| r.as_ref().map(|_| ()))
    );
    sched.set_schedule_callback(None);
    let r2 = sched.run();
    println!("second run: {:?}", r2.as_ref().map(|_| ()));
    let ok = sched.spawn(|| 4).unwrap();
    sched.run().unwrap();
    assert_eq!(ok.join().unwrap(), 4);
    drop(t);
    println!("child done");
}

#[test]
fn a_panicking_channel_callback_fails_only_the_calling_tasklet() {
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    sched.set_channel_callback(Some(Box::new(|ev| {
        if ev.tasklet.name().as_deref() == Some("victim") {
            panic!("channel callback");
        }
    })));
    sched.set_error_handler(|_| {});
    let tx = ch.clone();
    let victim = uthread::Builder::new()
        .name("victim")
        .spawn_on(&sched, move || tx.send(1).is_ok())
        .unwrap();
    let rx = ch.clone();
    let other = sched
        .spawn(move || rx.receive_timeout(support::ms(1)))
        .unwrap();
    sched.run().unwrap();
    assert!(matches!(victim.join(), Err(JoinError::Panicked(m)) if m.contains("channel callback")));
    assert!(other.join().unwrap().is_err());
    assert_eq!(ch.balance(), 0);
}

#[test]
fn a_panicking_error_handler_surfaces_from_run_and_the_scheduler_recovers() {
    assert_child_ok("child_panicking_error_handler");
}

#[test]
fn child_panicking_error_handler() {
    if !is_child() {
        return;
    }
    // Stackless test_broken_handler: a handler that raises makes run() raise.
    let sched = support::scheduler();
    sched.set_error_handler(|f| panic!("broken handler saw {f}"));
    sched.spawn(|| panic!("tasklet fails")).unwrap();
    let later = sched.spawn(|| 9).unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sched.run()));
    assert!(r.is_err(), "the handler's panic reached run()'s caller");
    sched.clear_error_handler();
    let _ = sched.run();
    assert_eq!(later.join().unwrap(), 9);
    println!("child done");
}

#[test]
fn run_from_an_error_handler_or_a_hook_is_refused_as_nested() {
    let sched = Rc::new(support::scheduler());
    let seen = Rc::new(RefCell::new(Vec::new()));
    let (s, log) = (Rc::downgrade(&sched), seen.clone());
    sched.set_error_handler(move |_| {
        let s = s.upgrade().unwrap();
        log.borrow_mut().push(format!("{:?}", s.run().map(|_| ())));
    });
    let (s, log) = (Rc::downgrade(&sched), seen.clone());
    sched.set_schedule_callback(Some(Box::new(move |_, next| {
        if next.is_some_and(|n| n.name().as_deref() == Some("hooked")) {
            let s = s.upgrade().unwrap();
            log.borrow_mut().push(format!("{:?}", s.run().map(|_| ())));
        }
    })));
    uthread::Builder::new()
        .name("hooked")
        .spawn_on(&sched, || panic!("fails"))
        .unwrap();
    sched.run().unwrap();
    sched.set_schedule_callback(None);
    let seen = seen.borrow();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.iter().all(|s| s.contains("Nested")), "{seen:?}");
}

#[test]
fn nested_run_of_another_scheduler_from_a_tasklet_is_refused_and_from_main_works() {
    let outer = support::scheduler();
    let inner = Rc::new(support::scheduler());
    let inner_done = inner.spawn(|| 2).unwrap();
    let i2 = inner.clone();
    let t = outer.spawn(move || i2.run().map(|_| ())).unwrap();
    outer.run().unwrap();
    assert!(matches!(t.join().unwrap(), Err(RunError::Nested)));
    inner.run().unwrap();
    assert_eq!(inner_done.join().unwrap(), 2);
}

#[test]
fn spawning_and_sending_from_a_panic_hook_while_a_tasklet_panics() {
    thread_local! {
        static HOOK_CHANNEL: RefCell<Option<Channel<String>>> = const { RefCell::new(None) };
    }
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let handled = HOOK_CHANNEL.with(|c| {
            let Some(ch) = c.borrow().clone() else {
                return false;
            };
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .copied()
                .unwrap_or("?");
            let msg = msg.to_owned();
            // A tasklet spawned from the hook, and a non-blocking send from it.
            let _ = uthread::spawn(move || ch.send(msg).is_ok());
            true
        });
        if !handled {
            prev(info);
        }
    }));
    let sched = support::scheduler();
    let reports = Channel::<String>::new();
    HOOK_CHANNEL.with(|c| *c.borrow_mut() = Some(reports.clone()));
    sched.set_error_handler(|_| {});
    let failing = sched.spawn(|| panic!("hooked panic")).unwrap();
    let rx = reports.clone();
    let collector = sched.spawn(move || rx.receive()).unwrap();
    sched.run().unwrap();
    HOOK_CHANNEL.with(|c| *c.borrow_mut() = None);
    assert!(matches!(failing.join(), Err(JoinError::Panicked(_))));
    assert_eq!(collector.join().unwrap().unwrap(), "hooked panic");
    assert_eq!(sched.alive_count(), 0);
}

#[test]
fn a_scheduler_moved_into_its_own_tasklet_and_dropped_there() {
    let drops = Drops::new();
    let sched = support::scheduler();
    let slot: Rc<RefCell<Option<Scheduler>>> = Rc::new(RefCell::new(None));
    let ch = Channel::<u32>::new();
    for _ in 0..3 {
        let (rx, token) = (ch.clone(), drops.token());
        sched
            .spawn(move || {
                let _t = token;
                let _ = rx.receive();
            })
            .unwrap();
    }
    let (s, token) = (slot.clone(), drops.token());
    let dropper = sched
        .spawn(move || {
            let _t = token;
            let sched = s.borrow_mut().take().unwrap();
            drop(sched);
            "after drop"
        })
        .unwrap();
    let dropper_t = dropper.tasklet().clone();
    *slot.borrow_mut() = Some(sched);
    // Main holds no scheduler handle now; waiting on the join runs the thread's default
    // scheduler, whose tasklet then drops it.
    let r = dropper.join();
    assert!(
        matches!(r, Ok("after drop") | Err(JoinError::Wait(_))),
        "{r:?}"
    );
    assert_eq!(drops.count(), 4);
    assert!(!dropper_t.is_alive());
    assert_eq!(ch.balance(), 0);
}

#[test]
fn a_wait_list_whose_last_handle_is_dropped_by_a_killed_waiter() {
    // Each tasklet owns the only handles to the primitive it waits on; killing them must
    // free the primitives from inside the kill without touching freed state.
    let sched = support::manual();
    let drops = Drops::new();
    let mut ts = Vec::new();
    for i in 0..30 {
        let token = drops.token();
        ts.push(
            sched
                .spawn(move || {
                    let _t = token;
                    match i % 5 {
                        0 => {
                            let _ = Channel::<u32>::new().receive();
                        }
                        1 => {
                            let _ = Queue::<u32>::new().get();
                        }
                        2 => {
                            let _ = Event::new().wait();
                        }
                        3 => {
                            let l = Lock::new();
                            l.acquire().unwrap();
                            let _ = l.acquire();
                        }
                        _ => {
                            let _ = uthread::Semaphore::new(0).acquire();
                        }
                    }
                })
                .unwrap(),
        );
    }
    let outcome = sched.run().unwrap();
    assert!(matches!(outcome, RunOutcome::Deadlock(ref r) if r.blocked.len() >= 24));
    for t in &ts {
        t.tasklet().kill().unwrap();
    }
    assert_eq!(drops.count(), 30);
    assert_eq!(sched.alive_count(), 0);
}

#[test]
fn throwing_into_a_tasklet_that_is_unwinding_from_a_kill() {
    struct ThrowsOnDrop(
        Rc<RefCell<Option<uthread::Tasklet>>>,
        Rc<RefCell<Vec<String>>>,
    );
    impl Drop for ThrowsOnDrop {
        fn drop(&mut self) {
            let me = uthread::current().unwrap();
            let r = me.throw("into myself");
            self.1.borrow_mut().push(format!("self: {r:?}"));
            if let Some(other) = self.0.borrow_mut().take() {
                let r = other.throw("into the killer");
                self.1.borrow_mut().push(format!("other: {}", r.is_ok()));
            }
            let r = uthread::schedule();
            self.1.borrow_mut().push(format!("schedule: {r:?}"));
        }
    }
    let sched = support::scheduler();
    let log = Rc::new(RefCell::new(Vec::new()));
    let slot = Rc::new(RefCell::new(None));
    let ch = Channel::<u32>::new();
    let (rx, guard) = (ch.clone(), ThrowsOnDrop(slot.clone(), log.clone()));
    let victim = sched
        .spawn(move || {
            let _g = guard;
            let _ = rx.receive();
        })
        .unwrap();
    let v = victim.tasklet().clone();
    let c2 = ch.clone();
    let killer = sched
        .spawn(move || {
            uthread::schedule().unwrap();
            v.kill().unwrap();
            // The error thrown at us by the victim's destructor surfaces here.
            c2.receive_timeout(support::ms(1))
        })
        .unwrap();
    *slot.borrow_mut() = Some(killer.tasklet().clone());
    sched.run().unwrap();
    let log = log.borrow();
    assert_eq!(
        log[0],
        format!("self: {:?}", Err::<(), _>(TaskletError::IsCurrent))
    );
    assert_eq!(log[1], "other: true");
    assert!(log[2].contains("Killed"), "{log:?}");
    assert!(!victim.tasklet().is_alive());
    match killer.join().unwrap() {
        Err(ChannelError::Thrown(t)) => assert_eq!(t.into_inner().to_string(), "into the killer"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn deadlock_with_main_and_a_tasklet_each_waiting_gives_errors_not_a_hang() {
    let _guard = support::hang_guard(Duration::from_secs(20));
    let sched = support::scheduler();
    let mc = Channel::<u32>::new();
    let c = Channel::<u32>::new();
    let rx = c.clone();
    let t = sched.spawn(move || rx.receive()).unwrap();
    // Main waits on mc, the tasklet on c: nothing can ever run.
    assert!(matches!(mc.receive(), Err(ChannelError::Deadlock)));
    assert!(t.tasklet().is_blocked());
    drop(sched);
    assert!(matches!(t.join(), Err(JoinError::Killed)));
    let _ = WaitError::Deadlock;
}

// ---------------------------------------------------------------------------------------
// Extreme arguments: none may panic inside the library.

#[test]
fn watchdogs_and_budgets_of_duration_max_mean_no_limit() {
    let sched = support::scheduler();
    let max = Duration::MAX;
    let runs: [&dyn Fn() -> Result<RunOutcome, RunError>; 5] = [
        &|| sched.run_watchdog(uthread::Watchdog::total(max)),
        &|| sched.run_watchdog(uthread::Watchdog::per_slice(max)),
        &|| sched.run_watchdog(uthread::Watchdog::total(max).soft()),
        &|| sched.run_preemptive(uthread::Budget::Time(max)),
        &|| sched.run_for(uthread::Budget::Time(max)),
    ];
    for (i, run) in runs.iter().enumerate() {
        let t = sched
            .spawn(|| {
                uthread::schedule().unwrap();
                uthread::preempt_point();
                3
            })
            .unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run));
        assert!(
            matches!(r, Ok(Ok(RunOutcome::Finished))),
            "run {i}: {:?}",
            r.map(|r| r.map(|_| ()))
        );
        assert_eq!(t.join().unwrap(), 3);
    }
}

#[test]
fn timeouts_and_sleeps_of_duration_max_do_not_overflow() {
    let sched = support::manual();
    let ch = Channel::<u32>::new();
    let rx = ch.clone();
    let t = sched
        .spawn(move || {
            let r = rx.receive_timeout(Duration::MAX);
            uthread::sleep_until(Duration::MAX).unwrap();
            r
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(ch.balance(), -1);
    sched.advance(Duration::MAX);
    sched.advance(Duration::MAX);
    sched.run().unwrap();
    sched.advance(Duration::from_secs(1));
    sched.run().unwrap();
    assert!(t.join().unwrap().is_err());
    assert_eq!(sched.now(), Duration::MAX);
}

#[test]
fn counts_at_their_limits_give_errors_not_panics() {
    let sched = support::scheduler();
    let r = std::panic::catch_unwind(|| {
        let s = uthread::Semaphore::new(usize::MAX);
        s.release();
        s.available()
    });
    assert!(r.is_ok(), "Semaphore::release at usize::MAX panicked");
    let r = std::panic::catch_unwind(|| {
        let b = uthread::BoundedSemaphore::new(usize::MAX);
        b.release().is_err()
    });
    assert!(matches!(r, Ok(true)));
    let r = std::panic::catch_unwind(|| uthread::Barrier::new(0).wait().is_ok());
    assert!(r.is_ok(), "Barrier::new(0) panicked");
    let q = Queue::<u32>::bounded(0);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| q.try_put(1)));
    assert!(r.is_ok(), "Queue::bounded(0).try_put panicked");
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        uthread::Builder::new()
            .stack_size(usize::MAX)
            .spawn_on(&sched, || ())
            .map(|_| ())
    }));
    assert!(matches!(r, Ok(Err(_))), "{r:?}");
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        uthread::Builder::new()
            .stack_size(0)
            .spawn_on(&sched, || 1)
            .map(|h| h.tasklet().stack_size())
    }));
    assert!(matches!(r, Ok(Ok(n)) if n > 0), "{r:?}");
    sched.run().unwrap();
}

// ---------------------------------------------------------------------------------------
// User destructors that the scheduler runs after a tasklet ended (its detached result,
// its tasklet-local values): they may call uthread without wedging the pump.

/// Calls every kind of uthread operation from its destructor and logs the outcomes.
struct UsesUthreadOnDrop {
    ch: Channel<u32>,
    log: support::Log,
}

impl Drop for UsesUthreadOnDrop {
    fn drop(&mut self) {
        let log = &self.log;
        let me = uthread::current();
        log.push(format!(
            "current alive: {:?}",
            me.as_ref().map(|t| t.is_alive())
        ));
        log.push(format!("schedule: {:?}", uthread::schedule().is_ok()));
        log.push(format!(
            "receive: {:?}",
            self.ch.receive_timeout(Duration::ZERO).is_ok()
        ));
        log.push(format!(
            "sleep: {:?}",
            uthread::sleep(Duration::ZERO).is_ok()
        ));
        let l = log.clone();
        let spawned = uthread::spawn(move || l.push("spawned ran"));
        log.push(format!("spawn: {:?}", spawned.is_ok()));
        if let Some(me) = me {
            let _ = me.kill();
        }
        log.push("drop end");
    }
}

#[test]
fn a_detached_result_whose_destructor_calls_uthread() {
    let _guard = support::hang_guard(Duration::from_secs(30));
    let sched = support::scheduler();
    let log = support::Log::new();
    let (ch, l) = (Channel::<u32>::new(), log.clone());
    let t = sched
        .spawn(move || UsesUthreadOnDrop { ch, log: l })
        .unwrap();
    let tasklet = t.tasklet().clone();
    drop(t); // detached: its result is dropped by the scheduler
    let other = sched.spawn(|| 1).unwrap();
    let r = sched.run();
    assert!(r.is_ok(), "{r:?}");
    sched.run().unwrap();
    assert!(!tasklet.is_alive());
    assert_eq!(other.join().unwrap(), 1);
    let log = log.get();
    assert!(log.contains(&"drop end".to_owned()), "{log:?}");
    assert!(log.contains(&"spawned ran".to_owned()), "{log:?}");
    assert_eq!(sched.alive_count(), 0);
}

#[test]
fn tasklet_locals_whose_destructors_call_uthread() {
    let _guard = support::hang_guard(Duration::from_secs(30));
    let sched = support::scheduler();
    let log = support::Log::new();
    let ch = Channel::<u32>::new();
    let mut handles = Vec::new();
    // One ends normally, one is killed while blocked, one panics.
    for how in 0..3 {
        let (c, l) = (ch.clone(), log.clone());
        handles.push(
            sched
                .spawn(move || {
                    let _ = uthread::local::set(UsesUthreadOnDrop {
                        ch: c.clone(),
                        log: l,
                    });
                    match how {
                        0 => {}
                        1 => {
                            let _ = c.receive();
                        }
                        _ => panic!("ends in a panic"),
                    }
                })
                .unwrap(),
        );
    }
    sched.set_error_handler(|_| {});
    sched.run().unwrap();
    handles[1].tasklet().kill().unwrap();
    sched.run().unwrap();
    assert!(handles.iter().all(|h| !h.tasklet().is_alive()));
    let log = log.get();
    assert_eq!(
        log.iter().filter(|l| *l == "drop end").count(),
        3,
        "{log:?}"
    );
    assert_eq!(
        log.iter().filter(|l| *l == "spawned ran").count(),
        3,
        "{log:?}"
    );
    assert_eq!(ch.balance(), 0);
    assert_eq!(sched.alive_count(), 0);
}

// ---------------------------------------------------------------------------------------
// Two schedulers on one thread: a kill must keep its promise ("dead when this returns")
// or say why not (`OtherScheduler`), whoever calls it.

#[test]
fn killing_a_blocked_tasklet_of_the_second_scheduler_from_main() {
    let first = support::scheduler(); // the thread's default for main
    let second = support::scheduler();
    let drops = Drops::new();
    let ch = Channel::<u32>::new();
    let (rx, token) = (ch.clone(), drops.token());
    let t = second
        .spawn(move || {
            let _t = token;
            let _ = rx.receive();
        })
        .unwrap();
    second.run().unwrap();
    assert!(t.tasklet().is_blocked());
    // Main is outside `second` (the thread's current scheduler is `first`), and
    // `second` is not running: the kill is carried out before it returns.
    t.tasklet().kill().unwrap();
    assert!(!t.tasklet().is_alive());
    assert_eq!(drops.count(), 1);
    assert_eq!(ch.balance(), 0);
    // A throw likewise runs the target at once.
    let rx = ch.clone();
    let thrown = second.spawn(move || rx.receive()).unwrap();
    second.run().unwrap();
    thrown.tasklet().throw("from main").unwrap();
    assert!(thrown.is_finished());
    assert!(matches!(
        thrown.join().unwrap(),
        Err(ChannelError::Thrown(_))
    ));
    assert_eq!(ch.balance(), 0);
    drop(first);
}

#[test]
fn killing_a_tasklet_of_another_scheduler_from_a_tasklet() {
    let first = support::scheduler();
    let second = Rc::new(support::scheduler());
    let drops = Drops::new();
    let ch = Channel::<u32>::new();
    let (rx, token) = (ch.clone(), drops.token());
    let victim = second
        .spawn(move || {
            let _t = token;
            let _ = rx.receive();
        })
        .unwrap();
    second.run().unwrap();
    let v = victim.tasklet().clone();
    let killer = first
        .spawn(move || {
            let r = v.kill();
            (r, v.is_alive())
        })
        .unwrap();
    first.run().unwrap();
    let (r, alive_after) = killer.join().unwrap();
    assert_eq!(r, Ok(()));
    assert!(!alive_after, "dead when kill returned");
    assert_eq!(drops.count(), 1);
    assert_eq!(ch.balance(), 0);
    drop(second);
}

// ---------------------------------------------------------------------------------------
// Hooks that break their contract ("hooks must not change scheduler state"): the
// scheduler may refuse or misbehave in a documented way, but never abort or corrupt.

/// Runs a scheduler with three counting tasklets and a schedule callback that calls
/// `act` when `victim` is about to start; then checks the scheduler still works.
fn hook_misbehaves(act: fn(&uthread::Tasklet)) {
    let sched = support::scheduler();
    let count = Rc::new(Cell::new(0));
    let mut handles = Vec::new();
    for name in ["a", "victim", "c"] {
        let c = count.clone();
        handles.push(
            uthread::Builder::new()
                .name(name)
                .spawn_on(&sched, move || {
                    uthread::schedule().unwrap();
                    c.set(c.get() + 1);
                })
                .unwrap(),
        );
    }
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    sched.set_schedule_callback(Some(Box::new(move |_prev, next| {
        if let Some(next) = next {
            if next.name().as_deref() == Some("victim") && !f.replace(true) {
                act(next);
            }
        }
    })));
    // The callback runs on the pump's stack, as the main context: a yield there is a
    // no-op, a block fails with Deadlock, a kill is carried out; the run goes on.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sched.run()));
    println!("run: {:?}", r.as_ref().map(|r| r.as_ref().map(|_| ())));
    assert!(matches!(r, Ok(Ok(RunOutcome::Finished))));
    sched.set_schedule_callback(None);
    // Whatever happened to the victim, the others finished and the scheduler still runs.
    // The others finished; the victim is dead, or paused if the hook removed it.
    assert!(!handles[0].tasklet().is_alive() && !handles[2].tasklet().is_alive());
    let victim = handles[1].tasklet();
    assert!(!victim.is_alive() || victim.is_paused(), "{victim:?}");
    victim.kill().unwrap();
    let later = sched.spawn(|| 11).unwrap();
    let r = sched.run();
    println!("later run: {:?}", r.as_ref().map(|_| ()));
    assert_eq!(later.join().unwrap(), 11);
    assert!(count.get() >= 2, "the others finished");
    drop(sched);
    println!("child done");
}

#[test]
fn a_schedule_callback_that_kills_the_next_tasklet() {
    assert_child_ok("child_schedule_callback_kills_next");
}

#[test]
fn child_schedule_callback_kills_next() {
    if is_child() {
        // Documented: from a hook the kill is pending, the victim first in the queue.
        hook_misbehaves(|next| {
            assert_eq!(next.kill(), Ok(()));
            assert!(next.is_scheduled());
        });
    }
}

#[test]
fn a_schedule_callback_that_yields() {
    assert_child_ok("child_schedule_callback_yields");
}

#[test]
fn child_schedule_callback_yields() {
    if is_child() {
        hook_misbehaves(|_| {
            assert!(uthread::current().unwrap().is_main());
            assert!(uthread::schedule().is_ok());
        });
    }
}

#[test]
fn a_schedule_callback_that_blocks() {
    assert_child_ok("child_schedule_callback_blocks");
}

#[test]
fn child_schedule_callback_blocks() {
    if is_child() {
        hook_misbehaves(|_| {
            let r = Channel::<u32>::new().receive();
            assert!(matches!(r, Err(ChannelError::Deadlock)), "{r:?}");
        });
    }
}

#[test]
fn a_schedule_callback_that_spawns_and_throws() {
    assert_child_ok("child_schedule_callback_spawns_and_throws");
}

#[test]
fn child_schedule_callback_spawns_and_throws() {
    if is_child() {
        hook_misbehaves(|next| {
            assert!(uthread::spawn(|| ()).is_ok());
            println!("throw: {:?}", next.throw("from the hook"));
            println!("remove: {:?}", next.remove());
        });
    }
}

#[test]
fn an_error_handler_that_kills_everything() {
    let sched = support::scheduler();
    let drops = Drops::new();
    let ch = Channel::<u32>::new();
    for _ in 0..3 {
        let (rx, token) = (ch.clone(), drops.token());
        sched
            .spawn(move || {
                let _t = token;
                let _ = rx.receive();
            })
            .unwrap();
    }
    sched.spawn(|| panic!("trigger")).unwrap();
    let s = Rc::new(RefCell::new(None::<Rc<Scheduler>>));
    let sched = Rc::new(sched);
    *s.borrow_mut() = Some(sched.clone());
    let s2 = Rc::downgrade(&sched);
    sched.set_error_handler(move |_| {
        if let Some(s) = s2.upgrade() {
            s.kill_all();
        }
    });
    let r = sched.run();
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(drops.count(), 3);
    assert_eq!(sched.alive_count(), 0);
    assert_eq!(ch.balance(), 0);
    s.borrow_mut().take();
}

// ---------------------------------------------------------------------------------------
// The scheduler dropped from inside itself, in every place that runs user code.

/// A scheduler kept in a slot that user code inside it can empty (dropping it).
fn slotted() -> (Rc<RefCell<Option<Scheduler>>>, Drops, Channel<u32>) {
    let slot = Rc::new(RefCell::new(Some(support::scheduler())));
    let drops = Drops::new();
    let ch = Channel::<u32>::new();
    {
        let guard = slot.borrow();
        let sched = guard.as_ref().unwrap();
        for _ in 0..3 {
            let (rx, token) = (ch.clone(), drops.token());
            sched
                .spawn(move || {
                    let _t = token;
                    let _ = rx.receive();
                })
                .unwrap();
        }
    }
    (slot, drops, ch)
}

fn take_and_drop(slot: &Rc<RefCell<Option<Scheduler>>>) {
    let s = slot.borrow_mut().take();
    drop(s);
}

#[test]
fn a_scheduler_dropped_by_a_tasklet_while_main_waits_on_a_channel() {
    let _guard = support::hang_guard(Duration::from_secs(20));
    let (slot, drops, ch) = slotted();
    let (s, tx) = (slot.clone(), ch.clone());
    let main_ch = Channel::<u32>::new();
    let to_main = main_ch.clone();
    slot.borrow()
        .as_ref()
        .unwrap()
        .spawn(move || {
            take_and_drop(&s);
            let _ = tx.try_send(1);
            to_main.send(5)
        })
        .unwrap();
    let r = main_ch.receive();
    assert!(matches!(r, Ok(5) | Err(_)), "{r:?}");
    assert!(slot.borrow().is_none());
    assert_eq!(drops.count(), 3);
    assert_eq!(ch.balance(), 0);
}

#[test]
fn a_scheduler_dropped_from_a_schedule_callback_or_an_error_handler() {
    let _guard = support::hang_guard(Duration::from_secs(20));
    for via_error_handler in [false, true] {
        let (slot, drops, ch) = slotted();
        let s = Rc::downgrade(&slot);
        {
            let guard = slot.borrow();
            let sched = guard.as_ref().unwrap();
            if via_error_handler {
                sched.set_error_handler(move |_| take_and_drop(&s.upgrade().unwrap()));
                sched.spawn(|| panic!("trigger")).unwrap();
            } else {
                sched.set_schedule_callback(Some(Box::new(move |_, _| {
                    if let Some(slot) = s.upgrade() {
                        if let Ok(mut g) = slot.try_borrow_mut() {
                            drop(g.take());
                        }
                    }
                })));
            }
        }
        // Run through a second handle-free path: main waits on a channel, which drives
        // the thread's default scheduler (this one).
        let r = Channel::<u32>::new().receive();
        assert!(r.is_err());
        let leftover = slot.borrow_mut().take();
        drop(leftover);
        assert_eq!(drops.count(), 3, "error handler: {via_error_handler}");
        assert_eq!(ch.balance(), 0);
    }
}

#[test]
fn a_scheduler_dropped_by_a_destructor_during_kill_all() {
    struct DropsScheduler(Rc<RefCell<Option<Scheduler>>>);
    impl Drop for DropsScheduler {
        fn drop(&mut self) {
            if let Ok(mut g) = self.0.try_borrow_mut() {
                drop(g.take());
            }
        }
    }
    let _guard = support::hang_guard(Duration::from_secs(20));
    let (slot, drops, ch) = slotted();
    let d = DropsScheduler(slot.clone());
    let rx = ch.clone();
    slot.borrow()
        .as_ref()
        .unwrap()
        .spawn(move || {
            let _d = d;
            let _ = rx.receive();
        })
        .unwrap();
    // Run it, then kill everything from main; one destructor drops the scheduler.
    let sched_ref = slot.borrow();
    let _ = sched_ref.as_ref().unwrap().run();
    drop(sched_ref);
    let all: Vec<_> = slot.borrow().as_ref().unwrap().tasklets();
    for t in all {
        let _ = t.kill();
    }
    let leftover = slot.borrow_mut().take();
    drop(leftover);
    assert_eq!(drops.count(), 3);
    assert_eq!(ch.balance(), 0);
}

// ---------------------------------------------------------------------------------------
// Tasklet-local values whose destructors use tasklet-local storage.

/// Reads and writes tasklet-local storage when dropped.
struct UsesLocalsOnDrop(Rc<Cell<u32>>);

impl Drop for UsesLocalsOnDrop {
    fn drop(&mut self) {
        let _ = uthread::local::take::<u8>();
        let _ = uthread::local::set(7u8);
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn a_local_replaced_inside_with_mut_is_dropped_outside_the_storage_borrow() {
    let sched = support::scheduler();
    let dropped = Rc::new(Cell::new(0));
    let d = dropped.clone();
    let t = sched
        .spawn(move || {
            assert!(uthread::local::set(UsesLocalsOnDrop(d.clone())).is_ok());
            // Replacing the value inside with_mut: the old one is dropped afterwards.
            uthread::local::with_mut(|_: &mut UsesLocalsOnDrop| {
                assert!(uthread::local::set(UsesLocalsOnDrop(d.clone())).is_ok());
            })
            .unwrap();
            // And replacing it with set: the old one is dropped outside the borrow too.
            assert!(uthread::local::set(UsesLocalsOnDrop(d.clone())).is_ok());
            uthread::local::with(|v: &u8| *v)
        })
        .unwrap();
    let r = sched.run();
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(t.join().unwrap(), Some(7));
    assert_eq!(dropped.get(), 3, "every value dropped once");
}

// ---------------------------------------------------------------------------------------
// Values the library discards (an error sent with send_throw when close_now ends the
// conversation, a ValueEvent's old value) whose destructors use the same primitive.

#[test]
fn a_thrown_error_discarded_by_close_now_may_use_the_channel_when_dropped() {
    thread_local! {
        static CHANNEL: RefCell<Option<Channel<u32>>> = const { RefCell::new(None) };
        static SEEN: Cell<isize> = const { Cell::new(0) };
    }
    /// A thrown error must be `Send + Sync`, so it reaches the channel through a
    /// thread-local when it is dropped.
    #[derive(Debug)]
    struct Touches;
    impl std::fmt::Display for Touches {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("touches the channel when dropped")
        }
    }
    impl std::error::Error for Touches {}
    impl Drop for Touches {
        fn drop(&mut self) {
            let balance = CHANNEL.with(|c| c.borrow().as_ref().map(Channel::balance));
            SEEN.with(|s| s.set(balance.unwrap_or(-100) + 100));
        }
    }
    let sched = support::scheduler();
    let ch = Channel::<u32>::new();
    CHANNEL.with(|c| *c.borrow_mut() = Some(ch.clone()));
    let tx = ch.clone();
    let t = sched.spawn(move || tx.send_throw(Touches)).unwrap();
    sched.run().unwrap();
    assert_eq!(ch.balance(), 1);
    ch.close_now(); // the sender is woken with Closed; its error is discarded
    sched.run().unwrap();
    CHANNEL.with(|c| c.borrow_mut().take());
    assert!(matches!(t.join().unwrap(), Err(ChannelError::Closed)));
    assert_eq!(
        SEEN.with(Cell::get),
        100,
        "dropped once, seeing an empty channel"
    );
}

#[test]
fn a_value_event_value_whose_destructor_reads_the_event() {
    struct ReadsEvent(
        Rc<RefCell<Option<uthread::ValueEvent<ReadsEvent>>>>,
        Rc<Cell<u32>>,
    );
    impl Clone for ReadsEvent {
        fn clone(&self) -> Self {
            ReadsEvent(self.0.clone(), self.1.clone())
        }
    }
    impl Drop for ReadsEvent {
        fn drop(&mut self) {
            if let Some(ev) = self.0.borrow().as_ref() {
                let _ = ev.is_set();
                let _ = ev.waiting();
            }
            self.1.set(self.1.get() + 1);
        }
    }
    let _sched = support::scheduler();
    let slot = Rc::new(RefCell::new(None));
    let drops = Rc::new(Cell::new(0));
    let ev = uthread::ValueEvent::new();
    *slot.borrow_mut() = Some(ev.clone());
    ev.set(ReadsEvent(slot.clone(), drops.clone()));
    ev.set(ReadsEvent(slot.clone(), drops.clone())); // drops the first value
    ev.clear(); // drops the second
    assert_eq!(drops.get(), 2);
    slot.borrow_mut().take();
}
