//! The state that the driver shares with its actors' contexts: the world while tasklets
//! run, the actor registry, queued commands and events, and the slice log.
//!
//! Borrow discipline: every `RefCell` here is borrowed only for short, non-blocking
//! stretches, never while user code runs, with one deliberate exception: `world`, which a
//! context borrows for as long as its [`WorldAccess`](crate::WorldAccess) lives. A
//! tasklet that suspends while holding that borrow (through a blocking call that does
//! not go through its context) is found by whoever next needs the world, and killed so
//! that the world can be handed back (see [`Hub::borrow_world`]).

use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell, RefMut};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use hecs::{Entity, EntityBuilder, World};
use uthread::{SliceInfo, Tasklet, TaskletFailure, TaskletId};

use crate::actor::{Actor, OnReturn};
use crate::command::CommandQueue;
use crate::error::SendError;
use crate::inbox::{ErasedInbox, Inbox};

/// One actor, as the driver knows it.
pub(crate) struct ActorSlot {
    pub(crate) tasklet: Tasklet,
    pub(crate) name: Rc<str>,
    pub(crate) on_return: OnReturn,
    /// Its inboxes, one per event type, created on first use by either side.
    pub(crate) inboxes: Vec<(TypeId, Box<dyn ErasedInbox>)>,
    /// Its place in `Registry::dense`.
    dense_index: usize,
}

/// Entity <-> tasklet maps, plus a dense list of actor entities for cheap scans.
#[derive(Default)]
pub(crate) struct Registry {
    slots: HashMap<Entity, ActorSlot>,
    /// Every actor entity, in a deterministic order (spawn order, perturbed only by
    /// deterministic swap-removes).
    dense: Vec<Entity>,
    by_tasklet: HashMap<TaskletId, Entity>,
}

impl Registry {
    pub(crate) fn insert(
        &mut self,
        entity: Entity,
        tasklet: Tasklet,
        name: Rc<str>,
        on_return: OnReturn,
    ) {
        self.by_tasklet.insert(tasklet.id(), entity);
        self.slots.insert(
            entity,
            ActorSlot {
                tasklet,
                name,
                on_return,
                inboxes: Vec::new(),
                dense_index: self.dense.len(),
            },
        );
        self.dense.push(entity);
    }

    /// Forgets an actor. The caller closes its inboxes and kills its tasklet (outside the
    /// registry's borrow: both run user code).
    pub(crate) fn remove(&mut self, entity: Entity) -> Option<ActorSlot> {
        let slot = self.slots.remove(&entity)?;
        self.by_tasklet.remove(&slot.tasklet.id());
        let index = slot.dense_index;
        self.dense.swap_remove(index);
        if let Some(&moved) = self.dense.get(index) {
            if let Some(s) = self.slots.get_mut(&moved) {
                s.dense_index = index;
            }
        }
        Some(slot)
    }

    pub(crate) fn get(&self, entity: Entity) -> Option<&ActorSlot> {
        self.slots.get(&entity)
    }

    pub(crate) fn entity_of(&self, tasklet: TaskletId) -> Option<Entity> {
        self.by_tasklet.get(&tasklet).copied()
    }

    pub(crate) fn entities(&self) -> &[Entity] {
        &self.dense
    }

    pub(crate) fn len(&self) -> usize {
        self.dense.len()
    }

    /// The inbox of `entity` for events of type `E`, made on first use.
    fn inbox<E: 'static>(&mut self, entity: Entity) -> Option<Inbox<E>> {
        let slot = self.slots.get_mut(&entity)?;
        let id = TypeId::of::<E>();
        if let Some((_, inbox)) = slot.inboxes.iter().find(|(t, _)| *t == id) {
            return inbox.as_any().downcast_ref::<Inbox<E>>().cloned();
        }
        let inbox = Inbox::<E>::new(entity);
        // Most actors have one or two inboxes: grow one at a time rather than to the
        // default first capacity of four (with a million actors, ~100 bytes each).
        slot.inboxes.reserve_exact(1);
        slot.inboxes.push((id, Box::new(inbox.clone())));
        Some(inbox)
    }
}

/// Something that happened to an actor during a slice, handled in the command phase.
pub(crate) enum ActorEvent {
    /// Its behaviour returned.
    Returned(Entity),
    /// Its tasklet panicked (from uthread's error handler).
    Failed(TaskletFailure),
    /// It suspended while holding the world and was killed for it.
    HeldWorld(Entity),
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

/// What the slice hook records (only while a watchdog or a trace needs it).
#[derive(Default)]
pub(crate) struct SliceLog {
    /// Slices longer than this are overruns.
    pub(crate) overrun_limit: Option<Duration>,
    pub(crate) overruns: Vec<(TaskletId, Duration)>,
    /// Keep every slice (for the trace).
    pub(crate) keep_all: bool,
    pub(crate) all: Vec<SliceInfo>,
}

impl SliceLog {
    pub(crate) fn record(&mut self, info: &SliceInfo) {
        if self
            .overrun_limit
            .is_some_and(|limit| info.duration > limit)
        {
            self.overruns.push((info.tasklet, info.duration));
        }
        if self.keep_all {
            self.all.push(info.clone());
        }
    }
}

/// Frame number and step, as contexts see them.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FrameInfo {
    pub(crate) number: u64,
    pub(crate) dt: Duration,
}

