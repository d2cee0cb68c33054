//! The state that the driver shares with its actors' contexts: the world while tasklets
//! run, the actor registry, and queued commands and events. It is generic over the
//! command type so that it sits below the contexts that queue commands and the actors
//! that those commands carry.
//!
//! Borrow discipline: every `RefCell` here is borrowed only for short, non-blocking
//! stretches, never while user code runs, with one deliberate exception: the world on
//! loan, which a context borrows for as long as its [`WorldAccess`](crate::WorldAccess)
//! lives. A tasklet that suspends while holding that borrow (through a blocking call
//! that does not go through its context) is found by whoever next needs the world, and
//! killed so that the world can be handed back (see [`HubState::borrow_world`]).

use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell, RefMut};
use std::collections::HashMap;
use std::time::Duration;

use frame_core::{Lent, WorldLoan};
use hecs::{Entity, World};

use crate::command::CommandQueue;
use crate::error::SendError;
use crate::inbox::Inbox;
use crate::stall::StallLabels;

pub(crate) type Registry = frame_core::Registry<Entity>;
pub(crate) type ActorEvent = frame_core::ActorEvent<Entity>;

/// Frame number and step, as contexts see them.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FrameInfo {
    pub(crate) number: u64,
    pub(crate) dt: Duration,
}

/// Shared between the driver and every context; `Change` is the world change a context
/// queues (the engine's `WorldCommand`).
pub(crate) struct HubState<Change> {
    /// The game world while tasklets run (and while a killed tasklet unwinds); an empty
    /// spare world otherwise.
    pub(crate) loan: WorldLoan<World, Entity>,
    pub(crate) actors: RefCell<Registry>,
    /// World changes queued by tasklets, applied in the command phase in queue order.
    pub(crate) commands: RefCell<Vec<Change>>,
    pub(crate) events: RefCell<Vec<ActorEvent>>,
    /// Typed command queues by command type (each a `CommandQueue` of that type).
    pub(crate) queues: RefCell<HashMap<TypeId, Box<dyn Any>>>,
    pub(crate) frame: Cell<FrameInfo>,
    /// Seed of the actors' generators, and how many actors have been started.
    pub(crate) seed: u64,
    pub(crate) started: Cell<u64>,
    /// Actors' labels for the live stall reports (empty when they are off).
    pub(crate) stall_labels: RefCell<StallLabels>,
}

impl<Change> HubState<Change> {
    pub(crate) fn new(seed: u64) -> HubState<Change> {
        HubState {
            loan: WorldLoan::new(World::new()),
            actors: RefCell::new(Registry::default()),
            commands: RefCell::new(Vec::new()),
            events: RefCell::new(Vec::new()),
            queues: RefCell::new(HashMap::new()),
            frame: Cell::new(FrameInfo::default()),
            seed,
            started: Cell::new(0),
            stall_labels: RefCell::default(),
        }
    }

    /// Borrows the world for `me`. If a suspended tasklet still holds it (it blocked or
    /// yielded without going through its context while a `WorldAccess` was alive), that
    /// tasklet is killed first (this is the backstop for what the borrow checker cannot
    /// see), and its entity is reported in the command phase.
    ///
    /// # Panics
    ///
    /// As [`WorldLoan::borrow`]: when the world cannot be had even so, or is not lent
    /// (the tasklet runs outside the tasklet phase).
    #[inline]
    pub(crate) fn borrow_world(&self, me: Entity) -> RefMut<'_, World> {
        self.loan.borrow(me, |holder| self.evict(holder))
    }

    /// Lends `world` to the tasklets for as long as the guard lives.
    pub(crate) fn lend<'a>(
        &'a self,
        world: &'a mut World,
    ) -> Lent<'a, World, Entity, impl Fn(Entity) -> bool + 'a> {
        self.loan.lend(world, |holder| self.evict(holder))
    }

    /// Kills `holder`, which suspended while borrowing the world; its unwinding drops the
    /// borrow. Returns whether it was an actor that could be killed.
    pub(crate) fn evict(&self, holder: Entity) -> bool {
        let tasklet = self.actors.borrow().get(holder).map(|s| s.tasklet.clone());
        let Some(tasklet) = tasklet else {
            return false;
        };
        self.events.borrow_mut().push(ActorEvent::HeldWorld(holder));
        tasklet.kill().is_ok()
    }

    /// Puts `event` into the inbox of `to` without blocking.
    pub(crate) fn deliver<E: 'static>(&self, to: Entity, event: E) -> Result<(), SendError<E>> {
        let inbox = self.actors.borrow_mut().inbox::<E>(to);
        match inbox {
            Some(inbox) => inbox.put(event).map_err(|event| SendError { event, to }),
            None => Err(SendError { event, to }),
        }
    }

    /// The inbox of `entity` for `E` (`None` if it is not an actor).
    pub(crate) fn inbox<E: 'static>(&self, entity: Entity) -> Option<Inbox<E>> {
        self.actors.borrow_mut().inbox::<E>(entity)
    }

    /// The command queue for `C`, made on first use.
    pub(crate) fn command_queue<C: 'static>(&self) -> CommandQueue<C> {
        let mut queues = self.queues.borrow_mut();
        let queue = queues
            .entry(TypeId::of::<C>())
            .or_insert_with(|| Box::new(CommandQueue::<C>::new()));
        queue
            .downcast_ref::<CommandQueue<C>>()
            .expect("command queues are keyed by their type")
            .clone()
    }

    pub(crate) fn push_command(&self, command: Change) {
        self.commands.borrow_mut().push(command);
    }
}
