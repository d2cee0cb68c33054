//! The pump: the loop that resumes queued tasklets one slice at a time within a run's
//! limits (budget, watchdog), ends tasklets whose bodies finished, reports failures, calls
//! the hooks, and applies what other threads posted.

use std::rc::Rc;
use std::time::{Duration, Instant};

use slotmap::KeyData;

use crate::budget::Budget;
use crate::core::{Enter, PumpExit, PumpLimits, Shared};
use crate::error::{panic_message, FailureKind, TaskletFailure};
use crate::hooks::{ChannelEvent, Hooks, SliceInfo};
use crate::hub::Notice;
use crate::id::{Key, TaskletExit};
use crate::state::{TaskletState, Wake};
use crate::sys::switch::FiberExit;
use crate::task::{Exit, Task, Tasklet, UncaughtThrow, TASK_RESUME_BYTES};

impl Shared {
    /// Runs queued tasklets until `limits` says stop.
    pub(crate) fn pump(self: &Rc<Self>, limits: PumpLimits) -> PumpExit {
        let _enter = Enter::new(self);
        self.pumping.set(true);
        // Only a time budget reads the clock: a clock read costs more than a switch.
        let started = matches!(limits.budget, Budget::Time(_)).then(Instant::now);
        self.pump_started.set(started);
        self.slice_ended_at.set(None);
        self.resumes.set(0);
        self.preemptions.set(0);
        *self.longest.borrow_mut() = None;
        *self.interrupted.borrow_mut() = None;
        let hard_total = match (limits.budget, limits.hard, limits.per_slice) {
            // A deadline past the end of time (`Duration::MAX`) is no deadline.
            (Budget::Time(d), true, false) => started.and_then(|t0| t0.checked_add(d)),
            _ => None,
        };
        self.hard_deadline.set(hard_total);
        self.requeue_preempted.set(limits.requeue);
        if limits.hard && matches!(limits.budget, Budget::Time(_)) {
            // The watchdog thread raises the preemption flag at the deadline.
            if let Some(monitor) = self.monitor() {
                monitor.set_deadline(hard_total);
            }
        }
        // Ends the pump even if a hook (user code) panics through it.
        let _stop = StopPump(self);
        self.pump_loop(limits)
    }

    fn pump_loop(self: &Rc<Self>, limits: PumpLimits) -> PumpExit {
        let timing = self.config.borrow().timing || matches!(limits.budget, Budget::Time(_));
        loop {
            if !self.garbage.borrow().is_empty() {
                // Dropping it may run user code: the last slice's end time is stale.
                self.slice_ended_at.set(None);
                let garbage = std::mem::take(&mut *self.garbage.borrow_mut());
                drop(garbage);
            }
            if let Some(exit) = self.budget_exit(&limits) {
                return exit;
            }
            let Some(task) = self.pop_next() else {
                match self.idle(limits) {
                    Some(exit) => return exit,
                    None => continue,
                }
            };
            if Rc::ptr_eq(&task, &self.main) {
                task.state.set(TaskletState::Running);
                if limits.until_main {
                    *self.current.borrow_mut() = task;
                    return PumpExit::MainResumed;
                }
                // Main is already running (it called run()); nothing to do.
                continue;
            }
            if let Some(exit) = self.run_slice(task, timing, &limits) {
                return exit;
            }
        }
    }

    /// Whether the budget of this pump call is spent (checked before each slice).
    #[inline]
    fn budget_exit(&self, limits: &PumpLimits) -> Option<PumpExit> {
        match limits.budget {
            Budget::Unlimited => None,
            Budget::Resumes(n) => (self.resumes.get() >= n).then_some(PumpExit::BudgetSpent),
            Budget::Time(d) if !limits.per_slice => {
                let started = self.pump_started.get()?;
                let now = self.slice_ended_at.take().unwrap_or_else(Instant::now);
                (now.duration_since(started) >= d).then_some(PumpExit::BudgetSpent)
            }
            Budget::Time(_) => None,
        }
    }

