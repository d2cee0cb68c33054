//! `RLock`: a reentrant lock with FIFO hand-off, and its guard.

use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use super::held_locks;
use super::lock_core::{lock_queries, Hold, LockCore, LockError};
use crate::object::handle_impls;
use crate::time::deadline_in;

/// A reentrant lock: its holder may acquire it again; it is free once released as many
/// times as it was acquired.
#[derive(Clone)]
pub struct RLock {
    inner: Rc<LockCore>,
}

handle_impls!([] RLock, "lock": default, id);
lock_queries!(RLock);

impl fmt::Debug for RLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.debug_as(f, "RLock")
    }
}

impl RLock {
    /// A new unlocked reentrant lock.
    pub fn new() -> RLock {
        RLock {
            inner: LockCore::create(true, None),
        }
    }

    /// A new reentrant lock with a name.
    pub fn with_name(name: &str) -> RLock {
        RLock {
            inner: LockCore::create(true, Some(Rc::from(name))),
        }
    }

    /// Acquires (again, if the caller holds it already).
    ///
    /// # Errors
    ///
    /// [`LockError::Wait`] if the wait is interrupted.
    pub fn lock(&self) -> Result<RLockGuard<'_>, LockError> {
        self.lock_until(None)
    }

    /// Like [`RLock::lock`], giving up at the deadline `timeout` from now (game time).
    ///
    /// # Errors
    ///
    /// As [`RLock::lock`].
    pub fn lock_timeout(&self, timeout: Duration) -> Result<RLockGuard<'_>, LockError> {
        self.lock_until(Some(deadline_in(timeout)))
    }

    fn lock_until(&self, deadline: Option<Duration>) -> Result<RLockGuard<'_>, LockError> {
        Hold::acquire(&self.inner, deadline).map(|hold| RLockGuard { hold })
    }

    /// Acquires without a guard; pair with [`RLock::release`].
    ///
    /// # Errors
    ///
    /// As [`RLock::lock`].
    pub fn acquire(&self) -> Result<(), LockError> {
        held_locks::acquire(&self.inner, None)
    }

    /// Releases one level taken with [`RLock::acquire`].
    ///
    /// # Errors
    ///
    /// [`LockError::NotOwner`] if the caller does not hold it.
    pub fn release(&self) -> Result<(), LockError> {
        held_locks::release(&self.inner)
    }

    /// How many times the holder has acquired it (0 when free).
    pub fn depth(&self) -> u32 {
        self.inner.depth()
    }
}

/// Holds one level of an [`RLock`]; releases it on drop.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RLockGuard<'a> {
    /// Releases the level when the guard drops.
    hold: Hold<'a>,
}

impl fmt::Debug for RLockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLockGuard")
            .field("lock", &self.hold.id())
            .finish()
    }
}
