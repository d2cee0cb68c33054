//! `Lock`: a strict, non-reentrant lock with FIFO hand-off, and its guard.

use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use super::held_locks;
use super::lock_core::{lock_queries, Hold, LockCore, LockError};
use crate::object::handle_impls;
use crate::time::deadline_in;

/// A strict, non-reentrant lock. Acquiring it again while holding it, or releasing it
/// without holding it, is an error ([`LockError`]), not a hang. Waiters are served in
/// FIFO order and the lock is handed straight to the next one, so nobody barges in.
///
/// Prefer [`Lock::lock`], whose guard releases on drop (also when the holder is killed
/// and its stack unwinds). [`Lock::acquire`] and [`Lock::release`] are the Stackless-style
/// pair; a tasklet that ends (returns, panics or is killed) still holding a lock taken
/// that way has it released for it, so waiters are never stuck behind a dead holder.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// let sched = uthread::Scheduler::new();
/// let lock = uthread::Lock::new();
/// let log = Rc::new(RefCell::new(Vec::new()));
/// for id in 0..2 {
///     let (lock, log) = (lock.clone(), log.clone());
///     sched.spawn(move || {
///         let _guard = lock.lock().unwrap();
///         log.borrow_mut().push(format!("{id} in"));
///         uthread::schedule().unwrap(); // the other tasklet runs, but waits for the lock
///         log.borrow_mut().push(format!("{id} out"));
///     }).unwrap();
/// }
/// sched.run().unwrap();
/// assert_eq!(*log.borrow(), ["0 in", "0 out", "1 in", "1 out"]);
/// ```
#[derive(Clone)]
pub struct Lock {
    inner: Rc<LockCore>,
}

handle_impls!([] Lock, "lock": default, id);
lock_queries!(Lock);

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.debug_as(f, "Lock")
    }
}

impl Lock {
    /// A new unlocked lock.
    pub fn new() -> Lock {
        Lock {
            inner: LockCore::create(false, None),
        }
    }

    /// A new lock with a name (shown in deadlock and watchdog reports).
    pub fn with_name(name: &str) -> Lock {
        Lock {
            inner: LockCore::create(false, Some(Rc::from(name))),
        }
    }

    /// Acquires the lock, waiting if another tasklet holds it.
    ///
    /// # Errors
    ///
    /// [`LockError::Reentered`] if the caller holds it already; [`LockError::Wait`] if the
    /// wait is interrupted (a throw; `Deadlock` in the main context).
    pub fn lock(&self) -> Result<LockGuard<'_>, LockError> {
        self.lock_until(None)
    }

    /// Like [`Lock::lock`], giving up at the deadline `timeout` from now (game time).
    ///
    /// # Errors
    ///
    /// As [`Lock::lock`]; a timeout is `LockError::Wait(WaitError::Timeout)`.
    pub fn lock_timeout(&self, timeout: Duration) -> Result<LockGuard<'_>, LockError> {
        self.lock_until(Some(deadline_in(timeout)))
    }

    /// Acquires the lock only if it is free now.
    pub fn try_lock(&self) -> Option<LockGuard<'_>> {
        Hold::try_acquire(&self.inner).map(|hold| LockGuard { lock: self, hold })
    }

    fn lock_until(&self, deadline: Option<Duration>) -> Result<LockGuard<'_>, LockError> {
        Hold::acquire(&self.inner, deadline).map(|hold| LockGuard { lock: self, hold })
    }

    /// Re-acquires after a condition wait: never `Reentered` (the caller released it).
    pub(crate) fn relock(&self, deadline: Option<Duration>) -> Result<LockGuard<'_>, LockError> {
        self.lock_until(deadline)
    }

    /// Acquires without a guard (Stackless style); pair with [`Lock::release`].
    ///
    /// # Errors
    ///
    /// As [`Lock::lock`].
    pub fn acquire(&self) -> Result<(), LockError> {
        held_locks::acquire(&self.inner, None)
    }

    /// Like [`Lock::acquire`] with a deadline `timeout` from now (game time).
    ///
    /// # Errors
    ///
    /// As [`Lock::lock_timeout`].
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<(), LockError> {
        held_locks::acquire(&self.inner, Some(deadline_in(timeout)))
    }

    /// Releases a lock taken with [`Lock::acquire`].
    ///
    /// # Errors
    ///
    /// [`LockError::NotOwner`] if the caller does not hold it.
    pub fn release(&self) -> Result<(), LockError> {
        held_locks::release(&self.inner)
    }

    /// Whether some live tasklet holds it.
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }
}

/// Holds a [`Lock`]; releases it on drop.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard<'a> {
    lock: &'a Lock,
    /// Releases the lock when the guard drops.
    hold: Hold<'a>,
}

impl<'a> LockGuard<'a> {
    /// The lock this guard holds.
    pub fn lock(&self) -> &Lock {
        self.lock
    }

    /// Releases now, consuming the guard (conditions release while they wait).
    pub(crate) fn release_now(self) -> &'a Lock {
        let lock = self.lock;
        drop(self.hold);
        lock
    }
}

impl fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard")
            .field("lock", &self.hold.id())
            .finish()
    }
}
