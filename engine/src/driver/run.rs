//! The system and tasklet phases of a frame, and what they record (stats, trace spans,
//! watchdog overruns).

use std::rc::Rc;
use std::time::{Duration, Instant};

use hecs::{Entity, World};
use uthread::{Budget, RunError, RunOutcome, TaskletId};

use super::FrameDriver;
use crate::actor;
use crate::hub::{ActorEvent, Lent};
use crate::stats::SliceSummary;
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
        let lent = Lent::new(&self.hub, world);
        let start = Instant::now();
        let outcome = self.scheduler.run_for(self.budget);
        let elapsed = start.elapsed();
        // Read the run's figures before anything else pumps the scheduler (a kill does).
        let stats = &mut self.stats;
        stats.resumed = self.scheduler.last_run_resumes();
        let longest = self.scheduler.last_run_longest_slice();
        stats.deferred = self.scheduler.scheduled_count();
        stats.waiting_next_frame = self.scheduler.nice_count();
        stats.sleeping = self.scheduler.timer_count();
        stats.blocked = self
            .scheduler
            .alive_count()
            .saturating_sub(stats.deferred + stats.waiting_next_frame + stats.sleeping);
        match outcome {
            Ok(RunOutcome::BudgetSpent) => {
                stats.budget_spent = true;
                if let Budget::Time(budget) = self.budget {
                    stats.overshoot = Some(elapsed.saturating_sub(budget));
                }
            }
            Ok(_) => {}
            Err(RunError::Failed(failure)) => {
                // Only without an error handler, and the driver always sets one.
                self.hub
                    .events
                    .borrow_mut()
                    .push(ActorEvent::Failed(failure));
            }
            Err(RunError::Nested) => panic!("FrameDriver::tick called from inside a tasklet"),
        }
        // The backstop: a tasklet that suspended holding the world is killed here.
        lent.reclaim();
        drop(lent);

        let actors = self.hub.actors.borrow();
        stats.longest_slice = longest.map(|(tasklet, duration)| {
            let entity = actors.entity_of(tasklet.id());
            SliceSummary {
                tasklet: tasklet.id(),
                entity,
                name: entity.and_then(|e| actors.get(e)).map(|s| s.name.clone()),
                duration,
            }
        });
        let mut log = self.hub.slices.borrow_mut();
        if tracing {
            for info in log.all.drain(..) {
                let entity = actors.entity_of(info.tasklet);
                let name = entity.and_then(|e| actors.get(e)).map_or_else(
                    || Rc::from(format!("tasklet {}", info.tasklet)),
                    |s| s.name.clone(),
                );
                let kind = SpanKind::Slice {
                    tasklet: info.tasklet,
                    entity,
                };
                self.trace
                    .push(name, kind, self.frame, info.start, info.duration);
            }
        }
        log.all.clear();
        std::mem::take(&mut log.overruns)
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
            self.configure_slice_log();
        }
    }

    /// Installs the slice hook and timing that the watchdog and trace recording need
    /// (and removes the hook when neither does).
    pub(super) fn configure_slice_log(&mut self) {
        let tracing = self.trace_frames_left > 0;
        {
            let mut log = self.hub.slices.borrow_mut();
            log.overrun_limit = self.watchdog.map(|w| w.limit);
            log.keep_all = tracing;
        }
        self.scheduler.set_timing(self.timing || tracing);
        if self.watchdog.is_some() || tracing {
            let hub = self.hub.clone();
            self.scheduler.set_slice_hook(Some(Box::new(move |info| {
                hub.slices.borrow_mut().record(info)
            })));
        } else {
            self.scheduler.set_slice_hook(None);
        }
    }
}