    /// The run queue is empty: start a tick, wait for time or remote wakes, or stop.
    fn idle(self: &Rc<Self>, limits: PumpLimits) -> Option<PumpExit> {
        // Remote messages and future wakes first: they may make tasklets runnable.
        if self.drain_remote() {
            return None;
        }
        let manual = self.clock.borrow().is_manual();
        if manual {
            // The owner drives this clock (a frame driver): never block its thread, except
            // for the main context, which asked to block until it is woken.
            if self.timers.borrow().live() > 0 || self.nice_live.get() > 0 {
                return Some(PumpExit::WaitingForTick);
            }
            if self.external_wakers.get() > 0 {
                if !limits.until_main {
                    return Some(PumpExit::WaitingForTick);
                }
                self.remote.wait(None);
                return None;
            }
            return Some(PumpExit::Drained);
        }
        // Real clock: an empty queue ends the tick.
        if self.nice_live.get() > 0 {
            self.wake_nice();
            self.expire_timers();
            return None;
        }
        if let Some(next) = self.next_live_deadline() {
            let now = self.now();
            if next <= now {
                self.expire_timers();
                return None;
            }
            self.remote.wait(Some(next - now));
            self.expire_timers();
            return None;
        }
        if self.external_wakers.get() > 0 {
            self.remote.wait(None);
            return None;
        }
        Some(PumpExit::Drained)
    }

    /// Resumes one tasklet for one slice.
    #[inline]
    fn run_slice(
        self: &Rc<Self>,
        task: Rc<Task>,
        timing: bool,
        limits: &PumpLimits,
    ) -> Option<PumpExit> {
        task.state.set(TaskletState::Running);
        let starting = !task.started.replace(true);
        // The schedule callback runs on the pump's stack, so main is current meanwhile.
        if self.hooks_active.get() && !self.hooks_on_switch(&task, starting) {
            // The callback changed the tasklet's state (killed, removed or rescheduled
            // it, against the hooks' contract): it is not this slice's to resume.
            return None;
        }
        *self.current.borrow_mut() = task.clone();
        self.prefetch_ahead();
        if !timing && !limits.hard {
            // The common case (a frame driver counting resumes, or a plain run): no
            // clock, no watchdog.
            let monitor = self.running_monitor();
            if let Some(monitor) = monitor {
                monitor.slice_begins(task.key.id());
            }
            let exit = {
                let mut fiber = task.fiber.borrow_mut();
                fiber
                    .as_mut()
                    .expect("a queued tasklet has a fiber")
                    .resume()
            };
            if let Some(monitor) = monitor {
                monitor.slice_ends();
            }
            *self.current.borrow_mut() = self.main.clone();
            self.resumes.set(self.resumes.get() + 1);
            task.switches.set(task.switches.get() + 1);
            return match exit {
                None => {
                    if task.state.get() == TaskletState::Running {
                        // Suspended without saying where to (cannot happen through the API).
                        task.state.set(TaskletState::Paused);
                    }
                    None
                }
                Some(how) => self.slice_ended(&task, how, None, None, false, limits),
            };
        }
        self.run_slice_watched(task, timing, limits)
    }

    /// Starts fetching what the next resumes will read while this slice runs: the next
    /// tasklet's frames (its record was asked for one slice ago) and the record of the
    /// one after it. With thousands of tasklets each resume otherwise waits for memory
    /// several times in a row (record, then fiber, then stack).
    ///
    /// Skipped for short queues: a few hundred tasklets' records and frames stay in
    /// cache anyway, and the hints would only add instructions to every switch.
    #[inline]
    fn prefetch_ahead(&self) {
        /// Queue length from which the hints pay for themselves.
        const MIN_QUEUE: usize = 256;
        let queue = self.queue.borrow();
        if queue.len() < MIN_QUEUE {
            return;
        }
        if let Some((next, _)) = queue.front() {
            if let Ok(fiber) = next.fiber.try_borrow() {
                if let Some(fiber) = fiber.as_ref() {
                    fiber.prefetch();
                }
            }
        }
        if let Some((after, _)) = queue.get(1) {
            crate::sys::prefetch::prefetch_record(after, TASK_RESUME_BYTES);
        }
    }

