//! The spatial grid for neighbour queries: every animal filed under the square cell it
//! stands in, so that "who is near me" looks at a few cells rather than at every animal.
//!
//! The grid is kept up to date incrementally: resting animals (most of them) never
//! touch it, a moving one updates its own entry in O(1), and moves to another cell's
//! list only when it crosses a cell boundary (every few seconds for a walker). Each
//! cell's animals form a singly linked list threaded through one entry per animal,
//! indexed by the entity's index, so the grid costs about 30 bytes per animal plus 4 per
//! cell and makes no allocation once it has grown.

use hecs::Entity;

use super::Vec2;

/// Marks the end of a cell's list and an animal that is not filed.
const NONE: u32 = u32::MAX;

/// An animal as a query sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Resident {
    /// The animal.
    pub entity: Entity,
    /// Where it stands (as last filed, to a millimetre or so: kept as `f32`).
    pub position: Vec2,
    /// Its herd.
    pub herd: u8,
}

/// One animal's entry, at the index of its entity.
#[derive(Clone, Copy, Debug)]
struct Entry {
    entity: Entity,
    x: f32,
    y: f32,
    /// The next animal in the same cell, or `NONE`.
    next: u32,
    /// Its cell, or `NONE` when it is not filed.
    cell: u32,
    herd: u8,
}

impl Entry {
    const VACANT: Entry = Entry {
        entity: Entity::DANGLING,
        x: 0.0,
        y: 0.0,
        next: NONE,
        cell: NONE,
        herd: 0,
    };
}

/// Square cells over a square arena, each listing the animals in it.
///
/// # Examples
///
/// ```
/// use demos::swarm::{Grid, Vec2};
///
/// let mut world = hecs::World::new();
/// let (a, b) = (world.spawn(()), world.spawn(()));
/// let mut grid = Grid::new(100.0, 10.0);
/// grid.insert(a, Vec2::new(1.0, 1.0), 0);
/// grid.insert(b, Vec2::new(90.0, 90.0), 1);
/// let near = |grid: &Grid| {
///     let mut near = Vec::new();
///     grid.for_each_near(Vec2::new(3.0, 3.0), 5.0, |r| near.push(r.entity));
///     near
/// };
/// assert_eq!(near(&grid), [a]);
/// assert!(grid.moved(b, Vec2::new(4.0, 2.0))); // b walks over
/// assert_eq!(near(&grid).len(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct Grid {
    cell: f64,
    /// Cells per side.
    side_cells: usize,
    /// The first animal of each cell (row-major), or `NONE`.
    heads: Vec<u32>,
    /// Every filed animal's entry, at its entity's index.
    entries: Vec<Entry>,
    /// Animals filed.
    len: usize,
}

impl Grid {
    /// An empty grid over a square arena `side` metres wide, in cells about `cell`
    /// metres wide (a query radius up to `cell` looks at 3 x 3 cells at most).
    ///
    /// # Panics
    ///
    /// If `side` or `cell` is not positive, or the arena would have `u32::MAX` cells or
    /// more.
    pub fn new(side: f64, cell: f64) -> Grid {
        assert!(side > 0.0 && cell > 0.0, "a grid needs a positive size");
        let side_cells = (side / cell).ceil().max(1.0) as usize;
        let count = side_cells
            .checked_mul(side_cells)
            .filter(|&n| n < NONE as usize)
            .expect("the grid has too many cells");
        Grid {
            cell,
            side_cells,
            heads: vec![NONE; count],
            entries: Vec::new(),
            len: 0,
        }
    }

    /// Cells along each side.
    pub fn side_cells(&self) -> usize {
        self.side_cells
    }

    /// Animals filed.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no animal is filed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
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

    /// Files `entity` at `position` (refiles it if it is filed already).
    pub fn insert(&mut self, entity: Entity, position: Vec2, herd: u8) {
        let index = entity.id() as usize;
        if index >= self.entries.len() {
            self.entries.resize(index + 1, Entry::VACANT);
        }
        self.remove(entity);
        let cell = self.cell_of(position);
        self.entries[index] = Entry {
            entity,
            x: position.x as f32,
            y: position.y as f32,
            next: self.heads[cell],
            cell: cell as u32,
            herd,
        };
        self.heads[cell] = index as u32;
        self.len += 1;
    }

    /// Unfiles `entity`; returns whether it was filed.
    pub fn remove(&mut self, entity: Entity) -> bool {
        let index = entity.id() as usize;
        let Some(entry) = self.entries.get(index).copied() else {
            return false;
        };
        if entry.cell == NONE || entry.entity != entity {
            return false;
        }
        self.unlink(index as u32, entry.cell as usize);
        self.entries[index] = Entry::VACANT;
        self.len -= 1;
        true
    }

    /// Takes entry `index` out of `cell`'s list. Cells hold a handful of animals, so
    /// finding its predecessor is a short walk.
    fn unlink(&mut self, index: u32, cell: usize) {
        let next = self.entries[index as usize].next;
        if self.heads[cell] == index {
            self.heads[cell] = next;
            return;
        }
        let mut at = self.heads[cell];
        while at != NONE {
            let after = self.entries[at as usize].next;
            if after == index {
                self.entries[at as usize].next = next;
                return;
            }
            at = after;
        }
        unreachable!("a filed animal is in its cell's list");
    }

