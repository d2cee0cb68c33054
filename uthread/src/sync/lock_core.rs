//! The one core behind `Lock` and `RLock`: owner, depth and FIFO hand-off, the hold that
//! both guards release on drop, the registry the lock watchdog reads, and `LockError`.

use std::cell::RefCell;
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::Duration;

use crate::block::wait_for;
use crate::block::{preempt_check, settle_after_switch};
use crate::core::{current_shared, Shared};
use crate::error::WaitError;
use crate::id::ObjectId;
use crate::object::{waitable_state, waiters, Object};
use crate::state::{Blocked, Wake};
use crate::task::Tasklet;
use crate::task::TaskletRef;
use crate::wait::WaitList;

/// Why a lock operation failed.
#[derive(Debug)]
pub enum LockError {
    /// Releasing a lock the caller does not hold.
    NotOwner,
    /// Acquiring a non-reentrant lock the caller already holds (it would wait forever).
    Reentered,
    /// The wait was interrupted (timeout, throw, deadlock).
    Wait(WaitError),
}

impl From<WaitError> for LockError {
    fn from(e: WaitError) -> Self {
        LockError::Wait(e)
    }
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::NotOwner => f.write_str("releasing a lock the caller does not hold"),
            LockError::Reentered => {
                f.write_str("acquiring a non-reentrant lock the caller already holds")
            }
            LockError::Wait(e) => write!(f, "lock wait interrupted: {e}"),
        }
    }
}

impl std::error::Error for LockError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LockError::Wait(e) => Some(e),
            _ => None,
        }
    }
}

pub(crate) struct LockState {
    /// Whether the owner may acquire it again (`RLock`) or gets `Reentered` (`Lock`).
    reentrant: bool,
    pub(super) owner: Option<TaskletRef>,
    /// Recursion depth (always 1 for a plain lock while held).
    depth: u32,
    pub(super) waiters: WaitList<(), ()>,
    /// Game time since when the current owner has kept others waiting (set when the
    /// first waiter queues, so an uncontended acquire reads no clock).
    pub(super) contended_since: Option<Duration>,
}

waitable_state!([] LockState, offer (), reply ());

/// A lock, reentrant or not.
pub(crate) type LockCore = Object<LockState>;

thread_local! {
    /// Every lock made on this thread, for the watchdog report.
    static REGISTRY: RefCell<Vec<Weak<LockCore>>> = const { RefCell::new(Vec::new()) };
}

/// Every lock on this thread still alive (forgetting the dropped ones).
pub(super) fn live_locks() -> Vec<Rc<LockCore>> {
    REGISTRY.with(|r| {
        let mut r = r.borrow_mut();
        r.retain(|w| w.strong_count() > 0);
        r.iter().filter_map(Weak::upgrade).collect()
    })
}

fn me(shared: &Rc<Shared>) -> TaskletRef {
    shared.current_task()
}

fn same(a: &TaskletRef, b: &TaskletRef) -> bool {
    Rc::ptr_eq(a, b)
}

pub(super) fn alive(t: &TaskletRef) -> bool {
    t.is_alive()
}

impl LockCore {
    /// A new free lock, registered for the watchdog report.
    pub(super) fn create(reentrant: bool, name: Option<Rc<str>>) -> Rc<LockCore> {
        let state = LockState {
            reentrant,
            owner: None,
            depth: 0,
            waiters: WaitList::default(),
            contended_since: None,
        };
        let core = Object::new(name, state);
        REGISTRY.with(|r| {
            let mut r = r.borrow_mut();
            if r.len() >= 64 && r.len().is_power_of_two() {
                r.retain(|w| w.strong_count() > 0);
            }
            r.push(Rc::downgrade(&core));
        });
        core
    }

    /// Takes the lock without waiting if it can; `Ok(false)` when the caller must wait.
    fn try_take(&self, me: &TaskletRef) -> Result<bool, LockError> {
        let mut st = self.state.borrow_mut();
        let owner = st.owner.clone();
        match owner {
            Some(owner) if same(&owner, me) => {
                if st.reentrant {
                    st.depth += 1;
                    Ok(true)
                } else {
                    Err(LockError::Reentered)
                }
            }
            // An owner that died without releasing (it held the lock without a guard):
            // the lock is abandoned, so it is free.
            Some(owner) if !alive(&owner) && st.waiters.is_empty() => {
                st.owner = Some(me.clone());
                st.depth = 1;
                st.contended_since = None;
                Ok(true)
            }
            Some(_) => Ok(false),
            None => {
                st.owner = Some(me.clone());
                st.depth = 1;
                st.contended_since = None;
                Ok(true)
            }
        }
    }

    /// Acquires, waiting in FIFO order. On success the caller owns the lock and gets the
    /// wake to settle once it holds a guard.
    fn acquire(self: &Rc<Self>, deadline: Option<Duration>) -> Result<Wake, LockError> {
        let shared = current_shared().ok_or(WaitError::NoScheduler)?;
        let me = me(&shared);
        if self.try_take(&me)? {
            preempt_check(&shared);
            return Ok(Wake::Signaled);
        }
        {
            let mut st = self.state.borrow_mut();
            if st.contended_since.is_none() {
                st.contended_since = Some(crate::time::now());
            }
        }
        match wait_for(&shared, self, waiters, (), Blocked::Lock, deadline) {
            // The releaser handed the lock over: we own it now.
            Ok(((), wake)) => Ok(wake),
            Err((error, ())) => Err(error.into()),
        }
    }

