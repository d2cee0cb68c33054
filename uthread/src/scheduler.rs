//! The scheduler: owns the tasklets of one thread, runs them, and tears them down.

use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use crate::budget::{Budget, Watchdog};
use crate::core::{install_default, Config, Enter, PumpExit, PumpLimits, Shared};
use crate::error::{RunError, SpawnError, TaskletFailure};
use crate::hooks::{ChannelCallback, ErrorHandler, ScheduleCallback, SliceHook};
use crate::id::{Key, TaskletId};
use crate::monitor::StallReport;
use crate::pool::DEFAULT_WARM_STACKS;
use crate::remote_channel::{RemoteReceiver, RemoteSender};
use crate::spawn::{spawn_in, Builder, JoinHandle};
use crate::stack::{StackError, StackPoolStats, StackStrategy};
use crate::state::{BlockedOn, TaskletState};
use crate::sys::overflow;
use crate::sys::switch;

use crate::clock::{Clock, ClockKind};
use crate::task::Tasklet;

/// Default usable stack size per tasklet.
pub const DEFAULT_STACK_SIZE: usize = 128 * 1024;

/// How a run call ended (failures come back as [`RunError`]).
#[derive(Debug)]
pub enum RunOutcome {
    /// Nothing is runnable and no tasklet is blocked.
    Finished,
    /// Nothing is runnable, tasklets are blocked, and nothing the scheduler owns (timers,
    /// remote senders, futures) can wake them. Only the main context can still help
    /// (by sending, say); otherwise this is a deadlock.
    Deadlock(DeadlockReport),
    /// Manual clock: nothing is runnable until the clock advances (sleepers or be_nice
    /// waiters are pending).
    Idle {
        /// The earliest timer deadline, if any.
        next_deadline: Option<Duration>,
    },
    /// The budget ran out; queued tasklets keep their places.
    BudgetSpent,
    /// The watchdog interrupted a tasklet that overran its slice.
    Interrupted {
        /// The tasklet.
        tasklet: Tasklet,
        /// Hard mode took it out of the run queue (it is paused); insert or kill it.
        removed: bool,
    },
}

/// The tasklets left blocked when nothing could run.
#[derive(Clone, Debug, Default)]
pub struct DeadlockReport {
    /// Each blocked tasklet and what it waits on.
    pub blocked: Vec<(Tasklet, BlockedOn)>,
}

impl fmt::Display for DeadlockReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} tasklet(s) blocked with nothing left to run:",
            self.blocked.len()
        )?;
        for (t, on) in &self.blocked {
            write!(f, "\n  {t}: {on}")?;
        }
        Ok(())
    }
}

/// Configures a [`Scheduler`].
#[derive(Clone, Debug)]
#[must_use = "call build() to get the scheduler"]
pub struct SchedulerBuilder {
    config: Config,
    clock: ClockKind,
}

impl Default for SchedulerBuilder {
    fn default() -> Self {
        SchedulerBuilder {
            config: Config {
                stack_size: DEFAULT_STACK_SIZE,
                stack_strategy: StackStrategy::dedicated(),
                max_idle_stacks: DEFAULT_WARM_STACKS,
                timing: false,
                stall_threshold: None,
            },
            clock: ClockKind::Real,
        }
    }
}

impl SchedulerBuilder {
    /// Default stack size for its tasklets (a spawn may override it).
    pub fn stack_size(mut self, bytes: usize) -> SchedulerBuilder {
        self.config.stack_size = bytes;
        self
    }

    /// Default stack strategy for its tasklets (a spawn may override it with
    /// [`Builder::stack_strategy`]): a dedicated stack each (the default, safe at any
    /// count), or stack copying on shared stacks, which only `unsafe` code can choose
    /// (see [`StackStrategy::copying`]). The stack size means the same in both: how deep a
    /// tasklet may go before the guard page stops it (copying tasklets of one size share
    /// one stack of that size).
    pub fn stack_strategy(mut self, strategy: StackStrategy) -> SchedulerBuilder {
        self.config.stack_strategy = strategy;
        self
    }

    /// Idle stacks per size that keep their memory for the next spawns (default 1024).
    /// Beyond this watermark, stacks handed back by finished tasklets give their pages
    /// back to the kernel (in batches) and are reused cold: a spawn still makes no system
    /// call, but its first touches of the stack fault pages back in.
    pub fn max_idle_stacks(mut self, count: usize) -> SchedulerBuilder {
        self.config.max_idle_stacks = count;
        self
    }

