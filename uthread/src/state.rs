//! Where a tasklet stands and what it waits on (public), and the scheduler's small
//! state types: why a tasklet was woken, what it is blocked on as recorded on the hot path.

use std::fmt;
use std::time::Duration;

use crate::error::{Thrown, WaitError};
use crate::id::{ObjectRef, TaskletId};

/// Where a tasklet stands (Stackless's states).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskletState {
    /// In the run queue: it runs when its turn comes.
    Scheduled,
    /// Running now (or, for the main context, not inside any tasklet).
    Running,
    /// Waiting on a channel, timer or primitive; not in the run queue.
    Blocked,
    /// Alive but neither queued nor blocked (created paused, or removed).
    Paused,
    /// Returned, killed or panicked.
    Dead,
}

/// What a blocked tasklet waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlockedOn {
    /// Sending on a channel.
    Send(ObjectRef),
    /// Receiving on a channel.
    Receive(ObjectRef),
    /// A `select` over several arms.
    Select {
        /// How many arms it waits on.
        arms: usize,
    },
    /// Sleeping until this game time.
    Sleep {
        /// The deadline (game time since the clock started).
        until: Duration,
    },
    /// `be_nice`: waiting for the next tick.
    NextTick,
    /// Acquiring a lock.
    Lock(ObjectRef),
    /// Acquiring a semaphore.
    Semaphore(ObjectRef),
    /// Waiting on a condition variable.
    Condition(ObjectRef),
    /// Waiting for an event (or a one-shot value).
    Event(ObjectRef),
    /// Getting from a queue.
    QueueGet(ObjectRef),
    /// Putting into a full bounded queue.
    QueuePut(ObjectRef),
    /// Waiting at a barrier.
    Barrier(ObjectRef),
    /// Joining another tasklet.
    Join(TaskletId),
    /// Waiting for a `Future` to be woken.
    Future,
    /// Not recorded.
    Unknown,
}

impl fmt::Display for BlockedOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockedOn::Send(c) => write!(f, "sending on channel {c}"),
            BlockedOn::Receive(c) => write!(f, "receiving on channel {c}"),
            BlockedOn::Select { arms } => write!(f, "in a select over {arms} arms"),
            BlockedOn::Sleep { until } => write!(f, "sleeping until t={:.3}s", until.as_secs_f64()),
            BlockedOn::NextTick => f.write_str("waiting for the next tick (be_nice)"),
            BlockedOn::Lock(o) => write!(f, "acquiring lock {o}"),
            BlockedOn::Semaphore(o) => write!(f, "acquiring semaphore {o}"),
            BlockedOn::Condition(o) => write!(f, "waiting on condition {o}"),
            BlockedOn::Event(o) => write!(f, "waiting for event {o}"),
            BlockedOn::QueueGet(o) => write!(f, "getting from queue {o}"),
            BlockedOn::QueuePut(o) => write!(f, "putting into full queue {o}"),
            BlockedOn::Barrier(o) => write!(f, "waiting at barrier {o}"),
            BlockedOn::Join(t) => write!(f, "joining tasklet {t}"),
            BlockedOn::Future => f.write_str("waiting for a future"),
            BlockedOn::Unknown => f.write_str("blocked"),
        }
    }
}

/// Why a blocked or queued tasklet was resumed.
#[derive(Debug)]
pub(crate) enum Wake {
    /// The primitive it waited on served it.
    Signaled,
    /// Its timer expired (a sleep ended, or a timed wait timed out).
    Timer,
    /// An error was thrown into it.
    Thrown(Thrown),
    /// It is being killed: unwind.
    Kill,
    /// The main context would block forever.
    Deadlock,
}

impl Wake {
    /// The error a blocking call returns for a wake that is not its own success.
    /// `Signaled` and `Timer` are the caller's to interpret; they map to `Timeout` here.
    pub(crate) fn into_wait_error(self) -> WaitError {
        match self {
            Wake::Signaled | Wake::Timer => WaitError::Timeout,
            Wake::Thrown(t) => WaitError::Thrown(t),
            Wake::Kill => WaitError::Killed,
            Wake::Deadlock => WaitError::Deadlock,
        }
    }
}

/// What a blocked tasklet waits for, as recorded on the hot path: a small `Copy` kind.
/// The object it waits on is the target of its (first) wait entry, so a full
/// [`BlockedOn`] can be built from the two when somebody asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Blocked {
    Nothing,
    Send,
    Receive,
    Select { arms: usize },
    Sleep { until: Duration },
    NextTick,
    Lock,
    Semaphore,
    Condition,
    Event,
    QueueGet,
    QueuePut,
    Barrier,
    Join(TaskletId),
    Future,
}
