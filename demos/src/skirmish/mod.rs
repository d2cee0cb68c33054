//! The fleet skirmish: two fleets from a scenario, every ship an entity whose behaviour is
//! a tasklet (see [`behaviour`]), systems for weapons, movement and sensors (see
//! [`systems`]), all driven frame by frame by the engine's [`FrameDriver`].
//!
//! [`Skirmish`] sets a battle up and steps it; the `skirmish` binary adds the command
//! line, progress lines, the GIF and the summary.

mod battle;
pub mod behaviour;
mod components;
mod picture;
mod report;
mod sensors;
pub mod systems;
mod vec2;

use std::rc::Rc;
use std::time::{Duration, Instant};

use engine::{Budget, FrameDriver, FrameStats, WorldHasher};
use hecs::World;

pub use battle::{Battle, BattleLog, Departure, ShotRecord};
pub use components::{Fire, Helm, Hit, Hull, Motion, Ship};
pub use picture::Picture;
pub use report::{percentile, Summary};
pub use sensors::{Contact, Sensors};
pub use vec2::Vec2;

use crate::scenario::Scenario;
use crate::Rng;

/// Usable stack per ship: behaviours are shallow, so a small stack lets tens of thousands
/// of ships fit.
pub const SHIP_STACK_SIZE: usize = 64 * 1024;

/// After one side is gone, the battle runs this many more game seconds (for the last
/// explosions) before it ends.
const AFTERMATH: Duration = Duration::from_secs(2);

/// A battle in progress.
///
/// # Examples
///
/// ```
/// use demos::scenario::Scenario;
/// use demos::skirmish::Skirmish;
///
/// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/skirmish.ron");
/// let scenario = Scenario::load(path).unwrap().with_ships_per_fleet(4);
/// let mut battle = Skirmish::new(scenario, 7, engine::Budget::Resumes(1000)).unwrap();
/// for _ in 0..100 {
///     battle.step();
/// }
/// assert_eq!(battle.frames(), 100);
/// assert!(battle.on_field().iter().sum::<u32>() <= 8);
/// ```
pub struct Skirmish {
    /// The entities: one per ship.
    pub world: World,
    /// Runs the systems and the ships' tasklets.
    pub driver: FrameDriver,
    /// What the systems and behaviours share.
    pub battle: Rc<Battle>,
    budget: Budget,
    dt: Duration,
    ships_start: Vec<u32>,
    hasher: WorldHasher,
    /// Wall time of every tick, milliseconds.
    frame_ms: Vec<f64>,
    /// Frames whose tasklet phase ran out of budget.
    budget_spent: u64,
    /// Game time when one side was gone, once it happened.
    decided_at: Option<Duration>,
}

impl std::fmt::Debug for Skirmish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Skirmish")
            .field("scenario", &self.battle.scenario.name)
            .field("frames", &self.frame_ms.len())
            .field("on_field", &self.on_field())
            .finish_non_exhaustive()
    }
}

