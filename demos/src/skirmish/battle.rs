//! What every part of the battle shares (one `Rc` of it): the scenario, the sensor
//! picture and the log of what happened this frame.

use std::cell::{Cell, RefCell};

use engine::StackStrategy;
use hecs::Entity;

use super::Sensors;
use crate::scenario::Scenario;
use crate::Vec2;

/// The shared state of one battle. Systems write it in the system phase and behaviours
/// read it during their slices; the two never run at the same time.
#[derive(Debug)]
pub struct Battle {
    /// The scenario being fought (already scaled by `--ships`).
    pub scenario: Scenario,
    /// Contacts and fleet strengths, rebuilt by the sensors system every frame.
    pub sensors: RefCell<Sensors>,
    /// What happened since the host last drained it.
    pub log: RefCell<BattleLog>,
    /// The longest weapon range of any class: beyond about this, a ship is safe.
    pub longest_range: f64,
    /// Fault injection: the chance that a ship's script panics at each of its fault
    /// points (0: never; set with [`Battle::with_injected_panics`]).
    pub inject_panics: f64,
    /// Panics injected so far.
    pub panics_injected: Cell<u64>,
    /// Where the ships' stacks live (set with [`Battle::with_stacks`]); `None` follows
    /// the scheduler's default (dedicated).
    pub stacks: Option<StackStrategy>,
}

impl Battle {
    /// A battle over `scenario`, with an empty sensor picture and log.
    pub fn new(scenario: Scenario) -> Battle {
        let fleets = scenario.fleets.len();
        let longest_range = scenario
            .classes
            .iter()
            .map(|c| c.weapon_range)
            .fold(0.0, f64::max);
        Battle {
            sensors: RefCell::new(Sensors::new(&scenario)),
            log: RefCell::new(BattleLog::new(fleets)),
            longest_range,
            inject_panics: 0.0,
            panics_injected: Cell::new(0),
            stacks: None,
            scenario,
        }
    }

    /// The same battle with fault injection: every ship's script panics at each of its
    /// fault points with probability `rate` (drawn from the ship's seeded generator).
    pub fn with_injected_panics(mut self, rate: f64) -> Battle {
        self.inject_panics = rate;
        self
    }

    /// The same battle with the ships' tasklets on `strategy`'s stacks.
    pub fn with_stacks(mut self, strategy: StackStrategy) -> Battle {
        self.stacks = Some(strategy);
        self
    }
}

/// A shot fired (hit or not), for the picture.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShotRecord {
    /// The shooter's position.
    pub from: Vec2,
    /// The target's position.
    pub to: Vec2,
    /// The shooter's fleet.
    pub fleet: usize,
}

/// A ship leaving the battle, for the picture and the tally.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Departure {
    /// The ship.
    pub entity: Entity,
    /// Its fleet.
    pub fleet: usize,
    /// Where it was.
    pub position: Vec2,
    /// Its hull radius, metres.
    pub size: f64,
    /// Destroyed (`true`) or warped out.
    pub destroyed: bool,
}

/// What happened: the events of recent frames (drained by the host) and running totals.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BattleLog {
    /// Shots fired since the last drain.
    pub shots: Vec<ShotRecord>,
    /// Ships destroyed or warped out since the last drain.
    pub departures: Vec<Departure>,
    /// Ships destroyed, per fleet, since the start.
    pub destroyed: Vec<u32>,
    /// Ships warped out, per fleet, since the start.
    pub warped_out: Vec<u32>,
    /// Ships whose scripts panicked (injected faults), per fleet, since the start.
    pub crashed: Vec<u32>,
    /// Ships sent in as reinforcements (soak runs), per fleet, since the start.
    pub reinforcements: Vec<u32>,
    /// Shots fired, per fleet, since the start.
    pub shots_fired: Vec<u64>,
    /// Shots that hit (the target was still in range), per fleet, since the start.
    pub hits: Vec<u64>,
    /// Damage dealt, per fleet, since the start.
    pub damage_dealt: Vec<f64>,
}

impl BattleLog {
    fn new(fleets: usize) -> BattleLog {
        BattleLog {
            destroyed: vec![0; fleets],
            warped_out: vec![0; fleets],
            crashed: vec![0; fleets],
            reinforcements: vec![0; fleets],
            shots_fired: vec![0; fleets],
            hits: vec![0; fleets],
            damage_dealt: vec![0.0; fleets],
            ..BattleLog::default()
        }
    }

    /// Records a ship leaving the battle.
    pub fn depart(&mut self, departure: Departure) {
        if departure.destroyed {
            self.destroyed[departure.fleet] += 1;
        } else {
            self.warped_out[departure.fleet] += 1;
        }
        self.departures.push(departure);
    }
}
