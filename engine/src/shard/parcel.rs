//! A message in transit between shards: where it goes, the stamp that orders it, and its
//! body with the type erased (the body's own methods put the type back on delivery).

use std::any::{Any, TypeId};

use hecs::Entity;

use super::counts::ReturnReason;
use super::id::ShardId;
use super::letter::{Destination, Returned};
use crate::driver::FrameDriver;

/// A message body of some `Send` type, boxed once when sent.
pub(crate) trait Body: Send {
    /// The type of the message inside.
    fn kind(&self) -> TypeId;
    /// Its name, for reports.
    fn type_name(&self) -> &'static str;
    /// The body as `Any`, to be downcast to `Typed<T>` by [`unwrap`].
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
    /// Puts the message into `entity`'s inbox for its type; gives it back if `entity`
    /// is not a running actor.
    fn into_inbox(
        self: Box<Self>,
        driver: &FrameDriver,
        entity: Entity,
    ) -> Result<(), Box<dyn Body>>;
}

struct Typed<T>(T);

impl<T: Send + 'static> Body for Typed<T> {
    fn kind(&self) -> TypeId {
        TypeId::of::<T>()
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }

    fn into_inbox(
        self: Box<Self>,
        driver: &FrameDriver,
        entity: Entity,
    ) -> Result<(), Box<dyn Body>> {
        driver
            .send(entity, self.0)
            .map_err(|e| body(e.into_inner()))
    }
}

/// Wraps a body in a [`Returned`] for its sender. (A function per message type rather
/// than a method of [`Body`]: as a method, `Returned<T>` would need one for
/// `Returned<Returned<T>>`, and so on without end.)
pub(crate) type Wrap = fn(Box<dyn Body>, Destination, ReturnReason, u64) -> Box<dyn Body>;

/// The [`Wrap`] for messages of type `T`.
pub(crate) fn wrap_returned<T: Send + 'static>(
    body: Box<dyn Body>,
    to: Destination,
    reason: ReturnReason,
    frame: u64,
) -> Box<dyn Body> {
    match unwrap::<T>(body) {
        Ok(message) => self::body(Returned {
            to,
            reason,
            frame,
            message,
        }),
        Err(body) => body,
    }
}

/// Boxes `message` as a body.
pub(crate) fn body<T: Send + 'static>(message: T) -> Box<dyn Body> {
    Box::new(Typed(message))
}

/// The message inside `body`, if it is a `T` (else the body comes back).
pub(crate) fn unwrap<T: Send + 'static>(body: Box<dyn Body>) -> Result<T, Box<dyn Body>> {
    if body.kind() != TypeId::of::<T>() {
        return Err(body);
    }
    match body.into_any().downcast::<Typed<T>>() {
        Ok(typed) => Ok(typed.0),
        Err(_) => unreachable!("a body of kind T is a Typed<T>"),
    }
}

/// Where a parcel goes on its destination shard.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Route {
    /// The shard's mailbox for the body's type; undelivered, it is wrapped for its
    /// sender's mailbox of `Returned<T>`.
    Mailbox(Wrap),
    /// An actor's inbox, likewise.
    Actor(Entity, Wrap),
    /// A hand-off: cargo for the shard's arrival handler of its type.
    Cargo,
}

impl Route {
    pub(crate) fn is_cargo(&self) -> bool {
        matches!(self, Route::Cargo)
    }
}

/// When and by whom the current leg of a parcel's trip was sent: the order in which a
/// shard delivers what it received (frame, then sender, then the sender's count), which
/// is what makes lockstep runs independent of the number of threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Stamp {
    pub(crate) frame: u64,
    pub(crate) sender: ShardId,
    pub(crate) seq: u64,
}

/// A message in transit.
pub(crate) struct Parcel {
    /// The shard that first sent it (returns go back here).
    pub(crate) origin: ShardId,
    /// The shard it was sent to.
    pub(crate) destination: ShardId,
    /// The origin's frame it was first sent in.
    pub(crate) sent_frame: u64,
    pub(crate) route: Route,
    /// `Some` while it travels back to its origin, undelivered.
    pub(crate) returning: Option<ReturnReason>,
    pub(crate) stamp: Stamp,
    pub(crate) body: Box<dyn Body>,
}

impl Parcel {
    /// Where it was going, for a [`Returned`].
    pub(crate) fn destination(&self) -> Destination {
        match self.route {
            Route::Actor(entity, _) => Destination::Actor(super::id::Address {
                shard: self.destination,
                entity,
            }),
            Route::Mailbox(_) | Route::Cargo => Destination::Mailbox(self.destination),
        }
    }
}
