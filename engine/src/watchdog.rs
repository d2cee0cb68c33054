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

/// What the watchdog does to a tasklet that overran its slice. Every overrun is also
/// recorded as an [`Incident`](crate::Incident) naming the entity and tasklet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WatchdogPolicy {
    /// Only report it (the default).
    #[default]
    Report,
    /// Throw a [`SliceOverrun`] error into it: its current (or next) blocking call
    /// returns `Thrown` with that error. It runs again next frame.
    Throw,
    /// Kill it (its stack unwinds) and apply the crash policy to its entity.
    Kill,
}

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
///     if let Some(overrun) = thrown.downcast_ref::<engine::SliceOverrun>() {
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
