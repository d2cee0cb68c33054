//! Stackless-Python-style microthreads for game loops, on stackful coroutines.
//!
//! A [`Tasklet`] is plain sequential code that can block anywhere, even deep inside helper
//! calls: on a [`Channel`], a timer ([`sleep`], [`be_nice`]) or a synchronisation
//! primitive. A [`Scheduler`] owns the tasklets of one thread and resumes them in FIFO
//! order. Channels follow Stackless semantics (unbuffered rendezvous, balance,
//! preference, close), and so do kill, throw and the watchdog; see
//! [STACKLESS.md](https://github.com/uthread-rs/uthread/blob/main/docs/STACKLESS.md).
//!
//! Tasklets run on pooled, guarded stacks: a spawn after warm-up makes no system call,
//! running out of stacks is an error ([`SpawnError::Stack`]), and a stack overflow hits a
//! guard page and is reported with the tasklet's name.
//!
//! # Stack strategies
//!
//! By default every tasklet has a stack of its own, which costs two kernel mappings, so
//! Linux's default `vm.max_map_count` stops a process near 32,750 live tasklets. With
//! [`StackStrategy::Copying`] tasklets instead take turns on one guarded stack per stack
//! size, and a suspended tasklet keeps only the slice of it that it was using, on the heap
//! (Stackless Python's and greenlet's technique): the count is bounded by memory (a
//! tasklet blocked a few calls deep keeps well under a KiB of stack), and each switch
//! copies that slice out and back in. Choose per scheduler
//! ([`SchedulerBuilder::stack_strategy`], or `UTHREAD_STACK_STRATEGY=copying` for the
//! default builder) and per tasklet ([`Builder::stack_strategy`]): dedicated stacks for
//! the deep, hot few, copying for the many. Overflow detection is the same in both.
//!
//! ## Pointers into a suspended tasklet's stack
//!
//! While a copying tasklet is suspended, another tasklet's frames occupy its addresses.
//! Its own pointers into its own frames stay valid (every byte is copied back to the same
//! address before it runs again); a pointer from *anywhere else* into its stack would read
//! whoever runs there now. uthread never keeps one:
//!
//! - values in flight (the value of a blocked `send`) and wait entries live in the
//!   primitives' wait lists on the heap (or in the tasklet's record), never on the waiting
//!   tasklet's stack;
//! - the thread-local pointer to the running tasklet's `Yielder` is cleared when it
//!   suspends and restored when it resumes, at the same address with the same contents
//!   (it lives in the tasklet's frames, which come back first);
//! - the stack-overflow report reads a header above the stack, renamed on every resume;
//! - [`block_on`] boxes the future before polling it, so a waker never points into a
//!   tasklet's stack.
//!
//! Safe code cannot make such a pointer either: [`spawn`] and channels take `'static`
//! values, so no tasklet can lend another a reference to its locals, and thread-locals
//! only hold `'static` data. What remains is code that relies on a suspended stack
//! staying put: a raw pointer to a local kept in a thread-local, a global or another
//! tasklet across a blocking call; a scoped thread-local (`scoped-tls`-style `set`) held
//! across one; a future pinned on the tasklet's stack and polled with a waker that
//! outlives the poll (box it first, as `block_on` does). Give such tasklets
//! [`StackStrategy::Dedicated`].
//!
//! # Examples
//!
//! ```
//! use uthread::{Channel, Scheduler};
//!
//! let sched = Scheduler::new();
//! let ch = Channel::new();
//! let rx = ch.clone();
//! let consumer = sched.spawn(move || rx.iter().sum::<u32>()).unwrap();
//! sched.spawn(move || {
//!     ch.send_sequence(1..=4).unwrap();
//!     ch.close_now(); // wakes the consumer: its iteration ends
//! }).unwrap();
//! sched.run().unwrap();
//! assert_eq!(consumer.join().unwrap(), 10);
//! ```

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

mod channel;
mod error;
mod future;
mod hooks;
pub mod local;
mod parallel;
mod queue;
mod remote;
mod remote_channel;
mod scheduler;
mod select;
mod shared;
mod spawn;
mod sync;
mod sys;
mod tasklet;
mod time;
mod wait;

use std::fmt;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use channel::{Channel, Iter, Preference};
pub use error::{
    ChannelError, FailureKind, RecvError, RunError, SendError, SpawnError, TaskletError,
    TaskletFailure, Thrown, TryRecvError, TrySendError, WaitError,
};
pub use future::{block_on, block_on_timeout};
pub use hooks::{
    ChannelCallback, ChannelEvent, ErrorHandler, ScheduleCallback, SliceHook, SliceInfo,
};
pub use parallel::{join_all, try_join_all, OnError, ParallelError};
pub use queue::Queue;
pub use remote_channel::{RemoteReceiver, RemoteSender};
pub use scheduler::{
    Budget, DeadlockReport, RunOutcome, Scheduler, SchedulerBuilder, Watchdog, DEFAULT_STACK_SIZE,
};
pub use select::{select, Receivable, Select, SelectArm};
pub use spawn::{spawn, Builder, JoinError, JoinHandle};
pub use sync::{
    lock_report, oneshot, Barrier, BarrierWaitResult, BoundedSemaphore, Condition, Event, Lock,
    LockError, LockGuard, LockReport, OneshotReceiver, OneshotSender, RLock, RLockGuard, Semaphore,
    SemaphoreError, SemaphorePermit, ValueEvent,
};
pub use sys::stack::{StackError, StackPoolStats, StackStrategy};

/// Bare coroutines on stacks carved from one mapping: the physical floor that frame
/// benchmarks compare against (not API).
#[doc(hidden)]
pub use sys::floor::FloorFrame;

/// Stack copying's calibration, for the self-check in `tests/stack_copying.rs` (not API).
#[doc(hidden)]
pub use sys::calibration::{
    calibrate as stack_copying_calibration, Calibration as StackCopyingCalibration,
};
pub use tasklet::{
    current, preempt_point, run_count, schedule, schedule_remove, set_atomic, BlockedOn, Tasklet,
    TaskletState,
};
pub use time::{be_nice, now, sleep, sleep_until, ClockKind};

/// The panic payload that unwinds a killed tasklet. A `catch_unwind` inside a tasklet
/// that catches it should resume the unwind (`std::panic::resume_unwind`); if it does
/// not, the tasklet is killed again at its next blocking call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskletExit;

/// Identifies a tasklet among the live tasklets of its scheduler.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskletId(pub(crate) u64);

impl TaskletId {
    /// The raw value (stable while the tasklet lives; reused slots get new versions).
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Debug for TaskletId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}v{}", self.0 & 0xffff_ffff, self.0 >> 32)
    }
}

impl fmt::Display for TaskletId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0 & 0xffff_ffff)
    }
}

/// Identifies a channel or synchronisation object (unique in the process).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(u64);

impl ObjectId {
    pub(crate) fn next() -> ObjectId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ObjectId(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The raw value.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A channel or primitive as named in [`BlockedOn`]: its id and optional name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    /// The object's id.
    pub id: ObjectId,
    /// The object's name, if it was given one.
    pub name: Option<Rc<str>>,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "'{name}' ({})", self.id),
            None => write!(f, "{}", self.id),
        }
    }
}
