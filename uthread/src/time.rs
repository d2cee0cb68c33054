//! Waiting on time: `now`, `sleep`, `sleep_until` and `be_nice` (the clock and the timer
//! heap are in `clock.rs`).

use std::time::Duration;

use crate::block::{interrupted, pending_interrupt};
use crate::core::current_shared;
use crate::error::WaitError;
use crate::state::{Blocked, Wake};
use crate::task::Waits;

/// The current game time of the thread's scheduler (zero without one).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let sched = uthread::Scheduler::builder().manual_clock().build();
/// sched.advance(Duration::from_millis(16));
/// assert_eq!(uthread::now(), Duration::from_millis(16));
/// ```
pub fn now() -> Duration {
    current_shared().map_or(Duration::ZERO, |s| s.now())
}

/// Blocks the caller until the clock has advanced by `d`. A zero duration waits for the
/// next tick.
///
/// # Errors
///
/// [`WaitError::Thrown`] if an error is thrown in while sleeping, [`WaitError::Deadlock`]
/// if the main context sleeps on a manual clock that nobody can advance.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let sched = uthread::Scheduler::new();
/// sched.spawn(|| {
///     uthread::sleep(Duration::from_millis(1)).unwrap();
/// }).unwrap();
/// sched.run().unwrap();
/// assert!(uthread::now() >= Duration::from_millis(1));
/// ```
pub fn sleep(d: Duration) -> Result<(), WaitError> {
    let shared = current_shared().ok_or(WaitError::NoScheduler)?;
    let until = shared.now().saturating_add(d);
    if d.is_zero() {
        return be_nice();
    }
    sleep_until(until)
}

/// Blocks the caller until the clock reads `deadline` (game time since the clock started).
/// A deadline already past returns at once.
///
/// # Errors
///
/// As [`sleep`].
pub fn sleep_until(deadline: Duration) -> Result<(), WaitError> {
    // As in `be_nice`: nothing of ours is alive where a kill unwinds.
    let (pending, wake) = {
        let shared = current_shared().ok_or(WaitError::NoScheduler)?;
        if shared.now() >= deadline {
            return Ok(());
        }
        match pending_interrupt(&shared) {
            Some(wake) => (true, wake),
            None => {
                let (task, seq) =
                    shared.block_current(Blocked::Sleep { until: deadline }, Waits::None);
                shared.arm_timer(&task, seq, deadline);
                drop(task);
                (false, shared.switch_out())
            }
        }
    };
    match wake {
        Wake::Timer | Wake::Signaled if !pending => Ok(()),
        other => Err(interrupted(other)),
    }
}

/// Yields until the next tick (BeNice): the caller runs again in the next frame, after
/// every tasklet that was already runnable. Calling it again in that wake-up waits for the
/// tick after. Use it in long loops so they share the frame.
///
/// # Errors
///
/// As [`sleep`].
pub fn be_nice() -> Result<(), WaitError> {
    // The scheduler's and the record's handles are dropped before a kill can unwind
    // from here: every value alive at the unwind is a landing pad, and each costs the
    // unwinder a fresh start (a teardown unwinds every tasklet through this).
    let (pending, wake) = {
        let shared = current_shared().ok_or(WaitError::NoScheduler)?;
        let me = shared.current_task();
        match me.take_interrupt() {
            Some(wake) => (true, wake),
            None => {
                shared.block_nice(&me);
                (false, shared.switch_out_as(&me))
            }
        }
    };
    match wake {
        Wake::Timer | Wake::Signaled if !pending => Ok(()),
        other => Err(interrupted(other)),
    }
}

/// The deadline `timeout` from now on the current scheduler's clock.
pub(crate) fn deadline_in(timeout: Duration) -> Duration {
    now().saturating_add(timeout)
}