/// Shared between the driver and every context.
pub(crate) struct Hub {
    /// The game world while tasklets run (and while a killed tasklet unwinds); an empty
    /// spare world otherwise. Swapped, never copied.
    pub(crate) world: RefCell<World>,
    /// Whether `world` holds the game world (it is lent to the tasklets).
    pub(crate) lent: Cell<bool>,
    /// The actor whose world borrow is live, to name (and kill) it if it suspends.
    pub(crate) world_holder: Cell<Option<Entity>>,
    pub(crate) actors: RefCell<Registry>,
    pub(crate) commands: RefCell<Vec<WorldCommand>>,
    pub(crate) events: RefCell<Vec<ActorEvent>>,
    /// Typed command queues by command type (each a `CommandQueue<C>`).
    pub(crate) queues: RefCell<HashMap<TypeId, Box<dyn Any>>>,
    pub(crate) slices: RefCell<SliceLog>,
    pub(crate) frame: Cell<FrameInfo>,
    /// Seed of the actors' generators, and how many actors have been started.
    pub(crate) seed: u64,
    pub(crate) started: Cell<u64>,
}

impl Hub {
    pub(crate) fn new(seed: u64) -> Hub {
        Hub {
            world: RefCell::new(World::new()),
            lent: Cell::new(false),
            world_holder: Cell::new(None),
            actors: RefCell::new(Registry::default()),
            commands: RefCell::new(Vec::new()),
            events: RefCell::new(Vec::new()),
            queues: RefCell::new(HashMap::new()),
            slices: RefCell::new(SliceLog::default()),
            frame: Cell::new(FrameInfo::default()),
            seed,
            started: Cell::new(0),
        }
    }

    /// Borrows the world for `me`. If a suspended tasklet still holds it (it blocked or
    /// yielded without going through its context while a `WorldAccess` was alive), that
    /// tasklet is killed first (this is the backstop for what the borrow checker cannot
    /// see), and its entity is reported in the command phase.
    ///
    /// # Panics
    ///
    /// When the world cannot be had even so: `me` itself holds it (a leaked
    /// `WorldAccess`), or the holder refused to die. Also when the world is not lent:
    /// the tasklet runs outside the tasklet phase, because a system or the host woke it
    /// through a rendezvous (a `Channel` send) instead of an inbox. (While unwinding,
    /// it gets the empty spare world instead, so that destructors do not abort.)
    #[inline]
    pub(crate) fn borrow_world(&self, me: Entity) -> RefMut<'_, World> {
        if self.lent.get() {
            if let Ok(world) = self.world.try_borrow_mut() {
                self.world_holder.set(Some(me));
                return world;
            }
        }
        self.borrow_world_slow(me)
    }

    #[cold]
    #[inline(never)]
    fn borrow_world_slow(&self, me: Entity) -> RefMut<'_, World> {
        assert!(
            self.lent.get() || std::thread::panicking(),
            "actor {me:?} ran outside the tasklet phase and cannot reach the world: wake \
             actors from systems and the host through inboxes, not channel rendezvous"
        );
        for _ in 0..2 {
            if let Ok(world) = self.world.try_borrow_mut() {
                self.world_holder.set(Some(me));
                return world;
            }
            match self.world_holder.get() {
                Some(holder) if holder != me => {
                    self.evict(holder);
                }
                _ => break,
            }
        }
        panic!(
            "actor {me:?} cannot borrow the world: it is still borrowed by {:?} (a leaked \
             WorldAccess?)",
            self.world_holder.get()
        );
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

    pub(crate) fn push_command(&self, command: WorldCommand) {
        self.commands.borrow_mut().push(command);
    }
}

/// The world, moved into the hub for as long as this guard lives (so that tasklets can
/// reach it), and moved back into the caller's `&mut World` when it drops.
pub(crate) struct Lent<'a> {
    hub: &'a Hub,
    world: &'a mut World,
}

impl<'a> Lent<'a> {
    pub(crate) fn new(hub: &'a Hub, world: &'a mut World) -> Lent<'a> {
        assert!(!hub.lent.get(), "the world is lent already");
        std::mem::swap(world, &mut *hub.world.borrow_mut());
        hub.lent.set(true);
        Lent { hub, world }
    }

    /// Makes sure no suspended tasklet still borrows the world, killing any that does.
    ///
    /// # Panics
    ///
    /// When a holder cannot be made to let go (it is not an actor, or refused to die).
    pub(crate) fn reclaim(&self) {
        for _ in 0..4 {
            if self.hub.world.try_borrow_mut().is_ok() {
                return;
            }
            match self.hub.world_holder.get() {
                Some(holder) if self.hub.evict(holder) => {}
                holder => {
                    panic!("the world is still borrowed by {holder:?} and cannot be reclaimed")
                }
            }
        }
        panic!("the world is still borrowed after killing its holders");
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.reclaim();
        }
        // If a holder could not be evicted we are already panicking; leave the world
        // where it is rather than panic twice.
        if let Ok(mut lent) = self.hub.world.try_borrow_mut() {
            std::mem::swap(self.world, &mut *lent);
            self.hub.lent.set(false);
        }
    }
}
