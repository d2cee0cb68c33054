//! Counting semaphores, unbounded and bounded, with FIFO hand-off of permits.

use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use crate::block::wait_for;
use crate::block::{preempt_check, settle_after_switch};
use crate::core::current_shared;
use crate::error::WaitError;
use crate::object::{waitable_state, waiters, Object};
use crate::state::{Blocked, Wake};
use crate::time::deadline_in;
use crate::wait::WaitList;

/// Releasing more permits than a [`BoundedSemaphore`] was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SemaphoreError {
    /// The semaphore's bound.
    pub bound: usize,
}

impl fmt::Display for SemaphoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "released more permits than the bound of {}", self.bound)
    }
}

impl std::error::Error for SemaphoreError {}

struct State {
    permits: usize,
    bound: Option<usize>,
    waiters: WaitList<(), ()>,
}

waitable_state!([] State, offer (), reply ());

/// What `Semaphore` and `BoundedSemaphore` share (a bound or none).
type Inner = Object<State>;

impl Inner {
    fn acquire(self: &Rc<Self>, deadline: Option<Duration>) -> Result<Wake, WaitError> {
        {
            let mut st = self.state.borrow_mut();
            if st.permits > 0 && st.waiters.is_empty() {
                st.permits -= 1;
                drop(st);
                if let Some(shared) = current_shared() {
                    preempt_check(&shared);
                }
                return Ok(Wake::Signaled);
            }
        }
        let shared = current_shared().ok_or(WaitError::NoScheduler)?;
        let on = Blocked::Semaphore;
        match wait_for(&shared, self, waiters, (), on, deadline) {
            // The releaser handed its permit over.
            Ok(((), wake)) => Ok(wake),
            Err((error, ())) => Err(error),
        }
    }

    fn try_acquire(&self) -> bool {
        let mut st = self.state.borrow_mut();
        if st.permits > 0 && st.waiters.is_empty() {
            st.permits -= 1;
            true
        } else {
            false
        }
    }

    fn release(&self) -> Result<(), SemaphoreError> {
        let next = {
            let mut st = self.state.borrow_mut();
            match st.waiters.serve_front(|()| ((), ())) {
                Some((next, ())) => Some(next),
                None => {
                    if let Some(bound) = st.bound {
                        if st.permits >= bound {
                            return Err(SemaphoreError { bound });
                        }
                    }
                    // Saturates: `usize::MAX` permits is as good as unlimited.
                    st.permits = st.permits.saturating_add(1);
                    None
                }
            }
        };
        if let Some(next) = next {
            next.wake(Wake::Signaled, false);
        }
        Ok(())
    }
}

/// A counting semaphore: `acquire` takes a permit, waiting in FIFO order while none is
/// free; releasing hands the permit straight to the first waiter.
///
/// # Examples
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// let sched = uthread::Scheduler::new();
/// let docks = uthread::Semaphore::new(2); // two docking bays
/// let inside = Rc::new(Cell::new(0));
/// let most = Rc::new(Cell::new(0));
/// for _ in 0..5 {
///     let (docks, inside, most) = (docks.clone(), inside.clone(), most.clone());
///     sched.spawn(move || {
///         let _permit = docks.acquire().unwrap();
///         inside.set(inside.get() + 1);
///         most.set(most.get().max(inside.get()));
///         uthread::schedule().unwrap();
///         inside.set(inside.get() - 1);
///     }).unwrap();
/// }
/// sched.run().unwrap();
/// assert_eq!(most.get(), 2);
/// ```
#[derive(Clone)]
pub struct Semaphore {
    inner: Rc<Inner>,
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.state.borrow();
        self.inner
            .debug(f, "Semaphore")
            .field("permits", &st.permits)
            .field("bound", &st.bound)
            .field("waiting", &st.waiters.len())
            .finish()
    }
}

impl Semaphore {
    /// A semaphore with `permits` free permits.
    pub fn new(permits: usize) -> Semaphore {
        Semaphore::build(permits, None, None)
    }

    /// A named semaphore (the name shows in reports).
    pub fn with_name(permits: usize, name: &str) -> Semaphore {
        Semaphore::build(permits, None, Some(Rc::from(name)))
    }

