//! Who is who across shards: a shard's number, and an entity's address on a shard.

use std::fmt;

use hecs::Entity;

/// A shard's number in its cluster, from 0 to the number of shards less one.
///
/// # Examples
///
/// ```
/// use engine::shard::ShardId;
/// let jita = ShardId::new(3);
/// assert_eq!(jita.index(), 3);
/// assert_eq!(jita.to_string(), "shard 3");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShardId(u32);

impl ShardId {
    /// The shard numbered `index`.
    pub const fn new(index: u32) -> ShardId {
        ShardId(index)
    }

    /// Its number, as an index into per-shard tables.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shard {}", self.0)
    }
}

/// An entity on a shard: where an event for one actor goes. Entity ids are a shard's
/// own; the same id on another shard is another entity (or none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Address {
    /// The shard the entity lives on.
    pub shard: ShardId,
    /// The entity, in that shard's world.
    pub entity: Entity,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "entity {:?} on {}", self.entity, self.shard)
    }
}
