//! What a frame did: counts, the longest slice, overruns, time per phase, and the
//! incidents (crashes, watchdog actions) that happened in it. Also per-tasklet timers.
//!
//! Every type here is generic over the host's entity id `E` (`hecs::Entity` in the
//! engine, `bevy_ecs::entity::Entity` in the Bevy plugin).

use std::fmt;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use uthread::{TaskletFailure, TaskletId};

use crate::policy::WatchdogPolicy;

/// Wall time spent in each phase of one frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhaseTimes {
    /// Steps 1 and 2: advancing the clock, waking timers and be_nice waiters.
    pub clock: Duration,
    /// Step 3: the host's work before the tasklets (the engine's systems and stopping
    /// actors whose entities they despawned; the Bevy plugin's inbox deliveries).
    pub systems: Duration,
    /// Step 4: resuming tasklets.
    pub tasklets: Duration,
    /// Step 5: handling ended actors and applying queued commands.
    pub commands: Duration,
    /// The whole tick.
    pub total: Duration,
}

/// The longest slice of a frame, and whose it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SliceSummary<E> {
    /// The tasklet.
    pub tasklet: TaskletId,
    /// Its actor's entity (`None` for a tasklet that is not an actor's).
    pub entity: Option<E>,
    /// Its actor's name (shared between threads, so that the stats can be a Bevy
    /// resource).
    pub name: Option<Arc<str>>,
    /// How long the slice ran.
    pub duration: Duration,
}

/// Something that went wrong with an actor, named so that it can be found.
#[derive(Clone, Debug, PartialEq)]
pub struct Incident<E> {
    /// The frame it happened in.
    pub frame: u64,
    /// The actor's entity, if the tasklet was an actor's.
    pub entity: Option<E>,
    /// The tasklet.
    pub tasklet: Option<TaskletId>,
    /// The tasklet's name.
    pub name: String,
    /// What happened.
    pub kind: IncidentKind,
}

/// What an [`Incident`] was.
#[derive(Clone, Debug, PartialEq)]
pub enum IncidentKind {
    /// The behaviour panicked; the crash policy was applied to its entity.
    Panicked {
        /// The panic message.
        message: String,
    },
    /// A single slice ran longer than the watchdog's limit.
    Overrun {
        /// How long the slice ran.
        duration: Duration,
        /// The limit.
        limit: Duration,
        /// What the watchdog did about it.
        action: WatchdogPolicy,
    },
    /// The tasklet blocked or yielded while holding the world (a blocking call made
    /// around its context); it was killed so the world could be handed back, and the
    /// crash policy was applied to its entity.
    HeldWorld,
    /// A spawn queued by a behaviour could not start its actor; the entity was
    /// despawned.
    SpawnFailed {
        /// Why.
        error: String,
    },
}

impl<E: fmt::Debug> fmt::Display for Incident<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "frame {}: ", self.frame)?;
        match &self.entity {
            Some(e) => write!(f, "entity {e:?} ")?,
            None => f.write_str("tasklet ")?,
        }
        write!(f, "'{}'", self.name)?;
        match &self.kind {
            IncidentKind::Panicked { message } => write!(f, " panicked: {message}"),
            IncidentKind::Overrun {
                duration,
                limit,
                action,
            } => write!(
                f,
                " ran one slice for {duration:?} (limit {limit:?}); action: {action:?}"
            ),
            IncidentKind::HeldWorld => f.write_str(" suspended while holding the world; killed"),
            IncidentKind::SpawnFailed { error } => write!(f, " could not spawn: {error}"),
        }
    }
}