    /// Releases one level; hands the lock to the first waiter when it becomes free.
    /// `caller` is checked to be the owner (`None`: a guard, which proves it).
    pub(super) fn release(&self, caller: Option<&TaskletRef>) -> Result<(), LockError> {
        let next = {
            let mut st = self.state.borrow_mut();
            match (&st.owner, caller) {
                (None, _) => return Err(LockError::NotOwner),
                (Some(owner), Some(caller)) if !same(owner, caller) => {
                    return Err(LockError::NotOwner)
                }
                _ => {}
            }
            if st.depth > 1 {
                st.depth -= 1;
                return Ok(());
            }
            match st.waiters.serve_front(|()| ((), ())) {
                Some((next, ())) => {
                    st.owner = Some(next.clone());
                    st.depth = 1;
                    st.contended_since = (!st.waiters.is_empty()).then(crate::time::now);
                    Some(next)
                }
                None => {
                    st.owner = None;
                    st.depth = 0;
                    None
                }
            }
        };
        if let Some(next) = next {
            next.wake(Wake::Signaled, false);
        }
        Ok(())
    }

    /// Releases one level that the calling tasklet holds.
    pub(super) fn release_by_caller(&self) -> Result<(), LockError> {
        let shared = current_shared().ok_or(LockError::NotOwner)?;
        self.release(Some(&me(&shared)))
    }

    pub(super) fn owner(&self) -> Option<Tasklet> {
        let st = self.state.borrow();
        st.owner
            .as_ref()
            .filter(|o| alive(o))
            .map(|o| Tasklet::from_task(o.clone()))
    }

    pub(super) fn is_locked(&self) -> bool {
        self.owner().is_some()
    }

    /// How many times the live holder has acquired it (0 when free).
    pub(super) fn depth(&self) -> u32 {
        if self.is_locked() {
            self.state.borrow().depth
        } else {
            0
        }
    }

    pub(super) fn owned_by(&self, tasklet: &TaskletRef) -> bool {
        self.state
            .borrow()
            .owner
            .as_ref()
            .is_some_and(|o| same(o, tasklet))
    }

    pub(super) fn held_by_caller(&self) -> bool {
        current_shared().is_some_and(|shared| self.owned_by(&me(&shared)))
    }

    pub(super) fn waiting(&self) -> usize {
        self.state.borrow().waiters.len()
    }

    /// The `Debug` of a handle called `kind`.
    pub(super) fn debug_as(&self, f: &mut fmt::Formatter<'_>, kind: &str) -> fmt::Result {
        let st = self.state.borrow();
        self.debug(f, kind)
            .field("owner", &st.owner)
            .field("depth", &st.depth)
            .field("waiting", &st.waiters.len())
            .finish()
    }
}

/// One level of a lock, held: released on drop. `LockGuard` and `RLockGuard` each wrap
/// one; a guardless `acquire` keeps one without dropping it.
pub(super) struct Hold<'a> {
    core: &'a Rc<LockCore>,
}

impl<'a> Hold<'a> {
    /// Acquires `core`, waiting in FIFO order. The wake of a hand-off is settled while the
    /// hold exists, so a kill that came after it unwinds here and the hold releases.
    pub(super) fn acquire(
        core: &'a Rc<LockCore>,
        deadline: Option<Duration>,
    ) -> Result<Hold<'a>, LockError> {
        let wake = core.acquire(deadline)?;
        let hold = Hold { core };
        if let Some(shared) = current_shared() {
            settle_after_switch(&shared, wake);
        }
        Ok(hold)
    }

    /// Acquires `core` only if it is free now (or the caller holds a reentrant one).
    pub(super) fn try_acquire(core: &'a Rc<LockCore>) -> Option<Hold<'a>> {
        let shared = current_shared()?;
        match core.try_take(&me(&shared)) {
            Ok(true) => Some(Hold { core }),
            _ => None,
        }
    }

    /// The lock's id (for a guard's `Debug`).
    pub(super) fn id(&self) -> ObjectId {
        self.core.id
    }

    /// Keeps the level held with nothing to release it (the caller's `release` does).
    pub(super) fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        // A hold proves ownership; releasing cannot fail.
        let _ = self.core.release(None);
    }
}

/// The queries `Lock` and `RLock` share, with the same docs.
macro_rules! lock_queries {
    ($handle:ty) => {
        impl $handle {
            /// Whether the caller holds it.
            pub fn is_held_by_current(&self) -> bool {
                self.inner.held_by_caller()
            }

            /// The holder, if any.
            pub fn owner(&self) -> Option<$crate::task::Tasklet> {
                self.inner.owner()
            }

            /// Tasklets waiting for it.
            pub fn waiting(&self) -> usize {
                self.inner.waiting()
            }
        }
    };
}

pub(super) use lock_queries;
