//! The lock watchdog (CCP ran one in EVE): which locks have been held too long while
//! others wait for them, naming the holder and the waiters.

use std::fmt;
use std::time::Duration;

use super::lock_core::{alive, live_locks};
use crate::id::ObjectRef;
use crate::task::Tasklet;

/// A lock held too long while others wait, as found by [`lock_report`].
#[derive(Debug, Clone)]
pub struct LockReport {
    /// The lock.
    pub lock: ObjectRef,
    /// Who holds it.
    pub holder: Tasklet,
    /// For how long (game time) the holder has kept others waiting: since the first of
    /// the current waiters queued, or since it was handed the lock with waiters queued.
    pub held_for: Duration,
    /// Who waits for it, in order.
    pub waiters: Vec<Tasklet>,
}

impl fmt::Display for LockReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "lock {} held for {:.3}s by {} while {} wait:",
            self.lock,
            self.held_for.as_secs_f64(),
            self.holder,
            self.waiters.len()
        )?;
        for w in &self.waiters {
            write!(f, " {w}")?;
        }
        Ok(())
    }
}

/// The lock watchdog (CCP ran one in EVE): every lock on this thread that has been held
/// for longer than `threshold` (game time) while other tasklets wait for it, naming the
/// holder and the waiters. Call it periodically (from a tasklet that sleeps, or once a
/// frame) and log what it returns.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let sched = uthread::Scheduler::builder().manual_clock().build();
/// let lock = uthread::Lock::with_name("cargo hold");
/// let (a, b) = (lock.clone(), lock.clone());
/// uthread::Builder::new().name("hauler").spawn_on(&sched, move || {
///     let _g = a.lock().unwrap();
///     uthread::sleep(Duration::from_secs(10)).unwrap();
/// }).unwrap();
/// uthread::Builder::new().name("thief").spawn_on(&sched, move || drop(b.lock())).unwrap();
/// sched.run().unwrap();
/// sched.advance(Duration::from_secs(5));
/// let report = uthread::lock_report(Duration::from_secs(2));
/// assert_eq!(report.len(), 1);
/// assert_eq!(report[0].holder.name().as_deref(), Some("hauler"));
/// assert_eq!(report[0].waiters[0].name().as_deref(), Some("thief"));
/// ```
pub fn lock_report(threshold: Duration) -> Vec<LockReport> {
    let now = crate::time::now();
    live_locks()
        .iter()
        .filter_map(|core| {
            let st = core.state.borrow();
            let owner = st.owner.as_ref().filter(|o| alive(o))?;
            let held_for = now.saturating_sub(st.contended_since?);
            if st.waiters.is_empty() || held_for <= threshold {
                return None;
            }
            Some(LockReport {
                lock: core.object_ref(),
                holder: Tasklet::from_task(owner.clone()),
                held_for,
                waiters: st
                    .waiters
                    .waiters()
                    .map(|t| Tasklet::from_task(t.clone()))
                    .collect(),
            })
        })
        .collect()
}
