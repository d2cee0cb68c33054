//! The spatial grid for neighbour queries: every animal filed under the square cell it
//! stands in, rebuilt once per frame in O(n) by a counting sort, so that "who is near
//! me" looks at a few cells rather than at every animal.

use hecs::{Entity, World};

use super::{Activity, Herd, Position, Vec2};

/// An animal as the grid files it: enough to answer neighbour queries without going
/// back to the world.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Resident {
    /// The animal.
    pub entity: Entity,
    /// Where it stood when the grid was built.
    pub position: Vec2,
    /// Its herd.
    pub herd: u8,
    /// What it was doing when the grid was built.
    pub activity: Activity,
}

impl Resident {
    /// A placeholder for slots about to be filled.
    const VACANT: Resident = Resident {
        entity: Entity::DANGLING,
        position: Vec2::ZERO,
        herd: 0,
        activity: Activity::Resting,
    };
}

/// Square cells over a square arena, each listing the animals in it.
///
/// The residents of all cells live in one vector, sorted by cell, with `starts` giving
/// each cell's range (the layout a counting sort leaves): two passes over the animals
/// and one over the cells per rebuild, and no allocation once the vectors have grown.
///
/// # Examples
///
/// ```
/// use demos::skirmish::Vec2;
/// use demos::swarm::{Activity, Grid, Herd, Position};
///
/// let mut world = hecs::World::new();
/// let a = world.spawn((Position(Vec2::new(1.0, 1.0)), Herd(0), Activity::Resting));
/// world.spawn((Position(Vec2::new(90.0, 90.0)), Herd(1), Activity::Wandering));
/// let mut grid = Grid::new(100.0, 10.0);
/// grid.rebuild(&world);
/// let mut near = Vec::new();
/// grid.for_each_near(Vec2::new(3.0, 3.0), 5.0, |r| near.push(r.entity));
/// assert_eq!(near, [a]);
/// ```
#[derive(Clone, Debug)]
pub struct Grid {
    cell: f64,
    /// Cells per side.
    side_cells: usize,
    /// Cell `c` holds `residents[starts[c]..starts[c + 1]]`.
    starts: Vec<u32>,
    residents: Vec<Resident>,
    /// The cell of each animal, in query order, between the two passes of a rebuild.
    cells: Vec<u32>,
    /// Where the next resident of each cell goes, during a rebuild.
    cursor: Vec<u32>,
}

impl Grid {
    /// An empty grid over a square arena `side` metres wide, in cells about `cell`
    /// metres wide (a query radius up to `cell` looks at 3 x 3 cells at most).
    ///
    /// # Panics
    ///
    /// If `side` or `cell` is not positive, or the arena has more than `u32::MAX` cells.
    pub fn new(side: f64, cell: f64) -> Grid {
        assert!(side > 0.0 && cell > 0.0, "a grid needs a positive size");
        let side_cells = (side / cell).ceil().max(1.0) as usize;
        let count = side_cells
            .checked_mul(side_cells)
            .filter(|&n| n < u32::MAX as usize)
            .expect("the grid has too many cells");
        Grid {
            cell,
            side_cells,
            starts: vec![0; count + 1],
            residents: Vec::new(),
            cells: Vec::new(),
            cursor: vec![0; count],
        }
    }

    /// Cells along each side.
    pub fn side_cells(&self) -> usize {
        self.side_cells
    }

    /// Animals filed at the last rebuild.
    pub fn len(&self) -> usize {
        self.residents.len()
    }

    /// Whether no animal was filed.
    pub fn is_empty(&self) -> bool {
        self.residents.is_empty()
    }

    fn column(&self, x: f64) -> usize {
        // The cast truncates toward zero (the floor, for x >= 0) and saturates below
        // zero (and NaN) to 0: no call to `floor`, which is not inlined on baseline
        // x86-64.
        ((x / self.cell) as usize).min(self.side_cells - 1)
    }

