//! One solar system, run as a shard: a skirmish battle (its scenario, systems and ship
//! scripts) with stargates to its neighbours, a control tasklet that trades intel with
//! them, and the arrival of ships that jumped in.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use engine::shard::{self, Arrival, Cargo, Mailbox, Outbox, Shard, ShardId};
use engine::{Actor, Context, SpawnError};
use hecs::Entity;
use uthread::ChannelError;

use super::map::{Side, StarMap};
use crate::skirmish::behaviour::{self, Gate, Gates};
use crate::skirmish::{systems, Battle, Helm, Hull, Motion, Ship, Vec2};
use crate::Rng;

/// A ship's number in the galaxy, for its name; travels with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Serial(pub u32);

/// What goes through a gate: the ship's identity, hull and motion. Its script does not:
/// a fresh one starts on the other side, from these.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShipCargo {
    /// Its fleet and class.
    pub ship: Ship,
    /// Its hull, damage and all.
    pub hull: Hull,
    /// Where it was and how it moved when it jumped.
    pub motion: Motion,
    /// Its number.
    pub serial: Serial,
}

impl Cargo for ShipCargo {
    fn pack(entity: hecs::EntityRef<'_>) -> Option<ShipCargo> {
        Some(ShipCargo {
            ship: *entity.get::<&Ship>()?,
            hull: *entity.get::<&Hull>()?,
            motion: *entity.get::<&Motion>()?,
            serial: *entity.get::<&Serial>()?,
        })
    }
}

/// What a system's control tasklet tells its neighbours every game second: each
/// fleet's strength there.
#[derive(Clone, Debug, PartialEq)]
pub struct Intel {
    /// Per fleet: hit points times damage per second (the sensors' strength).
    pub strength: Vec<f64>,
}

/// How often a control tasklet sends its intel.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// One solar system: its battle, its gates, what it knows of its neighbours, and what
/// happened at its gates this frame.
pub struct StarSystem {
    /// Its index in the map (and its shard's).
    pub index: usize,
    /// The galaxy's layout.
    pub map: StarMap,
    /// Its skirmish: scenario, sensor picture, log.
    pub battle: Rc<Battle>,
    /// The latest intel from each system, by index.
    intel: RefCell<Vec<Option<Intel>>>,
    /// Where ships jumped out or in since the observer last looked.
    pub flashes: RefCell<Vec<Vec2>>,
    /// Jumps its ships asked for that did not happen.
    pub failed_jumps: Cell<u64>,
}

impl std::fmt::Debug for StarSystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StarSystem")
            .field("index", &self.index)
            .field("name", &self.battle.scenario.name)
            .finish_non_exhaustive()
    }
}

impl StarSystem {
    /// The gate to `to`, if this system has one.
    fn gate_to(&self, to: usize, side: Side) -> Gate {
        Gate {
            position: side.gate_position(),
            to,
        }
    }

    /// How well `fleet` would do in system `to`, from the intel (1 when unknown): its
    /// strength over the strongest other fleet's.
    fn prospects(&self, fleet: usize, to: usize) -> f64 {
        let intel = self.intel.borrow();
        let Some(Intel { strength }) = &intel[to] else {
            return 1.0;
        };
        let ours = strength.get(fleet).copied().unwrap_or(0.0);
        let theirs = (0..strength.len())
            .filter(|&f| f != fleet)
            .map(|f| strength[f])
            .fold(0.0, f64::max);
        (ours + 1.0) / (theirs + 1.0)
    }

    /// Whether the intel shows hostiles to `fleet` in system `to`.
    fn hostiles_in(&self, fleet: usize, to: usize) -> bool {
        let intel = self.intel.borrow();
        intel[to].as_ref().is_some_and(|i| {
            i.strength
                .iter()
                .enumerate()
                .any(|(f, s)| f != fleet && *s > 0.0)
        })
    }

    /// This system's intel: each fleet's strength, from the sensors.
    fn census(&self) -> Intel {
        let sensors = self.battle.sensors.borrow();
        Intel {
            strength: (0..self.battle.scenario.fleets.len())
                .map(|f| sensors.strength(f))
                .collect(),
        }
    }

    /// The systems its gates lead to (each once).
    fn neighbours(&self) -> Vec<usize> {
        let mut to: Vec<usize> = self.map.gates(self.index).iter().map(|g| g.to).collect();
        to.dedup();
        to
    }
}

impl Gates for StarSystem {
    /// The gate to the neighbour where the fleet's prospects are best; east (on round
    /// the ring) when they are alike.
    fn retreat(&self, fleet: usize, _at: Vec2) -> Option<Gate> {
        self.map
            .gates(self.index)
            .into_iter()
            .map(|g| (self.prospects(fleet, g.to), g.side == Side::East, g))
            .max_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
            .map(|(_, _, g)| self.gate_to(g.to, g.side))
    }

    /// Patrols go on round the ring: east, to a neighbour where the intel shows
    /// hostiles (west if only that one has some); with no hostiles next door, the ship
    /// holds.
    fn patrol(&self, fleet: usize, _at: Vec2) -> Option<Gate> {
        let gates = self.map.gates(self.index);
        [Side::East, Side::West]
            .into_iter()
            .filter_map(|side| gates.iter().find(|g| g.side == side))
            .find(|g| self.hostiles_in(fleet, g.to))
            .map(|g| self.gate_to(g.to, g.side))
    }

    fn jump(&self, ctx: &mut Context, gate: Gate) {
        self.flashes.borrow_mut().push(gate.position);
        // Does not return when the ship leaves.
        let _refused = shard::hand_off::<ShipCargo>(ctx, ShardId::new(gate.to as u32));
        self.failed_jumps.set(self.failed_jumps.get() + 1);
    }
}

