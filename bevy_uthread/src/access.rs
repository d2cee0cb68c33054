//! A script's access to the Bevy world during its slice.

use std::any::{Any, TypeId};
use std::cell::RefMut;
use std::fmt;
use std::ops::Deref;

use bevy_ecs::bundle::Bundle;
use bevy_ecs::change_detection::Mut;
use bevy_ecs::component::{Component, Mutable};
use bevy_ecs::entity::Entity;
use bevy_ecs::query::{QueryIter, QueryState, ReadOnlyQueryData};
use bevy_ecs::resource::Resource;
use bevy_ecs::system::Commands;
use bevy_ecs::world::{CommandQueue, World};

use crate::hub::Hub;

/// The world as one script sees it during its slice: everything to read (it derefs to
/// `&World`: `get` of any entity, resources, `entity`...), its own entity's components
/// and the world's resources to change, cached read-only queries, and [`Commands`] for
/// structural changes (spawn, despawn, insert, remove), applied right after the script
/// phase of the same frame.
///
/// Made by [`ScriptContext::world`](crate::ScriptContext::world), which borrows the
/// context mutably; every waiting call on the context does too, so neither this access
/// nor anything taken from it can be held across a wait. (A blocking call made around
/// the context, e.g. `uthread::be_nice()` called directly while this access lives, is
/// caught at run time instead: the script is killed and reported, and the world is
/// handed back.)
///
/// # Examples
///
/// ```
/// use bevy_app::App;
/// use bevy_ecs::prelude::*;
/// use bevy_uthread::{Budget, Script, UthreadPlugin};
///
/// #[derive(Component)]
/// struct Pos(f32);
/// #[derive(Component)]
/// struct Vel(f32);
///
/// let mut app = App::new();
/// app.add_plugins(UthreadPlugin::default().budget(Budget::Resumes(1_000)));
/// let e = app.world_mut().spawn((Pos(0.0), Vel(2.0), Script::new(|ctx| loop {
///     {
///         let mut world = ctx.world();
///         let v = world.get::<Vel>().unwrap().0;
///         world.get_mut::<Pos>().unwrap().0 += v;
///     } // the access ends here, before the context is used to wait
///     ctx.next_frame().unwrap();
/// }))).id();
/// app.update();
/// app.update();
/// assert_eq!(app.world().get::<Pos>(e).unwrap().0, 4.0);
/// ```
///
/// A component reference cannot be kept across a wait:
///
/// ```compile_fail,E0499
/// # use bevy_ecs::prelude::*;
/// # #[derive(Component)]
/// # struct Pos(f32);
/// bevy_uthread::Script::new(|ctx| {
///     let mut world = ctx.world();
///     let pos = world.get_mut::<Pos>().unwrap();
///     ctx.next_frame().unwrap(); // error: `*ctx` is still borrowed by `world`
///     drop(pos);
/// });
/// ```
#[must_use = "the access does nothing but hold the world until it is dropped"]
pub struct ScriptWorld<'a> {
    world: RefMut<'a, World>,
    /// Borrowed on the first `commands()` of the slice.
    commands: Option<RefMut<'a, CommandQueue>>,
    entity: Entity,
    hub: &'a Hub,
    /// A frame's time budget does not interrupt a script while it holds the world.
    _hold: uthread::PreemptionHold,
}

impl fmt::Debug for ScriptWorld<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptWorld")
            .field("entity", &self.entity)
            .field("world", &self.world.id())
            .finish()
    }
}

impl Drop for ScriptWorld<'_> {
    #[inline]
    fn drop(&mut self) {
        self.hub.loan.release();
    }
}

impl Deref for ScriptWorld<'_> {
    type Target = World;

    fn deref(&self) -> &World {
        &self.world
    }
}

impl<'a> ScriptWorld<'a> {
    #[inline]
    pub(crate) fn new(world: RefMut<'a, World>, entity: Entity, hub: &'a Hub) -> ScriptWorld<'a> {
        ScriptWorld {
            world,
            commands: None,
            entity,
            hub,
            _hold: uthread::hold_preemption(),
        }
    }

    /// The script's own entity.
    pub fn entity(&self) -> Entity {
        self.entity
    }

    /// One of the script's own components, to read (`None` if it has none of that
    /// type). Other entities' components: [`ScriptWorld::read`].
    #[inline]
    pub fn get<T: Component>(&self) -> Option<&T> {
        self.world.get::<T>(self.entity)
    }

    /// A component of any entity, to read (`None` if the entity is gone or has none of
    /// that type). (`World::get` is shadowed by [`ScriptWorld::get`], which reads the
    /// script's own.)
    #[inline]
    pub fn read<T: Component>(&self, entity: Entity) -> Option<&T> {
        self.world.get::<T>(entity)
    }

    /// One of the script's own components, to change.
    #[inline]
    pub fn get_mut<T: Component<Mutability = Mutable>>(&mut self) -> Option<Mut<'_, T>> {
        self.world.get_mut::<T>(self.entity)
    }

    /// A resource, to change (`None` if the world has none of that type).
    pub fn resource_mut<R: Resource<Mutability = Mutable>>(&mut self) -> Option<Mut<'_, R>> {
        self.world.get_resource_mut::<R>()
    }

    /// Runs `f` over a read-only query of the whole world, e.g. every
    /// `(Entity, &Pos)`. The query's state is cached across slices and scripts, so a
    /// query made every frame costs what a system's does.
    pub fn query<D: ReadOnlyQueryData + 'static, R>(
        &mut self,
        f: impl FnOnce(QueryIter<'_, '_, D, ()>) -> R,
    ) -> R {
        let key = TypeId::of::<QueryState<D>>();
        // Taken out of the cache while `f` runs, so that `f` may query too.
        let cached = self.hub.queries.borrow_mut().remove(&key);
        let mut state = match cached.and_then(|s| s.downcast::<QueryState<D>>().ok()) {
            Some(state) => *state,
            None => self.world.query::<D>(),
        };
        let result = f(state.iter(&self.world));
        self.hub
            .queries
            .borrow_mut()
            .insert(key, Box::new(state) as Box<dyn Any>);
        result
    }

    /// Commands for structural changes (spawn, despawn, insert, remove), applied right
    /// after this frame's script phase, in the order the scripts queued them. An
    /// entity spawned here has its id at once.
    pub fn commands(&mut self) -> Commands<'_, '_> {
        let hub = self.hub;
        let queue = self
            .commands
            .get_or_insert_with(|| hub.commands.borrow_mut());
        Commands::new(queue, &self.world)
    }

    /// Adds components to the script's own entity (replacing those of the same types)
    /// after the script phase; nothing happens if the entity is gone by then.
    pub fn insert(&mut self, bundle: impl Bundle) {
        let me = self.entity;
        self.commands().entity(me).try_insert(bundle);
    }

    /// Removes the components of bundle `B` from the script's own entity after the
    /// script phase.
    pub fn remove<B: Bundle>(&mut self) {
        let me = self.entity;
        self.commands().entity(me).try_remove::<B>();
    }

    /// Spawns an entity with `bundle` after the script phase (a [`Script`](crate::Script)
    /// in it starts then); its id is reserved now.
    pub fn spawn(&mut self, bundle: impl Bundle) -> Entity {
        self.commands().spawn(bundle).id()
    }

    /// Despawns `entity` (this one included) after the script phase; a script on it
    /// is killed then, unwinding its stack.
    pub fn despawn(&mut self, entity: Entity) {
        self.commands().entity(entity).try_despawn();
    }
}