    /// A slice under timing or a hard watchdog.
    fn run_slice_watched(
        self: &Rc<Self>,
        task: Rc<Task>,
        timing: bool,
        limits: &PumpLimits,
    ) -> Option<PumpExit> {
        let started_at = if timing { Some(Instant::now()) } else { None };
        if let (Some(t0), Budget::Time(d), true, true) =
            (started_at, limits.budget, limits.per_slice, limits.hard)
        {
            let deadline = t0.checked_add(d);
            self.hard_deadline.set(deadline);
            if let Some(monitor) = self.running_monitor() {
                monitor.set_deadline(deadline);
            }
        }
        let monitor = self.running_monitor();
        if let Some(monitor) = monitor {
            monitor.slice_begins(task.key.id());
        }
        let exit = {
            let mut fiber = task.fiber.borrow_mut();
            fiber
                .as_mut()
                .expect("a queued tasklet has a fiber")
                .resume()
        };
        if let Some(monitor) = monitor {
            monitor.slice_ends();
        }
        let ended_at = started_at.map(|_| Instant::now());
        let elapsed = started_at.zip(ended_at).map(|(t0, t1)| t1 - t0);
        *self.current.borrow_mut() = self.main.clone();
        self.resumes.set(self.resumes.get() + 1);
        task.switches.set(task.switches.get() + 1);
        if let Some(d) = elapsed {
            task.run_time.set(task.run_time.get() + d);
            let mut longest = self.longest.borrow_mut();
            if longest.as_ref().is_none_or(|(_, l)| d > *l) {
                *longest = Some((task.clone(), d));
            }
        }
        match exit {
            None => {
                if task.state.get() == TaskletState::Running {
                    // Suspended without saying where to (cannot happen through the API).
                    task.state.set(TaskletState::Paused);
                }
                let hooked = timing
                    && self.hooks_active.get()
                    && self.hooks_after_slice(&task, started_at, elapsed, false);
                if let Some(t) = self.interrupted.borrow_mut().take() {
                    return Some(PumpExit::Interrupted {
                        task: t,
                        removed: true,
                    });
                }
                if let (Some(d), Budget::Time(limit), true) =
                    (elapsed, limits.budget, limits.per_slice)
                {
                    if d > limit && !limits.hard {
                        return Some(PumpExit::Interrupted {
                            task,
                            removed: false,
                        });
                    }
                }
                if !hooked {
                    // Nothing has run since the clock read: the budget check may use it.
                    self.slice_ended_at.set(ended_at);
                }
                None
            }
            Some(how) => self.slice_ended(&task, how, started_at, elapsed, timing, limits),
        }
    }

    /// The tasklet's body ended in this slice.
    fn slice_ended(
        self: &Rc<Self>,
        task: &Rc<Task>,
        how: FiberExit,
        started_at: Option<Instant>,
        elapsed: Option<Duration>,
        timing: bool,
        limits: &PumpLimits,
    ) -> Option<PumpExit> {
        self.finish(task, how);
        if timing && self.hooks_active.get() {
            self.hooks_after_slice(task, started_at, elapsed, true);
        }
        let failure = self.failures.borrow_mut().pop_front();
        match failure {
            Some(failure) => self.report(failure, limits),
            None => None,
        }
    }

    /// Routes a failure to the error handler, or out of the pump.
    fn report(self: &Rc<Self>, failure: TaskletFailure, limits: &PumpLimits) -> Option<PumpExit> {
        let handler = self.hooks.borrow_mut().error_handler.take();
        match handler {
            Some(mut handler) => {
                handler(failure);
                let mut hooks = self.hooks.borrow_mut();
                if hooks.error_handler.is_none() {
                    hooks.error_handler = Some(handler);
                }
                None
            }
            None if limits.until_main => {
                // Main is blocked in a call that is not run(): keep it for the next run().
                self.failures.borrow_mut().push_back(failure);
                None
            }
            None => Some(PumpExit::Failed(failure)),
        }
    }

    /// Takes a tasklet that ended out of the registry and run accounting.
    fn retire(&self, task: &Task) {
        if task.state.get() == TaskletState::Scheduled {
            self.scheduled.set(self.scheduled.get() - 1);
        }
        task.state.set(TaskletState::Dead);
        self.alive.set(self.alive.get() - 1);
        // (A scheduler being torn down drops its watchdog's names with it.)
        if let Some(monitor) = self.running_monitor().filter(|_| !self.tearing_down.get()) {
            if task.name.borrow().is_some() {
                monitor.forget(task.key.id());
            }
        }
        let removed = self.registry.borrow_mut().remove(task.key);
        drop(removed);
    }

    /// A tasklet's body ended: return its stack, retire it, tell its observers.
    pub(crate) fn finish(self: &Rc<Self>, task: &Rc<Task>, how: FiberExit) {
        let exit = match how {
            FiberExit::Returned => Exit::Returned,
            FiberExit::Panicked(payload) if payload.is::<TaskletExit>() => Exit::Killed,
            FiberExit::Panicked(payload) => match payload.downcast::<UncaughtThrow>() {
                Ok(uncaught) => Exit::Failed(FailureKind::Uncaught(uncaught.0)),
                Err(payload) => Exit::Failed(FailureKind::Panicked {
                    message: panic_message(&*payload),
                    payload,
                }),
            },
        };
        // Before it is retired, so that the callback can still see it alive by name.
        if self.hooks_active.get() {
            self.hooks_on_exit(task);
        }
        let fiber = task.fiber.borrow_mut().take();
        if let Some(fiber) = fiber {
            // The body has returned: taking the stack back runs no user code. An unwind
            // may have touched pages the tasklet never used: the pool gives them back.
            let stack = fiber.into_stack();
            let unwound = !matches!(exit, Exit::Returned);
            self.pool.borrow_mut().give(stack, unwound);
        }
        self.retire(task);
        self.tell_observer(task, exit);
    }

