//! The frame driver: one `tick` per frame runs the phases of [`phases`](crate::phases)
//! in order, within a budget, and records what happened.

use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use frame_core::FramePump;
use hecs::{DynamicBundle, Entity, World};
use uthread::{Budget, Scheduler, StackStrategy, Tasklet, TaskletId};

use crate::actor::{self, Actor, CrashPolicy};
use crate::command::CommandQueue;
use crate::error::{SendError, SpawnError};
use crate::hub::{ActorEvent, FrameInfo, Hub, WorldCommand};
use crate::rng::Rng;
use crate::stats::{FrameStats, TaskletTimes};
use crate::system::{SystemContext, SystemEntry};
use crate::trace::Trace;
use frame_core::{WatchdogConfig, WatchdogPolicy};

mod run;
mod settle;

/// How many rounds of "handle ended actors, apply commands" the command phase runs at
/// most; a round only follows one that changed something (a kill whose unwinding
/// reported a failure, say).
const COMMAND_ROUNDS: usize = 8;

/// Configures a [`FrameDriver`].
#[derive(Clone, Debug)]
#[must_use = "call build() to get the driver"]
pub struct FrameDriverBuilder {
    budget: Budget,
    timing: bool,
    watchdog: Option<WatchdogConfig>,
    on_panic: CrashPolicy,
    seed: u64,
    stack_size: Option<usize>,
    stack_strategy: Option<StackStrategy>,
    stall_threshold: Option<Duration>,
}

impl Default for FrameDriverBuilder {
    fn default() -> Self {
        FrameDriverBuilder {
            budget: Budget::Unlimited,
            timing: true,
            watchdog: None,
            on_panic: CrashPolicy::MarkCrashed,
            seed: 0,
            stack_size: None,
            stack_strategy: None,
            stall_threshold: Some(crate::stall::DEFAULT_STALL_THRESHOLD),
        }
    }
}

impl FrameDriverBuilder {
    /// The tasklet phase's budget per frame: `Budget::Time(d)` for normal play,
    /// `Budget::Resumes(n)` for deterministic runs, `Budget::Unlimited` (the default) to
    /// run until every tasklet waits.
    pub fn budget(mut self, budget: Budget) -> FrameDriverBuilder {
        self.budget = budget;
        self
    }

    /// Times every slice (per-tasklet run time, the longest slice, the watchdog,
    /// traces). On by default; costs two clock reads per slice. A time budget times
    /// slices anyway, and a watchdog turns timing on.
    pub fn timing(mut self, on: bool) -> FrameDriverBuilder {
        self.timing = on;
        self
    }

    /// Watches every slice: one longer than `limit` is reported as an
    /// [`Incident`](crate::Incident), and handled by `policy`.
    pub fn watchdog(mut self, limit: Duration, policy: WatchdogPolicy) -> FrameDriverBuilder {
        self.watchdog = Some(WatchdogConfig { limit, policy });
        self
    }

    /// What happens to the entity of a behaviour that panics (or is killed by the
    /// watchdog or for holding the world): [`CrashPolicy::MarkCrashed`] by default.
    pub fn on_panic(mut self, policy: CrashPolicy) -> FrameDriverBuilder {
        self.on_panic = policy;
        self
    }

    /// Seeds the driver's generator (which systems draw from) and every actor's (each
    /// derived from the seed and the actor's spawn number).
    pub fn seed(mut self, seed: u64) -> FrameDriverBuilder {
        self.seed = seed;
        self
    }

    /// Default stack size of actors' tasklets (uthread's default otherwise).
    pub fn stack_size(mut self, bytes: usize) -> FrameDriverBuilder {
        self.stack_size = Some(bytes);
        self
    }

    /// How actors' tasklets get their stacks: a dedicated guarded stack each (the
    /// default, safe at any count), or stack copying, which is smaller per actor but only
    /// `unsafe` code can choose (see `uthread::StackStrategy::copying`).
    pub fn stack_strategy(mut self, strategy: StackStrategy) -> FrameDriverBuilder {
        self.stack_strategy = Some(strategy);
        self
    }

    /// Live stall reports (on by default, 100 ms): a behaviour whose slice runs longer
    /// than `threshold` (a loop that makes no uthread call) is reported on stderr while
    /// it still runs, with its actor's name and entity, and again when it yields, with
    /// the total. A watchdog thread watches; the frame pays two atomic stores a slice.
    /// `None` turns the reports off (and the thread is not started).
    pub fn stall_reports(mut self, threshold: Option<Duration>) -> FrameDriverBuilder {
        self.stall_threshold = threshold;
        self
    }