    /// A manual clock, advanced only by [`Scheduler::advance`] (deterministic).
    pub fn manual_clock(mut self) -> SchedulerBuilder {
        self.clock = ClockKind::Manual;
        self
    }

    /// Times every slice: per-tasklet run time, the longest slice, and the slice hook.
    /// Costs one clock read per slice.
    pub fn timing(mut self, on: bool) -> SchedulerBuilder {
        self.config.timing = on;
        self
    }

    /// Reports, while it is still running, any slice that runs longer than `threshold`
    /// (a tasklet stuck in a loop that makes no uthread call), and again when it ends,
    /// with the total. A watchdog thread watches; the switch path only publishes which
    /// tasklet runs (two atomic stores). Reports go to stderr unless a handler is set
    /// ([`Scheduler::set_stall_handler`]). Off by default (`None`).
    pub fn stall_reports(mut self, threshold: Option<Duration>) -> SchedulerBuilder {
        self.config.stall_threshold = threshold;
        self
    }

    /// Builds the scheduler. The first one made on a thread becomes the thread's default
    /// for calls from the main context.
    pub fn build(self) -> Scheduler {
        overflow::install();
        let stalls = self.config.stall_threshold.is_some();
        let shared = Shared::new(self.config, Clock::new(self.clock), Default::default());
        install_default(&shared);
        if stalls {
            shared.monitor();
        }
        Scheduler { shared }
    }
}

/// Owns the tasklets of one thread and runs them. `!Send`: it and its tasklets stay on
/// the thread that made it. Dropping it kills (unwinds) every tasklet left.
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<uthread::Scheduler>();
/// ```
///
/// # Examples
///
/// ```
/// let sched = uthread::Scheduler::new();
/// let ch = uthread::Channel::new();
/// let (tx, rx) = (ch.clone(), ch.clone());
/// sched.spawn(move || tx.send("ping").unwrap()).unwrap();
/// let pong = sched.spawn(move || rx.receive().unwrap()).unwrap();
/// sched.run().unwrap();
/// assert_eq!(pong.join().unwrap(), "ping");
/// ```
pub struct Scheduler {
    shared: Rc<Shared>,
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.shared;
        f.debug_struct("Scheduler")
            .field("alive", &shared.alive.get())
            .field("scheduled", &shared.scheduled.get())
            .field("clock", &shared.clock.borrow().kind())
            .field("now", &shared.now())
            .finish()
    }
}

impl Default for Scheduler {
    fn default() -> Self {
        Scheduler::new()
    }
}

impl Scheduler {
    /// A scheduler with a real clock and default settings.
    pub fn new() -> Scheduler {
        Scheduler::builder().build()
    }

    /// Configures a scheduler.
    pub fn builder() -> SchedulerBuilder {
        SchedulerBuilder::default()
    }

