//! The sensor picture: every ship on a coarse grid, per fleet, for nearest-hostile
//! queries that look at a few cells rather than at every ship; and each fleet's strength.

use hecs::{Entity, World};

use super::{Hull, Motion, Ship};
use crate::scenario::Scenario;
use crate::Vec2;

/// A ship as the sensors see it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Contact {
    /// The ship.
    pub entity: Entity,
    /// Where it was when the picture was taken.
    pub position: Vec2,
}

/// The picture taken by the sensors system at the start of each frame.
#[derive(Clone, Debug)]
pub struct Sensors {
    cell: f64,
    columns: usize,
    rows: usize,
    /// For each fleet, its contacts by grid cell (row-major).
    grids: Vec<Vec<Vec<Contact>>>,
    /// For each fleet, all its contacts, for searches that look at every hostile.
    contacts: Vec<Vec<Contact>>,
    /// Per fleet: its ships' hit points, summed.
    hit_points: Vec<f64>,
    /// Per fleet: its ships' damage per second, summed.
    firepower: Vec<f64>,
    /// Per fleet: ships on the field.
    on_field: Vec<u32>,
    /// Damage per second of each class, by class index.
    class_dps: Vec<f64>,
}

impl Sensors {
    /// An empty picture for `scenario`'s arena and fleets.
    pub fn new(scenario: &Scenario) -> Sensors {
        // Cells of about a weapon range: a nearest-hostile search usually stops after the
        // first ring of cells.
        let cell = scenario
            .classes
            .iter()
            .map(|c| c.weapon_range)
            .fold(f64::INFINITY, f64::min)
            .max(scenario.arena.width.max(scenario.arena.height) / 256.0);
        let columns = (scenario.arena.width / cell).ceil().max(1.0) as usize;
        let rows = (scenario.arena.height / cell).ceil().max(1.0) as usize;
        let fleets = scenario.fleets.len();
        Sensors {
            cell,
            columns,
            rows,
            grids: vec![vec![Vec::new(); columns * rows]; fleets],
            contacts: vec![Vec::new(); fleets],
            hit_points: vec![0.0; fleets],
            firepower: vec![0.0; fleets],
            on_field: vec![0; fleets],
            class_dps: scenario
                .classes
                .iter()
                .map(|c| c.damage_per_second())
                .collect(),
        }
    }

    fn cell_of(&self, p: Vec2) -> (usize, usize) {
        let column = ((p.x / self.cell).floor().max(0.0) as usize).min(self.columns - 1);
        let row = ((p.y / self.cell).floor().max(0.0) as usize).min(self.rows - 1);
        (column, row)
    }

    /// Takes a new picture of every ship in `world`.
    pub fn rebuild(&mut self, world: &World) {
        for grid in &mut self.grids {
            grid.iter_mut().for_each(Vec::clear);
        }
        self.contacts.iter_mut().for_each(Vec::clear);
        self.hit_points.iter_mut().for_each(|s| *s = 0.0);
        self.firepower.iter_mut().for_each(|s| *s = 0.0);
        self.on_field.iter_mut().for_each(|n| *n = 0);
        for (entity, (ship, motion, hull)) in
            world.query::<(Entity, (&Ship, &Motion, &Hull))>().iter()
        {
            let (column, row) = self.cell_of(motion.position);
            let columns = self.columns;
            let contact = Contact {
                entity,
                position: motion.position,
            };
            self.grids[ship.fleet][row * columns + column].push(contact);
            self.contacts[ship.fleet].push(contact);
            self.hit_points[ship.fleet] += hull.hit_points.max(0.0);
            self.firepower[ship.fleet] += self.class_dps[ship.class];
            self.on_field[ship.fleet] += 1;
        }
    }

