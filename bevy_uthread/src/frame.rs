//! One frame of scripts, run by the plugin's exclusive system: virtual time, inbox
//! routing, the budgeted script phase, then what it left (the watchdog's verdicts,
//! scripts that returned or crashed, queued commands) and the frame's stats.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy_ecs::entity::Entity;
use bevy_ecs::world::World;
use bevy_time::{Time, Virtual};
use frame_core::{
    judge_overruns, CrashPolicy, FramePump, FrameStats, Incident, IncidentKind, OnReturn,
};
use uthread::Scheduler;

use crate::hub::{FrameInfo, Hub, ScriptEvent};
use crate::runtime::{Router, ScriptRuntime, ScriptStats};
use crate::script::{Script, ScriptCrashed};

/// How many rounds of "handle ended scripts, apply commands" a frame runs at most; a
/// round only follows one that changed something.
const SETTLE_ROUNDS: usize = 8;

/// The plugin's exclusive system: runs one frame of scripts. Does nothing in a world
/// without [`ScriptRuntime`].
pub fn run_scripts(world: &mut World) {
    let Some(runtime) = world.get_non_send::<ScriptRuntime>() else {
        return;
    };
    // Handles taken out of the world, which is lent to the scripts while they run.
    let frame = Frame {
        scheduler: runtime.scheduler().clone(),
        pump: runtime.pump().clone(),
        hub: runtime.hub().clone(),
        routers: runtime.routers.clone(),
        on_panic: runtime.on_panic,
    };
    // Kills from the main context must reach this scheduler even when it is not the
    // thread's default one.
    let scheduler = frame.scheduler.clone();
    scheduler.enter(|| frame.run(world));
}

struct Frame {
    scheduler: Rc<Scheduler>,
    pump: Rc<RefCell<FramePump>>,
    hub: Rc<Hub>,
    routers: Rc<RefCell<Vec<Router>>>,
    on_panic: CrashPolicy,
}

impl Frame {
    fn run(&self, world: &mut World) {
        let started = Instant::now();
        let mut stats = world
            .get_resource_mut::<ScriptStats>()
            .map(|mut s| std::mem::take(&mut s.0))
            .unwrap_or_default();
        let number = self.hub.frame.get().number + 1;
        stats.reset(number);

        // 1 + 2: virtual time, due timers, then the next_frame waiters of the last frame.
        let elapsed = world.get_resource::<Time<Virtual>>().map(Time::elapsed);
        let dt = elapsed.map_or(Duration::ZERO, |t| t.saturating_sub(self.scheduler.now()));
        self.hub.frame.set(FrameInfo { number, dt });
        self.scheduler.advance(dt);
        let clock_done = Instant::now();

        // 3: messages into inboxes.
        for router in self.routers.borrow_mut().iter_mut() {
            router(world, &self.hub);
        }
        let routed = Instant::now();

        // 4: scripts, within the budget, with the world lent to them.
        let mut run = {
            let lent = self.hub.lend(world);
            let run = self.pump.borrow().run(&mut stats);
            // The backstop: a script that suspended holding the world is killed here.
            lent.reclaim();
            run
        };
        if let Some(failure) = run.failure.take() {
            // Only without an error handler, and the runtime always sets one.
            self.hub
                .events
                .borrow_mut()
                .push(ScriptEvent::Failed(failure));
        }
        stats.longest_slice = run.longest_slice(|tasklet| {
            let scripts = self.hub.scripts.borrow();
            let entity = scripts.entity_of(tasklet);
            let name = entity
                .and_then(|e| scripts.get(e))
                .map(|s| Arc::from(&*s.name));
            (entity, name)
        });
        let scripts_done = Instant::now();

        // 5: the watchdog, ended scripts, queued commands.
        self.apply_watchdog(world, &mut stats);
        let incidents = std::mem::take(&mut *self.hub.incidents.borrow_mut());
        for incident in incidents {
            if let Some(entity) = incident.entity {
                self.mark(world, entity, &incident);
            }
            stats.incidents.push(incident);
        }
        for _ in 0..SETTLE_ROUNDS {
            let handled = self.handle_events(world, &mut stats);
            let applied = self.apply_commands(world);
            if !handled && !applied {
                break;
            }
        }
        let settled = Instant::now();

        // 6: stats.
        stats.game_time = self.scheduler.now();
        stats.actors = self.hub.scripts.borrow().len();
        stats.spawned = self.hub.started.take();
        stats.stopped = self.hub.stopped.take();
        stats.time.clock = clock_done - started;
        stats.time.systems = routed - clock_done;
        stats.time.tasklets = scripts_done - routed;
        stats.time.commands = settled - scripts_done;
        stats.time.total = settled - started;
        match world.get_resource_mut::<ScriptStats>() {
            Some(mut resource) => resource.0 = stats,
            None => world.insert_resource(ScriptStats(stats)),
        }
    }

