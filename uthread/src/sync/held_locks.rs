//! Stackless-style `acquire`/`release` without a guard, and what makes it safe: the locks
//! a tasklet holds that way are released for it when it ends.

use std::rc::Rc;
use std::time::Duration;

use super::lock_core::{Hold, LockCore, LockError};
use crate::core::current_shared;
use crate::task::TaskletRef;

/// Acquires one level of `core` for the caller with no guard; pair with [`release`].
pub(super) fn acquire(core: &Rc<LockCore>, deadline: Option<Duration>) -> Result<(), LockError> {
    Hold::acquire(core, deadline)?.keep();
    HeldLocks::note(core);
    Ok(())
}

/// Releases one level of `core` taken with [`acquire`].
pub(super) fn release(core: &Rc<LockCore>) -> Result<(), LockError> {
    core.release_by_caller()?;
    HeldLocks::forget(core);
    Ok(())
}

/// The locks a tasklet took without a guard, kept in its tasklet-local storage. If the
/// tasklet ends still holding one, dropping its locals (when its record goes) hands each
/// such lock on to the next waiter instead of leaving them stuck.
struct HeldLocks {
    owner: TaskletRef,
    locks: Vec<Rc<LockCore>>,
}

impl HeldLocks {
    /// Notes that the caller now holds `core` without a guard.
    fn note(core: &Rc<LockCore>) {
        let added = crate::local::with_mut(|held: &mut HeldLocks| held.locks.push(core.clone()));
        if added.is_none() {
            if let Some(shared) = current_shared() {
                let held = HeldLocks {
                    owner: shared.current_task(),
                    locks: vec![core.clone()],
                };
                let _ = crate::local::set(held);
            }
        }
    }

    /// Forgets one guardless hold of `core` (it was released).
    fn forget(core: &Rc<LockCore>) {
        crate::local::with_mut(|held: &mut HeldLocks| {
            if let Some(i) = held.locks.iter().rposition(|c| Rc::ptr_eq(c, core)) {
                held.locks.remove(i);
            }
        });
    }
}

impl Drop for HeldLocks {
    fn drop(&mut self) {
        for core in self.locks.drain(..) {
            if core.owned_by(&self.owner) {
                let _ = core.release(None);
            }
        }
    }
}
