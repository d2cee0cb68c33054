//! `UthreadPlugin`: adds the scripts' runtime and the exclusive system that runs them
//! once per frame, within a budget.

use std::time::Duration;

use bevy_app::{App, Plugin, Update};
use bevy_ecs::schedule::{InternedScheduleLabel, IntoScheduleConfigs, ScheduleLabel, SystemSet};
use frame_core::{Budget, CrashPolicy, FramePump, WatchdogConfig, WatchdogPolicy};
use uthread::Scheduler;

use crate::frame::run_scripts;
use crate::runtime::{ScriptRuntime, ScriptStats};

/// The system set of the plugin's exclusive system, to order other systems around the
/// script phase (e.g. `.before(ScriptSystems)` for a system that sends to scripts).
#[derive(SystemSet, Clone, Debug, PartialEq, Eq, Hash)]
pub struct ScriptSystems;

/// Runs every entity's [`Script`](crate::Script) as a Stackless-style tasklet, resumed
/// once per frame within a budget, as CCP drove EVE Online's entities.
///
/// It inserts [`ScriptRuntime`] (the scheduler, a non-send resource) and
/// [`ScriptStats`] (the last frame's figures), and adds one exclusive system (in
/// [`ScriptSystems`], in `Update` unless [`UthreadPlugin::in_schedule`] says
/// otherwise) that, each frame:
///
/// 1. advances the scripts' clock to Bevy's virtual time (`Time<Virtual>::elapsed`,
///    zero steps without `bevy_time::TimePlugin`) and wakes the scripts whose sleep or
///    timeout is due, then those that waited for the next frame;
/// 2. copies the messages registered with
///    [`ScriptAppExt::add_script_message`](crate::ScriptAppExt::add_script_message) into
///    scripts' inboxes;
/// 3. resumes ready scripts in FIFO order, with the world lent to them one slice at a
///    time, until none is ready or the budget is spent: those left keep their order and
///    run first next frame;
/// 4. applies the watchdog's verdicts and the crash policy, handles scripts that
///    returned, and applies the commands scripts queued;
/// 5. writes [`ScriptStats`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use bevy_app::{App, PostUpdate};
/// use bevy_uthread::{Budget, CrashPolicy, UthreadPlugin, WatchdogPolicy};
///
/// let mut app = App::new();
/// app.add_plugins(
///     UthreadPlugin::default()
///         .in_schedule(PostUpdate)
///         .budget(Budget::Time(Duration::from_millis(2)))
///         .watchdog(Duration::from_millis(1), WatchdogPolicy::Report)
///         .on_panic(CrashPolicy::Despawn),
/// );
/// app.update();
/// ```
#[derive(Clone, Debug)]
pub struct UthreadPlugin {
    schedule: InternedScheduleLabel,
    budget: Budget,
    timing: bool,
    watchdog: Option<WatchdogConfig>,
    on_panic: CrashPolicy,
    stack_size: Option<usize>,
}

impl Default for UthreadPlugin {
    /// In `Update`, with a budget of 4 ms of wall time a frame, slice timing on, no
    /// watchdog, crashed scripts' entities marked with
    /// [`ScriptCrashed`](crate::ScriptCrashed).
    fn default() -> Self {
        UthreadPlugin {
            schedule: Update.intern(),
            budget: Budget::Time(Duration::from_millis(4)),
            timing: true,
            watchdog: None,
            on_panic: CrashPolicy::MarkCrashed,
            stack_size: None,
        }
    }
}

impl UthreadPlugin {
    /// The schedule the script phase runs in (`Update` by default).
    #[must_use = "the builder returns the changed plugin"]
    pub fn in_schedule(mut self, schedule: impl ScheduleLabel) -> UthreadPlugin {
        self.schedule = schedule.intern();
        self
    }

    /// The script phase's budget per frame: `Budget::Time(d)` for normal play,
    /// `Budget::Resumes(n)` for deterministic runs, `Budget::Unlimited` to run until
    /// every script waits.
    #[must_use = "the builder returns the changed plugin"]
    pub fn budget(mut self, budget: Budget) -> UthreadPlugin {
        self.budget = budget;
        self
    }

    /// Times every slice (the longest slice, the watchdog); on by default, two clock
    /// reads per slice. A time budget and a watchdog time slices anyway.
    #[must_use = "the builder returns the changed plugin"]
    pub fn timing(mut self, on: bool) -> UthreadPlugin {
        self.timing = on;
        self
    }

    /// Watches every slice: one longer than `limit` is reported as an
    /// [`Incident`](crate::Incident) in [`ScriptStats`] and handled by `policy`.
    #[must_use = "the builder returns the changed plugin"]
    pub fn watchdog(mut self, limit: Duration, policy: WatchdogPolicy) -> UthreadPlugin {
        self.watchdog = Some(WatchdogConfig { limit, policy });
        self
    }

    /// What happens to the entity of a script that panics (or is killed by the
    /// watchdog or for holding the world): [`CrashPolicy::MarkCrashed`] by default.
    #[must_use = "the builder returns the changed plugin"]
    pub fn on_panic(mut self, policy: CrashPolicy) -> UthreadPlugin {
        self.on_panic = policy;
        self
    }

    /// Default stack size of scripts' tasklets (uthread's default otherwise).
    #[must_use = "the builder returns the changed plugin"]
    pub fn stack_size(mut self, bytes: usize) -> UthreadPlugin {
        self.stack_size = Some(bytes);
        self
    }
}

impl Plugin for UthreadPlugin {
    fn build(&self, app: &mut App) {
        let timing = self.timing || self.watchdog.is_some();
        let mut scheduler = Scheduler::builder().manual_clock().timing(timing);
        if let Some(bytes) = self.stack_size {
            scheduler = scheduler.stack_size(bytes);
        }
        let (budget, watchdog) = (self.budget, self.watchdog);
        let runtime = ScriptRuntime::new(
            scheduler.build(),
            |scheduler| FramePump::new(scheduler, budget, timing, watchdog),
            self.on_panic,
        );
        app.insert_non_send(runtime)
            .init_resource::<ScriptStats>()
            .add_systems(self.schedule, run_scripts.in_set(ScriptSystems));
    }
}