    /// Reports every slice over the watchdog's limit and applies its policy.
    fn apply_watchdog(&self, world: &mut World, stats: &mut FrameStats<Entity>) {
        let (config, overruns) = {
            let pump = self.pump.borrow();
            (pump.watchdog(), pump.take_overruns())
        };
        let kills = {
            let scripts = self.hub.scripts.borrow();
            judge_overruns(config, overruns, stats, |id| {
                scripts.describe(id, &self.scheduler)
            })
        };
        for incident in kills {
            if let Some(entity) = incident.entity {
                log::error!("{incident}");
                self.hub.stop(world, entity);
                self.mark(world, entity, &incident);
            }
        }
    }

    /// Handles scripts that returned, panicked or held the world. Returns whether there
    /// was anything to handle.
    fn handle_events(&self, world: &mut World, stats: &mut FrameStats<Entity>) -> bool {
        let events = std::mem::take(&mut *self.hub.events.borrow_mut());
        let any = !events.is_empty();
        for event in events {
            match event {
                ScriptEvent::Returned(entity) => {
                    let on_return = self.hub.scripts.borrow().get(entity).map(|s| s.on_return);
                    if let Some(on_return) = on_return {
                        self.hub.stop(world, entity);
                        match on_return {
                            OnReturn::Keep => {
                                if let Ok(mut e) = world.get_entity_mut(entity) {
                                    e.remove::<Script>();
                                }
                            }
                            OnReturn::Despawn => {
                                let _ = world.try_despawn(entity);
                            }
                        }
                    }
                }
                ScriptEvent::Failed(failure) => {
                    let entity = self.hub.scripts.borrow().entity_of(failure.tasklet);
                    let incident = Incident::panicked(stats.frame, entity, &failure);
                    log::error!("{incident}");
                    if let Some(entity) = entity {
                        self.hub.stop(world, entity);
                        self.mark(world, entity, &incident);
                    }
                    stats.incidents.push(incident);
                }
                ScriptEvent::HeldWorld(entity) => {
                    let (tasklet, name) = match self.hub.scripts.borrow().get(entity) {
                        Some(slot) => (Some(slot.tasklet.id()), slot.name.to_string()),
                        None => (None, String::new()),
                    };
                    let incident = Incident {
                        frame: stats.frame,
                        entity: Some(entity),
                        tasklet,
                        name,
                        kind: IncidentKind::HeldWorld,
                    };
                    log::error!("{incident}");
                    self.hub.stop(world, entity);
                    self.mark(world, entity, &incident);
                    stats.incidents.push(incident);
                }
            }
        }
        any
    }

    /// Applies the crash policy to the entity of a script that crashed (it has been
    /// stopped already, or never started).
    fn mark(&self, world: &mut World, entity: Entity, incident: &Incident<Entity>) {
        match self.on_panic {
            CrashPolicy::MarkCrashed => {
                if let Ok(mut e) = world.get_entity_mut(entity) {
                    e.remove::<Script>();
                    e.insert(ScriptCrashed {
                        tasklet: incident.name.clone(),
                        reason: incident.crash_reason(),
                        frame: incident.frame,
                    });
                }
            }
            CrashPolicy::Despawn => {
                let _ = world.try_despawn(entity);
            }
        }
    }

    /// Applies the commands scripts queued, in order. Returns whether there were any.
    fn apply_commands(&self, world: &mut World) -> bool {
        let mut queue = std::mem::take(&mut *self.hub.commands.borrow_mut());
        if queue.is_empty() {
            return false;
        }
        queue.apply(world);
        // Keep the emptied queue's buffer, unless an unwinding script queued more
        // meanwhile (the next round applies those).
        let mut slot = self.hub.commands.borrow_mut();
        if slot.is_empty() {
            *slot = queue;
        }
        true
    }
}
