//! The context a behaviour receives: its entity, its world access, its inboxes, its
//! blocking calls and the commands it may queue; with the [`Actor`] that runs a behaviour
//! and the [`WorldCommand`] that carries one to the command phase, which name `Context`
//! in turn and so live beside it.

use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use frame_core::{Inboxes, OnReturn};
use hecs::{Component, DynamicBundle, Entity, EntityBuilder, Query, World};
use uthread::{RecvError, TryRecvError, WaitError};

use crate::access::WorldAccess;
use crate::error::SendError;
use crate::hub_state::{ActorEvent, HubState};
use crate::inbox::Inbox;
use crate::rng::Rng;

/// A behaviour and its options, ready to be spawned onto an entity.
///
/// The behaviour is plain sequential code that may block anywhere through its
/// [`Context`]; it runs as a tasklet, resumed by the driver within each frame's budget.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use engine::{Actor, FrameDriver};
///
/// struct Fuel(u32);
///
/// let mut world = hecs::World::new();
/// let mut driver = FrameDriver::new();
/// let probe = driver
///     .spawn(
///         &mut world,
///         (Fuel(3),),
///         Actor::new(|ctx| {
///             // Burn one unit per frame until empty, then vanish.
///             while ctx.update(|f: &mut Fuel| { f.0 -= 1; f.0 }) > Some(0) {
///                 ctx.be_nice().unwrap();
///             }
///         })
///         .name("probe")
///         .despawn_on_return(),
///     )
///     .unwrap();
/// for _ in 0..3 {
///     driver.tick(&mut world, Duration::from_millis(16));
/// }
/// assert!(!world.contains(probe));
/// ```
// Its builder methods, and how an actor starts and stops, are in `actor.rs`.
#[must_use = "an actor does nothing until it is spawned"]
pub struct Actor {
    pub(crate) behaviour: Box<dyn FnOnce(&mut Context)>,
    pub(crate) name: Option<String>,
    pub(crate) stack_size: Option<usize>,
    pub(crate) on_return: OnReturn,
}

impl fmt::Debug for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Actor")
            .field("name", &self.name)
            .field("stack_size", &self.stack_size)
            .field("on_return", &self.on_return)
            .finish_non_exhaustive()
    }
}

/// A world change queued by a tasklet, applied in the command phase in queue order.
pub(crate) enum WorldCommand {
    /// Fill a reserved entity with components, and start its behaviour if it has one.
    Spawn {
        entity: Entity,
        components: EntityBuilder,
        actor: Option<Actor>,
    },
    Despawn(Entity),
    Insert(Entity, EntityBuilder),
    Remove(Entity, fn(&mut World, Entity)),
}

