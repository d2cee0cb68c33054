//! A shard's typed mailboxes: where messages from other shards wait for the tasklet that
//! receives them.

use std::fmt;
use std::time::Duration;

use uthread::{Queue, Receivable, RecvError, SelectArm, TryRecvError};

use super::id::ShardId;
use super::letter::Letter;
use super::parcel::{self, Body};

/// The mailbox of one shard for messages of type `T`, sent from any shard (itself
/// included) with [`Outbox::send`](super::Outbox::send).
///
/// Made by [`Shard::mailbox`](super::Shard::mailbox); handles are cheap clones of one
/// queue, to move into the behaviours that receive. Messages are put in at the start of
/// a frame, before the systems run, in a fixed order (in lockstep, every message sent in
/// the previous frame, ordered by sending shard and by the order it sent them); the
/// tasklet blocked on the mailbox wakes in that frame's tasklet phase. A behaviour
/// receives inside [`Context::blocking`](crate::Context::blocking), or in a `select`
/// with its inboxes (a mailbox is [`Receivable`]).
///
/// # Examples
///
/// See the [module's example](super).
pub struct Mailbox<T: 'static> {
    queue: Queue<Letter<T>>,
    shard: ShardId,
}

impl<T: 'static> Clone for Mailbox<T> {
    fn clone(&self) -> Self {
        Mailbox {
            queue: self.queue.clone(),
            shard: self.shard,
        }
    }
}

impl<T: 'static> fmt::Debug for Mailbox<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox")
            .field("shard", &self.shard)
            .field("message", &std::any::type_name::<T>())
            .field("len", &self.queue.len())
            .finish()
    }
}

impl<T: Send + 'static> Mailbox<T> {
    pub(crate) fn new(shard: ShardId) -> Mailbox<T> {
        let name = format!("mailbox<{}> of {shard}", std::any::type_name::<T>());
        Mailbox {
            queue: Queue::with_name(&name),
            shard,
        }
    }

    /// The shard whose mailbox this is.
    pub fn shard(&self) -> ShardId {
        self.shard
    }

    /// Waits for the next letter (call it inside
    /// [`Context::blocking`](crate::Context::blocking)).
    ///
    /// # Errors
    ///
    /// The usual blocking-call errors (`Thrown`, `Killed`); `Closed` once the shard is
    /// stopping.
    pub fn recv(&self) -> Result<Letter<T>, RecvError> {
        self.queue.get()
    }

    /// Like [`Mailbox::recv`], giving up after `timeout` of game time.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::recv`], plus `Timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Letter<T>, RecvError> {
        self.queue.get_timeout(timeout)
    }

    /// The next letter if one is waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] when none is.
    pub fn try_recv(&self) -> Result<Letter<T>, TryRecvError> {
        self.queue.try_get()
    }

    /// Letters waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no letter is waiting.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

impl<T: Send + 'static> Receivable<Letter<T>> for Mailbox<T> {
    fn recv_arm<'a, R, F>(&'a self, f: F) -> SelectArm<'a, R>
    where
        F: FnOnce(Letter<T>) -> R + 'a,
        R: 'a,
    {
        self.queue.recv_arm(f)
    }
}

/// A mailbox of any message type, as the shard keeps it.
pub(crate) trait ErasedMailbox {
    /// Puts a body of this mailbox's type in; gives it back if the type is wrong or the
    /// mailbox is closed.
    fn put(&self, body: Box<dyn Body>, from: ShardId, frame: u64) -> Result<(), Box<dyn Body>>;
    /// Closes it: waiting receivers wake with `Closed`.
    fn close(&self);
    /// The typed mailbox, to downcast.
    fn as_any(&self) -> &dyn std::any::Any;
}

impl<T: Send + 'static> ErasedMailbox for Mailbox<T> {
    fn put(&self, body: Box<dyn Body>, from: ShardId, frame: u64) -> Result<(), Box<dyn Body>> {
        let message = parcel::unwrap::<T>(body)?;
        let letter = Letter {
            from,
            frame,
            message,
        };
        self.queue
            .try_put(letter)
            .map_err(|e| parcel::body(e.into_inner().message))
    }

    fn close(&self) {
        self.queue.close();
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
