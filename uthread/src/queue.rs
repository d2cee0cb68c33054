//! Buffered queues: unbounded (puts never block) or bounded (puts block while full).
//! Systems use them to feed tasklets without blocking; tasklets use them as mailboxes.

use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use crate::block::wait_for;
use crate::block::{preempt_check, settle_after_switch};
use crate::core::current_shared;
use crate::error::{ChannelError, RecvError, SendError, TryRecvError, TrySendError};
use crate::id::ObjectId;
use crate::object::{handle_impls, waitable_state, waiters, Object};
use crate::select::{Collected, Receivable, RecvSource, SelectArm};
use crate::state::{Blocked, Wake};
use crate::task::{TaskletRef, WaitKey, WaitRef};
use crate::time::deadline_in;
use crate::wait::{Slot, WaitList};

/// What a waiter offers: a getter nothing, a putter its value.
enum Offer<T> {
    Get,
    Put(T),
}

/// What a waiter is given.
enum Reply<T> {
    /// A getter's item.
    Item(T),
    /// A putter's value was stored.
    Stored,
    /// The queue was closed; a putter gets its value back.
    Closed(Option<T>),
}

struct State<T> {
    items: VecDeque<T>,
    capacity: Option<usize>,
    /// Getters (queue empty) or putters (queue full); never both.
    waiters: WaitList<Offer<T>, Reply<T>>,
    closed: bool,
}

waitable_state!([T] State<T>, offer Offer<T>, reply Reply<T>);

/// A FIFO queue between tasklets (and from systems to tasklets). Handles are cheap
/// clones of one queue.
///
/// Unlike a [`Channel`](crate::Channel), a queue buffers: an unbounded queue's `put`
/// never blocks, so code that must not block (an ECS system, a destructor) can feed
/// tasklets with it. `get` blocks while the queue is empty.
///
/// # Examples
///
/// ```
/// let sched = uthread::Scheduler::new();
/// let mailbox = uthread::Queue::new();
/// let inbox = mailbox.clone();
/// let worker = sched.spawn(move || {
///     let mut total = 0;
///     while let Ok(n) = inbox.get() {
///         total += n;
///     }
///     total
/// }).unwrap();
/// for n in 1..=3 {
///     mailbox.put(n).unwrap(); // never blocks: the queue is unbounded
/// }
/// mailbox.close(); // the worker's get fails once the queue is drained
/// sched.run().unwrap();
/// assert_eq!(worker.join().unwrap(), 6);
/// ```
pub struct Queue<T: 'static> {
    inner: Rc<Object<State<T>>>,
}

handle_impls!([T: 'static] Queue<T>, "queue": clone, default, id, name);

impl<T: 'static> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.state.borrow();
        self.inner
            .debug(f, "Queue")
            .field("len", &st.items.len())
            .field("capacity", &st.capacity)
            .field("waiting", &st.waiters.len())
            .field("closed", &st.closed)
            .finish()
    }
}