/// What a behaviour works through: one per actor, lent to its behaviour for as long as
/// it runs.
///
/// The rule that keeps world access safe: **everything that touches the world and
/// everything that can block or yield takes `&mut self`.** A [`WorldAccess`] (and every
/// component reference taken from it) borrows the context, so the borrow checker
/// rejects any attempt to hold one across [`be_nice`](Context::be_nice),
/// [`sleep`](Context::sleep), [`recv`](Context::recv) or
/// [`blocking`](Context::blocking). Blocking calls that are not methods here (a
/// `uthread::Channel`, a `select`, a lock) go inside [`Context::blocking`].
///
/// Structural changes (spawn, despawn, insert, remove) are queued and applied in the
/// command phase of the same frame; see [`phases`](crate::phases).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use engine::{Actor, FrameDriver};
///
/// struct Hull(i32);
/// struct Damaged { amount: i32 }
///
/// let mut world = hecs::World::new();
/// let mut driver = FrameDriver::new();
/// let ship = driver.spawn(&mut world, (Hull(50),), Actor::new(|ctx| {
///     // Script: take hits until the hull is gone, then explode.
///     while let Ok(Damaged { amount }) = ctx.recv::<Damaged>() {
///         let hull = ctx.update(|h: &mut Hull| { h.0 -= amount; h.0 }).unwrap();
///         if hull <= 0 {
///             let me = ctx.entity();
///             ctx.despawn(me);
///             ctx.be_nice().unwrap(); // killed in the command phase
///         }
///     }
/// })).unwrap();
/// driver.tick(&mut world, Duration::from_millis(16));
/// driver.send(ship, Damaged { amount: 30 }).unwrap();
/// driver.tick(&mut world, Duration::from_millis(16));
/// assert_eq!(world.get::<&Hull>(ship).unwrap().0, 20);
/// driver.send(ship, Damaged { amount: 30 }).unwrap();
/// driver.tick(&mut world, Duration::from_millis(16));
/// assert!(!world.contains(ship));
/// ```
///
/// A component reference cannot escape a closure-style access either:
///
/// ```compile_fail
/// # struct Hull(i32);
/// engine::Actor::new(|ctx| {
///     let hull: &mut Hull = ctx.with::<&mut Hull, _>(|h| h).unwrap();
///     ctx.be_nice().unwrap();
///     hull.0 -= 1;
/// });
/// ```
pub struct Context {
    entity: Entity,
    name: Rc<str>,
    hub: Rc<HubState<WorldCommand>>,
    rng: Rng,
    /// Handles of this actor's inboxes, so that receiving does not look them up.
    inboxes: Inboxes<Entity>,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("entity", &self.entity)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Context {
    pub(crate) fn new(
        entity: Entity,
        name: Rc<str>,
        hub: Rc<HubState<WorldCommand>>,
        rng: Rng,
    ) -> Context {
        Context {
            entity,
            name,
            hub,
            rng,
            inboxes: Inboxes::new(entity),
        }
    }

    /// Called by the tasklet body when the behaviour has returned. A behaviour that
    /// caught its kill's unwind and then returned is no longer its entity's actor (it
    /// was stopped, and the entity may have a new behaviour by now): its return is
    /// ignored, so that it cannot stop its successor.
    pub(crate) fn returned(&self) {
        let me = uthread::current().map(|t| t.id());
        let current = self
            .hub
            .actors
            .borrow()
            .get(self.entity)
            .is_some_and(|slot| Some(slot.tasklet.id()) == me);
        if current {
            self.hub
                .events
                .borrow_mut()
                .push(ActorEvent::Returned(self.entity));
        }
    }

    /// This actor's entity.
    pub fn entity(&self) -> Entity {
        self.entity
    }

    /// This actor's tasklet name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Game time: the sum of every `dt` ticked so far.
    pub fn now(&self) -> Duration {
        uthread::now()
    }

    /// The number of the frame being run (the first tick is frame 1).
    pub fn frame(&self) -> u64 {
        self.hub.frame.get().number
    }

    /// The `dt` of the frame being run.
    pub fn dt(&self) -> Duration {
        self.hub.frame.get().dt
    }

    /// This actor's random generator: seeded from the driver's seed and the actor's
    /// spawn number, so a replay draws the same numbers.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    // ---- the world --------------------------------------------------------------

    /// Opens the world for the rest of this slice (or until the access is dropped): own
    /// components to read and write, everything else to read. See [`WorldAccess`].
    ///
    /// # Panics
    ///
    /// If the world cannot be had: only when a `WorldAccess` was leaked
    /// (`std::mem::forget`).
    #[inline]
    pub fn world(&mut self) -> WorldAccess<'_> {
        let world = self.hub.borrow_world(self.entity);
        WorldAccess::new(world, self.entity, &self.hub.loan)
    }

    /// A copy of one of this entity's components.
    #[inline]
    pub fn get<T: Component + Clone>(&mut self) -> Option<T> {
        self.world().get::<T>().map(|c| (*c).clone())
    }

    /// Changes one of this entity's components in place; returns what `f` returns, or
    /// `None` if the entity has no such component.
    #[inline]
    pub fn update<T: Component, R>(&mut self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        self.world().query_one::<&mut T>().map(f)
    }

    /// Runs `f` on several of this entity's components at once, e.g.
    /// `ctx.with::<(&mut Pos, &Vel), _>(|(p, v)| p.0 += v.0)`. `None` if the entity does
    /// not match `Q`.
    #[inline]
    pub fn with<Q: Query, R>(&mut self, f: impl FnOnce(Q::Item<'_>) -> R) -> Option<R> {
        let mut world = self.world();
        world.query_one::<Q>().map(f)
    }

    // ---- blocking and yielding ------------------------------------------------------

    /// Yields until the next frame (CCP's BeNice): the tasklet runs again in the next
    /// frame's tasklet phase, after the tasklets that were already waiting.
    ///
    /// # Errors
    ///
    /// [`WaitError::Thrown`] when an error is thrown in (the watchdog's
    /// [`Throw`](crate::WatchdogPolicy::Throw) policy does this), [`WaitError::Killed`]
    /// while the tasklet is being killed.
    #[inline]
    pub fn be_nice(&mut self) -> Result<(), WaitError> {
        uthread::be_nice()
    }

    /// Yields within the frame: the tasklet goes to the back of the run queue and runs
    /// again in this frame if the budget allows.
    ///
    /// # Errors
    ///
    /// As [`Context::be_nice`].
    pub fn yield_now(&mut self) -> Result<(), WaitError> {
        uthread::schedule()
    }

    /// Sleeps `d` of game time (the frame's `dt` advances it). Zero waits for the next
    /// frame, and so does a sleep that game time cannot advance past (its deadline
    /// saturates at `Duration::MAX`), so that a sleep always yields.
    ///
    /// # Errors
    ///
    /// As [`Context::be_nice`].
    pub fn sleep(&mut self, d: Duration) -> Result<(), WaitError> {
        let now = uthread::now();
        if now.saturating_add(d) <= now {
            // At the end of time the deadline is due at once: without this, a
            // `loop { ctx.sleep(d) }` would spin in one slice for ever.
            return uthread::be_nice();
        }
        uthread::sleep(d)
    }

    /// Sleeps until game time `t`.
    ///
    /// # Errors
    ///
    /// As [`Context::be_nice`].
    pub fn sleep_until(&mut self, t: Duration) -> Result<(), WaitError> {
        uthread::sleep_until(t)
    }

    /// Runs a blocking call that is not a method of the context (a channel, a select, a
    /// lock, a join) with the world released. Taking `&mut self` is the point: no
    /// component reference can be alive across it.
    pub fn blocking<R>(&mut self, f: impl FnOnce() -> R) -> R {
        f()
    }

    // ---- inboxes --------------------------------------------------------------------

    /// This actor's inbox for events of type `E` (a handle, e.g. for a select inside
    /// [`Context::blocking`]).
    pub fn inbox<E: 'static>(&mut self) -> Inbox<E> {
        let (hub, entity) = (&self.hub, self.entity);
        self.inboxes.get_or_insert_with(|| {
            hub.inbox::<E>(entity)
                .unwrap_or_else(|| Inbox::closed(entity))
        })
    }