    /// The nearest ship of any fleet but `fleet` (ties go to the lower entity id).
    ///
    /// Searches rings of cells outwards from `from`'s cell and stops at the first ring
    /// that cannot hold anything nearer. When the rings have already visited more cells
    /// than there are hostile ships (ships far apart on a fine grid), it looks at every
    /// hostile instead: the answer is the same, and a search costs at most about twice
    /// the number of hostiles however the grid is cut.
    pub fn nearest_hostile(&self, from: Vec2, fleet: usize) -> Option<Contact> {
        let hostiles: usize = (0..self.on_field.len())
            .filter(|f| *f != fleet)
            .map(|f| self.on_field[f] as usize)
            .sum();
        let (column, row) = self.cell_of(from);
        let mut best: Option<(f64, Contact)> = None;
        let mut visited = 0;
        let rings = self.columns.max(self.rows);
        for ring in 0..=rings {
            let past_every_edge =
                ring > column.max(row) && column + ring >= self.columns && row + ring >= self.rows;
            if past_every_edge {
                break;
            }
            if visited > hostiles {
                return self.nearest_of_all(from, fleet);
            }
            for (c, r) in ring_cells(column, row, ring, self.columns, self.rows) {
                visited += 1;
                for contact in self
                    .hostile_grids(fleet)
                    .flat_map(|g| &g[r * self.columns + c])
                {
                    closer(&mut best, from, contact);
                }
            }
            // Every cell of the next ring is more than `ring` cells away.
            if let Some((d, contact)) = best {
                if d <= ring as f64 * self.cell {
                    return Some(contact);
                }
            }
        }
        best.map(|(_, contact)| contact)
    }

    /// [`Sensors::nearest_hostile`] by looking at every hostile contact.
    fn nearest_of_all(&self, from: Vec2, fleet: usize) -> Option<Contact> {
        let mut best = None;
        let hostile = self
            .contacts
            .iter()
            .enumerate()
            .filter(|(f, _)| *f != fleet);
        for contact in hostile.flat_map(|(_, contacts)| contacts) {
            closer(&mut best, from, contact);
        }
        best.map(|(_, contact)| contact)
    }

    /// The grids of every fleet but `fleet`.
    fn hostile_grids(&self, fleet: usize) -> impl Iterator<Item = &Vec<Vec<Contact>>> {
        self.grids
            .iter()
            .enumerate()
            .filter(move |(f, _)| *f != fleet)
            .map(|(_, grid)| grid)
    }

    /// A fleet's strength, after Lanchester's square law: its hit points (summed) times
    /// its damage per second (summed). Twice the ships is four times the strength.
    pub fn strength(&self, fleet: usize) -> f64 {
        self.hit_points[fleet] * self.firepower[fleet]
    }

    /// The strongest fleet other than `fleet`.
    pub fn hostile_strength(&self, fleet: usize) -> f64 {
        (0..self.hit_points.len())
            .filter(|f| *f != fleet)
            .map(|f| self.strength(f))
            .fold(0.0, f64::max)
    }

    /// Ships of `fleet` on the field.
    pub fn on_field(&self, fleet: usize) -> u32 {
        self.on_field[fleet]
    }
}

/// Keeps `contact` in `best` if it is nearer to `from` (ties go to the lower entity id).
fn closer(best: &mut Option<(f64, Contact)>, from: Vec2, contact: &Contact) {
    let d = from.distance(contact.position);
    let better = match best {
        None => true,
        Some((bd, b)) => d < *bd || (d == *bd && contact.entity.to_bits() < b.entity.to_bits()),
    };
    if better {
        *best = Some((d, *contact));
    }
}

