//! The tasklet phase of a frame: resume ready tasklets within a budget, count what they
//! did, and log their slices for the watchdog and for traces.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use uthread::{Budget, RunError, RunOutcome, Scheduler, SliceInfo, TaskletFailure, TaskletId};

use crate::stats::{FrameStats, SliceSummary};
use crate::watchdog::WatchdogConfig;

/// What the slice hook records (only while a watchdog or a trace needs it).
#[derive(Debug, Default)]
struct SliceLog {
    /// Slices longer than this are overruns.
    overrun_limit: Option<Duration>,
    overruns: Vec<(TaskletId, Duration)>,
    /// Keep every slice (for a trace).
    keep_all: bool,
    all: Vec<SliceInfo>,
}

impl SliceLog {
    fn record(&mut self, info: &SliceInfo) {
        if self
            .overrun_limit
            .is_some_and(|limit| info.duration > limit)
        {
            self.overruns.push((info.tasklet, info.duration));
        }
        if self.keep_all {
            self.all.push(info.clone());
        }
    }
}

/// The budgeted tasklet phase of a frame, shared by every host (the hecs engine's
/// `FrameDriver`, the Bevy plugin): one [`run`](FramePump::run) per frame resumes the
/// ready tasklets of one scheduler in FIFO order until none is ready or the budget is
/// spent; those left keep their order and run first next frame.
///
/// It also owns the slice hook that the watchdog and trace recording need, and turns
/// slice timing on when either does.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use frame_core::{Budget, FramePump, FrameStats};
///
/// let scheduler = Rc::new(uthread::Scheduler::builder().manual_clock().build());
/// let log = Rc::new(RefCell::new(Vec::new()));
/// for name in ["a", "b", "c"] {
///     let log = log.clone();
///     scheduler.spawn(move || loop {
///         log.borrow_mut().push(name);
///         uthread::be_nice().unwrap();
///     }).unwrap();
/// }
/// let pump = FramePump::new(scheduler.clone(), Budget::Resumes(2), false, None);
/// let mut stats = FrameStats::<u32>::default();
/// let _ = pump.run(&mut stats);
/// assert_eq!((stats.resumed, stats.deferred), (2, 1)); // "c" is left over...
/// scheduler.advance(std::time::Duration::ZERO); // the next frame
/// let _ = pump.run(&mut stats);
/// assert_eq!(*log.borrow(), ["a", "b", "c", "a"]); // ...and runs first
/// ```
pub struct FramePump {
    scheduler: Rc<Scheduler>,
    budget: Budget,
    /// Slice timing asked for by the host (a watchdog or a recording turns it on too).
    timing: bool,
    watchdog: Option<WatchdogConfig>,
    recording: bool,
    log: Rc<RefCell<SliceLog>>,
}

impl fmt::Debug for FramePump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FramePump")
            .field("budget", &self.budget)
            .field("timing", &self.timing)
            .field("watchdog", &self.watchdog)
            .field("recording", &self.recording)
            .finish_non_exhaustive()
    }
}

/// What a [`FramePump::run`] leaves for the host besides the counts it wrote into the
/// frame's stats.
#[derive(Debug)]
#[must_use = "a failure must be reported, and the longest slice named"]
pub struct PumpRun {
    /// The longest slice and whose it was (with slice timing on); name it with
    /// [`PumpRun::longest_slice`].
    pub longest: Option<(TaskletId, Duration)>,
    /// A tasklet failure that the scheduler returned because no error handler was set.
    pub failure: Option<TaskletFailure>,
}

impl PumpRun {
    /// The longest slice, named by `describe` (the tasklet's entity and name, if it is
    /// an actor's).
    pub fn longest_slice<E>(
        &self,
        describe: impl FnOnce(TaskletId) -> (Option<E>, Option<Arc<str>>),
    ) -> Option<SliceSummary<E>> {
        let (tasklet, duration) = self.longest?;
        let (entity, name) = describe(tasklet);
        Some(SliceSummary {
            tasklet,
            entity,
            name,
            duration,
        })
    }
}

impl FramePump {
    /// A pump for `scheduler`'s tasklets. `timing` times every slice (per-tasklet run
    /// time, the longest slice); a time budget, a watchdog or a recording turn it on.
    pub fn new(
        scheduler: Rc<Scheduler>,
        budget: Budget,
        timing: bool,
        watchdog: Option<WatchdogConfig>,
    ) -> FramePump {
        let pump = FramePump {
            scheduler,
            budget,
            timing: timing || watchdog.is_some(),
            watchdog,
            recording: false,
            log: Rc::new(RefCell::new(SliceLog::default())),
        };
        pump.configure();
        pump
    }

