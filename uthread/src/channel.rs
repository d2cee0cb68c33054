//! Stackless channels: unbuffered rendezvous between tasklets, with balance, preference,
//! errors sent to the receiver, and close.

use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use crate::block::{block_on, interrupted};
use crate::block::{preempt_check, settle_after_switch};
use crate::core::{current_shared, Shared};
use crate::error::{ChannelError, RecvError, SendError, Thrown, TryRecvError, TrySendError};
use crate::object::{handle_impls, waitable_state, waiters, Object};
use crate::state::{Blocked, Wake};
use crate::task::Tasklet;
use crate::task::{TaskletRef, WaitKey, WaitRef};
use crate::time::deadline_in;
use crate::wait::{Slot, WaitList};

/// Who runs first when a send or receive finds its partner already waiting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Preference {
    /// The receiver runs at once; the sender is queued right behind it (Stackless `-1`,
    /// the default).
    #[default]
    Receiver,
    /// The sender carries on; the receiver is appended to the run queue (`+1`).
    Sender,
    /// Whoever made the call carries on; the partner is appended (`0`).
    Neither,
}

impl Preference {
    /// Stackless's number for this preference (-1, 1 or 0).
    pub fn as_stackless(self) -> i8 {
        match self {
            Preference::Receiver => -1,
            Preference::Sender => 1,
            Preference::Neither => 0,
        }
    }

    /// The preference for Stackless's number (negative, positive, zero).
    pub fn from_stackless(n: i32) -> Preference {
        match n.signum() {
            -1 => Preference::Receiver,
            1 => Preference::Sender,
            _ => Preference::Neither,
        }
    }
}

/// What a waiter offers and what it gets back.
pub(crate) enum Msg<T> {
    /// A sender's value, or what a receiver got.
    Value(T),
    /// An error sent with `send_throw`, or what a receiver got.
    Error(Thrown),
    /// A receiver's offer (it offers nothing).
    Receiver,
    /// What a sender gets when a receiver took its value.
    Taken,
    /// Woken by `close_now`; a sender gets its value back.
    Closed(Option<T>),
}

struct State<T> {
    waiters: WaitList<Msg<T>, Msg<T>>,
    /// Whether the waiters are senders (`true`) or receivers; meaningful while any wait.
    senders_waiting: bool,
    preference: Preference,
    schedule_all: bool,
    closing: bool,
}

waitable_state!([T] State<T>, offer Msg<T>, reply Msg<T>);

/// An unbuffered channel with Stackless semantics.
///
/// `send` blocks until a receiver takes the value and `receive` blocks until a sender
/// gives one; waiters queue in FIFO order. Handles are cheap clones of one channel.
/// Values are moved, never cloned; `T` needs neither `Clone` nor `Debug`.
///
/// # Examples
///
/// ```
/// let sched = uthread::Scheduler::new();
/// let ch = uthread::Channel::new();
/// let tx = ch.clone();
/// sched.spawn(move || {
///     for i in 0..3 {
///         tx.send(i).unwrap();
///     }
///     tx.close_now(); // also wakes a receiver already waiting
/// }).unwrap();
/// // The main context can receive too: it runs the scheduler while it waits.
/// let got: Vec<i32> = ch.iter().collect();
/// assert_eq!(got, [0, 1, 2]);
/// ```
pub struct Channel<T: 'static> {
    inner: Rc<Object<State<T>>>,
}

handle_impls!([T: 'static] Channel<T>, "channel": clone, default, id, name);

impl<T: 'static> fmt::Debug for Channel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.state.borrow();
        self.inner
            .debug(f, "Channel")
            .field("balance", &balance_of(&st))
            .field("preference", &st.preference)
            .field("closing", &st.closing)
            .finish()
    }
}

fn balance_of<T>(st: &State<T>) -> isize {
    let n = st.waiters.len() as isize;
    if st.senders_waiting {
        n
    } else {
        -n
    }
}