    /// Builds the driver, with its own scheduler on a manual clock.
    pub fn build(self) -> FrameDriver {
        let timing = self.timing || self.watchdog.is_some();
        let mut scheduler = Scheduler::builder().manual_clock().timing(timing);
        if let Some(bytes) = self.stack_size {
            scheduler = scheduler.stack_size(bytes);
        }
        if let Some(strategy) = self.stack_strategy {
            scheduler = scheduler.stack_strategy(strategy);
        }
        let scheduler = Rc::new(scheduler.build());
        let hub = Rc::new(Hub::new(self.seed));
        if let Some(threshold) = self.stall_threshold {
            *hub.stall_labels.borrow_mut() =
                crate::stall::StallLabels::install(&scheduler, threshold);
        }
        let errors = hub.clone();
        scheduler.set_error_handler(move |failure| {
            errors.events.borrow_mut().push(ActorEvent::Failed(failure));
        });
        let pump = FramePump::new(scheduler.clone(), self.budget, timing, self.watchdog);
        FrameDriver {
            scheduler,
            pump,
            hub,
            systems: Vec::new(),
            on_panic: self.on_panic,
            rng: Rng::new(self.seed),
            frame: 0,
            stats: FrameStats::default(),
            trace: Trace::new(),
            trace_frames_left: 0,
            commands: Vec::new(),
            events: Vec::new(),
            running_system: None,
        }
    }
}

/// Drives a game world's actors, one frame per [`tick`](FrameDriver::tick): the
/// "special driver" that CCP built around Stackless Python for EVE Online.
///
/// Every actor is an entity plus a tasklet running its behaviour. Each frame the driver
/// advances the game clock, runs the systems, resumes ready tasklets within the budget,
/// applies the commands they queued and records [`FrameStats`]; see
/// [`phases`](crate::phases) for the order and who may touch what.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use engine::{Actor, Budget, FrameDriver};
///
/// struct Pos(f32);
///
/// let mut world = hecs::World::new();
/// let mut driver = FrameDriver::builder().budget(Budget::Resumes(1_000)).build();
/// let gate = driver
///     .spawn(&mut world, (Pos(0.0),), Actor::new(|ctx| {
///         // "Fly to the gate, wait 1 s, jump": plain sequential code.
///         while ctx.update(|p: &mut Pos| { p.0 += 10.0; p.0 }) < Some(30.0) {
///             ctx.be_nice().unwrap();
///         }
///         ctx.sleep(Duration::from_secs(1)).unwrap();
///         ctx.update(|p: &mut Pos| p.0 = 1_000.0);
///     }).name("jumper"))
///     .unwrap();
/// let mut frames = 0;
/// while world.get::<&Pos>(gate).unwrap().0 < 1_000.0 {
///     driver.tick(&mut world, Duration::from_millis(250));
///     frames += 1;
/// }
/// assert_eq!(frames, 7); // 3 frames of flight, 4 of waiting (1 s at 250 ms a frame)
/// ```
///
/// A driver, like its tasklets, stays on the thread that made it:
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<engine::FrameDriver>();
/// ```
pub struct FrameDriver {
    // Dropped before the hub (the pump holds the other handle): the scheduler kills
    // (unwinds) every tasklet left.
    scheduler: Rc<Scheduler>,
    /// The tasklet phase: budget, slice timing, the watchdog's slice log.
    pump: FramePump,
    hub: Rc<Hub>,
    systems: Vec<SystemEntry>,
    on_panic: CrashPolicy,
    rng: Rng,
    frame: u64,
    stats: FrameStats,
    trace: Trace,
    trace_frames_left: usize,
    /// Spare buffers swapped with the hub's queues, so the command phase does not
    /// allocate.
    commands: Vec<WorldCommand>,
    events: Vec<ActorEvent>,
    /// The system being run; still set after a tick that a system's panic unwound.
    running_system: Option<Rc<str>>,
}

impl fmt::Debug for FrameDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameDriver")
            .field("frame", &self.frame)
            .field("budget", &self.pump.budget())
            .field("actors", &self.actor_count())
            .field("systems", &self.systems.len())
            .field("watchdog", &self.pump.watchdog())
            .finish_non_exhaustive()
    }
}

impl Default for FrameDriver {
    fn default() -> Self {
        FrameDriver::new()
    }
}

impl FrameDriver {
    /// A driver with default settings (no budget limit, slice timing on, no watchdog,
    /// crashed actors marked, seed 0).
    pub fn new() -> FrameDriver {
        FrameDriver::builder().build()
    }

