//! The command phase of a frame: the watchdog's actions, actors that ended, and the
//! commands tasklets queued.

use std::time::Duration;

use hecs::{Entity, World};
use uthread::TaskletId;

use super::FrameDriver;
use crate::actor::{self, Crashed, OnReturn};
use crate::hub::{ActorEvent, WorldCommand};
use crate::stats::Incident;
use frame_core::{judge_overruns, IncidentKind};

impl FrameDriver {
    /// Reports every slice over the watchdog's limit and applies its policy to the
    /// tasklets still alive (one that ended in that slice is only reported).
    pub(super) fn apply_watchdog(
        &mut self,
        world: &mut World,
        overruns: Vec<(TaskletId, Duration)>,
    ) {
        let config = self.pump.watchdog();
        let kills = {
            let actors = self.hub.actors.borrow();
            let scheduler = &self.scheduler;
            judge_overruns(config, overruns, &mut self.stats, |id| {
                actors.describe(id, scheduler)
            })
        };
        for kill in kills {
            if let Some(entity) = kill.entity {
                let reason = kill.crash_reason();
                self.crash(world, entity, kill.name, reason);
            }
        }
    }

    /// Stops an actor (killing its tasklet if it still lives) and applies the crash
    /// policy to its entity.
    fn crash(&mut self, world: &mut World, entity: Entity, name: String, reason: String) {
        if actor::stop(&self.hub, world, entity).is_some() {
            self.stats.stopped += 1;
        }
        let crashed = Crashed {
            tasklet: name,
            reason,
            frame: self.frame,
        };
        actor::crash(world, self.on_panic, entity, crashed);
    }

    /// Handles actors that returned, panicked or held the world. Returns whether there
    /// was anything to handle.
    pub(super) fn handle_events(&mut self, world: &mut World) -> bool {
        let mut events = std::mem::take(&mut self.events);
        std::mem::swap(&mut events, &mut *self.hub.events.borrow_mut());
        let any = !events.is_empty();
        for event in events.drain(..) {
            match event {
                ActorEvent::Returned(entity) => {
                    let on_return = self.hub.actors.borrow().get(entity).map(|s| s.on_return);
                    if let Some(on_return) = on_return {
                        actor::stop(&self.hub, world, entity);
                        self.stats.stopped += 1;
                        if on_return == OnReturn::Despawn {
                            let _ = world.despawn(entity);
                        }
                    }
                }
                ActorEvent::Failed(failure) => {
                    let entity = self.hub.actors.borrow().entity_of(failure.tasklet);
                    let incident = Incident::panicked(self.frame, entity, &failure);
                    let (name, reason) = (incident.name.clone(), incident.crash_reason());
                    self.stats.incidents.push(incident);
                    if let Some(entity) = entity {
                        self.crash(world, entity, name, reason);
                    }
                }
                ActorEvent::HeldWorld(entity) => {
                    let (tasklet, name) = match self.hub.actors.borrow().get(entity) {
                        Some(slot) => (Some(slot.tasklet.id()), slot.name.to_string()),
                        None => (None, String::new()),
                    };
                    let incident = Incident {
                        frame: self.frame,
                        entity: Some(entity),
                        tasklet,
                        name: name.clone(),
                        kind: IncidentKind::HeldWorld,
                    };
                    let reason = incident.crash_reason();
                    self.stats.incidents.push(incident);
                    self.crash(world, entity, name, reason);
                }
            }
        }
        self.events = events;
        any
    }

    /// Applies the commands queued by tasklets, in order. Returns whether there were any.
    pub(super) fn apply_commands(&mut self, world: &mut World) -> bool {
        let mut commands = std::mem::take(&mut self.commands);
        std::mem::swap(&mut commands, &mut *self.hub.commands.borrow_mut());
        let any = !commands.is_empty();
        for command in commands.drain(..) {
            match command {
                WorldCommand::Spawn {
                    entity,
                    mut components,
                    actor,
                } => {
                    // Inserting into the reserved id creates the entity.
                    if world.insert(entity, components.build()).is_err() {
                        continue;
                    }
                    let Some(actor) = actor else { continue };
                    let name = actor.name.clone().unwrap_or_default();
                    match actor::start(&self.hub, &self.scheduler, world, entity, actor) {
                        Ok(()) => self.stats.spawned += 1,
                        Err(error) => {
                            let _ = world.despawn(entity);
                            self.stats.incidents.push(Incident {
                                frame: self.frame,
                                entity: Some(entity),
                                tasklet: None,
                                name,
                                kind: IncidentKind::SpawnFailed {
                                    error: error.to_string(),
                                },
                            });
                        }
                    }
                }
                WorldCommand::Despawn(entity) => {
                    if actor::stop(&self.hub, world, entity).is_some() {
                        self.stats.stopped += 1;
                    }
                    let _ = world.despawn(entity);
                }
                WorldCommand::Insert(entity, mut components) => {
                    let _ = world.insert(entity, components.build());
                }
                WorldCommand::Remove(entity, remove) => remove(world, entity),
            }
        }
        self.commands = commands;
        any
    }
}