    /// Ends a tasklet that never started: drop its closure, free its stack.
    pub(crate) fn discard_unstarted(self: &Rc<Self>, task: &Rc<Task>, exit: Exit) {
        if !task.is_alive() {
            return;
        }
        self.retire(task);
        let fiber = task.fiber.borrow_mut().take();
        if let Some(fiber) = fiber {
            // Dropping the closure runs user destructors: no scheduler borrow is held.
            let stack = fiber.into_stack();
            self.pool.borrow_mut().give(stack, false);
        }
        self.tell_observer(task, exit);
    }

    /// Tells the join handle (if any) how the tasklet ended, reports an unclaimed
    /// failure, and drops the tasklet's locals (user destructors).
    fn tell_observer(&self, task: &Task, exit: Exit) {
        let observer = task.exit_observer.borrow_mut().take();
        let claimed = observer.as_ref().is_some_and(|obs| obs.exited(&exit));
        drop(observer);
        let locals = task.locals.borrow_mut().take();
        drop(locals);
        if let Exit::Failed(kind) = exit {
            if !claimed {
                let failure = TaskletFailure {
                    tasklet: task.key.id(),
                    name: task.name.borrow().as_deref().map(str::to_owned),
                    kind,
                };
                self.failures.borrow_mut().push_back(failure);
            }
        }
    }
}

impl Shared {
    /// Recomputes whether any hook is set (after a hook changes).
    pub(crate) fn refresh_hooks_active(&self) {
        let hooks = self.hooks.borrow();
        let active = hooks.error_handler.is_some()
            || hooks.schedule.is_some()
            || hooks.channel.is_some()
            || hooks.slice.is_some();
        self.hooks_active.set(active);
    }

    /// Empties the run queue, the be_nice list, the garbage and the registry (when the
    /// scheduler is dropped), breaking reference cycles through tasklet records.
    pub(crate) fn clear_queues(&self) {
        let queue = std::mem::take(&mut *self.queue.borrow_mut());
        let nice = std::mem::take(&mut *self.nice.borrow_mut());
        let garbage = std::mem::take(&mut *self.garbage.borrow_mut());
        let interrupted = self.interrupted.borrow_mut().take();
        let longest = self.longest.borrow_mut().take();
        drop((queue, nice, garbage, interrupted, longest));
        self.scheduled.set(0);
        self.nice_live.set(0);
    }
}

/// Marks the pump as stopped and drops its garbage when a pump call ends, by return or
/// by a panic from a hook.
struct StopPump<'a>(&'a Rc<Shared>);

impl Drop for StopPump<'_> {
    fn drop(&mut self) {
        let shared = self.0;
        shared.pumping.set(false);
        shared.hard_deadline.set(None);
        if let Some(monitor) = shared.running_monitor() {
            monitor.set_deadline(None);
        }
        if let Ok(mut current) = shared.current.try_borrow_mut() {
            *current = shared.main.clone();
        }
        let garbage = shared
            .garbage
            .try_borrow_mut()
            .map(|mut g| std::mem::take(&mut *g));
        drop(garbage);
    }
}

impl Shared {
    /// Before a slice: the schedule callback. Returns whether `next` is still to be
    /// resumed (the callback left it running).
    pub(crate) fn hooks_on_switch(self: &Rc<Self>, next: &Rc<Task>, starting: bool) -> bool {
        let Some(mut cb) = self.take_hook(|h| h.schedule.take()) else {
            return true;
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
        next.state.get() == TaskletState::Running
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

impl Shared {
    /// Applies the notices other threads posted (future wakers, remote senders). Returns
    /// true if any arrived.
    pub(crate) fn drain_remote(&self) -> bool {
        let Some(notices) = self.remote.take_notices() else {
            return false;
        };
        for notice in notices {
            match notice {
                Notice::Tasklet { key, seq } => {
                    let key = Key::from(KeyData::from_ffi(key));
                    if let Some(task) = self.task(key) {
                        if task.state.get() == TaskletState::Blocked && task.block_seq.get() == seq
                        {
                            self.wake(&task, Wake::Signaled, false);
                        }
                    }
                }
                Notice::Target(id) => {
                    if let Some(target) = self.remote.target(id) {
                        target.notified();
                    }
                }
                Notice::Nudge => {}
            }
        }
        true
    }
}