    /// The scheduler it runs.
    pub fn scheduler(&self) -> &Rc<Scheduler> {
        &self.scheduler
    }

    /// The budget of each run.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// Changes the budget from the next run on.
    pub fn set_budget(&mut self, budget: Budget) {
        self.budget = budget;
    }

    /// The watchdog's settings.
    pub fn watchdog(&self) -> Option<WatchdogConfig> {
        self.watchdog
    }

    /// Whether slices are timed.
    pub fn timing(&self) -> bool {
        self.timing || self.recording
    }

    /// Keeps every slice (for a trace; drain them with [`FramePump::drain_slices`]),
    /// or stops keeping them.
    pub fn set_recording(&mut self, on: bool) {
        self.recording = on;
        self.configure();
    }

    /// Installs the slice hook and timing that the watchdog and recording need (and
    /// removes the hook when neither does).
    fn configure(&self) {
        {
            let mut log = self.log.borrow_mut();
            log.overrun_limit = self.watchdog.map(|w| w.limit);
            log.keep_all = self.recording;
        }
        self.scheduler.set_timing(self.timing());
        if self.watchdog.is_some() || self.recording {
            let log = self.log.clone();
            self.scheduler
                .set_slice_hook(Some(Box::new(move |info| log.borrow_mut().record(info))));
        } else {
            self.scheduler.set_slice_hook(None);
        }
    }

    /// Resumes ready tasklets until none is ready or the budget is spent, and writes the
    /// phase's counts into `stats`: `resumed`, `deferred`, `waiting_next_frame`,
    /// `sleeping`, `blocked`, `budget_spent` and `overshoot`. The longest slice and any
    /// failure the scheduler returned come back.
    ///
    /// # Panics
    ///
    /// When called from inside a tasklet.
    pub fn run<E>(&self, stats: &mut FrameStats<E>) -> PumpRun {
        let scheduler = &self.scheduler;
        let start = Instant::now();
        // A time budget also cuts a slice that runs past it, at its next preempt point
        // (any uthread call, or a loop of a #[uthread::preemptible] behaviour); the cut
        // tasklet runs first next frame.
        let outcome = scheduler.run_preemptive(self.budget);
        let elapsed = start.elapsed();
        // Read the run's figures before anything else pumps the scheduler (a kill does).
        stats.resumed = scheduler.last_run_resumes();
        stats.preempted = scheduler.last_run_preemptions();
        let longest = scheduler
            .last_run_longest_slice()
            .map(|(tasklet, duration)| (tasklet.id(), duration));
        stats.deferred = scheduler.scheduled_count();
        stats.waiting_next_frame = scheduler.nice_count();
        stats.sleeping = scheduler.timer_count();
        stats.blocked = scheduler
            .alive_count()
            .saturating_sub(stats.deferred + stats.waiting_next_frame + stats.sleeping);
        let mut failure = None;
        match outcome {
            Ok(RunOutcome::BudgetSpent) => {
                stats.budget_spent = true;
                if let Budget::Time(budget) = self.budget {
                    stats.overshoot = Some(elapsed.saturating_sub(budget));
                }
            }
            Ok(_) => {}
            Err(RunError::Failed(f)) => failure = Some(f),
            Err(RunError::Nested) => {
                panic!("a frame's tasklet phase was run from inside a tasklet")
            }
        }
        PumpRun { longest, failure }
    }

    /// The slices that ran longer than the watchdog's limit since the last call.
    pub fn take_overruns(&self) -> Vec<(TaskletId, Duration)> {
        std::mem::take(&mut self.log.borrow_mut().overruns)
    }

    /// Hands every slice kept since the last call (while recording) to `f`, oldest
    /// first, and forgets them.
    pub fn drain_slices(&self, mut f: impl FnMut(SliceInfo)) {
        // Taken out so that `f` may do anything; the buffer goes back for reuse.
        let mut slices = std::mem::take(&mut self.log.borrow_mut().all);
        for info in slices.drain(..) {
            f(info);
        }
        let mut log = self.log.borrow_mut();
        if log.all.is_empty() {
            log.all = slices;
        }
    }
}
