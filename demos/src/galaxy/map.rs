//! The star map: solar systems in a ring, each linked to its two neighbours by stargates
//! at the west and east edges of its arena, and who starts where.

use std::f64::consts::TAU;

use crate::scenario::Scenario;
use crate::skirmish::Vec2;

/// Names of the first solar systems (more get a numeral).
const NAMES: [&str; 8] = [
    "Jita",
    "Amarr",
    "Dodixie",
    "Rens",
    "Hek",
    "Perimeter",
    "Oursulaert",
    "Tash-Murkon",
];

/// The arena of every system, metres.
pub const ARENA: (f64, f64) = (12_000.0, 8_000.0);

/// Where the fleets start in the systems of the first half of the ring: Crimson in the
/// west, Azure in the east (the other way round in the second half, so that the ring's
/// two halves mirror each other).
const FLEET_POSITIONS: [(f64, f64); 2] = [(3_500.0, 4_000.0), (8_500.0, 4_000.0)];
/// How far from its fleet's position a ship may start, metres.
const SPREAD: f64 = 1_200.0;
/// How far in from the west and east edges the gates stand, metres.
const GATE_INSET: f64 = 600.0;

/// Which edge of a system's arena a gate stands at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// x near 0: the gate to the previous system of the ring.
    West,
    /// x near the arena's width: the gate to the next system.
    East,
}

impl Side {
    /// Where a gate on this side stands.
    pub fn gate_position(self) -> Vec2 {
        let x = match self {
            Side::West => GATE_INSET,
            Side::East => ARENA.0 - GATE_INSET,
        };
        Vec2::new(x, ARENA.1 / 2.0)
    }

    /// The side of the gate nearest to `at`.
    pub fn nearest(at: Vec2) -> Side {
        if at.x < ARENA.0 / 2.0 {
            Side::West
        } else {
            Side::East
        }
    }

    /// The other side: a ship leaving through an east gate arrives at a west gate.
    pub fn opposite(self) -> Side {
        match self {
            Side::West => Side::East,
            Side::East => Side::West,
        }
    }
}

/// A stargate of one system.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GateSpec {
    /// Which edge it stands at.
    pub side: Side,
    /// The system it leads to.
    pub to: usize,
}

/// The galaxy's layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StarMap {
    systems: usize,
}

impl StarMap {
    /// A ring of `systems` systems (at least one).
    pub fn new(systems: usize) -> StarMap {
        StarMap {
            systems: systems.max(1),
        }
    }

    /// How many systems there are.
    pub fn systems(&self) -> usize {
        self.systems
    }

    /// The name of system `index`.
    pub fn name(&self, index: usize) -> String {
        let base = NAMES[index % NAMES.len()];
        match index / NAMES.len() {
            0 => base.to_owned(),
            round => format!("{base} {}", round + 1),
        }
    }

    /// System `index`'s gates: west to the previous system, east to the next (none in
    /// a galaxy of one system).
    pub fn gates(&self, index: usize) -> Vec<GateSpec> {
        if self.systems < 2 {
            return Vec::new();
        }
        let previous = (index + self.systems - 1) % self.systems;
        let next = (index + 1) % self.systems;
        vec![
            GateSpec {
                side: Side::West,
                to: previous,
            },
            GateSpec {
                side: Side::East,
                to: next,
            },
        ]
    }

    /// Crimson's share of the ships that start in system `index`: from 85% down to 15%
    /// and back around the ring, so that some systems are lopsided (the weaker fleet
    /// flees at once) and others even.
    pub fn crimson_share(&self, index: usize) -> f64 {
        0.5 + 0.35 * (TAU * index as f64 / self.systems as f64).cos()
    }

    /// System `index` as a skirmish scenario: `base`'s ship classes and fleets (their
    /// names, mix of classes and warp-out threshold), in this map's arena, with
    /// `ships` ships in all shared by the two fleets. In the first half of the ring
    /// Crimson starts in the west, in the second half in the east: the weaker fleet of
    /// a lopsided system then starts near its east gate, and the two halves mirror
    /// each other.
    pub fn scenario(&self, base: &Scenario, index: usize, ships: u32) -> Scenario {
        let crimson = (f64::from(ships) * self.crimson_share(index)).round() as u32;
        let counts = [crimson.min(ships), ships - crimson.min(ships)];
        let mut scenario = base.clone();
        scenario.name = self.name(index);
        scenario.arena.width = ARENA.0;
        scenario.arena.height = ARENA.1;
        for (f, fleet) in scenario.fleets.iter_mut().enumerate().take(2) {
            let scaled = base.clone().with_ships_per_fleet(counts[f].max(1));
            *fleet = scaled.fleets[f].clone();
            if counts[f] == 0 {
                fleet.ships.clear();
            }
            let mirrored = self.systems > 1 && index >= self.systems / 2;
            let (x, y) = FLEET_POSITIONS[if mirrored { 1 - f } else { f }];
            fleet.position.x = x;
            fleet.position.y = y;
            fleet.spread = SPREAD;
        }
        scenario
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_links_each_system_to_its_neighbours() {
        let map = StarMap::new(4);
        let to: Vec<usize> = map.gates(0).iter().map(|g| g.to).collect();
        assert_eq!(to, [3, 1]);
        assert_eq!(map.gates(3)[1].to, 0);
        assert!(StarMap::new(1).gates(0).is_empty());
        assert_eq!(map.name(9), "Amarr 2");
    }

    #[test]
    fn shares_go_from_lopsided_to_even_and_back() {
        let map = StarMap::new(4);
        let shares: Vec<f64> = (0..4).map(|i| map.crimson_share(i)).collect();
        assert!((shares[0] - 0.85).abs() < 1e-9 && (shares[2] - 0.15).abs() < 1e-9);
        assert!((shares[1] - 0.5).abs() < 1e-9 && (shares[3] - 0.5).abs() < 1e-9);
    }
}