    /// The index of the cell `p` is in (row-major; outside the arena: the nearest
    /// edge cell).
    pub fn cell_of(&self, p: Vec2) -> usize {
        self.column(p.y) * self.side_cells + self.column(p.x)
    }

    /// Files every animal of `world` (everything with a position, a herd and an
    /// activity) under its cell. O(animals + cells).
    pub fn rebuild(&mut self, world: &World) {
        self.starts.fill(0);
        self.cells.clear();
        let mut query = world.query::<(&Position, &Herd, &Activity)>();
        for (position, _, _) in query.iter() {
            let cell = self.cell_of(position.0);
            self.cells.push(cell as u32);
            self.starts[cell + 1] += 1;
        }
        for c in 1..self.starts.len() {
            self.starts[c] += self.starts[c - 1];
        }
        let count = self.starts.len() - 1;
        self.cursor.copy_from_slice(&self.starts[..count]);
        self.residents.clear();
        self.residents.resize(self.cells.len(), Resident::VACANT);
        // The same query again: it visits the animals in the same order.
        let mut query = world.query::<(Entity, (&Position, &Herd, &Activity))>();
        for ((entity, (position, herd, activity)), &cell) in query.iter().zip(&self.cells) {
            let slot = &mut self.cursor[cell as usize];
            self.residents[*slot as usize] = Resident {
                entity,
                position: position.0,
                herd: herd.0,
                activity: *activity,
            };
            *slot += 1;
        }
    }

    /// The residents of one cell, by index (row-major).
    pub fn cell(&self, index: usize) -> &[Resident] {
        let (from, to) = (self.starts[index], self.starts[index + 1]);
        &self.residents[from as usize..to as usize]
    }

    /// Number of cells.
    pub fn cell_count(&self) -> usize {
        self.starts.len() - 1
    }

    /// Calls `f` on every resident within `radius` of `p` (itself included, if `p` is
    /// where an animal stands), cell by cell in a fixed order.
    pub fn for_each_near(&self, p: Vec2, radius: f64, mut f: impl FnMut(&Resident)) {
        let (x0, x1) = (self.column(p.x - radius), self.column(p.x + radius));
        let (y0, y1) = (self.column(p.y - radius), self.column(p.y + radius));
        let radius_squared = radius * radius;
        for row in y0..=y1 {
            for column in x0..=x1 {
                for resident in self.cell(row * self.side_cells + column) {
                    let d = resident.position - p;
                    if d.x * d.x + d.y * d.y <= radius_squared {
                        f(resident);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every animal is found by a query around it, and queries agree with brute force.
    #[test]
    fn queries_match_brute_force() {
        let mut world = World::new();
        let mut rng = crate::Rng::new(5);
        let mut all = Vec::new();
        for i in 0..500 {
            let p = Vec2::new(rng.range(0.0, 200.0), rng.range(0.0, 200.0));
            let e = world.spawn((Position(p), Herd((i % 3) as u8), Activity::Resting));
            all.push((e, p));
        }
        let mut grid = Grid::new(200.0, 12.0);
        grid.rebuild(&world);
        assert_eq!(grid.len(), 500);
        for &(_, p) in all.iter().take(50) {
            let mut found = Vec::new();
            grid.for_each_near(p, 12.0, |r| found.push(r.entity));
            found.sort();
            let mut expected: Vec<Entity> = all
                .iter()
                .filter(|(_, q)| q.distance(p) <= 12.0)
                .map(|(e, _)| *e)
                .collect();
            expected.sort();
            assert_eq!(found, expected);
        }
        // Positions outside the arena are filed in the edge cells, not lost.
        world.spawn((Position(Vec2::new(-5.0, 250.0)), Herd(0), Activity::Resting));
        grid.rebuild(&world);
        assert_eq!(grid.len(), 501);
        let total: usize = (0..grid.cell_count()).map(|c| grid.cell(c).len()).sum();
        assert_eq!(total, 501);
    }
}
