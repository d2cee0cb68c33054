//! Callbacks a scheduler calls: on errors, on every switch, on channel operations, after
//! every slice. Hooks must not change scheduler state (spawn, block, kill); they may read
//! it (names, states) and record what they see.

use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::error::TaskletFailure;
use crate::id::{ObjectId, TaskletId};
use crate::task::{Task, Tasklet};

/// Receives tasklet failures (panics, uncaught errors) instead of [`Scheduler::run`].
///
/// [`Scheduler::run`]: crate::Scheduler::run
pub type ErrorHandler = Box<dyn FnMut(TaskletFailure)>;

/// Called on every switch with `(previous, next)`: `previous` is `None` when `next` is
/// starting for the first time; `next` is `None` when `previous` has just ended.
pub type ScheduleCallback = Box<dyn FnMut(Option<&Tasklet>, Option<&Tasklet>)>;

/// Called on every channel operation: the channel, the tasklet, whether it is sending,
/// and whether it will block.
pub type ChannelCallback = Box<dyn FnMut(&ChannelEvent<'_>)>;

/// Called after every slice when timing is on (see
/// [`SchedulerBuilder::timing`](crate::SchedulerBuilder::timing)).
pub type SliceHook = Box<dyn FnMut(&SliceInfo)>;

/// One channel operation, as seen by a [`ChannelCallback`].
#[derive(Debug)]
pub struct ChannelEvent<'a> {
    /// The channel's id.
    pub channel: ObjectId,
    /// The channel's name, if it has one.
    pub channel_name: Option<&'a str>,
    /// The tasklet doing the operation.
    pub tasklet: &'a Tasklet,
    /// Sending (true) or receiving (false).
    pub sending: bool,
    /// Whether the tasklet will block.
    pub will_block: bool,
}

/// One slice (a resume until the next suspend), as seen by a [`SliceHook`].
#[derive(Clone, Debug)]
pub struct SliceInfo {
    /// Which tasklet ran.
    pub tasklet: TaskletId,
    /// When the slice started.
    pub start: Instant,
    /// How long it ran.
    pub duration: Duration,
    /// Whether the tasklet ended in this slice.
    pub finished: bool,
}

/// The hooks of one scheduler.
#[derive(Default)]
pub(crate) struct Hooks {
    pub(crate) error_handler: Option<ErrorHandler>,
    pub(crate) schedule: Option<ScheduleCallback>,
    pub(crate) channel: Option<ChannelCallback>,
    pub(crate) slice: Option<SliceHook>,
    /// Last tasklet switched to, for the schedule callback's `previous`.
    pub(crate) last: Option<Rc<Task>>,
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("error_handler", &self.error_handler.is_some())
            .field("schedule", &self.schedule.is_some())
            .field("channel", &self.channel.is_some())
            .field("slice", &self.slice.is_some())
            .finish()
    }
}
