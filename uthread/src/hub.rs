//! The scheduler's one door to other threads: a mutex-protected list of wake-ups that
//! other threads post (future wakers, remote channel senders), drained by the pump, and
//! a condition variable that wakes an idle scheduler waiting for them.

use std::collections::HashMap;
use std::fmt;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// A wake-up posted from another thread.
#[allow(
    dead_code,
    reason = "posted by remote channels and future wakers (layer 2)"
)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Notice {
    /// Wake this tasklet if it is still in the block numbered `seq`.
    Tasklet { key: u64, seq: u32 },
    /// Data arrived for a registered local target (a remote receiver).
    Target(u64),
    /// Nothing to deliver; wakes an idle scheduler so it re-checks its state.
    Nudge,
}

#[derive(Debug, Default)]
struct Queue {
    notices: Vec<Notice>,
}

/// The part other threads hold.
#[derive(Debug, Default)]
pub(crate) struct HubInner {
    queue: Mutex<Queue>,
    cond: Condvar,
    /// Whether `queue` may hold notices: set and cleared only with the lock held, read
    /// without it, so that the pump's check on every idle turn costs one load instead
    /// of a lock and an unlock.
    pending: AtomicBool,
}

#[allow(
    dead_code,
    reason = "used by remote channels and future wakers (layer 2)"
)]
impl HubInner {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding this lock cannot leave the queue inconsistent (pushes and
        // swaps only), so a poisoned lock is still usable.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Posts a notice and wakes the scheduler if it is waiting.
    pub(crate) fn post(&self, notice: Notice) {
        {
            let mut queue = self.lock();
            queue.notices.push(notice);
            self.pending.store(true, Ordering::Release);
        }
        self.cond.notify_one();
    }
}

/// Something local that remote notices can reach (a remote receiver's wait list).
pub(crate) trait RemoteTarget {
    /// Data arrived: wake whoever waits for it.
    fn notified(&self);
}

/// The scheduler-side hub.
#[allow(
    dead_code,
    reason = "targets are registered by remote channels (layer 2)"
)]
pub(crate) struct RemoteHub {
    pub(crate) inner: Arc<HubInner>,
    targets: std::cell::RefCell<HashMap<u64, Weak<dyn RemoteTarget>>>,
    next_target: std::cell::Cell<u64>,
}

impl fmt::Debug for RemoteHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteHub")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl Default for RemoteHub {
    fn default() -> Self {
        RemoteHub {
            inner: Arc::new(HubInner::default()),
            targets: Default::default(),
            next_target: std::cell::Cell::new(1),
        }
    }
}

impl RemoteHub {
    /// A fresh id for a local target.
    pub(crate) fn next_target(&self) -> u64 {
        let id = self.next_target.get();
        self.next_target.set(id + 1);
        id
    }

    /// Registers a local target under `id`; notices for `id` reach it.
    pub(crate) fn register(&self, id: u64, target: Weak<dyn RemoteTarget>) {
        self.targets.borrow_mut().insert(id, target);
    }

    pub(crate) fn unregister(&self, id: u64) {
        self.targets.borrow_mut().remove(&id);
    }

    /// Takes the notices posted since the last call (None when there are none).
    pub(crate) fn take_notices(&self) -> Option<Vec<Notice>> {
        // A notice posted after this load is seen by the next call, or by `wait`, which
        // checks the queue itself under the lock.
        if !self.inner.pending.load(Ordering::Acquire) {
            return None;
        }
        let notices = {
            let mut queue = self.inner.lock();
            self.inner.pending.store(false, Ordering::Relaxed);
            std::mem::take(&mut queue.notices)
        };
        (!notices.is_empty()).then_some(notices)
    }

    /// The local target registered under `id`, if it is still alive.
    pub(crate) fn target(&self, id: u64) -> Option<Rc<dyn RemoteTarget>> {
        self.targets.borrow().get(&id).and_then(Weak::upgrade)
    }

    /// Blocks the thread until a notice arrives or `timeout` passes.
    pub(crate) fn wait(&self, timeout: Option<Duration>) {
        let queue = self.inner.lock();
        if !queue.notices.is_empty() {
            return;
        }
        match timeout {
            Some(t) => {
                let _unused = self
                    .inner
                    .cond
                    .wait_timeout(queue, t)
                    .unwrap_or_else(|p| p.into_inner());
            }
            None => {
                let _unused = self
                    .inner
                    .cond
                    .wait(queue)
                    .unwrap_or_else(|p| p.into_inner());
            }
        }
    }
}
