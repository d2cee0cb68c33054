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
//! # Stacks
//!
//! By default every tasklet has a stack of its own, carved from large reserved mappings
//! with a guard page below it. On Linux 6.13 and later the guard pages are guard regions
//! (`MADV_GUARD_INSTALL`) that cost no kernel mapping, so the count is bounded by memory:
//! a million tasklets blocked a few calls deep take about 4.7 KiB each. (Older kernels get
//! `mprotect` guards, two mappings per stack, and `vm.max_map_count` stops a process near
//! 32,750 tasklets with an error saying how to raise it.) Stacks handed back beyond a
//! warm watermark give their pages back to the kernel.
//!
//! Stack copying (Stackless Python's and greenlet's technique: tasklets take turns on one
//! shared stack, a suspended one keeps the slice it used on the heap) is smaller still,
//! about 1.4 KiB per tasklet, but a suspended tasklet's frames then share addresses with
//! whoever runs, so anything that points into its stack from elsewhere (a scoped thread
//! borrowing a local, a pinned intrusive future) would read or write another tasklet's
//! frames. That cannot be ruled out for arbitrary safe code, so copying is an `unsafe`
//! opt-in ([`StackStrategy::copying`]) whose contract is stated there. Choose it per
//! scheduler ([`SchedulerBuilder::stack_strategy`]) or per tasklet
//! ([`Builder::stack_strategy`]).
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

mod block;
mod budget;
mod channel;
mod channel_select;
mod clock;
mod core;
mod error;
mod future;
mod hooks;
mod hub;
mod id;
pub mod local;
mod monitor;
mod object;
mod parallel;
mod pool;
mod pump;
mod queue;
mod remote_channel;
mod scheduler;
mod select;
mod spawn;
mod stack;
mod state;
mod sync;
mod sys;
mod task;
mod tasklet;
mod teardown;
mod time;
mod wait;

pub use block::KILL_RETRIES;
pub use budget::{Budget, Watchdog};
pub use channel::{Channel, Iter, Preference};
pub use clock::ClockKind;
pub use error::{
    ChannelError, FailureKind, RecvError, RunError, SendError, SpawnError, TaskletError,
    TaskletFailure, Thrown, TryRecvError, TrySendError, WaitError,
};
pub use future::{block_on, block_on_timeout};
pub use hooks::{
    ChannelCallback, ChannelEvent, ErrorHandler, ScheduleCallback, SliceHook, SliceInfo,
};
pub use id::{ObjectId, ObjectRef, TaskletExit, TaskletId};
pub use monitor::{hold_preemption, PreemptionHold, StallHandler, StallReport};
pub use parallel::{join_all, try_join_all, OnError, ParallelError};
pub use queue::Queue;
pub use remote_channel::{RemoteReceiver, RemoteSender};
pub use scheduler::{DeadlockReport, RunOutcome, Scheduler, SchedulerBuilder, DEFAULT_STACK_SIZE};
pub use select::{select, Receivable, Select, SelectArm};
pub use spawn::{spawn, Builder, JoinError, JoinHandle};
pub use stack::{ParseStackKindError, StackError, StackKind, StackPoolStats, StackStrategy};
pub use state::{BlockedOn, TaskletState};
pub use sync::{
    lock_report, oneshot, Barrier, BarrierWaitResult, BoundedSemaphore, Condition, Event, Lock,
    LockError, LockGuard, LockReport, OneshotReceiver, OneshotSender, RLock, RLockGuard, Semaphore,
    SemaphoreError, SemaphorePermit, ValueEvent,
};
pub use task::Tasklet;
pub use tasklet::{current, preempt_point, run_count, schedule, schedule_remove, set_atomic};
pub use time::{be_nice, now, sleep, sleep_until};
pub use uthread_macros::preemptible;

/// Internals for the workspace's benchmarks, behind the `bench-internals` feature: not
/// part of the API a game uses.
#[cfg(feature = "bench-internals")]
pub mod bench {
    pub use crate::sys::floor::FloorFrame;
}
