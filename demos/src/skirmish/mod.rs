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
pub mod soak;
pub mod systems;

use std::rc::Rc;
use std::time::{Duration, Instant};

use engine::{Budget, CrashPolicy, FrameDriver, FrameStats, IncidentKind, WorldHasher};
use hecs::{Entity, World};

pub use battle::{Battle, BattleLog, Departure, ShotRecord};
pub use behaviour::INJECTED_FAULT;
pub use components::{Fire, Helm, Hit, Hull, Motion, Ship};
pub use picture::{explosion_mark, ship_marks, shot_mark, Picture};
pub use report::{Outcome, Summary};
pub use sensors::{Contact, Sensors};
// The shared pieces the skirmish has always exported from here.
pub use crate::measure::percentile;
pub use crate::vec2::Vec2;

use crate::scenario::Scenario;
use crate::Rng;

/// Frame times kept for the percentiles: a long (soak) run keeps the most recent ones
/// only, so that its memory does not grow with the number of frames.
const FRAME_TIMES_KEPT: usize = 1 << 16;

/// A ship script's panic as the engine reported it: which entity and tasklet, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct PanicReport {
    /// The frame it happened in.
    pub frame: u64,
    /// The ship's entity.
    pub entity: Option<Entity>,
    /// The ship's tasklet.
    pub tasklet: Option<uthread::TaskletId>,
    /// The tasklet's name (the ship's).
    pub name: String,
    /// The panic message.
    pub message: String,
}

impl std::fmt::Display for PanicReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "frame {}: ", self.frame)?;
        match self.entity {
            Some(e) => write!(f, "entity {e:?}")?,
            None => f.write_str("no entity")?,
        }
        match self.tasklet {
            Some(t) => write!(f, ", tasklet {t:?}")?,
            None => f.write_str(", no tasklet")?,
        }
        write!(f, " '{}' panicked: {}", self.name, self.message)
    }
}

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
    /// Wall time of the recent ticks, milliseconds (at most [`FRAME_TIMES_KEPT`]).
    frame_ms: Vec<f64>,
    /// Frames run.
    frames: usize,
    /// Ship scripts' panics reported by the engine, not yet taken by
    /// [`Skirmish::drain_panic_reports`].
    panic_reports: Vec<PanicReport>,
    /// Panics the engine reported, in all.
    panics_reported: u64,
    /// Stacks lent to tasklets once the fleets were set up.
    stacks_in_use_start: usize,
    /// Places reinforcements (soak runs) and numbers the next ship of each fleet.
    rng: Rng,
    next_number: Vec<u32>,
    /// Frames whose tasklet phase ran out of budget.
    budget_spent: u64,
    /// Game time when one side was gone, once it happened.
    decided_at: Option<Duration>,
}