    fn build(permits: usize, bound: Option<usize>, name: Option<Rc<str>>) -> Semaphore {
        let state = State {
            permits,
            bound,
            waiters: WaitList::default(),
        };
        Semaphore {
            inner: Object::new(name, state),
        }
    }

    /// Free permits now.
    pub fn available(&self) -> usize {
        self.inner.state.borrow().permits
    }

    /// Tasklets waiting for a permit.
    pub fn waiting(&self) -> usize {
        self.inner.state.borrow().waiters.len()
    }

    /// Takes a permit, waiting while none is free; the permit returns on drop.
    ///
    /// # Errors
    ///
    /// [`WaitError`] if the wait is interrupted (throw; `Deadlock` in the main context).
    pub fn acquire(&self) -> Result<SemaphorePermit<'_>, WaitError> {
        let wake = self.inner.acquire(None)?;
        Ok(self.permit(wake))
    }

    /// Like [`Semaphore::acquire`], giving up at the deadline `timeout` from now.
    ///
    /// # Errors
    ///
    /// As [`Semaphore::acquire`], plus [`WaitError::Timeout`].
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<SemaphorePermit<'_>, WaitError> {
        let wake = self.inner.acquire(Some(deadline_in(timeout)))?;
        Ok(self.permit(wake))
    }

    /// Takes a permit only if one is free now.
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        // `then`, not `then_some`: a permit built eagerly and dropped on failure would
        // release a permit nobody took.
        self.inner.try_acquire().then(|| SemaphorePermit {
            semaphore: &self.inner,
        })
    }

    fn permit(&self, wake: Wake) -> SemaphorePermit<'_> {
        let permit = SemaphorePermit {
            semaphore: &self.inner,
        };
        if let Some(shared) = current_shared() {
            settle_after_switch(&shared, wake);
        }
        permit
    }

    /// Returns a permit taken without a guard (see [`SemaphorePermit::forget`]).
    pub fn release(&self) {
        // An unbounded semaphore has no bound to exceed (its count saturates).
        let _ = self.inner.release();
    }
}

/// A semaphore that refuses to be released beyond the permits it started with
/// (Python's `BoundedSemaphore`): an extra release is a bug, reported as an error.
#[derive(Clone, Debug)]
pub struct BoundedSemaphore {
    semaphore: Semaphore,
}

impl BoundedSemaphore {
    /// A bounded semaphore with `permits` free permits, which is also its bound.
    pub fn new(permits: usize) -> BoundedSemaphore {
        BoundedSemaphore {
            semaphore: Semaphore::build(permits, Some(permits), None),
        }
    }

    /// Takes a permit (see [`Semaphore::acquire`]).
    ///
    /// # Errors
    ///
    /// As [`Semaphore::acquire`].
    pub fn acquire(&self) -> Result<SemaphorePermit<'_>, WaitError> {
        self.semaphore.acquire()
    }

    /// Takes a permit with a deadline (see [`Semaphore::acquire_timeout`]).
    ///
    /// # Errors
    ///
    /// As [`Semaphore::acquire_timeout`].
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<SemaphorePermit<'_>, WaitError> {
        self.semaphore.acquire_timeout(timeout)
    }

    /// Takes a permit only if one is free now.
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.semaphore.try_acquire()
    }

    /// Returns a permit taken without a guard.
    ///
    /// # Errors
    ///
    /// [`SemaphoreError`] if every permit is already free.
    pub fn release(&self) -> Result<(), SemaphoreError> {
        self.semaphore.inner.release()
    }

    /// Free permits now.
    pub fn available(&self) -> usize {
        self.semaphore.available()
    }

    /// Tasklets waiting for a permit.
    pub fn waiting(&self) -> usize {
        self.semaphore.waiting()
    }
}

/// A permit of a [`Semaphore`]; returned on drop.
#[must_use = "the permit is returned as soon as it is dropped"]
pub struct SemaphorePermit<'a> {
    semaphore: &'a Rc<Inner>,
}

impl SemaphorePermit<'_> {
    /// Keeps the permit taken without a guard; give it back with `release`.
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("semaphore", &self.semaphore.id)
            .finish()
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        // A permit that was taken can always be given back.
        let _ = self.semaphore.release();
    }
}
