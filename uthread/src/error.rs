//! Error types: one small type per kind of operation, each with a hand-written `Display`.

use std::any::Any;
use std::error::Error as StdError;
use std::fmt;

use crate::id::TaskletId;
use crate::stack::StackError;

/// An error delivered into a tasklet by [`Tasklet::throw`](crate::Tasklet::throw) or
/// [`Channel::send_throw`](crate::Channel::send_throw); the blocking call the tasklet is in
/// (or its next one) returns it.
pub struct Thrown(Box<dyn StdError + Send + Sync + 'static>);

impl Thrown {
    /// Wraps any error so it can be thrown.
    pub fn new<E: Into<Box<dyn StdError + Send + Sync + 'static>>>(error: E) -> Thrown {
        Thrown(error.into())
    }

    /// The thrown error, if it is an `E`.
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        self.0.downcast_ref::<E>()
    }

    /// The thrown error itself.
    pub fn into_inner(self) -> Box<dyn StdError + Send + Sync + 'static> {
        self.0
    }
}

impl fmt::Debug for Thrown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Thrown").field(&self.0).finish()
    }
}

impl fmt::Display for Thrown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "thrown into the tasklet: {}", self.0)
    }
}

impl StdError for Thrown {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.0)
    }
}

/// Why a blocking call (sleep, schedule, join, a lock...) returned without finishing.
#[derive(Debug)]
pub enum WaitError {
    /// The deadline passed first.
    Timeout,
    /// Nothing else could ever run to wake the caller (only the main context, outside any
    /// tasklet, gets this: a tasklet that blocks simply waits).
    Deadlock,
    /// An error was thrown into the tasklet.
    Thrown(Thrown),
    /// The tasklet is being killed; it may not block while it unwinds.
    Killed,
    /// There is no scheduler on this thread.
    NoScheduler,
}

impl WaitError {
    /// The wait part of a channel error (`Closed` has none; it maps to `Deadlock`).
    pub(crate) fn from_channel(e: ChannelError) -> WaitError {
        match e {
            ChannelError::Timeout => WaitError::Timeout,
            ChannelError::Thrown(t) => WaitError::Thrown(t),
            ChannelError::Killed => WaitError::Killed,
            ChannelError::NoScheduler => WaitError::NoScheduler,
            ChannelError::Closed | ChannelError::Deadlock => WaitError::Deadlock,
        }
    }
}

impl fmt::Display for WaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitError::Timeout => f.write_str("timed out"),
            WaitError::Deadlock => {
                f.write_str("deadlock: the caller would block and nothing else can run")
            }
            WaitError::Thrown(t) => fmt::Display::fmt(t, f),
            WaitError::Killed => f.write_str("the tasklet is being killed and may not block"),
            WaitError::NoScheduler => f.write_str("no uthread scheduler on this thread"),
        }
    }
}

impl StdError for WaitError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            WaitError::Thrown(t) => Some(t),
            _ => None,
        }
    }
}

/// Why a channel operation failed (the value of a failed send comes back in
/// [`SendError`]).
#[derive(Debug)]
pub enum ChannelError {
    /// The channel is closed (or closing and the call would block, or it was closed with
    /// [`Channel::close_now`](crate::Channel::close_now) while waiting).
    Closed,
    /// The deadline passed first.
    Timeout,
    /// The main context would block forever: nothing else can run.
    Deadlock,
    /// An error was thrown into the tasklet, or sent with
    /// [`Channel::send_throw`](crate::Channel::send_throw).
    Thrown(Thrown),
    /// The tasklet is being killed; it may not block while it unwinds.
    Killed,
    /// There is no scheduler on this thread.
    NoScheduler,
}

impl From<WaitError> for ChannelError {
    fn from(e: WaitError) -> Self {
        match e {
            WaitError::Timeout => ChannelError::Timeout,
            WaitError::Deadlock => ChannelError::Deadlock,
            WaitError::Thrown(t) => ChannelError::Thrown(t),
            WaitError::Killed => ChannelError::Killed,
            WaitError::NoScheduler => ChannelError::NoScheduler,
        }
    }
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelError::Closed => f.write_str("channel closed"),
            ChannelError::Timeout => f.write_str("channel operation timed out"),
            ChannelError::Deadlock => {
                f.write_str("deadlock: the channel operation would block and nothing else can run")
            }
            ChannelError::Thrown(t) => fmt::Display::fmt(t, f),
            ChannelError::Killed => f.write_str("the tasklet is being killed and may not block"),
            ChannelError::NoScheduler => f.write_str("no uthread scheduler on this thread"),
        }
    }
}

impl StdError for ChannelError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            ChannelError::Thrown(t) => Some(t),
            _ => None,
        }
    }
}

/// A receive that failed.
pub type RecvError = ChannelError;

/// A send that failed; the value comes back.
pub struct SendError<T> {
    /// The value that was not delivered.
    pub value: T,
    /// Why.
    pub error: ChannelError,
}

impl<T> SendError<T> {
    /// The value that was not delivered.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "send failed: {}", self.error)
    }
}

impl<T> StdError for SendError<T> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.error)
    }
}

/// A non-blocking send that could not complete.
pub enum TrySendError<T> {
    /// No receiver is waiting (the value comes back).
    Full(T),
    /// The channel is closed (the value comes back).
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("no receiver is waiting"),
            TrySendError::Closed(_) => f.write_str("channel closed"),
        }
    }
}