impl std::fmt::Debug for Skirmish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Skirmish")
            .field("scenario", &self.battle.scenario.name)
            .field("frames", &self.frames)
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
        Skirmish::with_battle(Battle::new(scenario), seed, budget)
    }

    /// Sets up `battle` (a scenario, maybe with fault injection: see
    /// [`Battle::with_injected_panics`]) as [`Skirmish::new`] does. A ship whose script
    /// panics is reported and despawned; the battle goes on.
    ///
    /// # Errors
    ///
    /// As [`Skirmish::new`].
    pub fn with_battle(
        battle: Battle,
        seed: u64,
        budget: Budget,
    ) -> Result<Skirmish, engine::SpawnError> {
        let dt = Duration::from_secs_f64(battle.scenario.time_step);
        let battle = Rc::new(battle);
        let mut builder = FrameDriver::builder()
            .budget(budget)
            .seed(seed)
            .stack_size(SHIP_STACK_SIZE)
            .on_panic(CrashPolicy::Despawn);
        if let Some(strategy) = battle.stacks {
            builder = builder.stack_strategy(strategy);
        }
        let mut driver = builder.build();
        systems::install(&mut driver, &battle);
        let mut world = World::new();
        let mut rng = Rng::new(seed);
        let scenario = &battle.scenario;
        let mut ships_start = Vec::new();
        for (fleet_index, fleet) in scenario.fleets.iter().enumerate() {
            let mut number = 0;
            for squadron in &fleet.ships {
                let class_index = class_index(scenario, &squadron.class);
                for _ in 0..squadron.count {
                    number += 1;
                    let ship = ShipSpec {
                        fleet: fleet_index,
                        class: class_index,
                        number,
                    };
                    spawn_ship(&battle, &mut driver, &mut world, &mut rng, ship)?;
                }
            }
            ships_start.push(number);
        }
        let stacks_in_use_start = stacks_in_use(&driver);
        let next_number = ships_start.iter().map(|n| n + 1).collect();
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
            frames: 0,
            panic_reports: Vec::new(),
            panics_reported: 0,
            stacks_in_use_start,
            rng,
            next_number,
            budget_spent: 0,
            decided_at: None,
        })
    }

    /// Runs one frame and times it; collects the panics the engine reported in it.
    pub fn step(&mut self) -> &FrameStats {
        let start = Instant::now();
        let stats = self.driver.tick(&mut self.world, self.dt);
        if self.frame_ms.len() == FRAME_TIMES_KEPT {
            self.frame_ms.drain(..FRAME_TIMES_KEPT / 2);
        }
        self.frame_ms.push(start.elapsed().as_secs_f64() * 1000.0);
        self.frames += 1;
        if stats.budget_spent {
            self.budget_spent += 1;
        }
        for incident in &stats.incidents {
            if let IncidentKind::Panicked { message } = &incident.kind {
                self.panics_reported += 1;
                self.panic_reports.push(PanicReport {
                    frame: incident.frame,
                    entity: incident.entity,
                    tasklet: incident.tasklet,
                    name: incident.name.clone(),
                    message: message.clone(),
                });
            }
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
        self.frames
    }

    /// Wall time of each frame so far, milliseconds (of the most recent 32,768 to
    /// 65,536 frames, in a long run).
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

    /// How the battle stands: one fleet left, none left, or more than one still
    /// fighting.
    pub fn outcome(&self) -> Outcome {
        Outcome::of(&self.on_field())
    }

    /// The fleet left on the field when every other is gone; `None` while more than one
    /// fleet fights, and when none is left (a draw: see [`Skirmish::outcome`]).
    pub fn winner(&self) -> Option<usize> {
        match self.outcome() {
            Outcome::Winner(fleet) => Some(fleet),
            Outcome::Draw | Outcome::Undecided => None,
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

    /// Takes the panic reports gathered since the last call.
    pub fn drain_panic_reports(&mut self) -> Vec<PanicReport> {
        std::mem::take(&mut self.panic_reports)
    }

    /// Panics injected into ship scripts so far.
    pub fn panics_injected(&self) -> u64 {
        self.battle.panics_injected.get()
    }

    /// Panics the engine reported (with entity and tasklet) so far.
    pub fn panics_reported(&self) -> u64 {
        self.panics_reported
    }

    /// Stacks lent to live tasklets now: dedicated stacks, or places on a shared stack.
    pub fn stacks_in_use(&self) -> usize {
        stacks_in_use(&self.driver)
    }

    /// Stacks lent to tasklets right after the fleets were set up (one per ship).
    pub fn stacks_in_use_start(&self) -> usize {
        self.stacks_in_use_start
    }

    /// Tops every fleet back up to its starting strength with new ships at its home
    /// position, in the fleet's mix of classes (continuous waves for soak runs).
    /// Returns how many ships came in.
    ///
    /// # Errors
    ///
    /// The engine's spawn error when a ship's tasklet cannot be made.
    pub fn reinforce(&mut self) -> Result<u32, engine::SpawnError> {
        let on_field = self.on_field();
        let mut sent = 0;
        for (fleet, &here) in on_field.iter().enumerate() {
            let missing = self.ships_start[fleet].saturating_sub(here);
            for _ in 0..missing {
                let number = self.next_number[fleet];
                self.next_number[fleet] += 1;
                let class = class_of_number(&self.battle.scenario, fleet, number);
                let ship = ShipSpec {
                    fleet,
                    class,
                    number,
                };
                spawn_ship(
                    &self.battle,
                    &mut self.driver,
                    &mut self.world,
                    &mut self.rng,
                    ship,
                )?;
                self.battle.log.borrow_mut().reinforcements[fleet] += 1;
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Despawns every ship left (their tasklets are killed and unwind) and returns the
    /// stacks still lent afterwards: 0, the baseline before any ship, unless a stack
    /// leaked.
    pub fn teardown(&mut self) -> usize {
        let ships: Vec<Entity> = self
            .world
            .query::<(Entity, &Ship)>()
            .iter()
            .map(|(e, _)| e)
            .collect();
        for ship in ships {
            self.driver.despawn(&mut self.world, ship);
        }
        self.stacks_in_use()
    }
}

/// Stacks lent to the driver's live tasklets: dedicated stacks, or places on a shared
/// stack (stack copying).
fn stacks_in_use(driver: &FrameDriver) -> usize {
    let stats = driver.scheduler().stack_stats();
    stats.in_use + stats.copying
}

fn class_index(scenario: &Scenario, name: &str) -> usize {
    scenario
        .classes
        .iter()
        .position(|c| c.name == name)
        .expect("a checked scenario names only known classes")
}

/// The class of ship `number` of `fleet` (from 1), cycling through the fleet's
/// squadrons in proportion to their counts.
fn class_of_number(scenario: &Scenario, fleet: usize, number: u32) -> usize {
    let fleet = &scenario.fleets[fleet];
    let total = fleet.ship_count().max(1);
    let mut at = (number - 1) % total;
    for squadron in &fleet.ships {
        if at < squadron.count {
            return class_index(scenario, &squadron.class);
        }
        at -= squadron.count;
    }
    class_index(scenario, &fleet.ships[0].class)
}

/// Which ship to spawn.
struct ShipSpec {
    fleet: usize,
    class: usize,
    /// Its number in its fleet (from 1), for its name.
    number: u32,
}

/// Spawns one ship in its fleet's formation (uniform over the disc of the formation,
/// facing the middle of the other fleets) with its behaviour.
fn spawn_ship(
    battle: &Rc<Battle>,
    driver: &mut FrameDriver,
    world: &mut World,
    rng: &mut Rng,
    ship: ShipSpec,
) -> Result<Entity, engine::SpawnError> {
    let scenario = &battle.scenario;
    let fleet = &scenario.fleets[ship.fleet];
    let class = &scenario.classes[ship.class];
    let centre = Vec2::new(fleet.position.x, fleet.position.y);
    let others: Vec<Vec2> = scenario
        .fleets
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != ship.fleet)
        .map(|(_, f)| Vec2::new(f.position.x, f.position.y))
        .collect();
    let enemy = others
        .iter()
        .fold(Vec2::ZERO, |sum, p| sum + *p * (1.0 / others.len() as f64));
    let heading = (enemy - centre).angle();
    let r = fleet.spread * rng.next_f64().sqrt();
    let offset = Vec2::from_angle(rng.uniform(0.0..std::f64::consts::TAU)) * r;
    let mut position = centre + offset;
    position.x = position.x.clamp(0.0, scenario.arena.width);
    position.y = position.y.clamp(0.0, scenario.arena.height);
    let components = (
        Ship {
            fleet: ship.fleet,
            class: ship.class,
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
    let name = format!("{} {} {}", fleet.name, class.name, ship.number);
    let actor = behaviour::ship_actor(battle.clone(), ship.fleet, ship.class, name);
    driver.spawn(world, components, actor)
}