    /// Configures a driver.
    pub fn builder() -> FrameDriverBuilder {
        FrameDriverBuilder::default()
    }

    /// Runs one frame: the phases of [`phases`](crate::phases), in order, with `dt` of
    /// game time. Returns the frame's stats (also kept in [`FrameDriver::stats`]).
    ///
    /// # Panics
    ///
    /// When called from inside a tasklet, or when the world cannot be handed back
    /// (only if a `WorldAccess` was leaked with `std::mem::forget`).
    pub fn tick(&mut self, world: &mut World, dt: Duration) -> &FrameStats {
        let scheduler = self.scheduler.clone();
        // Kills from the main context must reach this driver's scheduler even when it is
        // not the thread's default one.
        scheduler.enter(|| self.run_frame(world, dt));
        &self.stats
    }

    fn run_frame(&mut self, world: &mut World, dt: Duration) {
        let started = Instant::now();
        self.frame += 1;
        let frame = self.frame;
        self.running_system = None;
        self.stats.reset(frame);
        self.hub.frame.set(FrameInfo { number: frame, dt });
        let tracing = self.trace_frames_left > 0;

        // 1 + 2: game clock, due timers, then the be_nice waiters of the last frame.
        self.scheduler.advance(dt);
        let clock_done = Instant::now();

        // 3: systems, then actors whose entities were despawned behind our back.
        self.run_systems(world, tracing);
        self.reconcile(world);
        let systems_done = Instant::now();

        // 4: tasklets, within the budget.
        let overruns = self.run_tasklets(world, tracing);
        let tasklets_done = Instant::now();

        // 5: ended actors, the watchdog, queued commands.
        self.apply_watchdog(world, overruns);
        for _ in 0..COMMAND_ROUNDS {
            let handled = self.handle_events(world);
            let applied = self.apply_commands(world);
            if !handled && !applied {
                break;
            }
        }
        let commands_done = Instant::now();

        // 6: stats.
        let stats = &mut self.stats;
        stats.game_time = self.scheduler.now();
        stats.actors = self.hub.actors.borrow().len();
        stats.time.clock = clock_done - started;
        stats.time.systems = systems_done - clock_done;
        stats.time.tasklets = tasklets_done - systems_done;
        stats.time.commands = commands_done - tasklets_done;
        stats.time.total = commands_done - started;
        if tracing {
            self.trace_frame(
                frame,
                [
                    started,
                    clock_done,
                    systems_done,
                    tasklets_done,
                    commands_done,
                ],
            );
        }
    }

    /// Spawns an entity with `components` and starts `actor` on it. Its behaviour first
    /// runs in the next tasklet phase.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Tasklet`] when no tasklet can be made (the stack pool says which
    /// limit was hit); the entity is not left behind.
    pub fn spawn(
        &mut self,
        world: &mut World,
        components: impl DynamicBundle,
        actor: Actor,
    ) -> Result<Entity, SpawnError> {
        let entity = world.spawn(components);
        match actor::start(&self.hub, &self.scheduler, world, entity, actor) {
            Ok(()) => Ok(entity),
            Err(e) => {
                let _ = world.despawn(entity);
                Err(e)
            }
        }
    }

    /// Starts `actor` on an existing entity (one loaded from a scenario, say).
    ///
    /// # Errors
    ///
    /// [`SpawnError::NoSuchEntity`], [`SpawnError::AlreadyAnActor`], or
    /// [`SpawnError::Tasklet`].
    pub fn attach(
        &mut self,
        world: &mut World,
        entity: Entity,
        actor: Actor,
    ) -> Result<(), SpawnError> {
        actor::start(&self.hub, &self.scheduler, world, entity, actor)
    }

    /// Despawns `entity`; if it is an actor, its tasklet is killed first and unwinds at
    /// once (its destructors run, with the world lent to it). Returns whether the
    /// entity existed.
    pub fn despawn(&mut self, world: &mut World, entity: Entity) -> bool {
        let hub = self.hub.clone();
        self.scheduler.enter(|| actor::despawn(&hub, world, entity))
    }

    /// Stops `entity`'s behaviour (its tasklet is killed and unwinds) but keeps the
    /// entity. Returns whether it had one.
    pub fn stop(&mut self, world: &mut World, entity: Entity) -> bool {
        let hub = self.hub.clone();
        self.scheduler
            .enter(|| actor::stop(&hub, world, entity).is_some())
    }

