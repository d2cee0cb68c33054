//! One-shot channels: a single value from one sender to one receiver; sending never
//! blocks.

use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use crate::block::settle_after_switch;
use crate::block::wait_for;
use crate::core::current_shared;
use crate::error::{ChannelError, RecvError, TryRecvError};
use crate::id::ObjectId;
use crate::object::{waitable_state, waiters, Object};
use crate::select::{Collected, Receivable, RecvSource, SelectArm};
use crate::state::{Blocked, Wake};
use crate::task::TaskletRef;
use crate::task::{WaitKey, WaitRef};
use crate::time::deadline_in;
use crate::wait::{Slot, WaitList};

struct State<T> {
    value: Option<T>,
    sender_gone: bool,
    receiver_gone: bool,
    waiters: WaitList<(), ()>,
}

waitable_state!([T] State<T>, offer (), reply ());

/// What the sender and the receiver share (unnamed).
type Inner<T> = Object<State<T>>;

impl<T> Inner<T> {
    fn wake_receiver(&self) {
        let woken = self.state.borrow_mut().waiters.serve_all(|()| ());
        for t in woken {
            t.wake(Wake::Signaled, false);
        }
    }
}

/// A channel for exactly one value: a reply, a result, a "done" signal.
///
/// # Examples
///
/// ```
/// let sched = uthread::Scheduler::new();
/// let (tx, rx) = uthread::oneshot();
/// let waiter = sched.spawn(move || rx.recv().unwrap()).unwrap();
/// sched.spawn(move || tx.send(42).unwrap()).unwrap();
/// sched.run().unwrap();
/// assert_eq!(waiter.join().unwrap(), 42);
/// ```
pub fn oneshot<T: 'static>() -> (OneshotSender<T>, OneshotReceiver<T>) {
    let state = State {
        value: None,
        sender_gone: false,
        receiver_gone: false,
        waiters: WaitList::default(),
    };
    let inner = Object::new(None, state);
    (
        OneshotSender {
            inner: Some(inner.clone()),
        },
        OneshotReceiver { inner },
    )
}

/// Sends the one value of a [`oneshot`]. Dropping it unsent makes the receiver's wait
/// fail with [`ChannelError::Closed`].
pub struct OneshotSender<T: 'static> {
    inner: Option<Rc<Inner<T>>>,
}

impl<T: 'static> fmt::Debug for OneshotSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OneshotSender").finish_non_exhaustive()
    }
}

impl<T: 'static> OneshotSender<T> {
    /// Sends the value (never blocks).
    ///
    /// # Errors
    ///
    /// The value comes back if the receiver is gone.
    pub fn send(mut self, value: T) -> Result<(), T> {
        let inner = self.inner.take().expect("a sender sends once");
        {
            let mut st = inner.state.borrow_mut();
            if st.receiver_gone {
                return Err(value);
            }
            st.value = Some(value);
            st.sender_gone = true;
        }
        inner.wake_receiver();
        Ok(())
    }

    /// Whether the receiver was dropped.
    pub fn is_closed(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(|i| i.state.borrow().receiver_gone)
    }
}

impl<T: 'static> Drop for OneshotSender<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.state.borrow_mut().sender_gone = true;
            inner.wake_receiver();
        }
    }
}

/// Receives the one value of a [`oneshot`].
pub struct OneshotReceiver<T: 'static> {
    inner: Rc<Inner<T>>,
}

impl<T: 'static> fmt::Debug for OneshotReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.debug(f, "OneshotReceiver").finish()
    }
}

impl<T: 'static> Drop for OneshotReceiver<T> {
    fn drop(&mut self) {
        self.inner.state.borrow_mut().receiver_gone = true;
    }
}

impl<T: 'static> OneshotReceiver<T> {
    /// The value if it has arrived, without blocking.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] before it arrives, [`TryRecvError::Closed`] if the sender
    /// was dropped unsent (or the value was taken already).
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut st = self.inner.state.borrow_mut();
        match st.value.take() {
            Some(v) => Ok(v),
            None if st.sender_gone => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Waits for the value.
    ///
    /// # Errors
    ///
    /// [`ChannelError::Closed`] if the sender was dropped unsent; the usual blocking-call
    /// errors while waiting.
    pub fn recv(mut self) -> Result<T, RecvError> {
        self.recv_inner(None)
    }

    /// Like [`OneshotReceiver::recv`] with a deadline `timeout` from now (game time); the
    /// receiver stays usable after a timeout.
    ///
    /// # Errors
    ///
    /// As [`OneshotReceiver::recv`], plus [`ChannelError::Timeout`].
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<T, RecvError> {
        self.recv_inner(Some(deadline_in(timeout)))
    }

    fn recv_inner(&mut self, deadline: Option<Duration>) -> Result<T, RecvError> {
        match self.try_recv() {
            Ok(v) => return Ok(v),
            Err(TryRecvError::Empty) => {}
            Err(_) => return Err(ChannelError::Closed),
        }
        let shared = current_shared().ok_or(ChannelError::NoScheduler)?;
        let on = Blocked::Event;
        match wait_for(&shared, &self.inner, waiters, (), on, deadline) {
            Ok(((), wake)) => {
                let value = self.try_recv().map_err(|_| ChannelError::Closed);
                settle_after_switch(&shared, wake);
                value
            }
            Err((error, ())) => Err(error.into()),
        }
    }
}

impl<T: 'static> RecvSource for OneshotReceiver<T> {
    type Item = T;

    fn object(&self) -> ObjectId {
        self.inner.id
    }

    fn try_now(&self) -> Option<Result<T, ChannelError>> {
        self.inner.state.borrow_mut().value.take().map(Ok)
    }

    fn is_closed(&self) -> bool {
        let st = self.inner.state.borrow();
        st.sender_gone && st.value.is_none()
    }

    fn register(&self, me: &TaskletRef) -> WaitRef {
        let key = waiters(&self.inner).push(me.clone(), ());
        WaitRef {
            target: self.inner.clone(),
            key,
        }
    }

    fn collect(&self, key: WaitKey) -> Collected<T> {
        match waiters(&self.inner).take(key) {
            // Woken by the send, or by the sender dropping unsent.
            Some(Slot::Done(())) => {
                Collected::Fired(self.try_now().unwrap_or(Err(ChannelError::Closed)))
            }
            _ => Collected::NotFired,
        }
    }
}

impl<T: 'static> Receivable<T> for OneshotReceiver<T> {
    fn recv_arm<'a, R, F>(&'a self, f: F) -> SelectArm<'a, R>
    where
        F: FnOnce(T) -> R + 'a,
        R: 'a,
    {
        SelectArm::receiving(self, f)
    }
}
