//! ECS systems: plain functions over the world, run in the driver's system phase, which
//! talk to tasklets through inboxes and command queues.

use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use hecs::{DynamicBundle, Entity, World};
use uthread::Scheduler;

use crate::actor::{self, Actor};
use crate::command::CommandQueue;
use crate::error::{SendError, SpawnError};
use crate::hub::Hub;
use crate::rng::Rng;

/// A system as the driver stores it.
pub(crate) struct SystemEntry {
    pub(crate) name: Rc<str>,
    pub(crate) run: Box<dyn FnMut(&mut SystemContext<'_>)>,
}

/// What a system works with during the system phase: the world (exclusively), the
/// actors' inboxes, the command queues, and actor spawning and despawning, which take
/// effect at once.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use engine::{Actor, FrameDriver};
///
/// struct Radiation(u32);
/// struct Damaged(u32);
///
/// let mut world = hecs::World::new();
/// let mut driver = FrameDriver::new();
/// driver.add_system("radiation", |sys| {
///     let hits: Vec<_> = sys.world().query::<(hecs::Entity, &Radiation)>()
///         .iter()
///         .map(|(e, r)| (e, r.0))
///         .collect();
///     for (e, dose) in hits {
///         let _ = sys.send(e, Damaged(dose));
///     }
/// });
/// let miner = driver.spawn(&mut world, (Radiation(2), 10u32), Actor::new(|ctx| {
///     while let Ok(Damaged(n)) = ctx.recv() {
///         ctx.update(|hp: &mut u32| *hp -= n);
///     }
/// })).unwrap();
/// for _ in 0..3 {
///     driver.tick(&mut world, Duration::from_millis(16));
/// }
/// assert_eq!(*world.get::<&u32>(miner).unwrap(), 4);
/// ```
pub struct SystemContext<'a> {
    pub(crate) world: &'a mut World,
    pub(crate) hub: &'a Rc<Hub>,
    pub(crate) scheduler: &'a Scheduler,
    pub(crate) rng: &'a mut Rng,
    pub(crate) frame: u64,
    pub(crate) dt: Duration,
    /// Actors started and stopped by this system, for the frame's stats.
    pub(crate) spawned: usize,
    pub(crate) stopped: usize,
}

impl fmt::Debug for SystemContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SystemContext")
            .field("frame", &self.frame)
            .field("dt", &self.dt)
            .finish_non_exhaustive()
    }
}

impl SystemContext<'_> {
    /// The world, exclusively (no tasklet runs during the system phase).
    ///
    /// Despawn actors with [`SystemContext::despawn`] rather than `World::despawn`, so
    /// that their tasklets stop at once; one despawned behind the driver's back is
    /// still stopped, right after the system phase.
    pub fn world(&mut self) -> &mut World {
        self.world
    }

    /// The frame number (the first tick is frame 1).
    pub fn frame(&self) -> u64 {
        self.frame
    }

    /// This frame's `dt`.
    pub fn dt(&self) -> Duration {
        self.dt
    }

    /// Game time (already advanced by this frame's `dt`).
    pub fn now(&self) -> Duration {
        self.scheduler.now()
    }

    /// The driver's random generator (seeded by
    /// [`FrameDriverBuilder::seed`](crate::FrameDriverBuilder::seed)).
    pub fn rng(&mut self) -> &mut Rng {
        self.rng
    }

    /// Puts an event into the inbox of `to`, without blocking. Its behaviour gets it
    /// in this frame's tasklet phase.
    ///
    /// # Errors
    ///
    /// [`SendError`] (with the event) when `to` is not a running actor.
    pub fn send<E: 'static>(&mut self, to: Entity, event: E) -> Result<(), SendError<E>> {
        self.hub.deliver(to, event)
    }

    /// The command queue for commands of type `C`, to drain.
    pub fn commands<C: 'static>(&mut self) -> CommandQueue<C> {
        self.hub.command_queue::<C>()
    }

    /// Spawns an entity and starts `actor` on it; it first runs in this frame's tasklet
    /// phase.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Tasklet`] when no tasklet can be made; the entity is not left
    /// behind.
    pub fn spawn(
        &mut self,
        components: impl DynamicBundle,
        actor: Actor,
    ) -> Result<Entity, SpawnError> {
        let entity = self.world.spawn(components);
        match actor::start(self.hub, self.scheduler, self.world, entity, actor) {
            Ok(()) => {
                self.spawned += 1;
                Ok(entity)
            }
            Err(e) => {
                let _ = self.world.despawn(entity);
                Err(e)
            }
        }
    }

    /// Starts `actor` on an existing entity.
    ///
    /// # Errors
    ///
    /// [`SpawnError::NoSuchEntity`], [`SpawnError::AlreadyAnActor`], or
    /// [`SpawnError::Tasklet`].
    pub fn attach(&mut self, entity: Entity, actor: Actor) -> Result<(), SpawnError> {
        actor::start(self.hub, self.scheduler, self.world, entity, actor)?;
        self.spawned += 1;
        Ok(())
    }

    /// Despawns `entity`; if it is an actor, its tasklet is killed first and unwinds
    /// at once (its destructors run). Returns whether the entity existed.
    pub fn despawn(&mut self, entity: Entity) -> bool {
        if actor::stop(self.hub, self.world, entity).is_some() {
            self.stopped += 1;
        }
        self.world.despawn(entity).is_ok()
    }

    /// Whether `entity` has a running behaviour.
    pub fn is_actor(&self, entity: Entity) -> bool {
        self.hub.actors.borrow().get(entity).is_some()
    }
}