/// What one frame did: returned by the engine's `FrameDriver::tick`, kept as a resource
/// by the Bevy plugin.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameStats<E> {
    /// The frame's number (the first tick is frame 1).
    pub frame: u64,
    /// Game time at the end of the frame.
    pub game_time: Duration,
    /// Slices run in the tasklet phase.
    pub resumed: u64,
    /// Slices the time budget cut at a preempt point (the tasklet runs first next frame).
    pub preempted: u64,
    /// Tasklets ready but not run because the budget ran out; they run first next
    /// frame, in the same order.
    pub deferred: usize,
    /// Tasklets waiting in `be_nice` for the next frame.
    pub waiting_next_frame: usize,
    /// Tasklets with a pending timer (sleeping, or waiting with a timeout).
    pub sleeping: usize,
    /// Other blocked tasklets (waiting on an inbox, channel or lock without timeout).
    pub blocked: usize,
    /// Live actors at the end of the frame.
    pub actors: usize,
    /// Whether the tasklet phase stopped because the budget was spent.
    pub budget_spent: bool,
    /// How far a time budget was overshot (the phase's wall time minus the budget),
    /// when it was spent. At most about one slice: no slice starts after the budget
    /// is spent.
    pub overshoot: Option<Duration>,
    /// The longest slice of the tasklet phase (needs slice timing).
    pub longest_slice: Option<SliceSummary<E>>,
    /// Slices longer than the watchdog's limit.
    pub overruns: usize,
    /// Actors started in this frame.
    pub spawned: usize,
    /// Actors stopped in this frame (despawned, returned, crashed).
    pub stopped: usize,
    /// Wall time per phase.
    pub time: PhaseTimes,
    /// Crashes and watchdog actions of this frame.
    pub incidents: Vec<Incident<E>>,
}

impl<E> Default for FrameStats<E> {
    fn default() -> Self {
        FrameStats {
            frame: 0,
            game_time: Duration::ZERO,
            resumed: 0,
            preempted: 0,
            deferred: 0,
            waiting_next_frame: 0,
            sleeping: 0,
            blocked: 0,
            actors: 0,
            budget_spent: false,
            overshoot: None,
            longest_slice: None,
            overruns: 0,
            spawned: 0,
            stopped: 0,
            time: PhaseTimes::default(),
            incidents: Vec::new(),
        }
    }
}

impl<E> FrameStats<E> {
    /// Resets the counters for frame `frame`, keeping the incident list's allocation
    /// (the host calls this as a frame begins).
    pub fn reset(&mut self, frame: u64) {
        let mut incidents = std::mem::take(&mut self.incidents);
        incidents.clear();
        *self = FrameStats {
            frame,
            incidents,
            ..FrameStats::default()
        };
    }
}

/// One tasklet's accumulated timers, as EVE kept them: how long it has run in all and
/// how many times it was resumed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskletTimes<E> {
    /// The actor's entity.
    pub entity: E,
    /// The tasklet's name.
    pub name: Rc<str>,
    /// Wall time summed over its slices (measured while slice timing is on).
    pub run_time: Duration,
    /// How many times it has been resumed.
    pub switches: u64,
}

impl<E> Incident<E> {
    /// The incident for a tasklet that panicked (or ended with an uncaught error), as
    /// its scheduler's error handler reported it.
    pub fn panicked(frame: u64, entity: Option<E>, failure: &TaskletFailure) -> Incident<E> {
        let message = match failure.panic_message() {
            Some(message) => message.to_owned(),
            None => failure.to_string(),
        };
        Incident {
            frame,
            entity,
            tasklet: Some(failure.tasklet),
            name: failure.name.clone().unwrap_or_default(),
            kind: IncidentKind::Panicked { message },
        }
    }

    /// Why the crash policy was applied to the entity, in the words the host's crash
    /// marker records (e.g. `panicked: reactor breach`).
    pub fn crash_reason(&self) -> String {
        match &self.kind {
            IncidentKind::Panicked { message } => format!("panicked: {message}"),
            IncidentKind::Overrun {
                duration, limit, ..
            } => format!("killed by the watchdog: a slice ran for {duration:?} (limit {limit:?})"),
            IncidentKind::HeldWorld => "killed: suspended while holding the world".to_owned(),
            IncidentKind::SpawnFailed { error } => format!("could not spawn: {error}"),
        }
    }
}
