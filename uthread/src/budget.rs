//! How long a run may go on: a budget (resumes or wall time) and Stackless's watchdog.

use std::time::Duration;

/// How much one run call may do before it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// Until nothing is runnable.
    Unlimited,
    /// At most this many slices (resumes). Deterministic.
    Resumes(u64),
    /// Until this much wall time has passed; checked before each slice, so the call
    /// overshoots by at most one slice.
    Time(Duration),
}

/// A time limit on slices, with Stackless's hard and soft modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watchdog {
    /// The limit.
    pub limit: Duration,
    /// Hard: a tasklet over the limit is interrupted at its next uthread call, taken out
    /// of the run queue (paused) and handed back. Soft: the run returns after the
    /// overrunning slice ends, and nothing is removed.
    pub hard: bool,
    /// The limit is for the whole run call rather than for each slice.
    pub total: bool,
}

impl Watchdog {
    /// A hard limit on each slice.
    pub fn per_slice(limit: Duration) -> Watchdog {
        Watchdog {
            limit,
            hard: true,
            total: false,
        }
    }

    /// A hard limit on the whole run call.
    pub fn total(limit: Duration) -> Watchdog {
        Watchdog {
            limit,
            hard: true,
            total: true,
        }
    }

    /// The same limit in soft mode.
    pub fn soft(self) -> Watchdog {
        Watchdog {
            hard: false,
            ..self
        }
    }
}
