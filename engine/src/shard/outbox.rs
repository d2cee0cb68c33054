//! The sending side of a shard: one `RemoteSender` per shard of the cluster, the stamp
//! that orders what it sends, and the books of what happened to its messages.

use std::cell::{Cell, RefCell, RefMut};
use std::error::Error as StdError;
use std::fmt;
use std::rc::Rc;

use uthread::RemoteSender;

use super::counts::{Dropped, HandOffCounts, MessageCounts};
use super::id::{Address, ShardId};
use super::parcel::{self, Body, Parcel, Route, Stamp};

/// How many dropped messages a shard describes one by one (it counts them all).
const DROPPED_KEPT: usize = 256;

/// What a shard counted: messages, hand-offs, and the messages it dropped.
#[derive(Debug, Default)]
pub(crate) struct Books {
    pub(crate) messages: MessageCounts,
    pub(crate) hand_offs: HandOffCounts,
    /// The first [`DROPPED_KEPT`] dropped messages.
    pub(crate) dropped: Vec<Dropped>,
}

impl Books {
    /// Counts a dropped message and keeps its description.
    pub(crate) fn drop_one(&mut self, dropped: Dropped) {
        self.messages.dropped += 1;
        if dropped.hand_off {
            self.hand_offs.lost += 1;
        }
        if self.dropped.len() < DROPPED_KEPT {
            self.dropped.push(dropped);
        }
    }
}

struct Post {
    me: ShardId,
    /// To every shard of the cluster (this one included), by index.
    senders: Vec<RemoteSender<Parcel>>,
    /// The frame being run, stamped on what is sent.
    frame: Cell<u64>,
    /// How many parcels this shard has stamped.
    seq: Cell<u64>,
    books: RefCell<Books>,
}

/// Sends messages from one shard to the mailboxes and actors of any shard in its
/// cluster (itself included). A cheap handle: clone it into the systems and behaviours
/// that send. Sending never blocks; the message is delivered at the start of the
/// receiving shard's next frame (in lockstep, of the frame after this one).
///
/// What happens to each message is counted: see [`MessageCounts`].
///
/// # Examples
///
/// See the [module's example](super).
#[derive(Clone)]
pub struct Outbox {
    post: Rc<Post>,
}

impl fmt::Debug for Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbox")
            .field("shard", &self.post.me)
            .field("shards", &self.post.senders.len())
            .field("messages", &self.post.books.borrow().messages)
            .finish()
    }
}

impl Outbox {
    pub(crate) fn new(me: ShardId, senders: Vec<RemoteSender<Parcel>>) -> Outbox {
        Outbox {
            post: Rc::new(Post {
                me,
                senders,
                frame: Cell::new(0),
                seq: Cell::new(0),
                books: RefCell::new(Books::default()),
            }),
        }
    }

    /// The shard this outbox sends from.
    pub fn shard(&self) -> ShardId {
        self.post.me
    }

    /// How many shards the cluster has.
    pub fn shard_count(&self) -> usize {
        self.post.senders.len()
    }