/// The cells at Chebyshev distance `ring` from (column, row), inside the grid: the
/// border of the square only (8 x ring cells, not the (2 x ring + 1)^2 of the square, so
/// that a search across a 256 x 256 grid stays cheap: a weapon range of 1e-300 made
/// every ship's search scan millions of cells and stall its frame).
fn ring_cells(
    column: usize,
    row: usize,
    ring: usize,
    columns: usize,
    rows: usize,
) -> impl Iterator<Item = (usize, usize)> {
    let (c0, r0, k) = (column as i64, row as i64, ring as i64);
    let (columns, rows) = (columns as i64, rows as i64);
    // Top and bottom rows whole, then the left and right columns between them.
    let rows_whole = [r0 - k, r0 + k]
        .into_iter()
        .take(if k == 0 { 1 } else { 2 })
        .flat_map(move |r| (c0 - k..=c0 + k).map(move |c| (c, r)));
    let sides = (r0 - k + 1..r0 + k).flat_map(move |r| [(c0 - k, r), (c0 + k, r)]);
    rows_whole
        .chain(sides)
        .filter(move |&(c, r)| c >= 0 && r >= 0 && c < columns && r < rows)
        .map(|(c, r)| (c as usize, r as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A picture of `ships` (fleet, position) on a grid of `cell`-metre cells over a
    /// `size`-metre square.
    fn picture(world: &mut World, ships: &[(usize, Vec2)], cell: f64, size: f64) -> Sensors {
        let side = (size / cell).ceil() as usize;
        let mut sensors = Sensors {
            cell,
            columns: side,
            rows: side,
            grids: vec![vec![Vec::new(); side * side]; 3],
            contacts: vec![Vec::new(); 3],
            hit_points: vec![0.0; 3],
            firepower: vec![0.0; 3],
            on_field: vec![0; 3],
            class_dps: Vec::new(),
        };
        for &(fleet, position) in ships {
            let (column, row) = sensors.cell_of(position);
            let entity = world.spawn(());
            sensors.grids[fleet][row * side + column].push(Contact { entity, position });
            sensors.contacts[fleet].push(Contact { entity, position });
            sensors.on_field[fleet] += 1;
        }
        sensors
    }

    #[test]
    fn the_ring_search_finds_what_looking_at_every_ship_finds() {
        let mut rng = crate::Rng::new(7);
        for (cell, ships) in [(1.0, 3), (1.0, 200), (40.0, 50), (250.0, 400), (1000.0, 20)] {
            let mut world = World::new();
            let mut at = || Vec2::new(rng.uniform(-50.0..1050.0), rng.uniform(-50.0..1050.0));
            let mut placed: Vec<_> = (0..ships).map(|i| (i % 3, at())).collect();
            // Two ships on one spot: the tie goes to the lower entity id either way.
            placed.push((1, placed[0].1));
            placed.push((2, placed[0].1));
            let sensors = picture(&mut world, &placed, cell, 1000.0);
            for _ in 0..300 {
                let from = at();
                for fleet in 0..3 {
                    assert_eq!(
                        sensors.nearest_hostile(from, fleet),
                        sensors.nearest_of_all(from, fleet),
                        "cell {cell}, {ships} ships, from {from:?}, fleet {fleet}"
                    );
                }
            }
        }
        // No hostile at all.
        let mut world = World::new();
        let alone = picture(&mut world, &[(0, Vec2::new(5.0, 5.0))], 1.0, 1000.0);
        assert_eq!(alone.nearest_hostile(Vec2::new(900.0, 900.0), 0), None);
    }

    #[test]
    fn ring_cells_are_the_border_of_the_square() {
        let mut cells: Vec<_> = ring_cells(5, 5, 1, 10, 10).collect();
        cells.sort_unstable();
        assert_eq!(cells.len(), 8);
        assert!(!cells.contains(&(5, 5)));
        assert_eq!(ring_cells(0, 0, 1, 10, 10).count(), 3);
        assert_eq!(ring_cells(0, 0, 0, 10, 10).collect::<Vec<_>>(), [(0, 0)]);
        // Every cell of a ring, once, against the square's border.
        for ring in 0..6 {
            let mut got: Vec<_> = ring_cells(4, 3, ring, 9, 7).collect();
            got.sort_unstable();
            let mut want: Vec<_> = (0..9usize)
                .flat_map(|c| (0..7usize).map(move |r| (c, r)))
                .filter(|&(c, r)| (c as i64 - 4).abs().max((r as i64 - 3).abs()) == ring as i64)
                .collect();
            want.sort_unstable();
            assert_eq!(got, want, "ring {ring}");
        }
    }
}