/// The ship's name: fleet, class, number.
fn ship_name(battle: &Battle, ship: Ship, serial: Serial) -> String {
    let scenario = &battle.scenario;
    format!(
        "{} {} {}",
        scenario.fleets[ship.fleet].name, scenario.classes[ship.class].name, serial.0
    )
}

/// A ship's script in this system.
fn ship_actor(system: &Rc<StarSystem>, ship: Ship, serial: Serial) -> Actor {
    let battle = system.battle.clone();
    let name = ship_name(&battle, ship, serial);
    let gates: Rc<dyn Gates> = system.clone();
    behaviour::ship_actor_with_gates(battle, ship.fleet, ship.class, name, gates)
}

/// Lands a ship that jumped in: at the gate it came through (the one facing the
/// system it left), a little inside, moving inwards at the speed it had.
fn arrive(
    system: &Rc<StarSystem>,
    arrival: &mut Arrival<'_>,
    cargo: ShipCargo,
) -> Result<Entity, SpawnError> {
    // It left through the gate on its side of the other arena; it comes in through the
    // opposite one here (or, back home, through the one it took).
    let left_by = Side::nearest(cargo.motion.position);
    let side = if arrival.came_back() {
        left_by
    } else {
        left_by.opposite()
    };
    let inward = if side == Side::West { 1.0 } else { -1.0 };
    let rng = arrival.driver().rng();
    let offset = Vec2::new(
        inward * (200.0 + rng.range(0..300) as f64),
        rng.range(-400..400) as f64,
    );
    let position = side.gate_position() + offset;
    let speed = cargo.motion.velocity.length();
    let motion = Motion {
        position,
        velocity: Vec2::new(inward * speed, 0.0),
        heading: if inward > 0.0 {
            0.0
        } else {
            std::f64::consts::PI
        },
    };
    system.flashes.borrow_mut().push(position);
    let components = (cargo.ship, motion, cargo.hull, Helm::Hold, cargo.serial);
    arrival.spawn(components, ship_actor(system, cargo.ship, cargo.serial))
}

/// The control tasklet: sends this system's intel to its neighbours every game second
/// and files what theirs send.
fn control(system: Rc<StarSystem>, outbox: Outbox, mail: Mailbox<Intel>) -> Actor {
    let name = format!("{} control", system.battle.scenario.name);
    Actor::new(move |ctx| {
        let mut next_report = Duration::ZERO;
        loop {
            if ctx.now() >= next_report {
                let intel = system.census();
                for to in system.neighbours() {
                    // Cannot fail: the neighbours are shards of this cluster.
                    let _ = outbox.send(ShardId::new(to as u32), intel.clone());
                }
                next_report = ctx.now() + REPORT_EVERY;
            }
            let wait = next_report.saturating_sub(ctx.now());
            match ctx.blocking(|| mail.recv_timeout(wait)) {
                Ok(letter) => system.intel.borrow_mut()[letter.from.index()] = Some(letter.message),
                Err(ChannelError::Timeout) => {}
                Err(_) => return,
            }
        }
    })
    .name(name)
}

/// Sets system `index` up on its shard: the battle's systems, its fleets (placed from
/// `seed`), its control tasklet and its arrivals. Returns the system.
///
/// # Errors
///
/// The engine's spawn error when a tasklet cannot be made.
pub fn set_up(
    shard: &mut Shard,
    map: StarMap,
    battle: Battle,
    seed: u64,
) -> Result<Rc<StarSystem>, SpawnError> {
    let index = shard.id().index();
    let battle = Rc::new(battle);
    systems::install(&mut shard.driver, &battle);
    let system = Rc::new(StarSystem {
        index,
        map,
        battle: battle.clone(),
        intel: RefCell::new(vec![None; map.systems()]),
        flashes: RefCell::new(Vec::new()),
        failed_jumps: Cell::new(0),
    });
    let landing = system.clone();
    shard.on_arrival(move |arrival, cargo: ShipCargo| arrive(&landing, arrival, cargo));

    let mut rng = Rng::new(seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let scenario = &battle.scenario;
    let mut serial = index as u32 * 100_000;
    for (fleet_index, fleet) in scenario.fleets.iter().enumerate() {
        let centre = Vec2::new(fleet.position.x, fleet.position.y);
        let facing = Vec2::new(super::map::ARENA.0 / 2.0, centre.y);
        for squadron in &fleet.ships {
            let class = scenario
                .classes
                .iter()
                .position(|c| c.name == squadron.class)
                .expect("a checked scenario names only known classes");
            for _ in 0..squadron.count {
                serial += 1;
                let r = fleet.spread * rng.next_f64().sqrt();
                let offset = Vec2::from_angle(rng.uniform(0.0..std::f64::consts::TAU)) * r;
                let ship = Ship {
                    fleet: fleet_index,
                    class,
                };
                let hit_points = scenario.classes[class].hit_points;
                let components = (
                    ship,
                    Motion {
                        position: centre + offset,
                        velocity: Vec2::ZERO,
                        heading: (facing - centre).angle(),
                    },
                    Hull {
                        hit_points,
                        max: hit_points,
                    },
                    Helm::Hold,
                    Serial(serial),
                );
                let actor = ship_actor(&system, ship, Serial(serial));
                shard.driver.spawn(&mut shard.world, components, actor)?;
            }
        }
    }
    let mail = shard.mailbox::<Intel>();
    let actor = control(system.clone(), shard.outbox(), mail);
    shard.driver.spawn(&mut shard.world, (), actor)?;
    Ok(system)
}
