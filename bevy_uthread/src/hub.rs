//! The state that the plugin's frame shares with every script's context: the world on
//! loan, the script registry, queued commands and events, and the frame's number.
//!
//! Borrow discipline as in the engine: every `RefCell` here is borrowed only for short,
//! non-blocking stretches, except the world on loan and the command queue, which a
//! [`ScriptWorld`](crate::ScriptWorld) holds for as long as it lives (never across a
//! switch, which the borrow checker and the loan's backstop see to).

use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell, RefMut};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use bevy_ecs::entity::Entity;
use bevy_ecs::world::{CommandQueue, World};
use frame_core::{Incident, Lent, WorldLoan};
use uthread::Tasklet;

use crate::error::SendError;

pub(crate) type Registry = frame_core::Registry<Entity>;
pub(crate) type ScriptEvent = frame_core::ActorEvent<Entity>;

/// Frame number and step, as contexts see them.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FrameInfo {
    pub(crate) number: u64,
    pub(crate) dt: Duration,
}

/// Shared between the runtime, the `Script` hooks and every context.
pub(crate) struct Hub {
    /// The Bevy world while scripts run (and while a killed script unwinds).
    pub(crate) loan: WorldLoan<World, Entity>,
    pub(crate) scripts: RefCell<Registry>,
    /// Structural changes queued by scripts, applied after the tasklet phase.
    pub(crate) commands: RefCell<CommandQueue>,
    pub(crate) events: RefCell<Vec<ScriptEvent>>,
    /// Incidents found outside a frame (a `Script` whose tasklet could not be made),
    /// reported in the next frame's stats.
    pub(crate) incidents: RefCell<Vec<Incident<Entity>>>,
    /// Tasklets of scripts whose component was removed or whose entity was despawned,
    /// to be killed with the world lent.
    pub(crate) doomed: RefCell<Vec<Tasklet>>,
    /// Primitives shared between scripts by name (see `ScriptContext::shared`).
    pub(crate) shared: RefCell<HashMap<(TypeId, String), Box<dyn Any>>>,
    /// Query states of `ScriptWorld::query`, by type.
    pub(crate) queries: RefCell<HashMap<TypeId, Box<dyn Any>>>,
    pub(crate) frame: Cell<FrameInfo>,
    /// Scripts started and stopped since the last frame's stats.
    pub(crate) started: Cell<usize>,
    pub(crate) stopped: Cell<usize>,
}

impl Hub {
    pub(crate) fn new() -> Hub {
        Hub {
            loan: WorldLoan::new(World::new()),
            scripts: RefCell::new(Registry::default()),
            commands: RefCell::new(CommandQueue::default()),
            events: RefCell::new(Vec::new()),
            incidents: RefCell::new(Vec::new()),
            doomed: RefCell::new(Vec::new()),
            shared: RefCell::new(HashMap::new()),
            queries: RefCell::new(HashMap::new()),
            frame: Cell::new(FrameInfo::default()),
            started: Cell::new(0),
            stopped: Cell::new(0),
        }
    }

    /// Borrows the world for `me`'s slice, evicting a suspended holder first.
    #[inline]
    pub(crate) fn borrow_world(&self, me: Entity) -> RefMut<'_, World> {
        self.loan.borrow(me, |holder| self.evict(holder))
    }

    /// Lends `world` to the scripts for as long as the guard lives.
    pub(crate) fn lend<'a>(
        &'a self,
        world: &'a mut World,
    ) -> Lent<'a, World, Entity, impl Fn(Entity) -> bool + 'a> {
        self.loan.lend(world, |holder| self.evict(holder))
    }

    /// Kills `holder`, which suspended while borrowing the world; its unwinding drops
    /// the borrow. Returns whether it was a script that could be killed.
    fn evict(&self, holder: Entity) -> bool {
        let tasklet = self.scripts.borrow().get(holder).map(|s| s.tasklet.clone());
        let Some(tasklet) = tasklet else {
            return false;
        };
        self.events
            .borrow_mut()
            .push(ScriptEvent::HeldWorld(holder));
        tasklet.kill().is_ok()
    }

    /// Puts `message` into the inbox of `to` (made now if it has none) without blocking.
    pub(crate) fn deliver<M: 'static>(&self, to: Entity, message: M) -> Result<(), SendError<M>> {
        let inbox = self.scripts.borrow_mut().inbox::<M>(to);
        match inbox {
            Some(inbox) => inbox.put(message).map_err(|event| SendError { event, to }),
            None => Err(SendError { event: message, to }),
        }
    }

    /// Puts a copy of `message` into every inbox for `M` that a script has opened, in
    /// the registry's (deterministic) order. Returns how many got one.
    pub(crate) fn broadcast<M: Clone + 'static>(&self, message: &M) -> usize {
        // Collected first: a put may wake a script, and nothing may hold the registry then.
        let inboxes: Vec<_> = {
            let scripts = self.scripts.borrow();
            scripts
                .entities()
                .iter()
                .filter_map(|&e| scripts.get(e)?.inboxes.get::<M>())
                .collect()
        };
        inboxes
            .iter()
            .filter(|inbox| inbox.put(message.clone()).is_ok())
            .count()
    }

    /// Forgets `entity`'s script and closes its inboxes; its tasklet (if alive) comes
    /// back to be killed.
    pub(crate) fn forget(&self, entity: Entity) -> Option<(Tasklet, Rc<str>)> {
        let slot = self.scripts.borrow_mut().remove(entity)?;
        slot.inboxes.close_all();
        self.stopped.set(self.stopped.get() + 1);
        Some((slot.tasklet, slot.name))
    }

    /// Stops `entity`'s script: forgets it and kills its tasklet, which unwinds at once
    /// with the world lent (so that its destructors see it). Returns its name.
    pub(crate) fn stop(&self, world: &mut World, entity: Entity) -> Option<Rc<str>> {
        let (tasklet, name) = self.forget(entity)?;
        self.kill(world, std::slice::from_ref(&tasklet));
        Some(name)
    }

    /// Kills `tasklets` (each unwinds at once), with `world` lent unless it is lent
    /// already.
    pub(crate) fn kill(&self, world: &mut World, tasklets: &[Tasklet]) {
        if !tasklets.iter().any(Tasklet::is_alive) {
            return;
        }
        let lent = (!self.loan.is_lent()).then(|| self.lend(world));
        for tasklet in tasklets {
            // Killing a live tasklet from the main context cannot fail; a dead one is a
            // no-op.
            let _ = tasklet.kill();
        }
        if let Some(lent) = lent {
            lent.reclaim();
        }
    }
}
