//! The swarm: a field of animals in herds, every animal an entity whose behaviour is a
//! tasklet (see [`behaviour`]): it rests, wanders, steers toward its herd and runs
//! away from strangers. Systems move the animals, file them in a spatial grid and tell
//! them about close encounters (see [`systems`]); the engine's [`FrameDriver`] resumes
//! the few that are awake each frame within a budget. It is the scale demo: tens of
//! thousands of animals on dedicated stacks, a million with stack copying.
//!
//! [`Swarm`] sets a field up, steps it and measures it; the `swarm` binary adds the
//! command line, progress lines and the summary.

pub mod behaviour;
mod components;
mod grid;
mod report;
pub mod systems;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use engine::{Budget, FrameDriver, FrameStats, StackStrategy, WorldHasher};
use hecs::World;

pub use crate::measure::resident_bytes;
pub use crate::vec2::Vec2;
pub use components::{Activity, Alarmed, Census, Encounter, Herd, Position, Velocity};
pub use grid::{Grid, Resident};
pub use report::Summary;
pub use systems::Mover;

use crate::progress::{Progress, Silent};
use crate::Rng;

/// Spawns or despawns between two progress reports.
const PROGRESS_EVERY: usize = 4096;

/// Game time per frame: 60 frames per second.
pub const FRAME: Duration = Duration::from_nanos(16_666_667);
/// Square metres of field per animal: the arena grows with the swarm, so every
/// animal has about as many neighbours whatever the count.
pub const AREA_PER_ANIMAL: f64 = 100.0;
/// Herds on the field.
pub const HERDS: u8 = 4;
/// How far an animal looks for herd mates, metres (also the grid's cell size).
pub const FLOCK_RADIUS: f64 = 12.0;
/// How close a stranger must come to startle an animal, metres.
pub const ENCOUNTER_RADIUS: f64 = 2.0;
/// A moving animal looks for animals to startle once every this many frames: a walker
/// covers 10 cm in that time and a runner 33, well inside [`ENCOUNTER_RADIUS`], so
/// nobody slips past unseen, for a quarter of the neighbour queries.
pub const ENCOUNTER_EVERY: u64 = 4;
/// Closer than this to a herd mate, metres, an animal steers away from it.
pub const PERSONAL_SPACE: f64 = 1.5;
/// Walking speed, metres per second.
pub const WALK_SPEED: f64 = 1.4;
/// Running speed, metres per second.
pub const RUN_SPEED: f64 = 5.0;
/// How strongly a wandering animal turns toward the middle of its herd mates.
pub const COHESION: f64 = 0.4;
/// How strongly it turns away from herd mates that crowd it.
pub const SEPARATION: f64 = 1.0;
/// How long a rest lasts, seconds (uniform in this range). Rests are long and walks
/// short, so about four animals in five are lying down at any moment.
pub const REST: (f64, f64) = (4.0, 16.0);
/// How long a walk lasts, seconds.
pub const WANDER: (f64, f64) = (1.0, 3.0);
/// How long a flight lasts, seconds.
pub const FLEE: (f64, f64) = (0.4, 0.8);
/// How often a walking animal looks around and steers.
pub const THINK: Duration = Duration::from_millis(400);
/// How long an animal catches its breath after running.
pub const BREATH: Duration = Duration::from_secs(1);
/// Usable stack per animal by default; the behaviours are shallow.
pub const DEFAULT_STACK_SIZE: usize = 64 * 1024;

/// What the systems and the behaviours share: the arena, the grid and the counters.
#[derive(Debug)]
pub struct Field {
    /// The arena's side, metres (it is square).
    pub side: f64,
    /// Every animal by cell, kept up to date by the grid system.
    pub grid: RefCell<Grid>,
    /// The animals that moved in this frame (the movement system lists them).
    pub movers: RefCell<Vec<Mover>>,
    /// Who was doing what at the start of the last frame (the movement system counts).
    pub census: Cell<Census>,
    /// Behaviours that have run at least once.
    pub started: Cell<usize>,
    /// Encounters sent so far.
    pub encounters: Cell<u64>,
}