    /// Puts an event into the inbox of `to`, without blocking; its behaviour gets it in
    /// the next tasklet phase.
    ///
    /// # Errors
    ///
    /// [`SendError`] (with the event) when `to` is not a running actor.
    pub fn send<E: 'static>(&self, to: Entity, event: E) -> Result<(), SendError<E>> {
        self.hub.deliver(to, event)
    }

    /// The command queue for commands of type `C` (made on first use), to move into
    /// the system that drains it.
    pub fn command_queue<C: 'static>(&self) -> CommandQueue<C> {
        self.hub.command_queue::<C>()
    }

    /// Adds a system; systems run in the order they were added, once per frame, in the
    /// system phase.
    pub fn add_system(
        &mut self,
        name: impl Into<String>,
        system: impl FnMut(&mut SystemContext<'_>) + 'static,
    ) {
        self.systems.push(SystemEntry {
            name: Rc::from(name.into()),
            run: Box::new(system),
        });
    }

    /// Whether `entity` has a running behaviour.
    pub fn is_actor(&self, entity: Entity) -> bool {
        self.hub.actors.borrow().get(entity).is_some()
    }

    /// How many actors are running.
    pub fn actor_count(&self) -> usize {
        self.hub.actors.borrow().len()
    }

    /// The tasklet running `entity`'s behaviour.
    pub fn tasklet_of(&self, entity: Entity) -> Option<Tasklet> {
        self.hub
            .actors
            .borrow()
            .get(entity)
            .map(|s| s.tasklet.clone())
    }

    /// The entity whose behaviour `tasklet` runs.
    pub fn entity_of(&self, tasklet: TaskletId) -> Option<Entity> {
        self.hub.actors.borrow().entity_of(tasklet)
    }

    /// One actor's accumulated timers.
    pub fn tasklet_times_of(&self, entity: Entity) -> Option<TaskletTimes> {
        let actors = self.hub.actors.borrow();
        let slot = actors.get(entity)?;
        Some(TaskletTimes {
            entity,
            name: slot.name.clone(),
            run_time: slot.tasklet.run_time(),
            switches: slot.tasklet.switch_count(),
        })
    }

    /// Every actor's accumulated timers, the longest-running first (EVE's tasklet
    /// timers).
    pub fn tasklet_times(&self) -> Vec<TaskletTimes> {
        let mut times: Vec<TaskletTimes> = {
            let actors = self.hub.actors.borrow();
            actors
                .entities()
                .iter()
                .filter_map(|&e| {
                    let slot = actors.get(e)?;
                    Some(TaskletTimes {
                        entity: e,
                        name: slot.name.clone(),
                        run_time: slot.tasklet.run_time(),
                        switches: slot.tasklet.switch_count(),
                    })
                })
                .collect()
        };
        times.sort_by(|a, b| {
            b.run_time
                .cmp(&a.run_time)
                .then(b.switches.cmp(&a.switches))
                .then(a.entity.cmp(&b.entity))
        });
        times
    }

    // ---- settings and figures ------------------------------------------------------------

    /// The stats of the last frame.
    pub fn stats(&self) -> &FrameStats {
        &self.stats
    }

    /// The number of the last frame run (0 before the first tick).
    pub fn frame(&self) -> u64 {
        self.frame
    }

    /// Game time: the sum of every `dt` ticked.
    pub fn now(&self) -> Duration {
        self.scheduler.now()
    }

    /// The system that was running when the last tick was cut short by a panic in it
    /// (the panic unwound out of [`FrameDriver::tick`]); `None` after a tick that
    /// finished. A host that catches a tick's panic names the culprit with it.
    pub fn interrupted_system(&self) -> Option<&str> {
        self.running_system.as_deref()
    }

    /// The tasklet phase's budget.
    pub fn budget(&self) -> Budget {
        self.pump.budget()
    }

    /// Changes the tasklet phase's budget from the next frame on.
    pub fn set_budget(&mut self, budget: Budget) {
        self.pump.set_budget(budget);
    }

    /// The driver's random generator (systems draw from it too).
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// The scheduler that runs the actors' tasklets (for introspection, or for tasklets
    /// that are not actors).
    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    // ---- traces --------------------------------------------------------------------------

    /// Records the next `frames` frames (dropping what was recorded before): one span
    /// per frame, phase, system and slice. Slice timing is on while recording.
    pub fn record_trace(&mut self, frames: usize) {
        self.trace.restart();
        self.trace_frames_left = frames;
        self.pump.set_recording(frames > 0);
    }

    /// What was recorded (see [`FrameDriver::record_trace`]).
    pub fn trace(&self) -> &Trace {
        &self.trace
    }
}