impl<T> StdError for TrySendError<T> {}

/// A non-blocking receive that could not complete.
#[derive(Debug)]
pub enum TryRecvError {
    /// No sender is waiting.
    Empty,
    /// The channel is closed.
    Closed,
    /// The waiting sender sent an error (`send_throw`).
    Thrown(Thrown),
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("no sender is waiting"),
            TryRecvError::Closed => f.write_str("channel closed"),
            TryRecvError::Thrown(t) => fmt::Display::fmt(t, f),
        }
    }
}

impl StdError for TryRecvError {}

/// Why a tasklet could not be spawned.
#[derive(Debug)]
pub enum SpawnError {
    /// No stack could be had; says which limit was hit.
    Stack(StackError),
    /// There is no scheduler on this thread (or it has been dropped).
    NoScheduler,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::Stack(e) => write!(f, "cannot spawn tasklet: {e}"),
            SpawnError::NoScheduler => f.write_str("cannot spawn tasklet: no scheduler"),
        }
    }
}

impl StdError for SpawnError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            SpawnError::Stack(e) => Some(e),
            SpawnError::NoScheduler => None,
        }
    }
}

impl From<StackError> for SpawnError {
    fn from(e: StackError) -> Self {
        SpawnError::Stack(e)
    }
}

/// Why an operation on a [`Tasklet`](crate::Tasklet) handle was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskletError {
    /// The tasklet has finished (returned, was killed, or panicked).
    Dead,
    /// The tasklet is blocked (on a channel, timer or lock) and cannot be moved.
    Blocked,
    /// The operation cannot target the calling tasklet itself.
    IsCurrent,
    /// The operation cannot target the main context.
    IsMain,
    /// The tasklet's scheduler has been dropped.
    NoScheduler,
    /// The tasklet belongs to a different scheduler than the caller.
    OtherScheduler,
    /// The tasklet caught its kill this many times in a row and was parked (paused, still
    /// alive, the kill still pending) instead of being unwound again; see
    /// [`KILL_RETRIES`](crate::KILL_RETRIES).
    KillRefused {
        /// Kills it caught in a row.
        kills: u32,
    },
}

impl fmt::Display for TaskletError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskletError::KillRefused { kills } => {
                return write!(
                    f,
                    "the tasklet caught its kill {kills} times in a row; it is parked \
                     (paused, alive), and inserting it again retries the kill"
                )
            }
            TaskletError::Dead => "the tasklet is dead",
            TaskletError::Blocked => "the tasklet is blocked",
            TaskletError::IsCurrent => "the operation cannot target the current tasklet",
            TaskletError::IsMain => "the operation cannot target the main context",
            TaskletError::NoScheduler => "the tasklet's scheduler is gone",
            TaskletError::OtherScheduler => "the tasklet belongs to another scheduler",
        })
    }
}

impl StdError for TaskletError {}

/// How a tasklet failed: reported to the error handler, or returned by
/// [`Scheduler::run`](crate::Scheduler::run).
#[derive(Debug)]
pub struct TaskletFailure {
    /// Which tasklet.
    pub tasklet: TaskletId,
    /// Its name, if it had one.
    pub name: Option<String>,
    /// What happened.
    pub kind: FailureKind,
}

/// What ended a tasklet badly.
pub enum FailureKind {
    /// It panicked; the message, when the payload was a string.
    Panicked {
        /// The panic message (or a placeholder for non-string payloads).
        message: String,
        /// The original panic payload, for `resume_unwind` or downcasting.
        payload: Box<dyn Any + Send>,
    },
    /// An error was thrown into it before it started, so it never ran.
    Uncaught(Thrown),
}

impl fmt::Debug for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureKind::Panicked { message, .. } => f
                .debug_struct("Panicked")
                .field("message", message)
                .finish_non_exhaustive(),
            FailureKind::Uncaught(t) => f.debug_tuple("Uncaught").field(t).finish(),
        }
    }
}

impl TaskletFailure {
    /// The panic message, if the tasklet panicked.
    pub fn panic_message(&self) -> Option<&str> {
        match &self.kind {
            FailureKind::Panicked { message, .. } => Some(message),
            FailureKind::Uncaught(_) => None,
        }
    }
}

impl fmt::Display for TaskletFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tasklet {}", self.tasklet)?;
        if let Some(name) = &self.name {
            write!(f, " '{name}'")?;
        }
        match &self.kind {
            FailureKind::Panicked { message, .. } => write!(f, " panicked: {message}"),
            FailureKind::Uncaught(t) => write!(f, " died of an uncaught error: {t}"),
        }
    }
}

impl StdError for TaskletFailure {}

/// Extracts a readable message from a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

/// Why [`Scheduler::run`](crate::Scheduler::run) stopped with an error.
#[derive(Debug)]
pub enum RunError {
    /// A tasklet failed and no error handler is set. The others stay queued; call `run`
    /// again to carry on.
    Failed(TaskletFailure),
    /// `run` was called from inside a tasklet (schedulers do not nest).
    Nested,
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Failed(failure) => fmt::Display::fmt(failure, f),
            RunError::Nested => f.write_str("a scheduler cannot be run from inside a tasklet"),
        }
    }
}

impl StdError for RunError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            RunError::Failed(failure) => Some(failure),
            RunError::Nested => None,
        }
    }
}