impl<T: 'static> Channel<T> {
    /// A new open channel preferring the receiver.
    pub fn new() -> Channel<T> {
        Channel::build(None)
    }

    /// A new channel with a name (shown in deadlock reports and `Debug`).
    pub fn with_name(name: &str) -> Channel<T> {
        Channel::build(Some(Rc::from(name)))
    }

    fn build(name: Option<Rc<str>>) -> Channel<T> {
        let state = State {
            waiters: WaitList::default(),
            senders_waiting: false,
            preference: Preference::default(),
            schedule_all: false,
            closing: false,
        };
        Channel {
            inner: Object::new(name, state),
        }
    }

    /// Blocked senders (positive) or minus the blocked receivers (negative).
    pub fn balance(&self) -> isize {
        balance_of(&self.inner.state.borrow())
    }

    /// Who runs first at a rendezvous.
    pub fn preference(&self) -> Preference {
        self.inner.state.borrow().preference
    }

    /// Sets who runs first at a rendezvous.
    pub fn set_preference(&self, preference: Preference) {
        self.inner.state.borrow_mut().preference = preference;
    }

    /// Whether schedule-all is on: at a rendezvous the partner is appended to the run
    /// queue and the caller yields to the next runnable tasklet.
    pub fn schedule_all(&self) -> bool {
        self.inner.state.borrow().schedule_all
    }

    /// Turns schedule-all on or off (it overrides the preference).
    pub fn set_schedule_all(&self, on: bool) {
        self.inner.state.borrow_mut().schedule_all = on;
    }

    /// Whether `close` was called (and not undone by `open`).
    pub fn is_closing(&self) -> bool {
        self.inner.state.borrow().closing
    }

    /// Whether the channel is closing and nobody waits on it any more.
    pub fn is_closed(&self) -> bool {
        let st = self.inner.state.borrow();
        st.closing && st.waiters.is_empty()
    }

    /// Stackless close: from now on a send or receive that would block fails with
    /// [`ChannelError::Closed`]. Tasklets already waiting stay until a partner comes.
    pub fn close(&self) {
        self.inner.state.borrow_mut().closing = true;
    }

    /// Closes and wakes every waiter with [`ChannelError::Closed`] (blocked senders get
    /// their values back). This ends a conversation, which `close` alone cannot.
    pub fn close_now(&self) {
        // Errors sent with `send_throw` are discarded after the borrow ends: their
        // destructors may use the channel.
        let mut discarded = Vec::new();
        let woken = {
            let mut st = self.inner.state.borrow_mut();
            st.closing = true;
            st.waiters.serve_all(|offer| match offer {
                Msg::Value(v) => Msg::Closed(Some(v)),
                other => {
                    discarded.push(other);
                    Msg::Closed(None)
                }
            })
        };
        drop(discarded);
        for t in woken {
            t.wake(Wake::Signaled, false);
        }
    }

    /// Reopens a closing channel.
    pub fn open(&self) {
        self.inner.state.borrow_mut().closing = false;
    }

    /// The tasklets waiting on the channel, in order.
    pub fn queue(&self) -> Vec<Tasklet> {
        self.inner
            .state
            .borrow()
            .waiters
            .waiters()
            .map(|t| Tasklet::from_task(t.clone()))
            .collect()
    }

    /// Sends `value`, blocking until a receiver takes it.
    ///
    /// # Errors
    ///
    /// [`ChannelError::Closed`] if the channel is closing and no receiver waits (or it is
    /// closed with `close_now` while the caller waits); `Thrown`, `Deadlock` as for any
    /// blocking call. The value comes back in the error.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.send_msg(Msg::Value(value), None)
            .map_err(|(error, msg)| SendError {
                value: unwrap_value(msg),
                error,
            })
    }

    /// Sends `value`, giving up at the deadline `timeout` from now (game time).
    ///
    /// # Errors
    ///
    /// As [`Channel::send`], plus [`ChannelError::Timeout`].
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendError<T>> {
        self.send_msg(Msg::Value(value), Some(deadline_in(timeout)))
            .map_err(|(error, msg)| SendError {
                value: unwrap_value(msg),
                error,
            })
    }

    /// Sends `value` only if a receiver is waiting already.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] when no receiver waits, [`TrySendError::Closed`] when the
    /// channel is closing; the value comes back.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let has_receiver = {
            let st = self.inner.state.borrow();
            if !st.waiters.is_empty() && !st.senders_waiting {
                true
            } else if st.closing {
                return Err(TrySendError::Closed(value));
            } else {
                false
            }
        };
        if !has_receiver {
            return Err(TrySendError::Full(value));
        }
        match self.send_msg(Msg::Value(value), None) {
            Ok(()) => Ok(()),
            Err((_, msg)) => Err(TrySendError::Full(unwrap_value(msg))),
        }
    }

    /// Sends an error: the receiver's `receive` returns it as [`ChannelError::Thrown`]
    /// (Stackless `send_exception`). Blocks like `send`.
    ///
    /// # Errors
    ///
    /// As [`Channel::send`] (without a value to return).
    pub fn send_throw<E>(&self, error: E) -> Result<(), ChannelError>
    where
        E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    {
        self.send_msg(Msg::Error(Thrown::new(error)), None)
            .map_err(|(e, _)| e)
    }

    /// Sends every item in turn; returns how many were sent.
    ///
    /// # Errors
    ///
    /// The first failed send, with the number sent before it.
    pub fn send_sequence<I>(&self, items: I) -> Result<usize, (usize, SendError<T>)>
    where
        I: IntoIterator<Item = T>,
    {
        let mut sent = 0;
        for item in items {
            self.send(item).map_err(|e| (sent, e))?;
            sent += 1;
        }
        Ok(sent)
    }

    /// Receives a value, blocking until a sender gives one.
    ///
    /// # Errors
    ///
    /// [`ChannelError::Closed`] if the channel is closing and no sender waits;
    /// [`ChannelError::Thrown`] for an error sent with `send_throw`, or thrown into the
    /// caller; `Deadlock` in the main context when nothing can send.
    pub fn receive(&self) -> Result<T, RecvError> {
        self.receive_inner(None)
    }

    /// Receives, giving up at the deadline `timeout` from now (game time).
    ///
    /// # Errors
    ///
    /// As [`Channel::receive`], plus [`ChannelError::Timeout`].
    pub fn receive_timeout(&self, timeout: Duration) -> Result<T, RecvError> {
        self.receive_inner(Some(deadline_in(timeout)))
    }

    /// Receives only if a sender is waiting already.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] when no sender waits, [`TryRecvError::Closed`] when the
    /// channel is closing.
    pub fn try_receive(&self) -> Result<T, TryRecvError> {
        {
            let st = self.inner.state.borrow();
            if st.waiters.is_empty() || !st.senders_waiting {
                return Err(if st.closing {
                    TryRecvError::Closed
                } else {
                    TryRecvError::Empty
                });
            }
        }
        self.receive_inner(None).map_err(|e| match e {
            ChannelError::Thrown(t) => TryRecvError::Thrown(t),
            ChannelError::Closed => TryRecvError::Closed,
            _ => TryRecvError::Empty,
        })
    }

    /// Receives until the channel is closed (or any receive fails).
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { channel: self }
    }

    fn receive_inner(&self, deadline: Option<Duration>) -> Result<T, RecvError> {
        let shared = current_shared().ok_or(ChannelError::NoScheduler)?;
        // A sender waiting: take its value.
        let taken = {
            let mut st = self.inner.state.borrow_mut();
            if st.senders_waiting {
                st.waiters.serve_front(|offer| (Msg::Taken, offer))
            } else {
                None
            }
        };
        if let Some((sender, msg)) = taken {
            self.hook(&shared, false, false);
            self.rendezvous(&shared, &sender, false);
            return match msg {
                Msg::Value(v) => Ok(v),
                Msg::Error(t) => Err(ChannelError::Thrown(t)),
                _ => Err(ChannelError::Closed),
            };
        }
        if self.inner.state.borrow().closing {
            return Err(ChannelError::Closed);
        }
        self.hook(&shared, false, true);
        self.inner.state.borrow_mut().senders_waiting = false;
        let (wake, slot) = block_on(
            &shared,
            &self.inner,
            waiters,
            Msg::Receiver,
            Blocked::Receive,
            deadline,
        );
        match slot {
            Slot::Done(Msg::Value(v)) => {
                settle_after_switch(&shared, wake);
                Ok(v)
            }
            Slot::Done(Msg::Error(t)) => {
                settle_after_switch(&shared, wake);
                Err(ChannelError::Thrown(t))
            }
            Slot::Done(_) => {
                settle_after_switch(&shared, wake);
                Err(ChannelError::Closed)
            }
            Slot::Cancelled(_) | Slot::Waiting(_) | Slot::Moving => Err(interrupted(wake).into()),
        }
    }

    fn send_msg(
        &self,
        msg: Msg<T>,
        deadline: Option<Duration>,
    ) -> Result<(), (ChannelError, Msg<T>)> {
        let Some(shared) = current_shared() else {
            return Err((ChannelError::NoScheduler, msg));
        };
        // A receiver waiting: hand the value over.
        let mut msg = Some(msg);
        let served = {
            let mut st = self.inner.state.borrow_mut();
            if !st.senders_waiting && !st.waiters.is_empty() {
                let m = msg.take().expect("message present");
                st.waiters.serve_front(|_| (m, ()))
            } else {
                None
            }
        };
        if let Some((receiver, ())) = served {
            self.hook(&shared, true, false);
            self.rendezvous(&shared, &receiver, true);
            return Ok(());
        }
        let msg = msg.expect("message not handed over");
        if self.inner.state.borrow().closing {
            return Err((ChannelError::Closed, msg));
        }
        self.hook(&shared, true, true);
        self.inner.state.borrow_mut().senders_waiting = true;
        let (wake, slot) = block_on(&shared, &self.inner, waiters, msg, Blocked::Send, deadline);
        match slot {
            Slot::Done(Msg::Closed(Some(v))) => {
                settle_after_switch(&shared, wake);
                Err((ChannelError::Closed, Msg::Value(v)))
            }
            Slot::Done(Msg::Closed(None)) => {
                settle_after_switch(&shared, wake);
                Err((ChannelError::Closed, Msg::Closed(None)))
            }
            Slot::Done(_) => {
                settle_after_switch(&shared, wake);
                Ok(())
            }
            Slot::Cancelled(msg) | Slot::Waiting(msg) => Err((interrupted(wake).into(), msg)),
            Slot::Moving => Err((interrupted(wake).into(), Msg::Closed(None))),
        }
    }

    /// After a rendezvous with a partner who was waiting: decide who runs first.
    fn rendezvous(&self, shared: &Rc<Shared>, partner: &TaskletRef, caller_sends: bool) {
        let (preference, schedule_all) = {
            let st = self.inner.state.borrow();
            (st.preference, st.schedule_all)
        };
        let same_scheduler = partner.belongs_to(shared);
        if !same_scheduler {
            partner.wake(Wake::Signaled, false);
            preempt_check(shared);
            return;
        }
        let partner_first = match preference {
            Preference::Receiver => caller_sends,
            Preference::Sender => !caller_sends,
            Preference::Neither => false,
        };
        if schedule_all {
            shared.wake(partner, Wake::Signaled, false);
            let me = shared.current_task();
            shared.enqueue(&me, false);
        } else if partner_first {
            let me = shared.current_task();
            shared.enqueue(&me, true);
            shared.wake(partner, Wake::Signaled, true);
        } else {
            shared.wake(partner, Wake::Signaled, false);
            preempt_check(shared);
            return;
        }
        let wake = shared.switch_out();
        settle_after_switch(shared, wake);
    }

    #[inline]
    fn hook(&self, shared: &Rc<Shared>, sending: bool, will_block: bool) {
        if shared.hooks_active.get() && shared.hooks.borrow().channel.is_some() {
            shared.hooks_on_channel(
                self.inner.id,
                self.inner.name.as_deref(),
                sending,
                will_block,
            );
        }
    }
}

