//! Actors: an entity plus the tasklet running its behaviour. What a behaviour is, how it
//! starts, and how it ends (returns, is despawned, crashes).

use std::rc::Rc;

pub use frame_core::{CrashPolicy, OnReturn};
use hecs::{Entity, World};
use uthread::{Builder, Scheduler};

pub use crate::context::Actor;
use crate::context::Context;
use crate::error::SpawnError;
use crate::hub::Hub;
use crate::rng::Rng;

/// Marks an entity whose behaviour crashed (under [`CrashPolicy::MarkCrashed`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crashed {
    /// The name of the tasklet that ran the behaviour.
    pub tasklet: String,
    /// What went wrong (the panic message, or why it was killed).
    pub reason: String,
    /// The frame it happened in.
    pub frame: u64,
}

impl Actor {
    /// An actor running `behaviour`, unnamed (its tasklet is named after its entity),
    /// kept when the behaviour returns.
    pub fn new(behaviour: impl FnOnce(&mut Context) + 'static) -> Actor {
        Actor {
            behaviour: Box::new(behaviour),
            name: None,
            stack_size: None,
            on_return: OnReturn::Keep,
        }
    }

    /// Names its tasklet (shown in stats, incidents, traces and uthread's reports).
    pub fn name(mut self, name: impl Into<String>) -> Actor {
        self.name = Some(name.into());
        self
    }

    /// Its tasklet's usable stack size in bytes (default: the driver's).
    pub fn stack_size(mut self, bytes: usize) -> Actor {
        self.stack_size = Some(bytes);
        self
    }

    /// What happens to the entity when the behaviour returns.
    pub fn on_return(mut self, on_return: OnReturn) -> Actor {
        self.on_return = on_return;
        self
    }

    /// Shorthand for `on_return(OnReturn::Despawn)`.
    pub fn despawn_on_return(self) -> Actor {
        self.on_return(OnReturn::Despawn)
    }
}

/// Starts `actor`'s behaviour on `entity` (which holds its components already). The
/// tasklet is scheduled: it first runs in the next tasklet phase.
pub(crate) fn start(
    hub: &Rc<Hub>,
    scheduler: &Scheduler,
    world: &World,
    entity: Entity,
    actor: Actor,
) -> Result<(), SpawnError> {
    if !world.contains(entity) {
        return Err(SpawnError::NoSuchEntity(entity));
    }
    if hub.actors.borrow().get(entity).is_some() {
        return Err(SpawnError::AlreadyAnActor(entity));
    }
    let name: Rc<str> = match actor.name {
        Some(name) => name.into(),
        None => format!("actor {entity:?}").into(),
    };
    let number = hub.started.get();
    hub.started.set(number + 1);
    let rng = Rng::stream(hub.seed, number);
    let mut ctx = Context::new(entity, name.clone(), hub.clone(), rng);
    let behaviour = actor.behaviour;
    let mut builder = Builder::new().name(&*name);
    if let Some(bytes) = actor.stack_size {
        builder = builder.stack_size(bytes);
    }
    let handle = builder.spawn_on(scheduler, move || {
        behaviour(&mut ctx);
        ctx.returned();
    })?;
    let tasklet = handle.tasklet().clone();
    hub.stall_labels.borrow().insert(tasklet.id(), entity);
    // Detach: a panic then goes to the scheduler's error handler, which maps it back to
    // the entity.
    drop(handle);
    hub.actors
        .borrow_mut()
        .insert(entity, tasklet, name, actor.on_return);
    Ok(())
}

/// Forgets `entity`'s actor, closes its inboxes and kills its tasklet (which unwinds at
/// once, with the world lent so that its destructors see it). Returns the tasklet's name
/// if there was an actor.
pub(crate) fn stop(hub: &Hub, world: &mut World, entity: Entity) -> Option<Rc<str>> {
    let slot = hub.actors.borrow_mut().remove(entity)?;
    hub.stall_labels.borrow().remove(slot.tasklet.id());
    slot.inboxes.close_all();
    if slot.tasklet.is_alive() {
        let lent = hub.lend(world);
        // Killing a live tasklet from the main context fails only when its behaviour
        // keeps catching the kill (it is parked, alive, and leaked until the scheduler
        // goes); a dead one is a no-op. The actor is gone either way: say so.
        if let Err(error) = slot.tasklet.kill() {
            eprintln!(
                "engine: actor '{}' (entity {entity:?}, tasklet {}) was stopped, but its \
                 tasklet could not be killed: {error}",
                slot.name,
                slot.tasklet.id()
            );
        }
        lent.reclaim();
    }
    Some(slot.name)
}

/// Despawns `entity`, stopping its actor first if it has one. Returns whether the entity
/// existed.
pub(crate) fn despawn(hub: &Hub, world: &mut World, entity: Entity) -> bool {
    stop(hub, world, entity);
    world.despawn(entity).is_ok()
}

/// Applies `policy` to the entity of a crashed actor.
pub(crate) fn crash(
    world: &mut World,
    policy: CrashPolicy,
    entity: Entity,
    crashed: Crashed,
) -> bool {
    match policy {
        CrashPolicy::MarkCrashed => world.insert_one(entity, crashed).is_ok(),
        CrashPolicy::Despawn => world.despawn(entity).is_ok(),
    }
}
