//! World hashes for determinism checks: a stable hash over the components a scenario
//! declares, with entities in a stable order.

use std::fmt;
use std::hash::{Hash, Hasher};

use frame_core::StableHasher;
use hecs::{Component, Entity, World};

type ComponentHashFn = Box<dyn Fn(&World, &mut Vec<(u64, u64)>)>;

/// Hashes a world over the components a scenario declares.
///
/// Each declared component type contributes, in declaration order, the entities that
/// have it (sorted by id, which is deterministic for a deterministic sequence of spawns
/// and despawns) and each one's value. Components that cannot derive `Hash` (floats)
/// are declared with a closure that feeds their bits to the hasher.
///
/// # Examples
///
/// ```
/// use std::hash::Hasher;
/// #[derive(Hash)]
/// struct Health(u32);
/// struct Position(f32, f32);
///
/// let hasher = engine::WorldHasher::new()
///     .component::<Health>()
///     .component_with::<Position>(|p, h| {
///         h.write_u32(p.0.to_bits());
///         h.write_u32(p.1.to_bits());
///     });
/// let mut world = hecs::World::new();
/// let e = world.spawn((Health(10), Position(1.0, 2.0)));
/// let before = hasher.hash(&world);
/// world.get::<&mut Health>(e).unwrap().0 = 9;
/// assert_ne!(hasher.hash(&world), before);
/// ```
pub struct WorldHasher {
    parts: Vec<(&'static str, ComponentHashFn)>,
}

impl fmt::Debug for WorldHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.parts.iter().map(|(name, _)| name))
            .finish()
    }
}

impl Default for WorldHasher {
    fn default() -> Self {
        WorldHasher::new()
    }
}

impl WorldHasher {
    /// A hasher over no components (it hashes only the declared ones).
    pub fn new() -> WorldHasher {
        WorldHasher { parts: Vec::new() }
    }

    /// Declares a component hashed with its `Hash` implementation.
    #[must_use = "the builder returns the extended hasher"]
    pub fn component<T: Component + Hash>(self) -> WorldHasher {
        self.component_with::<T>(|value, hasher| value.hash(hasher))
    }

    /// Declares a component hashed by `feed`, which writes whatever identifies a value
    /// (for floats, their bits).
    #[must_use = "the builder returns the extended hasher"]
    pub fn component_with<T: Component>(
        mut self,
        feed: impl Fn(&T, &mut StableHasher) + 'static,
    ) -> WorldHasher {
        let part: ComponentHashFn = Box::new(move |world, out| {
            for (entity, value) in world.query::<(Entity, &T)>().iter() {
                let mut h = StableHasher::new();
                feed(value, &mut h);
                out.push((entity.to_bits().get(), h.finish()));
            }
        });
        self.parts.push((std::any::type_name::<T>(), part));
        self
    }

    /// The hash of `world` over the declared components.
    pub fn hash(&self, world: &World) -> u64 {
        let mut total = StableHasher::new();
        let mut rows = Vec::new();
        for (index, (_, part)) in self.parts.iter().enumerate() {
            rows.clear();
            part(world, &mut rows);
            rows.sort_unstable();
            total.write_usize(index);
            total.write_usize(rows.len());
            for &(entity, value) in &rows {
                total.write_u64(entity);
                total.write_u64(value);
            }
        }
        total.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Hash)]
    struct A(u32);
    #[derive(Hash)]
    struct B(u8);

    #[test]
    fn insertion_order_of_archetypes_does_not_matter_but_values_and_ids_do() {
        let hasher = WorldHasher::new().component::<A>().component::<B>();
        let mut w1 = World::new();
        let a1 = w1.spawn((A(1),));
        let b1 = w1.spawn((A(2), B(3)));
        let mut w2 = World::new();
        let a2 = w2.spawn((A(1),));
        let b2 = w2.spawn((A(2), B(3)));
        assert_eq!((a1, b1), (a2, b2));
        assert_eq!(hasher.hash(&w1), hasher.hash(&w2));

        w2.get::<&mut B>(b2).unwrap().0 = 4;
        assert_ne!(hasher.hash(&w1), hasher.hash(&w2));
        w2.get::<&mut B>(b2).unwrap().0 = 3;
        assert_eq!(hasher.hash(&w1), hasher.hash(&w2));

        // The same values on a different entity hash differently.
        w2.despawn(a2).unwrap();
        w2.spawn((A(1),));
        assert_ne!(hasher.hash(&w1), hasher.hash(&w2));
    }

    #[test]
    fn undeclared_components_are_ignored() {
        let hasher = WorldHasher::new().component::<A>();
        let mut w = World::new();
        let e = w.spawn((A(1), B(1)));
        let h = hasher.hash(&w);
        w.get::<&mut B>(e).unwrap().0 = 2;
        assert_eq!(hasher.hash(&w), h);
    }
}
