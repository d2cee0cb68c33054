//! What a receiving behaviour holds: a message with where and when it came from, and a
//! message that came back undelivered.

use std::fmt;

use super::counts::ReturnReason;
use super::id::{Address, ShardId};

/// A message as a [`Mailbox`](super::Mailbox) hands it over: its body, and which shard
/// sent it in which of that shard's frames.
#[derive(Clone, Debug, PartialEq)]
pub struct Letter<T> {
    /// The shard that sent it.
    pub from: ShardId,
    /// The sending shard's frame it was sent in.
    pub frame: u64,
    /// The message.
    pub message: T,
}

/// Where an undelivered message was going.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Destination {
    /// A shard's mailbox for the message's type.
    Mailbox(ShardId),
    /// An actor's inbox.
    Actor(Address),
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Mailbox(shard) => write!(f, "the mailbox of {shard}"),
            Destination::Actor(address) => write!(f, "the inbox of {address}"),
        }
    }
}

/// A message that could not be delivered, back with its sender. A shard that wants its
/// undeliverable `T`s back registers a `Mailbox<Returned<T>>`; without one they are
/// dropped (and counted).
#[derive(Clone, Debug, PartialEq)]
pub struct Returned<T> {
    /// Where it was going.
    pub to: Destination,
    /// Why it could not be delivered.
    pub reason: ReturnReason,
    /// The sender's frame it was first sent in.
    pub frame: u64,
    /// The message, unchanged.
    pub message: T,
}
