//! The books every shard keeps: what happened to each message it sent or received, what
//! happened to each hand-off, and a description of every message it had to drop.

use std::fmt;
use std::ops::{Add, AddAssign};

use super::id::ShardId;

/// What happened to cross-shard messages (hand-offs included), counted where it
/// happened: `sent` by the sender, `delivered` by the receiver, `returned` by the sender
/// when one comes back to it, `dropped` by whichever shard had to give up on one.
///
/// Summed over a cluster that has stopped, the books balance: every message sent was
/// delivered, returned or dropped ([`MessageCounts::balanced`]).
///
/// # Examples
///
/// ```
/// use engine::shard::MessageCounts;
/// let a = MessageCounts { sent: 5, delivered: 1, returned: 0, dropped: 0 };
/// let b = MessageCounts { sent: 0, delivered: 3, returned: 0, dropped: 1 };
/// assert!(!a.balanced()); // three are in B's books
/// assert!((a + b).balanced());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MessageCounts {
    /// Messages this shard sent (accepted by the transport).
    pub sent: u64,
    /// Messages delivered to this shard: into a mailbox, into an actor's inbox, or a
    /// hand-off whose entity arrived.
    pub delivered: u64,
    /// Messages this shard sent that came back to it undelivered, and were handed to it
    /// (a [`Returned`](super::Returned) in its mailbox, or a hand-off's entity back in
    /// its world).
    pub returned: u64,
    /// Messages this shard gave up on: left in transit when the cluster stopped, or
    /// undeliverable and impossible to return. Each one is described in the shard's
    /// report.
    pub dropped: u64,
}

impl MessageCounts {
    /// Messages sent but not (yet) delivered, returned or dropped: 0 for a stopped
    /// cluster's totals. Negative for one shard whose books hold another's messages.
    pub fn in_transit(&self) -> i64 {
        self.sent as i64 - (self.delivered + self.returned + self.dropped) as i64
    }

    /// Whether every message sent is accounted for.
    pub fn balanced(&self) -> bool {
        self.in_transit() == 0
    }
}

impl Add for MessageCounts {
    type Output = MessageCounts;

    fn add(mut self, other: MessageCounts) -> MessageCounts {
        self += other;
        self
    }
}

impl AddAssign for MessageCounts {
    fn add_assign(&mut self, other: MessageCounts) {
        self.sent += other.sent;
        self.delivered += other.delivered;
        self.returned += other.returned;
        self.dropped += other.dropped;
    }
}

impl std::iter::Sum for MessageCounts {
    fn sum<I: Iterator<Item = MessageCounts>>(iter: I) -> MessageCounts {
        iter.fold(MessageCounts::default(), Add::add)
    }
}

/// What happened to entities handed from shard to shard (see
/// [`hand_off`](super::hand_off)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HandOffCounts {
    /// Entities that left this shard (their components packed and sent, their tasklets
    /// killed, their entities despawned).
    pub departed: u64,
    /// Entities that arrived here and started a fresh behaviour.
    pub arrived: u64,
    /// Entities that left this shard, could not be taken where they went, and came back
    /// here (through this shard's own arrival handler).
    pub came_back: u64,
    /// Hand-offs asked for whose actor did not outlive its frame (despawned, killed,
    /// panicked or returned before the frame ended): nothing left.
    pub cancelled: u64,
    /// Hand-offs this shard would not make (no such shard, or the entity lacks the
    /// cargo's components); the behaviour was told why.
    pub refused: u64,
    /// Entities that left and were lost in transit (the cluster stopped, or neither
    /// side could take them back); each one is described in a report.
    pub lost: u64,
}

impl Add for HandOffCounts {
    type Output = HandOffCounts;

    fn add(mut self, other: HandOffCounts) -> HandOffCounts {
        self.departed += other.departed;
        self.arrived += other.arrived;
        self.came_back += other.came_back;
        self.cancelled += other.cancelled;
        self.refused += other.refused;
        self.lost += other.lost;
        self
    }
}

impl std::iter::Sum for HandOffCounts {
    fn sum<I: Iterator<Item = HandOffCounts>>(iter: I) -> HandOffCounts {
        iter.fold(HandOffCounts::default(), Add::add)
    }
}

/// Why a message could not be delivered where it was sent (it goes back to its sender).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReturnReason {
    /// The addressed entity is not a running actor on the receiving shard (it never
    /// was, left, or died).
    NoActor(hecs::Entity),
    /// The receiving shard has no mailbox for the message's type.
    NoMailbox,
    /// The receiving shard has no arrival handler for the hand-off's cargo type.
    NoArrivalHandler,
    /// The receiving shard failed (a panic it could not contain) and takes nothing.
    ShardFailed,
}

impl fmt::Display for ReturnReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReturnReason::NoActor(e) => write!(f, "entity {e:?} is not a running actor"),
            ReturnReason::NoMailbox => f.write_str("no mailbox for this message type"),
            ReturnReason::NoArrivalHandler => f.write_str("no arrival handler for this cargo type"),
            ReturnReason::ShardFailed => f.write_str("the shard has failed"),
        }
    }
}

/// Why a message was dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// It was still in transit when the cluster stopped.
    Stopped,
    /// It could not be delivered (the reason) and its sender could not take it back:
    /// the sender has no mailbox for `Returned<T>` (or no arrival handler for the
    /// cargo), or has failed.
    Unreturnable(ReturnReason),
    /// The arrival handler it was given to panicked.
    HandlerPanicked,
    /// The arrival handler could not spawn the entity (the engine's error).
    ArrivalFailed(String),
    /// The transport refused it (the receiving shard's channel was closed).
    Closed,
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::Stopped => f.write_str("in transit when the cluster stopped"),
            DropReason::Unreturnable(why) => {
                write!(f, "undeliverable ({why}) and could not be returned")
            }
            DropReason::HandlerPanicked => f.write_str("its arrival handler panicked"),
            DropReason::ArrivalFailed(e) => write!(f, "its arrival failed: {e}"),
            DropReason::Closed => f.write_str("the receiving shard's channel was closed"),
        }
    }
}

/// A message that was dropped, as the shard that dropped it reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// The shard that sent it first.
    pub origin: ShardId,
    /// The shard it was sent to.
    pub destination: ShardId,
    /// The frame (of the shard that last sent it) it was sent in.
    pub frame: u64,
    /// Its type (for a hand-off, the cargo's).
    pub message_type: &'static str,
    /// Whether it was a hand-off (an entity lost with it).
    pub hand_off: bool,
    /// Why it was dropped.
    pub reason: DropReason,
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.hand_off { "hand-off" } else { "message" };
        write!(
            f,
            "{what} {} from {} to {} (sent in frame {}): {}",
            self.message_type, self.origin, self.destination, self.frame, self.reason
        )
    }
}