/// How to set a swarm up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SwarmConfig {
    /// Animals (entities, each with a tasklet).
    pub entities: usize,
    /// Seed of the placement and of every animal's choices.
    pub seed: u64,
    /// The tasklet phase's budget per frame.
    pub budget: Budget,
    /// Where the tasklets' stacks live.
    pub stacks: StackStrategy,
    /// Usable stack per tasklet, bytes.
    pub stack_size: usize,
}

impl SwarmConfig {
    /// `entities` animals from `seed`, with a resume budget of a tenth of them per frame
    /// (deterministic), on dedicated stacks (the default at any count).
    pub fn new(entities: usize, seed: u64) -> SwarmConfig {
        SwarmConfig {
            entities,
            seed,
            budget: Budget::Resumes((entities as u64 / 10).max(1)),
            stacks: StackStrategy::dedicated(),
            stack_size: DEFAULT_STACK_SIZE,
        }
    }
}

/// Stack copying for the swarm's animals (`swarm --stacks copying`): about a third of the
/// memory of dedicated stacks per animal, and a copy per switch.
pub use crate::cli::copying_stacks;

/// A swarm in progress, and what was measured of it.
///
/// # Examples
///
/// ```
/// use demos::swarm::{Swarm, SwarmConfig};
///
/// let mut swarm = Swarm::new(SwarmConfig::new(200, 7)).unwrap();
/// for _ in 0..120 {
///     swarm.step();
/// }
/// assert_eq!(swarm.frames(), 120);
/// assert_eq!(swarm.tasklets_live(), 200);
/// let census = swarm.field.census.get();
/// assert_eq!(census.total(), 200);
/// assert!(census.resting > census.wandering + census.fleeing, "{census:?}");
/// ```
pub struct Swarm {
    /// The entities: one per animal.
    pub world: World,
    /// Runs the systems and the animals' tasklets.
    pub driver: FrameDriver,
    /// What the systems and behaviours share.
    pub field: Rc<Field>,
    config: SwarmConfig,
    hasher: WorldHasher,
    /// Wall time of every tick, milliseconds.
    frame_ms: Vec<f64>,
    /// Wall time of every tick's tasklet phase, milliseconds.
    tasklet_ms: Vec<f64>,
    /// Wall time of every tick's clock phase (timers) and system phase, milliseconds.
    clock_ms: Vec<f64>,
    systems_ms: Vec<f64>,
    /// Resumes and tasklet-phase time, summed over every frame.
    resumes: u64,
    tasklet_time: Duration,
    /// Frames whose tasklet phase ran out of budget.
    budget_spent: u64,
    /// How long spawning every animal took.
    setup: Duration,
    /// How long the start-up tick took (every animal's first run).
    startup: Duration,
    /// Resident memory before the first animal was spawned, bytes.
    rss_before: Option<u64>,
    /// Resident memory once every animal had run once, bytes.
    rss_started: Option<u64>,
}

impl std::fmt::Debug for Swarm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Swarm")
            .field("config", &self.config)
            .field("frames", &self.frame_ms.len())
            .field("census", &self.field.census.get())
            .finish_non_exhaustive()
    }
}

impl Swarm {
    /// Sets up a field for `config.entities` animals, scattered at random (from
    /// `config.seed`) in equal herds, with a tasklet each, the systems, and a driver
    /// with `config.budget` per frame; then runs the start-up tick, in which every
    /// animal's script starts, runs up to its first wait and suspends there.
    ///
    /// The start-up tick is the swarm's level load: it has no budget (a million first
    /// runs take seconds, and spreading them over a few hundred budgeted frames would
    /// only delay the game), it is timed apart ([`Swarm::startup_time`]) and it is not
    /// one of the measured frames. Resident memory is read before the first spawn and
    /// after the start-up tick, when every tasklet has run once and is suspended.
    ///
    /// # Errors
    ///
    /// The engine's spawn error when a tasklet cannot be made (out of stacks: out of
    /// memory, or on kernels without guard regions past about 32,000 animals).
    pub fn new(config: SwarmConfig) -> Result<Swarm, engine::SpawnError> {
        Swarm::with_progress(config, &mut Silent)
    }