impl<T: 'static> Queue<T> {
    /// An unbounded queue.
    pub fn new() -> Queue<T> {
        Queue::build(None, None)
    }

    /// A queue holding at most `capacity` items (at least 1); `put` blocks while full.
    pub fn bounded(capacity: usize) -> Queue<T> {
        Queue::build(Some(capacity.max(1)), None)
    }

    /// An unbounded queue with a name (shown in reports).
    pub fn with_name(name: &str) -> Queue<T> {
        Queue::build(None, Some(Rc::from(name)))
    }

    /// A bounded queue with a name.
    pub fn bounded_with_name(capacity: usize, name: &str) -> Queue<T> {
        Queue::build(Some(capacity.max(1)), Some(Rc::from(name)))
    }

    fn build(capacity: Option<usize>, name: Option<Rc<str>>) -> Queue<T> {
        let state = State {
            items: VecDeque::new(),
            capacity,
            waiters: WaitList::default(),
            closed: false,
        };
        Queue {
            inner: Object::new(name, state),
        }
    }

    /// Items buffered now.
    pub fn len(&self) -> usize {
        self.inner.state.borrow().items.len()
    }

    /// Whether no items are buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The capacity of a bounded queue.
    pub fn capacity(&self) -> Option<usize> {
        self.inner.state.borrow().capacity
    }

    /// Tasklets waiting to get (negative) or to put into a full queue (positive).
    pub fn balance(&self) -> isize {
        let st = self.inner.state.borrow();
        let n = st.waiters.len() as isize;
        if st.items.is_empty() {
            -n
        } else {
            n
        }
    }

    /// Whether the queue was closed.
    pub fn is_closed(&self) -> bool {
        self.inner.state.borrow().closed
    }

    /// Closes the queue: puts fail from now on, gets drain what is buffered and then
    /// fail. Waiting getters (the queue is empty) and waiting putters (their values
    /// come back) are woken with [`ChannelError::Closed`].
    pub fn close(&self) {
        let woken = {
            let mut st = self.inner.state.borrow_mut();
            st.closed = true;
            st.waiters.serve_all(|offer| match offer {
                Offer::Put(v) => Reply::Closed(Some(v)),
                Offer::Get => Reply::Closed(None),
            })
        };
        for t in woken {
            t.wake(Wake::Signaled, false);
        }
    }

    /// Puts `value` without blocking if the queue has room (always, when unbounded).
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] when a bounded queue is full, [`TrySendError::Closed`] after
    /// `close`; the value comes back.
    pub fn try_put(&self, value: T) -> Result<(), TrySendError<T>> {
        match self.put_now(value) {
            Ok(()) => Ok(()),
            Err((true, v)) => Err(TrySendError::Closed(v)),
            Err((false, v)) => Err(TrySendError::Full(v)),
        }
    }

    /// Puts without blocking; `Err((closed, value))` when it cannot.
    fn put_now(&self, value: T) -> Result<(), (bool, T)> {
        let served = {
            let mut st = self.inner.state.borrow_mut();
            if st.closed {
                return Err((true, value));
            }
            if st.items.is_empty() && !st.waiters.is_empty() {
                // Getters wait: hand the item straight to the first.
                let mut value = Some(value);
                let served = st
                    .waiters
                    .serve_front(|_| (Reply::Item(value.take().expect("item")), ()));
                match served {
                    Some((getter, ())) => Some(getter),
                    None => {
                        st.items
                            .push_back(value.take().expect("item not handed over"));
                        None
                    }
                }
            } else if st.capacity.is_some_and(|c| st.items.len() >= c) {
                return Err((false, value));
            } else {
                st.items.push_back(value);
                None
            }
        };
        if let Some(getter) = served {
            getter.wake(Wake::Signaled, false);
        }
        Ok(())
    }

    /// Puts `value`, blocking while a bounded queue is full. An unbounded queue's put
    /// never blocks, so systems and destructors may call it.
    ///
    /// # Errors
    ///
    /// [`ChannelError::Closed`] after `close`; the usual blocking-call errors while
    /// waiting for room. The value comes back.
    pub fn put(&self, value: T) -> Result<(), SendError<T>> {
        self.put_inner(value, None)
    }

    /// Like [`Queue::put`], giving up at the deadline `timeout` from now (game time).
    ///
    /// # Errors
    ///
    /// As [`Queue::put`], plus [`ChannelError::Timeout`].
    pub fn put_timeout(&self, value: T, timeout: Duration) -> Result<(), SendError<T>> {
        self.put_inner(value, Some(deadline_in(timeout)))
    }

    fn put_inner(&self, value: T, deadline: Option<Duration>) -> Result<(), SendError<T>> {
        let value = match self.put_now(value) {
            Ok(()) => {
                if let Some(shared) = current_shared() {
                    preempt_check(&shared);
                }
                return Ok(());
            }
            Err((true, value)) => {
                return Err(SendError {
                    value,
                    error: ChannelError::Closed,
                })
            }
            Err((false, value)) => value,
        };
        let Some(shared) = current_shared() else {
            return Err(SendError {
                value,
                error: ChannelError::NoScheduler,
            });
        };
        match wait_for(
            &shared,
            &self.inner,
            waiters,
            Offer::Put(value),
            Blocked::QueuePut,
            deadline,
        ) {
            Ok((Reply::Stored | Reply::Item(_), wake)) => {
                settle_after_switch(&shared, wake);
                Ok(())
            }
            Ok((Reply::Closed(v), wake)) => {
                settle_after_switch(&shared, wake);
                Err(SendError {
                    value: v.expect("a putter gets its value back"),
                    error: ChannelError::Closed,
                })
            }
            Err((error, Offer::Put(value))) => Err(SendError {
                value,
                error: error.into(),
            }),
            Err((_, Offer::Get)) => unreachable!("a putter offers a value"),
        }
    }

    /// Takes the first item without blocking.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`], or [`TryRecvError::Closed`] once closed and drained.
    pub fn try_get(&self) -> Result<T, TryRecvError> {
        let (item, putter) = {
            let mut st = self.inner.state.borrow_mut();
            let Some(item) = st.items.pop_front() else {
                return Err(if st.closed {
                    TryRecvError::Closed
                } else {
                    TryRecvError::Empty
                });
            };
            // Room now: move the first waiting putter's value in.
            let putter = if st.waiters.is_empty() {
                None
            } else {
                st.waiters.serve_front(|offer| match offer {
                    Offer::Put(v) => (Reply::Stored, Some(v)),
                    Offer::Get => (Reply::Closed(None), None),
                })
            };
            let putter = putter.map(|(t, v)| {
                if let Some(v) = v {
                    st.items.push_back(v);
                }
                t
            });
            (item, putter)
        };
        if let Some(putter) = putter {
            putter.wake(Wake::Signaled, false);
        }
        Ok(item)
    }

    /// Takes the first item, blocking while the queue is empty.
    ///
    /// # Errors
    ///
    /// [`ChannelError::Closed`] once the queue is closed and drained; the usual
    /// blocking-call errors while waiting.
    pub fn get(&self) -> Result<T, RecvError> {
        self.get_inner(None)
    }

    /// Like [`Queue::get`], giving up at the deadline `timeout` from now (game time).
    ///
    /// # Errors
    ///
    /// As [`Queue::get`], plus [`ChannelError::Timeout`].
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, RecvError> {
        self.get_inner(Some(deadline_in(timeout)))
    }

    fn get_inner(&self, deadline: Option<Duration>) -> Result<T, RecvError> {
        match self.try_get() {
            Ok(item) => {
                if let Some(shared) = current_shared() {
                    preempt_check(&shared);
                }
                return Ok(item);
            }
            Err(TryRecvError::Closed) => return Err(ChannelError::Closed),
            Err(_) => {}
        }
        let shared = current_shared().ok_or(ChannelError::NoScheduler)?;
        match wait_for(
            &shared,
            &self.inner,
            waiters,
            Offer::Get,
            Blocked::QueueGet,
            deadline,
        ) {
            Ok((Reply::Item(item), wake)) => {
                settle_after_switch(&shared, wake);
                Ok(item)
            }
            Ok((_, wake)) => {
                settle_after_switch(&shared, wake);
                Err(ChannelError::Closed)
            }
            Err((error, _)) => Err(error.into()),
        }
    }

    /// Takes every buffered item without blocking.
    pub fn drain(&self) -> Vec<T> {
        let mut out = Vec::new();
        while let Ok(item) = self.try_get() {
            out.push(item);
        }
        out
    }
}

impl<T: 'static> RecvSource for Queue<T> {
    type Item = T;

    fn object(&self) -> ObjectId {
        self.id()
    }

    fn try_now(&self) -> Option<Result<T, ChannelError>> {
        self.try_get().ok().map(Ok)
    }

    fn is_closed(&self) -> bool {
        let st = self.inner.state.borrow();
        st.closed && st.items.is_empty()
    }

    fn register(&self, me: &TaskletRef) -> WaitRef {
        let key = waiters(&self.inner).push(me.clone(), Offer::Get);
        WaitRef {
            target: self.inner.clone(),
            key,
        }
    }

    fn collect(&self, key: WaitKey) -> Collected<T> {
        match waiters(&self.inner).take(key) {
            Some(Slot::Done(Reply::Item(item))) => Collected::Fired(Ok(item)),
            Some(Slot::Done(_)) => Collected::Fired(Err(ChannelError::Closed)),
            _ => Collected::NotFired,
        }
    }
}

impl<T: 'static> Receivable<T> for Queue<T> {
    fn recv_arm<'a, R, F>(&'a self, f: F) -> SelectArm<'a, R>
    where
        F: FnOnce(T) -> R + 'a,
        R: 'a,
    {
        SelectArm::receiving(self, f)
    }
}