    /// Spawns `f` as a tasklet, scheduled at once.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Stack`] when no stack can be had; it says which limit was hit.
    pub fn spawn<F, T>(&self, f: F) -> Result<JoinHandle<T>, SpawnError>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        spawn_in(&self.shared, Builder::new(), f)
    }

    /// Runs tasklets until nothing is runnable. With a real clock it also waits for
    /// sleepers and starts a new tick (waking be_nice waiters) whenever the queue
    /// empties, so it returns only when every tasklet has ended or is stuck.
    ///
    /// # Errors
    ///
    /// [`RunError::Failed`] when a tasklet fails and no error handler is set (the others
    /// stay queued); [`RunError::Nested`] when called from inside a tasklet.
    pub fn run(&self) -> Result<RunOutcome, RunError> {
        self.run_with(PumpLimits {
            until_main: false,
            budget: Budget::Unlimited,
            per_slice: false,
            hard: false,
            requeue: false,
        })
    }

    /// Runs until nothing is runnable or `budget` is spent. No slice starts after the
    /// budget is spent; tasklets left queued keep their order for the next call.
    ///
    /// # Errors
    ///
    /// As [`Scheduler::run`].
    pub fn run_for(&self, budget: Budget) -> Result<RunOutcome, RunError> {
        self.run_with(PumpLimits {
            until_main: false,
            budget,
            per_slice: false,
            hard: false,
            requeue: false,
        })
    }

    /// Runs under a watchdog (Stackless `run(timeout)`): see [`Watchdog`].
    ///
    /// # Errors
    ///
    /// As [`Scheduler::run`].
    pub fn run_watchdog(&self, watchdog: Watchdog) -> Result<RunOutcome, RunError> {
        self.run_with(PumpLimits {
            until_main: false,
            budget: Budget::Time(watchdog.limit),
            per_slice: !watchdog.total,
            hard: watchdog.hard,
            requeue: false,
        })
    }

    /// Runs until nothing is runnable or `budget` is spent, like [`Scheduler::run_for`],
    /// but a time budget also interrupts a slice that runs past it, at the tasklet's next
    /// preempt point (any uthread call, [`preempt_point`](crate::preempt_point), or a
    /// loop of a [`#[preemptible]`](crate::preemptible) function). The interrupted
    /// tasklet keeps its place at the front of the run queue, so it runs first next time:
    /// a frame's budget is overshot by at most the gap between two preempt points, not a
    /// whole slice. Atomic tasklets are never interrupted.
    /// [`Scheduler::last_run_preemptions`] says how many slices were cut.
    ///
    /// # Errors
    ///
    /// As [`Scheduler::run`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use uthread::{Budget, RunOutcome, Scheduler};
    ///
    /// #[uthread::preemptible]
    /// fn grind(n: u64) -> u64 {
    ///     let mut x = 0u64;
    ///     for i in 0..n {
    ///         x = x.rotate_left(5) ^ i;
    ///     }
    ///     x
    /// }
    ///
    /// let sched = Scheduler::builder().manual_clock().build();
    /// let t = sched.spawn(|| grind(200_000_000)).unwrap();
    /// let mut frames = 0;
    /// loop {
    ///     frames += 1;
    ///     match sched.run_preemptive(Budget::Time(Duration::from_millis(4))).unwrap() {
    ///         RunOutcome::BudgetSpent => continue, // the grind was cut: next frame
    ///         _ => break,
    ///     }
    /// }
    /// assert!(t.join().is_ok());
    /// assert!(frames >= 1);
    /// ```
    pub fn run_preemptive(&self, budget: Budget) -> Result<RunOutcome, RunError> {
        self.run_with(PumpLimits {
            until_main: false,
            budget,
            per_slice: false,
            hard: matches!(budget, Budget::Time(_)),
            requeue: true,
        })
    }

    fn run_with(&self, limits: PumpLimits) -> Result<RunOutcome, RunError> {
        if switch::in_fiber() || self.shared.pumping.get() {
            return Err(RunError::Nested);
        }
        let pending = self.shared.failures.borrow_mut().pop_front();
        if let Some(failure) = pending {
            return Err(RunError::Failed(failure));
        }
        let exit = self.shared.pump(limits);
        let handle = Tasklet::from_task;
        Ok(match exit {
            PumpExit::MainResumed | PumpExit::Drained => {
                let blocked = self.shared.blocked_list();
                if blocked.is_empty() {
                    RunOutcome::Finished
                } else {
                    RunOutcome::Deadlock(DeadlockReport {
                        blocked: blocked
                            .into_iter()
                            .map(|(task, on)| (handle(task), on))
                            .collect(),
                    })
                }
            }
            PumpExit::WaitingForTick => RunOutcome::Idle {
                next_deadline: self.shared.next_live_deadline(),
            },
            PumpExit::BudgetSpent => RunOutcome::BudgetSpent,
            PumpExit::Interrupted { task, removed } => RunOutcome::Interrupted {
                tasklet: handle(task),
                removed,
            },
            PumpExit::Failed(failure) => return Err(RunError::Failed(failure)),
        })
    }

    /// Starts a new tick without moving a manual clock: wakes due timers, then the
    /// be_nice waiters of the previous tick. (A real clock reads the time.)
    pub fn tick(&self) {
        // Messages and wakes from other threads first, so they count for this tick.
        self.shared.drain_remote();
        self.shared.expire_timers();
        self.shared.wake_nice();
        self.shared.compact_timers();
    }

    /// Moves a manual clock forward by `dt` and starts a new tick (see
    /// [`Scheduler::tick`]). On a real clock `dt` is ignored.
    pub fn advance(&self, dt: Duration) {
        self.shared.clock.borrow_mut().advance(dt);
        self.tick();
    }

    /// Game time since the clock started.
    pub fn now(&self) -> Duration {
        self.shared.now()
    }

    /// Which clock this scheduler follows.
    pub fn clock(&self) -> ClockKind {
        self.shared.clock.borrow().kind()
    }

    /// Tasklets alive (the main context not counted).
    pub fn alive_count(&self) -> usize {
        self.shared.alive.get()
    }

    /// Tasklets in the run queue.
    pub fn scheduled_count(&self) -> usize {
        self.shared.scheduled.get()
    }

    /// Tasklets blocked (on anything: channels, timers, primitives).
    pub fn blocked_count(&self) -> usize {
        let registry = self.shared.registry.borrow();
        registry
            .values()
            .filter(|t| t.state.get() == TaskletState::Blocked)
            .count()
    }

    /// Timers that may still fire (sleepers and timed waits).
    pub fn timer_count(&self) -> usize {
        self.shared.timers.borrow().live()
    }

    /// Tasklets waiting for the next tick in `be_nice`.
    pub fn nice_count(&self) -> usize {
        self.shared.nice_live.get()
    }

    /// The main context's handle.
    pub fn main(&self) -> Tasklet {
        Tasklet::from_task(self.shared.main.clone())
    }

    /// The handle of the tasklet with this id, if it is alive here.
    pub fn tasklet(&self, id: TaskletId) -> Option<Tasklet> {
        let key = Key::from(slotmap::KeyData::from_ffi(id.0));
        self.shared.task(key).map(Tasklet::from_task)
    }

    /// Every live tasklet (the main context excluded).
    pub fn tasklets(&self) -> Vec<Tasklet> {
        let registry = self.shared.registry.borrow();
        registry
            .values()
            .filter(|t| !Rc::ptr_eq(t, &self.shared.main))
            .map(|t| Tasklet::from_task(t.clone()))
            .collect()
    }

    /// Resumes made by the last (or current) run call.
    pub fn last_run_resumes(&self) -> u64 {
        self.shared.resumes.get()
    }

    /// Slices cut by a hard deadline in the last (or current) run call (see
    /// [`Scheduler::run_preemptive`] and hard [`Watchdog`]s).
    pub fn last_run_preemptions(&self) -> u64 {
        self.shared.preemptions.get()
    }

    /// Reports slices longer than `threshold` while they run (see
    /// [`SchedulerBuilder::stall_reports`]); `None` turns the reports off.
    pub fn set_stall_threshold(&self, threshold: Option<Duration>) {
        self.shared.config.borrow_mut().stall_threshold = threshold;
        if threshold.is_some() {
            if let Some(monitor) = self.shared.monitor() {
                monitor.set_threshold(threshold);
            }
        } else if let Some(monitor) = self.shared.running_monitor() {
            monitor.set_threshold(None);
        }
    }

    /// The stall threshold in force, if stall reports are on.
    pub fn stall_threshold(&self) -> Option<Duration> {
        self.shared.running_monitor().and_then(|m| m.threshold())
    }

    /// Sends stall reports to `handler` (called on the watchdog thread, so it must be
    /// `Send + Sync`) instead of stderr.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::{Duration, Instant};
    ///
    /// let sched = uthread::Scheduler::builder()
    ///     .stall_reports(Some(Duration::from_millis(20)))
    ///     .build();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = seen.clone();
    /// sched.set_stall_handler(move |report| sink.lock().unwrap().push(report.clone()));
    /// uthread::Builder::new()
    ///     .name("busy")
    ///     .spawn_on(&sched, || {
    ///         let start = Instant::now();
    ///         while start.elapsed() < Duration::from_millis(200) {} // no uthread call
    ///     })
    ///     .unwrap();
    /// sched.run().unwrap();
    /// std::thread::sleep(Duration::from_millis(50)); // the end report follows
    /// let seen = seen.lock().unwrap();
    /// assert!(!seen[0].ended && seen[0].name.as_deref() == Some("busy"));
    /// ```
    pub fn set_stall_handler(&self, handler: impl Fn(&StallReport) + Send + Sync + 'static) {
        if let Some(monitor) = self.shared.monitor() {
            monitor.set_handler(Some(Box::new(handler)));
        }
    }

    /// The last stall report made (for a HUD), if stall reports are on and one was made.
    pub fn last_stall(&self) -> Option<StallReport> {
        self.shared.running_monitor().and_then(|m| m.last_report())
    }

    /// The longest slice of the last run call and whose it was (with timing on).
    pub fn last_run_longest_slice(&self) -> Option<(Tasklet, Duration)> {
        let longest = self.shared.longest.borrow().clone();
        longest.map(|(task, d)| (Tasklet::from_task(task), d))
    }

    /// Sends failures (panics, uncaught errors) to `handler` instead of returning them
    /// from `run`.
    pub fn set_error_handler(&self, handler: impl FnMut(TaskletFailure) + 'static) {
        self.shared.hooks.borrow_mut().error_handler = Some(Box::new(handler) as ErrorHandler);
        self.shared.refresh_hooks_active();
    }

    /// Removes the error handler.
    pub fn clear_error_handler(&self) {
        self.shared.hooks.borrow_mut().error_handler = None;
        self.shared.refresh_hooks_active();
    }

    /// Failures not yet reported (kept while the main context was blocked).
    pub fn take_failures(&self) -> Vec<TaskletFailure> {
        let failures: Vec<_> = self.shared.failures.borrow_mut().drain(..).collect();
        failures
    }

    /// Sets (or with `None` clears) the schedule callback, called on every switch.
    pub fn set_schedule_callback(&self, cb: Option<ScheduleCallback>) {
        self.shared.hooks.borrow_mut().schedule = cb;
        self.shared.refresh_hooks_active();
    }

    /// Sets (or clears) the channel callback, called on every channel operation.
    pub fn set_channel_callback(&self, cb: Option<ChannelCallback>) {
        self.shared.hooks.borrow_mut().channel = cb;
        self.shared.refresh_hooks_active();
    }

    /// Sets (or clears) the slice hook, called after every slice when timing is on.
    pub fn set_slice_hook(&self, hook: Option<SliceHook>) {
        self.shared.hooks.borrow_mut().slice = hook;
        self.shared.refresh_hooks_active();
    }

    /// Turns slice timing on or off (see [`SchedulerBuilder::timing`]).
    pub fn set_timing(&self, on: bool) {
        self.shared.config.borrow_mut().timing = on;
    }

    /// Counters of the stack pool.
    pub fn stack_stats(&self) -> StackPoolStats {
        self.shared.pool.borrow().stats()
    }

    /// Makes `count` dedicated stacks of the default size now, so the next `count`
    /// dedicated spawns make no system call. (Copying tasklets need no reservation.)
    ///
    /// # Errors
    ///
    /// The stack error that stopped it (the stacks mapped before it stay in the pool).
    pub fn reserve_stacks(&self, count: usize) -> Result<(), StackError> {
        let size = self.shared.config.borrow().stack_size;
        self.shared.pool.borrow_mut().reserve(size, count)
    }

    /// Gives the memory of every idle stack in the pool back to the kernel, unmaps the
    /// stack regions no live tasklet uses, and every shared stack no tasklet uses.
    pub fn trim_stacks(&self) {
        self.shared.pool.borrow_mut().trim();
    }

    /// Runs `f` with this scheduler as the thread's current one (for calls from the main
    /// context when several schedulers share a thread).
    pub fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        let _enter = Enter::new(&self.shared);
        f()
    }

    /// A channel that other OS threads send on (the sender is `Send`) and this
    /// scheduler's tasklets receive from; see [`RemoteSender`](crate::RemoteSender).
    pub fn remote_channel<T: Send + 'static>(&self) -> (RemoteSender<T>, RemoteReceiver<T>) {
        crate::remote_channel::remote_channel(&self.shared)
    }

    /// Kills every tasklet (unwinding each), as dropping the scheduler does. Called by one
    /// of its tasklets, it kills every other tasklet first and then the caller itself.
    pub fn kill_all(&self) {
        self.shared.kill_all();
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.shared.shut_down();
    }
}

/// Spawning onto a given scheduler: here rather than in `spawn.rs`, which knows no
/// `Scheduler`.
impl Builder {
    /// Spawns on `scheduler`.
    ///
    /// # Errors
    ///
    /// As [`Builder::spawn`].
    pub fn spawn_on<F, T>(self, scheduler: &Scheduler, f: F) -> Result<JoinHandle<T>, SpawnError>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        spawn_in(&scheduler.shared, self, f)
    }
}
