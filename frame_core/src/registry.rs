//! The actors a host knows: entity <-> tasklet maps, each actor's name, inboxes and
//! return policy, and what happened to actors during a slice.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::rc::Rc;

use uthread::{Scheduler, Tasklet, TaskletFailure, TaskletId};

use crate::inbox::{Inbox, Inboxes};
use crate::policy::OnReturn;
use crate::watchdog::Described;

/// One actor, as its host knows it.
#[derive(Debug)]
pub struct ActorSlot<E> {
    /// The tasklet running its behaviour.
    pub tasklet: Tasklet,
    /// The tasklet's name.
    pub name: Rc<str>,
    /// What happens to the entity when the behaviour returns.
    pub on_return: OnReturn,
    /// Its inboxes, one per event type, created on first use by either side.
    pub inboxes: Inboxes<E>,
    /// Its place in `Registry::dense`.
    dense_index: usize,
}

/// Entity <-> tasklet maps, plus a dense list of actor entities for cheap scans.
///
/// The host registers an actor when it starts its tasklet, and removes it (closing its
/// inboxes and killing its tasklet, outside any borrow of the registry) when it ends.
#[derive(Debug)]
pub struct Registry<E> {
    slots: HashMap<E, ActorSlot<E>>,
    /// Every actor entity, in a deterministic order (spawn order, perturbed only by
    /// deterministic swap-removes).
    dense: Vec<E>,
    by_tasklet: HashMap<TaskletId, E>,
}

impl<E> Default for Registry<E> {
    fn default() -> Self {
        Registry {
            slots: HashMap::new(),
            dense: Vec::new(),
            by_tasklet: HashMap::new(),
        }
    }
}

impl<E: Copy + Eq + Hash + fmt::Debug + 'static> Registry<E> {
    /// Registers `entity`'s actor.
    pub fn insert(&mut self, entity: E, tasklet: Tasklet, name: Rc<str>, on_return: OnReturn) {
        self.by_tasklet.insert(tasklet.id(), entity);
        self.slots.insert(
            entity,
            ActorSlot {
                tasklet,
                name,
                on_return,
                inboxes: Inboxes::new(entity),
                dense_index: self.dense.len(),
            },
        );
        self.dense.push(entity);
    }

    /// Forgets an actor. The caller closes its inboxes and kills its tasklet (outside the
    /// registry's borrow: both run user code).
    pub fn remove(&mut self, entity: E) -> Option<ActorSlot<E>> {
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

    /// The actor of `entity`.
    pub fn get(&self, entity: E) -> Option<&ActorSlot<E>> {
        self.slots.get(&entity)
    }

    /// The entity whose behaviour `tasklet` runs.
    pub fn entity_of(&self, tasklet: TaskletId) -> Option<E> {
        self.by_tasklet.get(&tasklet).copied()
    }

    /// The tasklet `id` as the watchdog reports it: its actor's entity and name, or
    /// (for a tasklet that is no actor's) its own name, with its handle if alive.
    pub fn describe(&self, id: TaskletId, scheduler: &Scheduler) -> Described<E> {
        match self.entity_of(id).and_then(|e| Some((e, self.get(e)?))) {
            Some((entity, slot)) => Described {
                entity: Some(entity),
                name: slot.name.to_string(),
                tasklet: Some(slot.tasklet.clone()),
            },
            None => {
                let tasklet = scheduler.tasklet(id);
                let name = tasklet.as_ref().and_then(Tasklet::name).unwrap_or_default();
                Described {
                    entity: None,
                    name,
                    tasklet,
                }
            }
        }
    }

    /// Every actor's entity, in a deterministic order.
    pub fn entities(&self) -> &[E] {
        &self.dense
    }

    /// How many actors there are.
    pub fn len(&self) -> usize {
        self.dense.len()
    }

    /// Whether there is no actor.
    pub fn is_empty(&self) -> bool {
        self.dense.is_empty()
    }

    /// The inbox of `entity` for events of type `E`, made on first use.
    pub fn inbox<M: 'static>(&mut self, entity: E) -> Option<Inbox<M, E>> {
        Some(self.slots.get_mut(&entity)?.inboxes.get_or_make::<M>())
    }
}

/// Something that happened to an actor during a slice, handled in the command phase.
#[derive(Debug)]
pub enum ActorEvent<E> {
    /// Its behaviour returned.
    Returned(E),
    /// Its tasklet panicked (from uthread's error handler).
    Failed(TaskletFailure),
    /// It suspended while holding the world and was killed for it.
    HeldWorld(E),
}
