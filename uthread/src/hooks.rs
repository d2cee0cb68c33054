//! Callbacks a scheduler calls: on errors, on every switch, on channel operations, after
//! every slice. Hooks must not change scheduler state (spawn, block, kill); they may read
//! it (names, states) and record what they see.

use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::error::TaskletFailure;
use crate::shared::{Shared, Task};
use crate::{Tasklet, TaskletId};

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
/// [`Builder::timing`](crate::Builder::timing)).
pub type SliceHook = Box<dyn FnMut(&SliceInfo)>;

/// One channel operation, as seen by a [`ChannelCallback`].
#[derive(Debug)]
pub struct ChannelEvent<'a> {
    /// The channel's id.
    pub channel: crate::ObjectId,
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

impl Shared {
    /// Before a slice: the schedule callback.
    pub(crate) fn hooks_on_switch(self: &Rc<Self>, next: &Rc<Task>, starting: bool) {
        let Some(mut cb) = self.take_hook(|h| h.schedule.take()) else {
            return;
        };
        let prev = if starting {
            None
        } else {
            let last = self.hooks.borrow().last.clone();
            Some(Tasklet::from_task(
                last.unwrap_or_else(|| self.main.clone()),
            ))
        };
        let next_handle = Tasklet::from_task(next.clone());
        cb(prev.as_ref(), Some(&next_handle));
        let mut hooks = self.hooks.borrow_mut();
        hooks.last = Some(next.clone());
        if hooks.schedule.is_none() {
            hooks.schedule = Some(cb);
        }
    }

    /// A tasklet ended: the schedule callback with no `next`.
    pub(crate) fn hooks_on_exit(self: &Rc<Self>, task: &Rc<Task>) {
        let Some(mut cb) = self.take_hook(|h| h.schedule.take()) else {
            return;
        };
        let prev = Tasklet::from_task(task.clone());
        cb(Some(&prev), None);
        let mut hooks = self.hooks.borrow_mut();
        hooks.last = None;
        if hooks.schedule.is_none() {
            hooks.schedule = Some(cb);
        }
    }

    /// After a slice: the slice hook. Returns whether one ran.
    pub(crate) fn hooks_after_slice(
        self: &Rc<Self>,
        task: &Task,
        start: Option<Instant>,
        duration: Option<Duration>,
        finished: bool,
    ) -> bool {
        let (Some(start), Some(duration)) = (start, duration) else {
            return false;
        };
        let Some(mut hook) = self.take_hook(|h| h.slice.take()) else {
            return false;
        };
        hook(&SliceInfo {
            tasklet: task.key.id(),
            start,
            duration,
            finished,
        });
        let mut hooks = self.hooks.borrow_mut();
        if hooks.slice.is_none() {
            hooks.slice = Some(hook);
        }
        true
    }

    /// A channel operation.
    pub(crate) fn hooks_on_channel(
        self: &Rc<Self>,
        channel: crate::ObjectId,
        channel_name: Option<&str>,
        sending: bool,
        will_block: bool,
    ) {
        let Some(mut cb) = self.take_hook(|h| h.channel.take()) else {
            return;
        };
        let tasklet = Tasklet::from_task(self.current_task());
        cb(&ChannelEvent {
            channel,
            channel_name,
            tasklet: &tasklet,
            sending,
            will_block,
        });
        let mut hooks = self.hooks.borrow_mut();
        if hooks.channel.is_none() {
            hooks.channel = Some(cb);
        }
    }

    /// Takes a hook out so it can run without the hooks borrowed (it may read state).
    #[inline]
    fn take_hook<T>(&self, take: impl FnOnce(&mut Hooks) -> Option<T>) -> Option<T> {
        let mut hooks = self.hooks.try_borrow_mut().ok()?;
        take(&mut hooks)
    }
}
