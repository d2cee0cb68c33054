//! Condition variables over a [`Lock`].

use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use super::lock::{Lock, LockGuard};
use super::lock_core::LockError;
use crate::block::settle_after_switch;
use crate::block::wait_for;
use crate::core::current_shared;
use crate::error::WaitError;
use crate::object::{handle_impls, waiters, Object};
use crate::state::{Blocked, Wake};
use crate::time::deadline_in;
use crate::wait::WaitList;

/// A condition variable: `wait` releases the lock, waits for a notify, and takes the
/// lock again before returning. Notified waiters wake in FIFO order.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// let sched = uthread::Scheduler::new();
/// let lock = uthread::Lock::new();
/// let ready = uthread::Condition::new();
/// let cargo = Rc::new(RefCell::new(Vec::new()));
/// let (l, r, c) = (lock.clone(), ready.clone(), cargo.clone());
/// let hauler = sched.spawn(move || {
///     let mut guard = l.lock().unwrap();
///     while c.borrow().is_empty() {
///         guard = r.wait(guard).unwrap();
///     }
///     c.borrow_mut().pop()
/// }).unwrap();
/// sched.run().unwrap();          // the hauler waits
/// {
///     let _g = lock.lock().unwrap();
///     cargo.borrow_mut().push("ore");
///     ready.notify_one();
/// }
/// sched.run().unwrap();
/// assert_eq!(hauler.join().unwrap(), Some("ore"));
/// ```
#[derive(Clone)]
pub struct Condition {
    /// Its state is nothing but the waiters for a notify.
    inner: Rc<Object<WaitList<(), ()>>>,
}

handle_impls!([] Condition, "condition": default);

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner
            .debug(f, "Condition")
            .field("waiting", &self.inner.state.borrow().len())
            .finish()
    }
}

impl Condition {
    /// A new condition.
    pub fn new() -> Condition {
        Condition::build(None)
    }

    /// A named condition.
    pub fn with_name(name: &str) -> Condition {
        Condition::build(Some(Rc::from(name)))
    }

    fn build(name: Option<Rc<str>>) -> Condition {
        Condition {
            inner: Object::new(name, WaitList::default()),
        }
    }

    /// Tasklets waiting for a notify.
    pub fn waiting(&self) -> usize {
        self.inner.state.borrow().len()
    }

    /// Releases `guard`'s lock, waits for a notify, then takes the lock again.
    ///
    /// # Errors
    ///
    /// [`LockError::Wait`] if the wait is interrupted; the lock is then *not* held.
    pub fn wait<'a>(&self, guard: LockGuard<'a>) -> Result<LockGuard<'a>, LockError> {
        match self.wait_inner(guard, None)? {
            (guard, false) => Ok(guard),
            (_, true) => unreachable!("no deadline, no timeout"),
        }
    }

    /// Like [`Condition::wait`] with a deadline `timeout` from now (game time). Returns
    /// the guard (the lock is held again either way) and whether it timed out.
    ///
    /// # Errors
    ///
    /// As [`Condition::wait`].
    pub fn wait_timeout<'a>(
        &self,
        guard: LockGuard<'a>,
        timeout: Duration,
    ) -> Result<(LockGuard<'a>, bool), LockError> {
        self.wait_inner(guard, Some(deadline_in(timeout)))
    }

    /// Waits until `done` holds (checked with the lock held, before each wait).
    ///
    /// # Errors
    ///
    /// As [`Condition::wait`].
    pub fn wait_until<'a>(
        &self,
        mut guard: LockGuard<'a>,
        mut done: impl FnMut() -> bool,
    ) -> Result<LockGuard<'a>, LockError> {
        while !done() {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    fn wait_inner<'a>(
        &self,
        guard: LockGuard<'a>,
        deadline: Option<Duration>,
    ) -> Result<(LockGuard<'a>, bool), LockError> {
        let shared = current_shared().ok_or(WaitError::NoScheduler)?;
        let lock: &'a Lock = guard.release_now();
        let on = Blocked::Condition;
        let (timed_out, wake) = match wait_for(&shared, &self.inner, waiters, (), on, deadline) {
            Ok(((), wake)) => (false, wake),
            Err((WaitError::Timeout, ())) => (true, Wake::Signaled),
            Err((error, ())) => return Err(error.into()),
        };
        let guard = lock.relock(None)?;
        settle_after_switch(&shared, wake);
        Ok((guard, timed_out))
    }

    /// Wakes the first waiter.
    pub fn notify_one(&self) {
        self.notify(1);
    }

    /// Wakes up to `n` waiters, in order.
    pub fn notify(&self, n: usize) {
        let mut woken = Vec::new();
        {
            let mut list = self.inner.state.borrow_mut();
            while woken.len() < n {
                match list.serve_front(|()| ((), ())) {
                    Some((t, ())) => woken.push(t),
                    None => break,
                }
            }
        }
        for t in woken {
            t.wake(Wake::Signaled, false);
        }
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        let woken = self.inner.state.borrow_mut().serve_all(|()| ());
        for t in woken {
            t.wake(Wake::Signaled, false);
        }
    }
}
