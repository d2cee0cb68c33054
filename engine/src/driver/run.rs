//! The system and tasklet phases of a frame, and what they record (stats, trace spans,
//! watchdog overruns).

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hecs::{Entity, World};
use uthread::TaskletId;

use super::FrameDriver;
use crate::actor;
use crate::hub::ActorEvent;
use crate::system::SystemContext;
use crate::trace::SpanKind;

impl FrameDriver {
    /// Step 3: every system once, in the order they were added. (Borrowing the
    /// systems in place, rather than taking them out, keeps the driver whole if one
    /// panics and the host carries on.)
    pub(super) fn run_systems(&mut self, world: &mut World, tracing: bool) {
        let dt = self.hub.frame.get().dt;
        for system in &mut self.systems {
            let start = Instant::now();
            // Left set if the system panics: the host reads it after the unwind.
            self.running_system = Some(system.name.clone());
            let mut sys = SystemContext {
                world: &mut *world,
                hub: &self.hub,
                scheduler: &self.scheduler,
                rng: &mut self.rng,
                frame: self.frame,
                dt,
                spawned: 0,
                stopped: 0,
            };
            (system.run)(&mut sys);
            self.running_system = None;
            self.stats.spawned += sys.spawned;
            self.stats.stopped += sys.stopped;
            if tracing {
                let name = system.name.clone();
                self.trace
                    .push(name, SpanKind::System, self.frame, start, start.elapsed());
            }
        }
    }

    /// Stops the actors whose entities are gone (despawned without the driver).
    pub(super) fn reconcile(&mut self, world: &mut World) {
        let gone: Vec<Entity> = {
            let actors = self.hub.actors.borrow();
            let entities = actors.entities();
            // The common case, every actor still there, is one pass with no allocation.
            if entities.iter().all(|&e| world.contains(e)) {
                return;
            }
            entities
                .iter()
                .copied()
                .filter(|&e| !world.contains(e))
                .collect()
        };
        for entity in gone {
            if actor::stop(&self.hub, world, entity).is_some() {
                self.stats.stopped += 1;
            }
        }
    }

    /// Step 4: the tasklets, within the budget, with the world lent to them. Fills the
    /// frame's counts and returns the slices that overran the watchdog's limit.
    pub(super) fn run_tasklets(
        &mut self,
        world: &mut World,
        tracing: bool,
    ) -> Vec<(TaskletId, Duration)> {
        let lent = self.hub.lend(world);
        let mut run = self.pump.run(&mut self.stats);
        if let Some(failure) = run.failure.take() {
            // Only without an error handler, and the driver always sets one.
            self.hub
                .events
                .borrow_mut()
                .push(ActorEvent::Failed(failure));
        }
        // The backstop: a tasklet that suspended holding the world is killed here.
        lent.reclaim();
        drop(lent);

        let actors = self.hub.actors.borrow();
        self.stats.longest_slice = run.longest_slice(|tasklet| {
            let entity = actors.entity_of(tasklet);
            let name = entity
                .and_then(|e| actors.get(e))
                .map(|s| Arc::from(&*s.name));
            (entity, name)
        });
        if tracing {
            let (trace, frame) = (&mut self.trace, self.frame);
            self.pump.drain_slices(|info| {
                let entity = actors.entity_of(info.tasklet);
                let name = entity.and_then(|e| actors.get(e)).map_or_else(
                    || Rc::from(format!("tasklet {}", info.tasklet)),
                    |s| s.name.clone(),
                );
                let kind = SpanKind::Slice {
                    tasklet: info.tasklet,
                    entity,
                };
                trace.push(name, kind, frame, info.start, info.duration);
            });
        }
        self.pump.take_overruns()
    }

    /// Records the frame's phase spans and its own, and stops recording after the last
    /// requested frame.
    pub(super) fn trace_frame(&mut self, frame: u64, marks: [Instant; 5]) {
        let phases = ["clock", "systems", "tasklets", "commands"];
        for (i, phase) in phases.into_iter().enumerate() {
            let (from, to) = (marks[i], marks[i + 1]);
            self.trace
                .push(Rc::from(phase), SpanKind::Phase, frame, from, to - from);
        }
        let (first, last) = (marks[0], marks[4]);
        self.trace.push(
            Rc::from(format!("frame {frame}")),
            SpanKind::Frame,
            frame,
            first,
            last - first,
        );
        self.trace_frames_left -= 1;
        if self.trace_frames_left == 0 {
            self.pump.set_recording(false);
        }
    }
}