/// What the select arms (`channel_select.rs`) use: registering a waiter without blocking
/// and collecting its entry.
impl<T: 'static> Channel<T> {
    /// Whether a sender waits with a value to take.
    pub(crate) fn has_waiting_sender(&self) -> bool {
        let st = self.inner.state.borrow();
        st.senders_waiting && !st.waiters.is_empty()
    }

    /// Whether a receiver waits for a value.
    pub(crate) fn has_waiting_receiver(&self) -> bool {
        let st = self.inner.state.borrow();
        !st.senders_waiting && !st.waiters.is_empty()
    }

    /// Queues `me` offering `offer` (a sender's value, or `Msg::Receiver`) without
    /// blocking; the caller blocks on all its arms at once.
    pub(crate) fn register(&self, me: &TaskletRef, offer: Msg<T>) -> WaitRef {
        let mut st = self.inner.state.borrow_mut();
        st.senders_waiting = matches!(offer, Msg::Value(_));
        let key = st.waiters.push(me.clone(), offer);
        WaitRef {
            target: self.inner.clone(),
            key,
        }
    }

    /// Takes the entry `key` off the wait list, served or not.
    pub(crate) fn take_entry(&self, key: WaitKey) -> Option<Slot<Msg<T>, Msg<T>>> {
        waiters(&self.inner).take(key)
    }
}

fn unwrap_value<T>(msg: Msg<T>) -> T {
    match msg {
        Msg::Value(v) | Msg::Closed(Some(v)) => v,
        _ => unreachable!("a value send only ever carries a value"),
    }
}

/// Receives from a channel until it is closed; see [`Channel::iter`].
#[derive(Debug)]
pub struct Iter<'a, T: 'static> {
    channel: &'a Channel<T>,
}

impl<T: 'static> Iterator for Iter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.channel.receive().ok()
    }
}

impl<'a, T: 'static> IntoIterator for &'a Channel<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}