    /// [`Swarm::new`], telling `progress` how the spawning and the start-up tick go.
    ///
    /// # Errors
    ///
    /// As [`Swarm::new`].
    pub fn with_progress(
        config: SwarmConfig,
        progress: &mut dyn Progress,
    ) -> Result<Swarm, engine::SpawnError> {
        let side = (config.entities.max(1) as f64 * AREA_PER_ANIMAL).sqrt();
        let field = Rc::new(Field {
            side,
            grid: RefCell::new(Grid::new(side, FLOCK_RADIUS)),
            movers: RefCell::new(Vec::new()),
            census: Cell::new(Census::default()),
            started: Cell::new(0),
            encounters: Cell::new(0),
        });
        let mut driver = FrameDriver::builder()
            .budget(config.budget)
            .seed(config.seed)
            .stack_strategy(config.stacks)
            .stack_size(config.stack_size)
            // Per-slice timers cost two clock reads a resume; the swarm needs none.
            .timing(false)
            .build();
        systems::install(&mut driver, &field);
        let mut world = World::new();
        let rss_before = resident_bytes();

        let setup = Instant::now();
        let mut rng = Rng::new(config.seed);
        let mut animals: Vec<(usize, Vec2, u8)> = (0..config.entities)
            .map(|i| {
                let position = Vec2::new(rng.uniform(0.0..side), rng.uniform(0.0..side));
                let herd = (i % usize::from(HERDS)) as u8;
                (0, position, herd)
            })
            .collect();
        // Spawned cell by cell, neighbours get neighbouring entity indices (and so
        // neighbouring grid entries and component rows; most never move far), so the
        // neighbour queries and the movement pass walk memory in order instead of
        // jumping about.
        {
            let grid = field.grid.borrow();
            for animal in &mut animals {
                animal.0 = grid.cell_of(animal.1);
            }
        }
        animals.sort_by_key(|&(cell, ..)| cell);
        world.reserve::<(Position, Velocity, Herd, Activity, Alarmed)>(
            u32::try_from(config.entities).unwrap_or(u32::MAX),
        );
        progress.start("spawning animals", config.entities as u64);
        for (spawned, (_, position, herd)) in animals.into_iter().enumerate() {
            if spawned % PROGRESS_EVERY == 0 {
                progress.set(spawned as u64);
            }
            let components = (
                Position(position),
                Velocity(Vec2::ZERO),
                Herd(herd),
                Activity::Resting,
                Alarmed(false),
            );
            let entity = driver.spawn(
                &mut world,
                components,
                behaviour::animal_actor(field.clone()),
            )?;
            field.grid.borrow_mut().insert(entity, position, herd);
        }
        let setup = setup.elapsed();

        // Start-up: every script runs to its first wait.
        progress.start("first run of every animal", 0);
        let startup = Instant::now();
        driver.set_budget(Budget::Unlimited);
        driver.tick(&mut world, FRAME);
        driver.set_budget(config.budget);
        let startup = startup.elapsed();
        progress.finish();
        assert_eq!(
            field.started.get(),
            config.entities,
            "an unlimited tick starts every animal"
        );
        let rss_started = resident_bytes();

        let hasher = WorldHasher::new()
            .component::<Herd>()
            .component::<Activity>()
            .component::<Alarmed>()
            .component_with::<Position>(|p, h| {
                use std::hash::Hasher;
                h.write_u64(p.0.x.to_bits());
                h.write_u64(p.0.y.to_bits());
            })
            .component_with::<Velocity>(|v, h| {
                use std::hash::Hasher;
                h.write_u64(v.0.x.to_bits());
                h.write_u64(v.0.y.to_bits());
            });
        Ok(Swarm {
            world,
            driver,
            field,
            config,
            hasher,
            frame_ms: Vec::new(),
            tasklet_ms: Vec::new(),
            clock_ms: Vec::new(),
            systems_ms: Vec::new(),
            resumes: 0,
            tasklet_time: Duration::ZERO,
            budget_spent: 0,
            setup,
            startup,
            rss_before,
            rss_started,
        })
    }