    /// `entity` now stands at `position`: updates its entry, and moves it to another
    /// cell's list if it crossed into one. Returns false (and files nothing) if it is
    /// not filed: animals are filed with [`Grid::insert`], which knows their herd.
    pub fn moved(&mut self, entity: Entity, position: Vec2) -> bool {
        let index = entity.id() as usize;
        let filed = self
            .entries
            .get(index)
            .is_some_and(|e| e.cell != NONE && e.entity == entity);
        if !filed {
            return false;
        }
        let cell = self.cell_of(position);
        let entry = &mut self.entries[index];
        entry.x = position.x as f32;
        entry.y = position.y as f32;
        let old = entry.cell as usize;
        if old != cell {
            self.unlink(index as u32, old);
            let entry = &mut self.entries[index];
            entry.cell = cell as u32;
            entry.next = self.heads[cell];
            self.heads[cell] = index as u32;
        }
        true
    }

    /// Calls `f` on every animal within `radius` of `p` (itself included, if `p` is
    /// where an animal stands), cell by cell in a fixed order.
    pub fn for_each_near(&self, p: Vec2, radius: f64, mut f: impl FnMut(&Resident)) {
        let (x0, x1) = (self.column(p.x - radius), self.column(p.x + radius));
        let (y0, y1) = (self.column(p.y - radius), self.column(p.y + radius));
        let radius_squared = radius * radius;
        for row in y0..=y1 {
            for column in x0..=x1 {
                let mut at = self.heads[row * self.side_cells + column];
                while at != NONE {
                    let entry = &self.entries[at as usize];
                    let position = Vec2::new(f64::from(entry.x), f64::from(entry.y));
                    let d = position - p;
                    if d.x * d.x + d.y * d.y <= radius_squared {
                        f(&Resident {
                            entity: entry.entity,
                            position,
                            herd: entry.herd,
                        });
                    }
                    at = entry.next;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hecs::World;

    fn near(grid: &Grid, p: Vec2, radius: f64) -> Vec<Entity> {
        let mut found = Vec::new();
        grid.for_each_near(p, radius, |r| found.push(r.entity));
        found.sort();
        found
    }

    fn brute_force(all: &[(Entity, Vec2)], p: Vec2, radius: f64) -> Vec<Entity> {
        let mut found: Vec<Entity> = all
            .iter()
            // The grid keeps positions as f32: compare them the way it sees them.
            .filter(|(_, q)| {
                let q = Vec2::new(f64::from(q.x as f32), f64::from(q.y as f32));
                let d = q - p;
                d.x * d.x + d.y * d.y <= radius * radius
            })
            .map(|(e, _)| *e)
            .collect();
        found.sort();
        found
    }

    /// Queries agree with brute force, before and after animals move about, cross cells,
    /// leave the arena and are removed.
    #[test]
    fn queries_match_brute_force_as_animals_move() {
        let mut world = World::new();
        let mut rng = crate::Rng::new(5);
        let mut grid = Grid::new(200.0, 12.0);
        let mut all = Vec::new();
        for i in 0..500 {
            let p = Vec2::new(rng.uniform(0.0..200.0), rng.uniform(0.0..200.0));
            let e = world.spawn(());
            grid.insert(e, p, (i % 3) as u8);
            all.push((e, p));
        }
        assert_eq!(grid.len(), 500);
        for round in 0..4 {
            for &(_, p) in all.iter().take(60) {
                assert_eq!(
                    near(&grid, p, 12.0),
                    brute_force(&all, p, 12.0),
                    "round {round}"
                );
            }
            for (e, p) in all.iter_mut().step_by(2) {
                *p += Vec2::new(rng.uniform(-30.0..30.0), rng.uniform(-30.0..30.0));
                assert!(grid.moved(*e, *p));
            }
        }
        // Off the arena: filed in the nearest edge cell, not lost.
        let (e, _) = all[0];
        all[0].1 = Vec2::new(-5.0, 250.0);
        assert!(grid.moved(e, all[0].1));
        assert_eq!(near(&grid, Vec2::new(-5.0, 250.0), 1.0), [e]);
        // Removed: gone from every query; removing twice is a no-op.
        let (gone, p) = all.pop().unwrap();
        assert!(grid.remove(gone));
        assert!(!grid.remove(gone));
        assert!(!near(&grid, p, 1.0).contains(&gone));
        assert!(
            !grid.moved(gone, p),
            "a removed animal is not filed again by moving"
        );
        assert_eq!(grid.len(), 499);
        let total: usize = (0..grid.heads.len())
            .map(|c| {
                let (mut n, mut at) = (0, grid.heads[c]);
                while at != NONE {
                    n += 1;
                    at = grid.entries[at as usize].next;
                }
                n
            })
            .sum();
        assert_eq!(total, 499, "every animal in exactly one list");
    }
}
