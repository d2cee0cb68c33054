//! The galaxy: solar systems linked by stargates, each a shard of the engine (its own
//! world, frame driver and thread-owned tasklets), fleets in every system flying the
//! skirmish's ship scripts, and ships that jump from system to system: when their fleet
//! cannot win where they are, or when a patrol takes them where the hostiles are.
//!
//! [`Galaxy::start`] sets the systems up on their threads and starts the frames;
//! [`Galaxy::finish`] waits for them and sums up ([`GalaxySummary`]). The `galaxy`
//! binary adds the command line, the GIF and the JSON line.
//!
//! # Examples
//!
//! ```
//! use demos::galaxy::{Galaxy, GalaxyConfig};
//! use demos::scenario::Scenario;
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/skirmish.ron");
//! let base = Scenario::load(path).unwrap();
//! let config = GalaxyConfig {
//!     systems: 2,
//!     ships: 10,
//!     threads: 2,
//!     frames: 30,
//!     ..GalaxyConfig::default()
//! };
//! let summary = Galaxy::start(&base, config).unwrap().finish();
//! assert_eq!(summary.frames, 30);
//! assert!(summary.books_balance());
//! assert_eq!(summary.messages.in_transit(), 0);
//! ```

mod map;
mod picture;
mod report;
mod system;
mod watch;

use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Duration;

use engine::shard::{ClockMode, Cluster, StartError, Update};
use engine::{Budget, CrashPolicy, FrameDriver};

pub use map::{GateSpec, Side, StarMap, ARENA};
pub use picture::Pictures;
pub use report::{GalaxySummary, SystemSummary};
pub use system::{Intel, Serial, ShipCargo, StarSystem};
pub use watch::{hasher, SystemEnd, SystemPicture, SystemWatch};

use crate::scenario::Scenario;
use crate::skirmish::{Battle, SHIP_STACK_SIZE};

/// What galaxy to run, and how.
#[derive(Clone, Debug, PartialEq)]
pub struct GalaxyConfig {
    /// Solar systems (shards).
    pub systems: usize,
    /// Ships per system at the start, shared by its two fleets.
    pub ships: u32,
    /// Threads that run the systems.
    pub threads: usize,
    /// Frames to run.
    pub frames: u64,
    /// Seed of every random choice.
    pub seed: u64,
    /// Each system's tasklet budget per frame.
    pub budget: Budget,
    /// Lockstep (deterministic with a resume budget) or free-running.
    pub lockstep: bool,
    /// Draw a picture of every system every this many frames (for the GIF).
    pub render_every: Option<u64>,
}

impl Default for GalaxyConfig {
    /// Four systems of 200 ships on the machine's cores, 400 frames, lockstep with 300
    /// resumes a frame.
    fn default() -> Self {
        GalaxyConfig {
            systems: 4,
            ships: 200,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            frames: 400,
            seed: 4,
            budget: Budget::Resumes(300),
            lockstep: true,
            render_every: None,
        }
    }
}

/// A galaxy running on its threads.
pub struct Galaxy {
    cluster: Cluster<SystemWatch>,
    config: GalaxyConfig,
    map: StarMap,
    fleets: Vec<String>,
    ships_start: Vec<u32>,
}

impl std::fmt::Debug for Galaxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Galaxy")
            .field("config", &self.config)
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

impl Galaxy {
    /// Sets up every system (on its thread: its fleets from `base`'s ship classes and
    /// fleets, scaled to `config.ships`) and starts the frames.
    ///
    /// # Errors
    ///
    /// The cluster's [`StartError`]: a system whose tasklets could not be made (out of
    /// stacks), naming it.
    pub fn start(base: &Scenario, config: GalaxyConfig) -> Result<Galaxy, StartError> {
        let map = StarMap::new(config.systems);
        let scenarios: Vec<Scenario> = (0..map.systems())
            .map(|i| map.scenario(base, i, config.ships))
            .collect();
        let fleets: Vec<String> = base.fleets.iter().map(|f| f.name.clone()).collect();
        let mut ships_start = vec![0; fleets.len()];
        for scenario in &scenarios {
            for (f, fleet) in scenario.fleets.iter().enumerate() {
                ships_start[f] += fleet.ship_count();
            }
        }
        let names: Vec<String> = (0..map.systems()).map(|i| map.name(i)).collect();
        let mode = if config.lockstep {
            ClockMode::Lockstep
        } else {
            ClockMode::FREE_RUNNING
        };
        let driver = FrameDriver::builder()
            .budget(config.budget)
            .stack_size(SHIP_STACK_SIZE)
            .on_panic(CrashPolicy::Despawn);
        let scenarios = Arc::new(scenarios);
        let (seed, render_every) = (config.seed, config.render_every);
        let cluster = Cluster::builder()
            .shards(names)
            .threads(config.threads)
            .mode(mode)
            .frames(config.frames)
            .dt(Duration::from_secs_f64(base.time_step))
            .seed(seed)
            .driver(driver)
            .start(move |shard| {
                let battle = Battle::new(scenarios[shard.id().index()].clone());
                let system = system::set_up(shard, map, battle, seed)?;
                Ok(SystemWatch::new(system, render_every))
            })?;
        Ok(Galaxy {
            cluster,
            config,
            map,
            fleets,
            ships_start,
        })
    }

    /// The galaxy's layout.
    pub fn map(&self) -> StarMap {
        self.map
    }

    /// How many threads run the systems.
    pub fn threads(&self) -> usize {
        self.cluster.threads()
    }

    /// The fleets' names.
    pub fn fleets(&self) -> &[String] {
        &self.fleets
    }

    /// The systems' pictures (with `render_every`) and failures, as they come.
    pub fn updates(&self) -> &Receiver<Update<SystemPicture>> {
        self.cluster.updates()
    }

    /// Waits for the last frame and sums up.
    pub fn finish(self) -> GalaxySummary {
        let threads = self.cluster.threads();
        let report = self.cluster.join();
        GalaxySummary::new(
            &self.config,
            threads,
            &self.fleets,
            &self.ships_start,
            &report,
        )
    }
}
