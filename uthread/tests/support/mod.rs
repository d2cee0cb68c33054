//! Helpers shared by the integration tests: drop counters, an ordered log, a manual-clock
//! scheduler, driver tasklets for the model tests, and a guard that aborts a hung test.
#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the helpers"
)]

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use uthread::{JoinHandle, Queue, Scheduler, SchedulerBuilder, StackStrategy, TaskletId};

/// The environment variable that runs the suite on copied stacks: `UTHREAD_TEST_STACKS=copying`
/// (`scripts/valgrind.sh` runs every uthread test binary both ways). Test-only: the library
/// itself reads no such variable, since stack copying is an `unsafe` opt-in.
pub const TEST_STACKS_VAR: &str = "UTHREAD_TEST_STACKS";

/// Whether this run of the suite asked for stack copying.
pub fn copying_requested() -> bool {
    std::env::var(TEST_STACKS_VAR).is_ok_and(|v| v.trim().eq_ignore_ascii_case("copying"))
}

/// The scheduler builder the suite uses: default (dedicated) stacks, or stack copying when
/// [`TEST_STACKS_VAR`] asks for it.
pub fn builder() -> SchedulerBuilder {
    let builder = Scheduler::builder();
    if copying_requested() {
        builder.stack_strategy(copying())
    } else {
        builder
    }
}

/// The stack-copying strategy, for the suite's tasklets.
#[allow(unsafe_code, reason = "the suite's opt-in to stack copying")]
pub fn copying() -> StackStrategy {
    // SAFETY: the tasklets of this suite keep no pointer into their own stacks across a
    // blocking call: no scoped thread borrows a tasklet's local while it blocks, no
    // intrusive future pinned on a tasklet's stack is registered elsewhere (the tests
    // that do such things, in soundness.rs, build dedicated schedulers of their own).
    unsafe { StackStrategy::copying() }
}

/// A scheduler with the suite's stacks and a real clock.
pub fn scheduler() -> Scheduler {
    builder().build()
}

/// Counts the drops of the tokens it hands out.
#[derive(Clone, Debug, Default)]
pub struct Drops(Rc<Cell<usize>>);

impl Drops {
    pub fn new() -> Drops {
        Drops::default()
    }

    /// A new token; dropping it adds one to the count.
    pub fn token(&self) -> Token {
        Token(self.0.clone())
    }

    /// Drops counted so far.
    pub fn count(&self) -> usize {
        self.0.get()
    }
}

/// Adds one to its counter when dropped. Neither `Clone` nor `Copy`: it can only move.
#[derive(Debug)]
pub struct Token(Rc<Cell<usize>>);

impl Drop for Token {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// An ordered record of what happened, shared by tasklets and the test.
#[derive(Clone, Debug, Default)]
pub struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    pub fn new() -> Log {
        Log::default()
    }

    pub fn push(&self, event: impl Into<String>) {
        self.0.borrow_mut().push(event.into());
    }

    /// Everything logged so far, leaving the log empty.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.borrow_mut())
    }

    /// Everything logged so far.
    pub fn get(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
}

/// A scheduler on a manual clock with small stacks (the tests make many tasklets).
pub fn manual() -> Scheduler {
    builder().manual_clock().stack_size(32 * 1024).build()
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Aborts the test binary if the test it guards is still running after `limit`: a
/// regression in cross-thread waking would otherwise hang the whole suite.
#[must_use = "the guard stops watching when dropped"]
pub struct HangGuard {
    _done: std::sync::mpsc::Sender<()>,
}

/// `UTHREAD_TEST_TIME_SCALE` (a whole number, default 1) multiplies the limit, for runs
/// under valgrind (`scripts/valgrind.sh`), which are tens of times slower.
pub fn hang_guard(limit: Duration) -> HangGuard {
    let scale = std::env::var("UTHREAD_TEST_TIME_SCALE")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    let limit = limit * scale;
    let (done, rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
            eprintln!("a test is still running after {limit:?}: aborting the test binary");
            std::process::abort();
        }
    });
    HangGuard { _done: done }
}

/// A command for a [`Drivers`] tasklet.
pub type Command = Box<dyn FnOnce()>;

/// Tasklets on a manual-clock scheduler that each run the commands posted to their inbox,
/// one at a time: the model tests drive primitives from chosen tasklets with them.
pub struct Drivers {
    pub sched: Scheduler,
    inboxes: Vec<Queue<Command>>,
    pub handles: Vec<JoinHandle<()>>,
}

impl Drivers {
    /// `n` drivers, each already waiting on its empty inbox.
    pub fn new(n: usize) -> Drivers {
        let mut d = Drivers {
            sched: manual(),
            inboxes: Vec::new(),
            handles: Vec::new(),
        };
        for _ in 0..n {
            let (inbox, handle) = d.spawn_driver();
            d.inboxes.push(inbox);
            d.handles.push(handle);
        }
        d.settle();
        d
    }

    fn spawn_driver(&self) -> (Queue<Command>, JoinHandle<()>) {
        let inbox = Queue::<Command>::new();
        let i = inbox.clone();
        let handle = self
            .sched
            .spawn(move || {
                while let Ok(command) = i.get() {
                    command();
                }
            })
            .unwrap();
        (inbox, handle)
    }

    /// Has driver `i` run `command` (and everything it makes runnable).
    pub fn post(&self, i: usize, command: impl FnOnce() + 'static) {
        self.inboxes[i].put(Box::new(command)).unwrap();
        self.settle();
    }

    /// Kills driver `i` (wherever it is blocked) and replaces it with a fresh one.
    pub fn kill(&mut self, i: usize) {
        self.handles[i].tasklet().kill().unwrap();
        let (inbox, handle) = self.spawn_driver();
        self.inboxes[i] = inbox;
        self.handles[i] = handle;
        self.settle();
    }

    /// Throws an error into driver `i`.
    pub fn throw(&self, i: usize) {
        self.handles[i].tasklet().throw("fault").unwrap();
        self.settle();
    }

    /// Moves the clock `ms` milliseconds on.
    pub fn advance(&self, ms: u64) {
        self.sched.advance(Duration::from_millis(ms));
        self.settle();
    }

    /// Runs whatever is runnable (blocked drivers are fine: the main context feeds them).
    pub fn settle(&self) {
        self.sched.run().unwrap();
    }

    /// Driver `i`'s tasklet id.
    pub fn id(&self, i: usize) -> TaskletId {
        self.handles[i].tasklet().id()
    }
}

/// The count for the million-tasklet tests (`UTHREAD_MILLION_N` overrides it).
pub fn million_n() -> usize {
    std::env::var("UTHREAD_MILLION_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000)
}

/// Resident bytes of this process, from `/proc/self/statm`.
pub fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("resident pages");
    // statm counts pages; the page size is in smaps' first KernelPageSize.
    let page = std::fs::read_to_string("/proc/self/smaps")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("KernelPageSize:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<usize>().ok())
        })
        .map_or(4096, |kib| kib * 1024);
    pages * page
}
