//! A channel in a `select`: as a source to receive from, and the arm that sends.

use crate::channel::{Channel, Msg};
use crate::error::{ChannelError, TryRecvError};
use crate::id::ObjectId;
use crate::select::{Arm, Collected, Receivable, RecvSource, SelectArm};
use crate::task::{TaskletRef, WaitKey, WaitRef};
use crate::wait::Slot;

impl<T: 'static> RecvSource for Channel<T> {
    type Item = T;

    fn object(&self) -> ObjectId {
        self.id()
    }

    fn try_now(&self) -> Option<Result<T, ChannelError>> {
        match self.try_receive() {
            Ok(v) => Some(Ok(v)),
            Err(TryRecvError::Thrown(t)) => Some(Err(ChannelError::Thrown(t))),
            Err(TryRecvError::Empty | TryRecvError::Closed) => None,
        }
    }

    fn is_closed(&self) -> bool {
        // Closing, and no sender left whose value could still be taken.
        self.is_closing() && !self.has_waiting_sender()
    }

    fn register(&self, me: &TaskletRef) -> WaitRef {
        Channel::register(self, me, Msg::Receiver)
    }

    fn collect(&self, key: WaitKey) -> Collected<T> {
        match self.take_entry(key) {
            Some(Slot::Done(Msg::Value(v))) => Collected::Fired(Ok(v)),
            Some(Slot::Done(Msg::Error(t))) => Collected::Fired(Err(ChannelError::Thrown(t))),
            Some(Slot::Done(_)) => Collected::Fired(Err(ChannelError::Closed)),
            _ => Collected::NotFired,
        }
    }
}

impl<T: 'static> Receivable<T> for Channel<T> {
    fn recv_arm<'a, R, F>(&'a self, f: F) -> SelectArm<'a, R>
    where
        F: FnOnce(T) -> R + 'a,
        R: 'a,
    {
        SelectArm::receiving(self, f)
    }
}

/// A select arm sending on a channel.
struct SendArm<'a, T: 'static, F> {
    channel: &'a Channel<T>,
    value: Option<T>,
    f: Option<F>,
    key: Option<WaitKey>,
}

impl<T: 'static, R, F: FnOnce() -> R> Arm<R> for SendArm<'_, T, F> {
    fn object(&self) -> ObjectId {
        self.channel.id()
    }

    fn try_now(&mut self) -> Option<Result<R, ChannelError>> {
        let value = self.value.take()?;
        match self.channel.try_send(value) {
            Ok(()) => Some(Ok((self.f.take().expect("an arm fires once"))())),
            Err(e) => {
                self.value = Some(e.into_inner());
                None
            }
        }
    }

    fn is_closed(&self) -> bool {
        self.value.is_none() || (self.channel.is_closing() && !self.channel.has_waiting_receiver())
    }

    fn register(&mut self, me: &TaskletRef) -> WaitRef {
        let value = self
            .value
            .take()
            .expect("a send arm registers with its value");
        let wait = self.channel.register(me, Msg::Value(value));
        self.key = Some(wait.key);
        wait
    }

    fn collect(&mut self) -> Collected<R> {
        let Some(key) = self.key.take() else {
            return Collected::NotFired;
        };
        match self.channel.take_entry(key) {
            Some(Slot::Done(Msg::Taken)) => {
                Collected::Fired(Ok((self.f.take().expect("an arm fires once"))()))
            }
            Some(Slot::Done(Msg::Closed(v))) => {
                self.value = v;
                Collected::Fired(Err(ChannelError::Closed))
            }
            Some(Slot::Cancelled(Msg::Value(v))) => {
                self.value = Some(v);
                Collected::NotFired
            }
            _ => Collected::NotFired,
        }
    }
}

impl<T: 'static> Channel<T> {
    /// A select arm offering `value`; `f` runs once a receiver takes it.
    pub(crate) fn send_arm<'a, R: 'a, F>(&'a self, value: T, f: F) -> Box<dyn Arm<R> + 'a>
    where
        F: FnOnce() -> R + 'a,
    {
        Box::new(SendArm {
            channel: self,
            value: Some(value),
            f: Some(f),
            key: None,
        })
    }
}
