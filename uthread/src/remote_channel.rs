//! Remote channels: a `Send` sender that other OS threads use to deliver messages to a
//! scheduler's tasklets. The receiver becomes runnable at the scheduler's next tick (or
//! at once, if the scheduler is idle and waiting: the sender wakes it).

use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::block::settle_after_switch;
use crate::block::wait_for;
use crate::core::Shared;
use crate::error::{ChannelError, RecvError, TryRecvError};
use crate::hub::{HubInner, Notice, RemoteTarget};
use crate::id::ObjectId;
use crate::object::{waitable_state, waiters, Object};
use crate::select::{Collected, Receivable, RecvSource, SelectArm};
use crate::state::{Blocked, Wake};
use crate::task::TaskletRef;
use crate::task::{WaitKey, WaitRef};
use crate::time::deadline_in;
use crate::wait::{Slot, WaitList};

/// The part both threads see.
struct Buffer<T> {
    items: Mutex<VecDeque<T>>,
    senders: AtomicUsize,
    receiver_alive: AtomicBool,
    hub: Arc<HubInner>,
    target: u64,
}

impl<T> Buffer<T> {
    fn lock(&self) -> MutexGuard<'_, VecDeque<T>> {
        // Pushes and pops cannot leave the deque inconsistent, so poison is harmless.
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Sends to a scheduler's tasklets from any thread. Cheap to clone.
///
/// # Examples
///
/// ```
/// let sched = uthread::Scheduler::new();
/// let (tx, rx) = sched.remote_channel::<u32>();
/// let listener = sched.spawn(move || rx.iter().sum::<u32>()).unwrap();
/// let worker = std::thread::spawn(move || {
///     for n in 1..=4 {
///         tx.send(n).unwrap();
///     }
///     // dropping the last sender closes the channel
/// });
/// sched.run().unwrap(); // waits (idle, not spinning) until the worker is done
/// worker.join().unwrap();
/// assert_eq!(listener.join().unwrap(), 10);
/// ```
pub struct RemoteSender<T: Send + 'static> {
    buffer: Arc<Buffer<T>>,
}

impl<T: Send + 'static> fmt::Debug for RemoteSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteSender")
            .field("queued", &self.buffer.lock().len())
            .finish()
    }
}

impl<T: Send + 'static> Clone for RemoteSender<T> {
    fn clone(&self) -> Self {
        self.buffer.senders.fetch_add(1, Ordering::AcqRel);
        RemoteSender {
            buffer: self.buffer.clone(),
        }
    }
}

impl<T: Send + 'static> Drop for RemoteSender<T> {
    fn drop(&mut self) {
        let last = self.buffer.senders.fetch_sub(1, Ordering::AcqRel) == 1;
        // Wake the scheduler so a waiting receiver sees the channel closed (and an idle
        // scheduler re-checks whether anything can still wake it).
        if last {
            self.buffer.hub.post(Notice::Target(self.buffer.target));
        } else {
            self.buffer.hub.post(Notice::Nudge);
        }
    }
}

impl<T: Send + 'static> RemoteSender<T> {
    /// Queues `value` for the receiver (never blocks).
    ///
    /// # Errors
    ///
    /// The value comes back if the receiver was dropped.
    pub fn send(&self, value: T) -> Result<(), T> {
        if !self.buffer.receiver_alive.load(Ordering::Acquire) {
            return Err(value);
        }
        let was_empty = {
            let mut items = self.buffer.lock();
            let was_empty = items.is_empty();
            items.push_back(value);
            was_empty
        };
        // Edge-triggered: a receiver only waits after seeing the buffer empty.
        if was_empty {
            self.buffer.hub.post(Notice::Target(self.buffer.target));
        }
        Ok(())
    }

    /// Whether the receiver was dropped.
    pub fn is_closed(&self) -> bool {
        !self.buffer.receiver_alive.load(Ordering::Acquire)
    }
}

/// The receiving side, on the scheduler's thread: who waits for a message (the messages
/// themselves are in the [`Buffer`]).
struct Listeners {
    waiters: WaitList<(), ()>,
}

waitable_state!([] Listeners, offer (), reply ());

impl RemoteTarget for Object<Listeners> {
    fn notified(&self) {
        let woken = waiters(self).serve_all(|()| ());
        for t in woken {
            t.wake(Wake::Signaled, false);
        }
    }
}

/// Receives, on the scheduler's thread, what [`RemoteSender`]s send. Closed once every
/// sender is gone and the buffer is drained.
pub struct RemoteReceiver<T: Send + 'static> {
    local: Rc<Object<Listeners>>,
    buffer: Arc<Buffer<T>>,
    shared: std::rc::Weak<Shared>,
}

impl<T: Send + 'static> fmt::Debug for RemoteReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.local
            .debug(f, "RemoteReceiver")
            .field("queued", &self.buffer.lock().len())
            .finish()
    }
}