    /// Receives the next event of type `E`, blocking until one arrives.
    ///
    /// # Errors
    ///
    /// [`RecvError::Closed`](uthread::ChannelError::Closed) when the actor is ending,
    /// [`Thrown`](uthread::ChannelError::Thrown) and
    /// [`Killed`](uthread::ChannelError::Killed) as for [`Context::be_nice`].
    pub fn recv<E: 'static>(&mut self) -> Result<E, RecvError> {
        self.inbox::<E>().recv()
    }

    /// Like [`Context::recv`], giving up after `timeout` of game time.
    ///
    /// # Errors
    ///
    /// As [`Context::recv`], plus [`Timeout`](uthread::ChannelError::Timeout).
    pub fn recv_timeout<E: 'static>(&mut self, timeout: Duration) -> Result<E, RecvError> {
        self.inbox::<E>().recv_timeout(timeout)
    }

    /// Takes the next event of type `E` if one is waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] when none is.
    pub fn try_recv<E: 'static>(&mut self) -> Result<E, TryRecvError> {
        self.inbox::<E>().try_recv()
    }

    /// Puts an event into another actor's inbox, without blocking.
    ///
    /// # Errors
    ///
    /// [`SendError`] (with the event) when `to` is not a running actor.
    pub fn send<E: 'static>(&mut self, to: Entity, event: E) -> Result<(), SendError<E>> {
        self.hub.deliver(to, event)
    }

    /// Sends a command to the system that drains commands of type `C` (see
    /// [`CommandQueue`](crate::CommandQueue)); never blocks.
    pub fn command<C: 'static>(&mut self, command: C) {
        self.hub.command_queue::<C>().push(self.entity, command);
    }

    // ---- structural changes, applied in the command phase ------------------------------

    /// Spawns an entity with `components` and starts `actor` on it, in this frame's
    /// command phase; its behaviour first runs next frame. The entity id is reserved
    /// now, so it can be sent events at once (they wait in its inbox).
    pub fn spawn(&mut self, components: impl DynamicBundle, actor: Actor) -> Entity {
        self.spawn_with(components, Some(actor))
    }

    /// Spawns a plain entity (no behaviour) in this frame's command phase.
    pub fn spawn_entity(&mut self, components: impl DynamicBundle) -> Entity {
        self.spawn_with(components, None)
    }

    fn spawn_with(&mut self, components: impl DynamicBundle, actor: Option<Actor>) -> Entity {
        let entity = self.world().reserve_entity();
        let mut builder = EntityBuilder::new();
        builder.add_bundle(components);
        self.hub.push_command(WorldCommand::Spawn {
            entity,
            components: builder,
            actor,
        });
        entity
    }

    /// Despawns `entity` (this one included) in this frame's command phase; an actor's
    /// tasklet is killed then, unwinding its stack.
    pub fn despawn(&mut self, entity: Entity) {
        self.hub.push_command(WorldCommand::Despawn(entity));
    }

    /// Adds components to `entity` (replacing those of the same types) in this frame's
    /// command phase.
    pub fn insert(&mut self, entity: Entity, components: impl DynamicBundle) {
        let mut builder = EntityBuilder::new();
        builder.add_bundle(components);
        self.hub.push_command(WorldCommand::Insert(entity, builder));
    }

    /// Removes the component of type `T` from `entity` in this frame's command phase.
    pub fn remove<T: Component>(&mut self, entity: Entity) {
        fn remove_one<T: Component>(world: &mut World, entity: Entity) {
            // Already gone is fine: the command's intent holds.
            let _ = world.remove_one::<T>(entity);
        }
        self.hub
            .push_command(WorldCommand::Remove(entity, remove_one::<T>));
    }
}