    /// Runs one frame and measures it.
    pub fn step(&mut self) -> &FrameStats {
        let start = Instant::now();
        let stats = self.driver.tick(&mut self.world, FRAME);
        self.frame_ms.push(start.elapsed().as_secs_f64() * 1000.0);
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        self.tasklet_ms.push(ms(stats.time.tasklets));
        self.clock_ms.push(ms(stats.time.clock));
        self.systems_ms.push(ms(stats.time.systems));
        self.resumes += stats.resumed;
        self.tasklet_time += stats.time.tasklets;
        if stats.budget_spent {
            self.budget_spent += 1;
        }
        self.driver.stats()
    }

    /// The settings it was made with.
    pub fn config(&self) -> &SwarmConfig {
        &self.config
    }

    /// Frames run so far (the start-up tick not counted).
    pub fn frames(&self) -> usize {
        self.frame_ms.len()
    }

    /// Wall time of each frame so far, milliseconds.
    pub fn frame_times_ms(&self) -> &[f64] {
        &self.frame_ms
    }

    /// Wall time of each frame's tasklet phase so far, milliseconds.
    pub fn tasklet_times_ms(&self) -> &[f64] {
        &self.tasklet_ms
    }

    /// Wall time of each frame's clock phase (waking due timers) so far, milliseconds.
    pub fn clock_times_ms(&self) -> &[f64] {
        &self.clock_ms
    }

    /// Wall time of each frame's system phase so far, milliseconds.
    pub fn system_times_ms(&self) -> &[f64] {
        &self.systems_ms
    }

    /// Resumes made so far, in every frame together.
    pub fn resumes(&self) -> u64 {
        self.resumes
    }

    /// Wall time spent in the tasklet phase so far, every frame together.
    pub fn tasklet_time(&self) -> Duration {
        self.tasklet_time
    }

    /// Frames whose tasklet phase ran out of budget and carried tasklets over.
    pub fn budget_spent_frames(&self) -> u64 {
        self.budget_spent
    }

    /// How long spawning every animal (entity and tasklet) took.
    pub fn setup_time(&self) -> Duration {
        self.setup
    }

    /// How long the start-up tick took: every animal's first run.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// Tasklets alive in the driver's scheduler.
    pub fn tasklets_live(&self) -> usize {
        self.driver.scheduler().alive_count()
    }

    /// Resident memory before the first spawn and after the start-up tick (every animal
    /// has run once and is suspended), bytes; `None` where it could not be read.
    pub fn resident_memory(&self) -> (Option<u64>, Option<u64>) {
        (self.rss_before, self.rss_started)
    }

    /// A hash of every animal's herd, activity, alarm, position and velocity: equal for equal
    /// swarms (same count, seed and a resume-count budget).
    pub fn world_hash(&self) -> u64 {
        self.hasher.hash(&self.world)
    }

    /// The summary of the swarm so far.
    pub fn summary(&self) -> Summary {
        Summary::of(self)
    }

    /// The summary, then tears the swarm down (every tasklet is killed and unwinds)
    /// and adds how long that took.
    pub fn finish(self) -> Summary {
        self.finish_with_progress(&mut Silent)
    }

    /// [`Swarm::finish`], telling `progress` that the teardown goes on: the driver is
    /// dropped with every animal's tasklet (its scheduler kills and unwinds them all in
    /// one sweep, and unmaps their stacks at once), then the world.
    pub fn finish_with_progress(self, progress: &mut dyn Progress) -> Summary {
        let mut summary = self.summary();
        let start = Instant::now();
        progress.start("tearing down (every tasklet unwinds)", 0);
        drop(self);
        progress.finish();
        summary.teardown_ms = Some(start.elapsed().as_secs_f64() * 1000.0);
        summary
    }
}