impl<T: Send + 'static> Drop for RemoteReceiver<T> {
    fn drop(&mut self) {
        self.buffer.receiver_alive.store(false, Ordering::Release);
        if let Some(shared) = self.shared.upgrade() {
            shared.remote.unregister(self.buffer.target);
        }
    }
}

/// Makes a remote channel on `shared` (see `Scheduler::remote_channel`).
pub(crate) fn remote_channel<T: Send + 'static>(
    shared: &Rc<Shared>,
) -> (RemoteSender<T>, RemoteReceiver<T>) {
    let hub = shared.remote.inner.clone();
    let target = shared.remote.next_target();
    let buffer = Arc::new(Buffer {
        items: Mutex::new(VecDeque::new()),
        senders: AtomicUsize::new(1),
        receiver_alive: AtomicBool::new(true),
        hub: hub.clone(),
        target,
    });
    let local = Object::new(
        None,
        Listeners {
            waiters: WaitList::default(),
        },
    );
    let as_target: Rc<dyn RemoteTarget> = local.clone();
    shared.remote.register(target, Rc::downgrade(&as_target));
    (
        RemoteSender {
            buffer: buffer.clone(),
        },
        RemoteReceiver {
            local,
            buffer,
            shared: Rc::downgrade(shared),
        },
    )
}

impl<T: Send + 'static> RemoteReceiver<T> {
    /// The next message if one has arrived, without blocking.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`], or [`TryRecvError::Closed`] once every sender is gone
    /// and the buffer is drained.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let buffer = &self.buffer;
        if let Some(v) = buffer.lock().pop_front() {
            return Ok(v);
        }
        if buffer.senders.load(Ordering::Acquire) == 0 {
            // A last send may have landed between the pop and this check.
            return buffer.lock().pop_front().ok_or(TryRecvError::Closed);
        }
        Err(TryRecvError::Empty)
    }

    /// Waits for the next message.
    ///
    /// # Errors
    ///
    /// [`ChannelError::Closed`] once every sender is gone and the buffer is drained; the
    /// usual blocking-call errors while waiting.
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_inner(None)
    }

    /// Like [`RemoteReceiver::recv`] with a deadline `timeout` from now (game time).
    ///
    /// # Errors
    ///
    /// As [`RemoteReceiver::recv`], plus [`ChannelError::Timeout`].
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvError> {
        self.recv_inner(Some(deadline_in(timeout)))
    }

    fn recv_inner(&self, deadline: Option<Duration>) -> Result<T, RecvError> {
        let shared = self.shared.upgrade().ok_or(ChannelError::NoScheduler)?;
        loop {
            match self.try_recv() {
                Ok(v) => return Ok(v),
                Err(TryRecvError::Closed) => return Err(ChannelError::Closed),
                Err(_) => {}
            }
            let on = Blocked::Receive;
            shared.external_wakers.set(shared.external_wakers.get() + 1);
            let waited = wait_for(&shared, &self.local, waiters, (), on, deadline);
            shared.external_wakers.set(shared.external_wakers.get() - 1);
            match waited {
                // Notified: look again (another receiver of this thread may have won).
                Ok(((), wake)) => settle_after_switch(&shared, wake),
                Err((error, ())) => return Err(error.into()),
            }
        }
    }

    /// Receives until the channel is closed.
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        std::iter::from_fn(move || self.recv().ok())
    }
}

impl<T: Send + 'static> RecvSource for RemoteReceiver<T> {
    type Item = T;

    fn object(&self) -> ObjectId {
        self.local.id
    }

    fn try_now(&self) -> Option<Result<T, ChannelError>> {
        self.try_recv().ok().map(Ok)
    }

    fn is_closed(&self) -> bool {
        self.buffer.senders.load(Ordering::Acquire) == 0 && self.buffer.lock().is_empty()
    }

    fn register(&self, me: &TaskletRef) -> WaitRef {
        // Counted as an outside waker while registered (see `collect`).
        if let Some(shared) = self.shared.upgrade() {
            shared.external_wakers.set(shared.external_wakers.get() + 1);
        }
        let key = waiters(&self.local).push(me.clone(), ());
        WaitRef {
            target: self.local.clone(),
            key,
        }
    }

    fn collect(&self, key: WaitKey) -> Collected<T> {
        if let Some(shared) = self.shared.upgrade() {
            shared.external_wakers.set(shared.external_wakers.get() - 1);
        }
        let taken = waiters(&self.local).take(key);
        match taken {
            // Notified: look again (another receiver of this thread may have won).
            Some(Slot::Done(())) => match self.try_now() {
                Some(result) => Collected::Fired(result),
                None => Collected::Retry,
            },
            _ => Collected::NotFired,
        }
    }
}

impl<T: Send + 'static> Receivable<T> for RemoteReceiver<T> {
    fn recv_arm<'a, R, F>(&'a self, f: F) -> SelectArm<'a, R>
    where
        F: FnOnce(T) -> R + 'a,
        R: 'a,
    {
        SelectArm::receiving(self, f)
    }
}
