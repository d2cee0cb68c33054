//! A behaviour's access to the world during its slice.

use std::cell::RefMut;
use std::fmt;

use frame_core::WorldLoan;
use hecs::{Component, Entity, Query, QueryBorrow, QueryShared, World};

/// The world as one actor sees it during its slice: its own entity's components to read
/// and write, every other entity's to read.
///
/// Made by [`Context::world`](crate::Context::world), which borrows the context
/// mutably; every blocking or yielding call on the context does too, so neither this
/// access nor any component reference taken from it can be held across a switch. (A
/// blocking call made around the context, e.g. `uthread::be_nice()` called directly
/// while this access lives, is caught at run time instead: the tasklet is killed and
/// reported, and the world is handed back.)
///
/// Components of other entities are read-only here; change them by sending an event to
/// the entity's inbox or a command to a system. Adding or removing components and
/// spawning or despawning entities are structural changes, queued through the context
/// and applied in the command phase.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use engine::{Actor, FrameDriver};
///
/// struct Pos(f32);
/// struct Vel(f32);
///
/// let mut world = hecs::World::new();
/// let mut driver = FrameDriver::new();
/// let e = driver.spawn(&mut world, (Pos(0.0), Vel(2.0)), Actor::new(|ctx| loop {
///     {
///         let world = ctx.world();
///         let mut pos = world.get_mut::<Pos>().unwrap();
///         pos.0 += world.get::<Vel>().unwrap().0;
///     } // the access ends here, before the context is used to yield
///     ctx.be_nice().unwrap();
/// })).unwrap();
/// driver.tick(&mut world, Duration::from_millis(16));
/// driver.tick(&mut world, Duration::from_millis(16));
/// assert_eq!(world.get::<&Pos>(e).unwrap().0, 4.0);
/// ```
///
/// A component reference cannot be kept across a yield:
///
/// ```compile_fail,E0499
/// # struct Pos(f32);
/// engine::Actor::new(|ctx| {
///     let world = ctx.world();
///     let pos = world.get_mut::<Pos>().unwrap();
///     ctx.be_nice().unwrap(); // error: `*ctx` is still borrowed by `world`
///     drop(pos);
/// });
/// ```
#[must_use = "the access does nothing but hold the world until it is dropped"]
pub struct WorldAccess<'a> {
    world: RefMut<'a, World>,
    entity: Entity,
    loan: &'a WorldLoan<World, Entity>,
    /// A frame's time budget does not interrupt a behaviour while it holds the world.
    _hold: uthread::PreemptionHold,
}

impl fmt::Debug for WorldAccess<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorldAccess")
            .field("entity", &self.entity)
            .field("entities", &self.world.len())
            .finish()
    }
}

impl Drop for WorldAccess<'_> {
    #[inline]
    fn drop(&mut self) {
        self.loan.release();
    }
}

impl<'a> WorldAccess<'a> {
    #[inline]
    pub(crate) fn new(
        world: RefMut<'a, World>,
        entity: Entity,
        loan: &'a WorldLoan<World, Entity>,
    ) -> WorldAccess<'a> {
        WorldAccess {
            world,
            entity,
            loan,
            _hold: uthread::hold_preemption(),
        }
    }

    /// Reserves an entity id for a spawn applied in the command phase.
    pub(crate) fn reserve_entity(&self) -> Entity {
        self.world.reserve_entity()
    }

    /// The actor's own entity.
    pub fn entity(&self) -> Entity {
        self.entity
    }

    /// One of the actor's own components, to read (`None` if it has none of that type,
    /// or its entity is gone).
    ///
    /// # Panics
    ///
    /// If the same component of an entity in the same archetype is borrowed mutably at
    /// the same time (hecs checks this at run time).
    #[inline]
    pub fn get<T: Component>(&self) -> Option<hecs::Ref<'_, T>> {
        self.world.get::<&T>(self.entity).ok()
    }

    /// One of the actor's own components, to change.
    ///
    /// # Panics
    ///
    /// If that component is borrowed already (hecs checks this at run time).
    #[inline]
    pub fn get_mut<T: Component>(&self) -> Option<hecs::RefMut<'_, T>> {
        self.world.get::<&mut T>(self.entity).ok()
    }

    /// Whether the actor's entity has a component of type `T`.
    pub fn has<T: Component>(&self) -> bool {
        self.world.entity(self.entity).is_ok_and(|e| e.has::<T>())
    }

    /// Several of the actor's own components at once, e.g. `(&mut Pos, &Vel)`, with no
    /// run-time borrow checks (the access is exclusive). `None` if the entity does not
    /// match `Q`.
    #[inline]
    pub fn query_one<Q: Query>(&mut self) -> Option<Q::Item<'_>> {
        self.world.query_one_mut::<Q>(self.entity).ok()
    }

    /// A component of any entity, to read.
    ///
    /// # Panics
    ///
    /// If it is borrowed mutably already (the actor's own, through
    /// [`WorldAccess::get_mut`]).
    pub fn read<T: Component>(&self, entity: Entity) -> Option<hecs::Ref<'_, T>> {
        self.world.get::<&T>(entity).ok()
    }

    /// A read-only query over the whole world, e.g. every `(Entity, &Pos)`.
    pub fn query<Q: Query + QueryShared>(&self) -> QueryBorrow<'_, Q> {
        self.world.query::<Q>()
    }

    /// Whether `entity` exists.
    pub fn contains(&self, entity: Entity) -> bool {
        self.world.contains(entity)
    }

    /// Whether `entity` exists and matches the query `Q` (e.g. has a component).
    pub fn satisfies<Q: Query>(&self, entity: Entity) -> bool {
        self.world.satisfies::<Q>(entity)
    }

    /// How many entities the world holds.
    pub fn len(&self) -> u32 {
        self.world.len()
    }

    /// Whether the world holds no entity.
    pub fn is_empty(&self) -> bool {
        self.world.is_empty()
    }
}