impl Skirmish {
    /// Sets up `scenario`: the fleets in formation around their positions (placed from
    /// `seed`), a tasklet per ship, the systems, and a driver with `budget` per frame.
    ///
    /// # Errors
    ///
    /// The engine's spawn error when a ship's tasklet cannot be made (out of stacks).
    pub fn new(
        scenario: Scenario,
        seed: u64,
        budget: Budget,
    ) -> Result<Skirmish, engine::SpawnError> {
        let dt = Duration::from_secs_f64(scenario.time_step);
        let battle = Rc::new(Battle::new(scenario));
        let mut driver = FrameDriver::builder()
            .budget(budget)
            .seed(seed)
            .stack_size(SHIP_STACK_SIZE)
            .build();
        systems::install(&mut driver, &battle);
        let mut world = World::new();
        let mut rng = Rng::new(seed);
        let scenario = &battle.scenario;
        let mut ships_start = Vec::new();
        for (fleet_index, fleet) in scenario.fleets.iter().enumerate() {
            let centre = Vec2::new(fleet.position.x, fleet.position.y);
            // Everyone starts facing the middle of the other fleets.
            let others: Vec<Vec2> = scenario
                .fleets
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != fleet_index)
                .map(|(_, f)| Vec2::new(f.position.x, f.position.y))
                .collect();
            let enemy = others
                .iter()
                .fold(Vec2::ZERO, |sum, p| sum + *p * (1.0 / others.len() as f64));
            let heading = (enemy - centre).angle();
            let mut number = 0;
            for squadron in &fleet.ships {
                let class_index = scenario
                    .classes
                    .iter()
                    .position(|c| c.name == squadron.class)
                    .expect("a checked scenario names only known classes");
                let class = &scenario.classes[class_index];
                for _ in 0..squadron.count {
                    number += 1;
                    // Uniform over the disc of the formation.
                    let r = fleet.spread * rng.unit().sqrt();
                    let offset = Vec2::from_angle(rng.range(0.0, std::f64::consts::TAU)) * r;
                    let mut position = centre + offset;
                    position.x = position.x.clamp(0.0, scenario.arena.width);
                    position.y = position.y.clamp(0.0, scenario.arena.height);
                    let components = (
                        Ship {
                            fleet: fleet_index,
                            class: class_index,
                        },
                        Motion {
                            position,
                            velocity: Vec2::ZERO,
                            heading,
                        },
                        Hull {
                            hit_points: class.hit_points,
                            max: class.hit_points,
                        },
                        Helm::Hold,
                    );
                    let name = format!("{} {} {number}", fleet.name, class.name);
                    let actor =
                        behaviour::ship_actor(battle.clone(), fleet_index, class_index, name);
                    driver.spawn(&mut world, components, actor)?;
                }
            }
            ships_start.push(number);
        }
        let hasher = WorldHasher::new()
            .component::<Ship>()
            .component_with::<Motion>(|m, h| {
                use std::hash::Hasher;
                for v in [m.position.x, m.position.y, m.velocity.x, m.velocity.y] {
                    h.write_u64(v.to_bits());
                }
            })
            .component_with::<Hull>(|hull, h| {
                use std::hash::Hasher;
                h.write_u64(hull.hit_points.to_bits());
            });
        Ok(Skirmish {
            world,
            driver,
            battle,
            budget,
            dt,
            ships_start,
            hasher,
            frame_ms: Vec::new(),
            budget_spent: 0,
            decided_at: None,
        })
    }

    /// Runs one frame and times it.
    pub fn step(&mut self) -> &FrameStats {
        let start = Instant::now();
        let stats = self.driver.tick(&mut self.world, self.dt);
        self.frame_ms.push(start.elapsed().as_secs_f64() * 1000.0);
        if stats.budget_spent {
            self.budget_spent += 1;
        }
        if self.decided_at.is_none() && self.side_gone() {
            self.decided_at = Some(self.driver.now());
        }
        self.driver.stats()
    }

    /// Whether the battle is over: one side gone, and the aftermath shown.
    pub fn is_over(&self) -> bool {
        self.decided_at
            .is_some_and(|t| self.driver.now() >= t + AFTERMATH)
    }

    fn side_gone(&self) -> bool {
        self.on_field().contains(&0)
    }

    /// Frames run so far.
    pub fn frames(&self) -> usize {
        self.frame_ms.len()
    }

    /// Wall time of each frame so far, milliseconds.
    pub fn frame_times_ms(&self) -> &[f64] {
        &self.frame_ms
    }

    /// Ships each fleet started with.
    pub fn ships_start(&self) -> &[u32] {
        &self.ships_start
    }

    /// Ships of each fleet still in the battle.
    pub fn on_field(&self) -> Vec<u32> {
        let mut counts = vec![0; self.ships_start.len()];
        for ship in self.world.query::<&Ship>().iter() {
            counts[ship.fleet] += 1;
        }
        counts
    }

    /// The fleet left on the field when every other is gone; `None` while more than one
    /// fleet fights (or when none is left).
    pub fn winner(&self) -> Option<usize> {
        let on_field = self.on_field();
        let mut standing = on_field.iter().enumerate().filter(|(_, n)| **n > 0);
        match (standing.next(), standing.next()) {
            (Some((fleet, _)), None) => Some(fleet),
            _ => None,
        }
    }

    /// A hash of every ship's identity, position, velocity and hull: equal for equal
    /// battles (same scenario, seed and a resume-count budget).
    pub fn world_hash(&self) -> u64 {
        self.hasher.hash(&self.world)
    }

    /// The budget each frame's tasklet phase gets.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// Frames whose tasklet phase ran out of budget and carried tasklets over.
    pub fn budget_spent_frames(&self) -> u64 {
        self.budget_spent
    }

    /// Takes what the battle log gathered since the last call: shots and departures.
    pub fn drain_log(&self) -> (Vec<ShotRecord>, Vec<Departure>) {
        let mut log = self.battle.log.borrow_mut();
        (
            std::mem::take(&mut log.shots),
            std::mem::take(&mut log.departures),
        )
    }

    /// The summary of the battle so far.
    pub fn summary(&self) -> Summary {
        Summary::of(self)
    }
}
