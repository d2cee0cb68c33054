//! The slice watchdog: names any tasklet whose single slice ran longer than a limit, and
//! reports it, throws an error into it, or kills it.
//!
//! Native code cannot be preempted safely, so the watchdog acts after the slice has
//! ended (in the command phase of the same frame). What it prevents is the *next*
//! overrun: a thrown error ends the behaviour's loop at its next blocking call unless it
//! handles it, and a kill ends the behaviour at once.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use uthread::{Tasklet, TaskletId};

use crate::policy::WatchdogPolicy;
use crate::stats::{FrameStats, Incident, IncidentKind};

/// The watchdog's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchdogConfig {
    /// A slice longer than this is an overrun.
    pub limit: Duration,
    /// What to do about it.
    pub policy: WatchdogPolicy,
}

/// The error the watchdog throws into an overrunning tasklet under
/// [`WatchdogPolicy::Throw`].
///
/// # Examples
///
/// ```
/// # fn handle(err: uthread::WaitError) {
/// if let uthread::WaitError::Thrown(thrown) = &err {
///     if let Some(overrun) = thrown.downcast_ref::<frame_core::SliceOverrun>() {
///         eprintln!("slowed the frame by {:?}", overrun.duration);
///     }
/// }
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SliceOverrun {
    /// How long the slice ran.
    pub duration: Duration,
    /// The watchdog's limit.
    pub limit: Duration,
}

impl fmt::Display for SliceOverrun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a slice ran for {:?}, over the watchdog's limit of {:?}",
            self.duration, self.limit
        )
    }
}

impl StdError for SliceOverrun {}

/// A tasklet as a host knows it: its entity (if it is an actor's or a script's), its
/// name, and its handle (if it is still alive).
#[derive(Debug)]
pub struct Described<E> {
    /// The actor's entity.
    pub entity: Option<E>,
    /// The tasklet's name.
    pub name: String,
    /// The tasklet, if it is still alive.
    pub tasklet: Option<Tasklet>,
}

/// Reports every slice in `overruns` (from [`FramePump::take_overruns`]) as an
/// [`Incident`] in `stats`, counts it, and applies `config`'s policy to the tasklets
/// still alive: [`WatchdogPolicy::Throw`] is done here; the kills that
/// [`WatchdogPolicy::Kill`] asks for come back, with the incidents that caused them, for
/// the host to stop the actor and apply its crash policy. A tasklet that ended in the
/// overrunning slice, or is no host's actor, is only reported.
///
/// [`FramePump::take_overruns`]: crate::FramePump::take_overruns
pub fn judge_overruns<E: Copy>(
    config: Option<WatchdogConfig>,
    overruns: Vec<(TaskletId, Duration)>,
    stats: &mut FrameStats<E>,
    mut describe: impl FnMut(TaskletId) -> Described<E>,
) -> Vec<Incident<E>> {
    let mut kills = Vec::new();
    let Some(WatchdogConfig { limit, policy }) = config else {
        return kills;
    };
    for (id, duration) in overruns {
        stats.overruns += 1;
        let Described {
            entity,
            name,
            tasklet,
        } = describe(id);
        let incident = Incident {
            frame: stats.frame,
            entity,
            tasklet: Some(id),
            name,
            kind: IncidentKind::Overrun {
                duration,
                limit,
                action: policy,
            },
        };
        stats.incidents.push(incident.clone());
        let (Some(_), Some(tasklet)) = (entity, tasklet) else {
            continue;
        };
        if !tasklet.is_alive() {
            continue;
        }
        match policy {
            WatchdogPolicy::Report => {}
            WatchdogPolicy::Throw => {
                // Alive and not the caller: this cannot fail.
                let _ = tasklet.throw_pending(SliceOverrun { duration, limit });
            }
            WatchdogPolicy::Kill => kills.push(incident),
        }
    }
    kills
}