    /// Sends `message` to the [`Mailbox<T>`](super::Mailbox) of shard `to`. If that
    /// shard has none, the message comes back as a [`Returned<T>`](super::Returned).
    ///
    /// # Errors
    ///
    /// [`PostError`] (with the message) when there is no shard `to`, or its channel is
    /// closed (the cluster has stopped).
    pub fn send<T: Send + 'static>(&self, to: ShardId, message: T) -> Result<(), PostError<T>> {
        self.typed(to, Route::Mailbox(parcel::wrap_returned::<T>), message)
    }

    /// Sends `event` into the inbox of an actor on any shard (as
    /// [`FrameDriver::send`](crate::FrameDriver::send) does on one). If the entity is
    /// not a running actor there, the event comes back as a
    /// [`Returned<E>`](super::Returned).
    ///
    /// # Errors
    ///
    /// As [`Outbox::send`].
    pub fn send_to<E: Send + 'static>(&self, to: Address, event: E) -> Result<(), PostError<E>> {
        self.typed(
            to.shard,
            Route::Actor(to.entity, parcel::wrap_returned::<E>),
            event,
        )
    }

    /// What has happened so far to the messages this shard sent and received.
    pub fn messages(&self) -> MessageCounts {
        self.post.books.borrow().messages
    }

    fn typed<T: Send + 'static>(
        &self,
        to: ShardId,
        route: Route,
        message: T,
    ) -> Result<(), PostError<T>> {
        if to.index() >= self.post.senders.len() {
            return Err(PostError::NoSuchShard { to, message });
        }
        self.post_body(to, route, parcel::body(message))
            .map_err(|body| match parcel::unwrap::<T>(body) {
                Ok(message) => PostError::Closed { to, message },
                Err(_) => unreachable!("the body sent is the body given back"),
            })
    }

    /// Sends a new parcel (counted as sent); gives the body back if the transport
    /// refuses it. `to` must be a shard of the cluster.
    pub(crate) fn post_body(
        &self,
        to: ShardId,
        route: Route,
        body: Box<dyn Body>,
    ) -> Result<(), Box<dyn Body>> {
        let parcel = Parcel {
            origin: self.post.me,
            destination: to,
            sent_frame: self.post.frame.get(),
            route,
            returning: None,
            stamp: self.stamp(),
            body,
        };
        match self.post.senders[to.index()].send(parcel) {
            Ok(()) => {
                self.post.books.borrow_mut().messages.sent += 1;
                Ok(())
            }
            Err(parcel) => Err(parcel.body),
        }
    }

    /// Sends a parcel on (back to its origin), stamped anew; not counted as a new send.
    pub(crate) fn forward(&self, to: ShardId, mut parcel: Parcel) -> Result<(), Parcel> {
        parcel.stamp = self.stamp();
        self.post.senders[to.index()].send(parcel)
    }

    /// Whether shard `to` still takes parcels.
    pub(crate) fn is_open(&self, to: ShardId) -> bool {
        self.post
            .senders
            .get(to.index())
            .is_some_and(|s| !s.is_closed())
    }

    fn stamp(&self) -> Stamp {
        let seq = self.post.seq.get();
        self.post.seq.set(seq + 1);
        Stamp {
            frame: self.post.frame.get(),
            sender: self.post.me,
            seq,
        }
    }

    pub(crate) fn set_frame(&self, frame: u64) {
        self.post.frame.set(frame);
    }

    pub(crate) fn books(&self) -> RefMut<'_, Books> {
        self.post.books.borrow_mut()
    }
}

/// A message that could not be sent; the message comes back.
pub enum PostError<T> {
    /// The cluster has no shard with this number.
    NoSuchShard {
        /// The shard asked for.
        to: ShardId,
        /// The message.
        message: T,
    },
    /// The shard's channel is closed: the cluster has stopped.
    Closed {
        /// The shard it was for.
        to: ShardId,
        /// The message.
        message: T,
    },
}

impl<T> PostError<T> {
    /// The message that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            PostError::NoSuchShard { message, .. } | PostError::Closed { message, .. } => message,
        }
    }
}

impl<T> fmt::Debug for PostError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PostError::NoSuchShard { to, .. } => f
                .debug_struct("NoSuchShard")
                .field("to", to)
                .finish_non_exhaustive(),
            PostError::Closed { to, .. } => f
                .debug_struct("Closed")
                .field("to", to)
                .finish_non_exhaustive(),
        }
    }
}

impl<T> fmt::Display for PostError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PostError::NoSuchShard { to, .. } => write!(f, "the cluster has no {to}"),
            PostError::Closed { to, .. } => {
                write!(f, "{to} takes no more messages: the cluster has stopped")
            }
        }
    }
}

impl<T> StdError for PostError<T> {}
