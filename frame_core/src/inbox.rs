//! Per-entity typed inboxes: systems, the host and other actors put events in without
//! blocking; the entity's behaviour receives them, blocking, with a timeout, or inside a
//! select.

use std::any::{Any, TypeId};
use std::fmt;

use uthread::{Queue, Receivable, RecvError, SelectArm, TryRecvError};

/// The inbox of one entity for events of type `M`: an unbounded FIFO built on
/// [`uthread::Queue`]. `E` is the host's entity id.
///
/// Each actor has one inbox per event type, made on first use by either side (see
/// [`Inboxes`]). Senders never block ([`Inbox::put`]). The behaviour receives through
/// its host's context (the engine's `Context::recv`, the Bevy plugin's
/// `ScriptContext::recv`), which take the context mutably so that the borrow checker
/// keeps component references out of the wait; for a select it takes a handle, since an
/// inbox is [`Receivable`].
///
/// When the actor ends, its inboxes close and undelivered events are dropped.
///
/// # Examples
///
/// ```
/// use frame_core::Inbox;
///
/// struct Damaged(u32);
///
/// let scheduler = uthread::Scheduler::new();
/// let inbox: Inbox<Damaged, &str> = Inbox::new("ship");
/// let rx = inbox.clone();
/// let ship = scheduler.spawn(move || {
///     let mut total = 0;
///     while let Ok(Damaged(n)) = rx.recv() {
///         total += n;
///     }
///     total
/// }).unwrap();
/// inbox.put(Damaged(30)).ok().unwrap();
/// inbox.put(Damaged(12)).ok().unwrap();
/// scheduler.run().unwrap(); // the ship takes both, then waits
/// inbox.close(); // the actor ends: its loop sees the inbox closed
/// scheduler.run().unwrap();
/// assert_eq!(ship.join().unwrap(), 42);
/// ```
pub struct Inbox<M: 'static, E> {
    queue: Queue<M>,
    owner: E,
}

impl<M: 'static, E: Copy> Clone for Inbox<M, E> {
    fn clone(&self) -> Self {
        Inbox {
            queue: self.queue.clone(),
            owner: self.owner,
        }
    }
}

impl<M: 'static, E: fmt::Debug> fmt::Debug for Inbox<M, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("owner", &self.owner)
            .field("event", &std::any::type_name::<M>())
            .field("len", &self.queue.len())
            .field("closed", &self.queue.is_closed())
            .finish()
    }
}

impl<M: 'static, E: Copy + fmt::Debug> Inbox<M, E> {
    /// An open, empty inbox of `owner` (hosts make them; see [`Inboxes`]).
    pub fn new(owner: E) -> Inbox<M, E> {
        let name = format!("inbox<{}> of {owner:?}", std::any::type_name::<M>());
        Inbox {
            queue: Queue::with_name(&name),
            owner,
        }
    }

    /// A closed inbox, for a context whose actor has already ended.
    pub fn closed(owner: E) -> Inbox<M, E> {
        let inbox = Inbox::new(owner);
        inbox.queue.close();
        inbox
    }

    /// The entity whose inbox this is.
    pub fn owner(&self) -> E {
        self.owner
    }

    /// Events waiting to be received.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Whether the inbox was closed (its actor ended).
    pub fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }

    /// Takes the next event without blocking.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] when there is none, [`TryRecvError::Closed`] when the
    /// inbox is closed and drained.
    pub fn try_recv(&self) -> Result<M, TryRecvError> {
        self.queue.try_get()
    }

    /// Adds an event without blocking.
    ///
    /// # Errors
    ///
    /// The event comes back if the inbox is closed.
    pub fn put(&self, event: M) -> Result<(), M> {
        self.queue.try_put(event).map_err(|e| e.into_inner())
    }

    /// Receives the next event, blocking until one arrives. Hosts' contexts wrap this
    /// in a method that takes the context mutably, so that no component reference can
    /// live across the wait; prefer those inside a behaviour.
    ///
    /// # Errors
    ///
    /// [`RecvError::Closed`](uthread::ChannelError::Closed) once the inbox is closed
    /// and drained; `Thrown` and `Killed` as for any blocking uthread call.
    pub fn recv(&self) -> Result<M, RecvError> {
        self.queue.get()
    }

    /// Like [`Inbox::recv`], giving up after `timeout` of game time.
    ///
    /// # Errors
    ///
    /// As [`Inbox::recv`], plus [`Timeout`](uthread::ChannelError::Timeout).
    pub fn recv_timeout(&self, timeout: std::time::Duration) -> Result<M, RecvError> {
        self.queue.get_timeout(timeout)
    }

    /// Closes the inbox (its actor ended): waiting receivers wake, events still queued
    /// can be taken, new ones are refused.
    pub fn close(&self) {
        self.queue.close();
    }
}

impl<M: 'static, E> Receivable<M> for Inbox<M, E> {
    fn recv_arm<'a, R, F>(&'a self, f: F) -> SelectArm<'a, R>
    where
        F: FnOnce(M) -> R + 'a,
        R: 'a,
    {
        self.queue.recv_arm(f)
    }
}

/// An inbox of any event type.
trait ErasedInbox {
    fn close(&self);
    fn as_any(&self) -> &dyn Any;
}

impl<M: 'static, E: Copy + fmt::Debug + 'static> ErasedInbox for Inbox<M, E> {
    fn close(&self) {
        Inbox::close(self);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// One actor's inboxes, one per event type, each made on first use by either side.
pub struct Inboxes<E> {
    owner: E,
    by_type: Vec<(TypeId, Box<dyn ErasedInbox>)>,
}

impl<E: fmt::Debug> fmt::Debug for Inboxes<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inboxes")
            .field("owner", &self.owner)
            .field("types", &self.by_type.len())
            .finish()
    }
}

impl<E: Copy + fmt::Debug + 'static> Inboxes<E> {
    /// No inbox yet, for `owner`.
    pub fn new(owner: E) -> Inboxes<E> {
        Inboxes {
            owner,
            by_type: Vec::new(),
        }
    }

    /// The inbox for events of type `M`, made now if there is none.
    pub fn get_or_make<M: 'static>(&mut self) -> Inbox<M, E> {
        let owner = self.owner;
        self.get_or_insert_with(|| Inbox::<M, E>::new(owner))
    }

    /// The inbox for events of type `M`, or `make`'s, kept from now on (a context
    /// caches the handles it got from its registry this way).
    pub fn get_or_insert_with<M: 'static>(
        &mut self,
        make: impl FnOnce() -> Inbox<M, E>,
    ) -> Inbox<M, E> {
        if let Some(inbox) = self.get::<M>() {
            return inbox;
        }
        let inbox = make();
        // Most actors have one or two inboxes: grow one at a time rather than to the
        // default first capacity of four (with a million actors, ~100 bytes each).
        self.by_type.reserve_exact(1);
        self.by_type
            .push((TypeId::of::<M>(), Box::new(inbox.clone())));
        inbox
    }

    /// The inbox for events of type `M`, if one was made.
    pub fn get<M: 'static>(&self) -> Option<Inbox<M, E>> {
        let id = TypeId::of::<M>();
        let (_, inbox) = self.by_type.iter().find(|(t, _)| *t == id)?;
        inbox.as_any().downcast_ref::<Inbox<M, E>>().cloned()
    }

    /// Closes every inbox (the actor ended).
    pub fn close_all(&self) {
        for (_, inbox) in &self.by_type {
            inbox.close();
        }
    }
}
