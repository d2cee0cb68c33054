//! Per-entity typed inboxes: systems (and other actors) put events in without blocking;
//! the entity's behaviour receives them, blocking, with a timeout, or inside a select.

use std::any::Any;
use std::fmt;

use hecs::Entity;
use uthread::{Queue, Receivable, SelectArm, TryRecvError};

/// The inbox of one entity for events of type `E`: an unbounded FIFO built on
/// [`uthread::Queue`].
///
/// Each actor has one inbox per event type, made on first use by either side. Senders
/// never block: [`FrameDriver::send`](crate::FrameDriver::send),
/// [`SystemContext::send`](crate::SystemContext::send) and
/// [`Context::send`](crate::Context::send). The behaviour receives with
/// [`Context::recv`](crate::Context::recv) and its variants; for a select it takes a
/// handle with [`Context::inbox`](crate::Context::inbox) and selects inside
/// [`Context::blocking`](crate::Context::blocking), since an inbox is
/// [`Receivable`]. Blocking calls live on the context, not here, so that the borrow
/// checker can keep component references out of them.
///
/// When the actor ends, its inboxes close and undelivered events are dropped.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use engine::{Actor, FrameDriver};
///
/// struct Damaged(u32);
/// struct Healed(u32);
///
/// let mut world = hecs::World::new();
/// let mut driver = FrameDriver::new();
/// let ship = driver
///     .spawn(&mut world, (100u32,), Actor::new(|ctx| {
///         let damage = ctx.inbox::<Damaged>();
///         let heals = ctx.inbox::<Healed>();
///         loop {
///             let change = ctx.blocking(|| {
///                 uthread::select()
///                     .recv(&damage, |Damaged(n)| -(n as i64))
///                     .recv(&heals, |Healed(n)| n as i64)
///                     .wait()
///             });
///             let Ok(change) = change else { return };
///             ctx.update(|hp: &mut u32| *hp = (*hp as i64 + change) as u32);
///         }
///     }))
///     .unwrap();
/// driver.tick(&mut world, Duration::from_millis(16)); // the ship starts and waits
/// driver.send(ship, Damaged(30)).unwrap();
/// driver.send(ship, Healed(5)).unwrap();
/// driver.tick(&mut world, Duration::from_millis(16));
/// assert_eq!(*world.get::<&u32>(ship).unwrap(), 75);
/// ```
pub struct Inbox<E: 'static> {
    queue: Queue<E>,
    owner: Entity,
}

impl<E: 'static> Clone for Inbox<E> {
    fn clone(&self) -> Self {
        Inbox {
            queue: self.queue.clone(),
            owner: self.owner,
        }
    }
}

impl<E: 'static> fmt::Debug for Inbox<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("owner", &self.owner)
            .field("event", &std::any::type_name::<E>())
            .field("len", &self.queue.len())
            .field("closed", &self.queue.is_closed())
            .finish()
    }
}

impl<E: 'static> Inbox<E> {
    pub(crate) fn new(owner: Entity) -> Inbox<E> {
        let name = format!("inbox<{}> of {owner:?}", std::any::type_name::<E>());
        Inbox {
            queue: Queue::with_name(&name),
            owner,
        }
    }

    /// A closed inbox, for a context whose actor has already ended.
    pub(crate) fn closed(owner: Entity) -> Inbox<E> {
        let inbox = Inbox::new(owner);
        inbox.queue.close();
        inbox
    }

    /// The entity whose inbox this is.
    pub fn owner(&self) -> Entity {
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
    pub fn try_recv(&self) -> Result<E, TryRecvError> {
        self.queue.try_get()
    }

    /// Adds an event without blocking (`Err` gives it back if the inbox is closed).
    pub(crate) fn put(&self, event: E) -> Result<(), E> {
        self.queue.try_put(event).map_err(|e| e.into_inner())
    }

    pub(crate) fn queue(&self) -> &Queue<E> {
        &self.queue
    }
}

impl<E: 'static> Receivable<E> for Inbox<E> {
    fn recv_arm<'a, R, F>(&'a self, f: F) -> SelectArm<'a, R>
    where
        F: FnOnce(E) -> R + 'a,
        R: 'a,
    {
        self.queue.recv_arm(f)
    }
}

/// An inbox of any event type, as the actor registry keeps it.
pub(crate) trait ErasedInbox {
    fn close(&self);
    fn as_any(&self) -> &dyn Any;
}

impl<E: 'static> ErasedInbox for Inbox<E> {
    fn close(&self) {
        self.queue.close();
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
