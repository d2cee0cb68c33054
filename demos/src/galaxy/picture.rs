//! The galaxy seen from above: every system's picture side by side, west to east in ring
//! order, with their gates, borders and names; assembled on the host from the systems'
//! pictures of the same frame.

use std::collections::BTreeMap;

use super::map::{StarMap, ARENA};
use super::watch::SystemPicture;
use crate::render::{Landmark, Snapshot};

/// Space between two systems in the picture, metres.
const GAP: f64 = 1_500.0;

/// Gathers the systems' pictures frame by frame and assembles whole frames.
#[derive(Debug)]
pub struct Pictures {
    map: StarMap,
    /// Pictures received, by frame, by system.
    pending: BTreeMap<u64, Vec<Option<SystemPicture>>>,
    /// Systems that failed: no more pictures come from them.
    failed: Vec<bool>,
}

impl Pictures {
    /// For the systems of `map`.
    pub fn new(map: StarMap) -> Pictures {
        Pictures {
            map,
            pending: BTreeMap::new(),
            failed: vec![false; map.systems()],
        }
    }

    /// The whole picture's size, metres.
    pub fn size(&self) -> (f64, f64) {
        let n = self.map.systems() as f64;
        (n * ARENA.0 + (n - 1.0) * GAP, ARENA.1)
    }

    fn offset(index: usize) -> f64 {
        index as f64 * (ARENA.0 + GAP)
    }

    /// Borders, gates and names.
    pub fn landmarks(&self) -> Vec<Landmark> {
        let mut marks = Vec::new();
        for i in 0..self.map.systems() {
            let x = Pictures::offset(i);
            let (w, h) = ARENA;
            for (from, to) in [
                ((x, 0.0), (x + w, 0.0)),
                ((x + w, 0.0), (x + w, h)),
                ((x + w, h), (x, h)),
                ((x, h), (x, 0.0)),
            ] {
                marks.push(Landmark::Line { from, to });
            }
            for gate in self.map.gates(i) {
                let p = gate.side.gate_position();
                marks.push(Landmark::Ring {
                    position: (x + p.x, p.y),
                    radius: 250.0,
                });
            }
            marks.push(Landmark::Label {
                position: (x + w * 0.4, h - 300.0),
                text: self.map.name(i),
            });
        }
        marks
    }

    /// Files system `index`'s picture of `frame`.
    pub fn add(&mut self, index: usize, frame: u64, picture: SystemPicture) {
        let systems = self.map.systems();
        self.pending
            .entry(frame)
            .or_insert_with(|| vec![None; systems])[index] = Some(picture);
    }

    /// Notes that system `index` failed (its pictures stop coming).
    pub fn fail(&mut self, index: usize) {
        self.failed[index] = true;
    }

    /// The frames every live system has sent its picture for, assembled, oldest first.
    pub fn complete(&mut self) -> Vec<Snapshot> {
        let mut done = Vec::new();
        while let Some(entry) = self.pending.first_entry() {
            let ready = entry
                .get()
                .iter()
                .zip(&self.failed)
                .all(|(p, failed)| p.is_some() || *failed);
            if !ready {
                break;
            }
            let pictures = entry.remove();
            done.push(Pictures::assemble(&pictures));
        }
        done
    }

    /// Whatever is left, even where a system's picture is missing.
    pub fn rest(&mut self) -> Vec<Snapshot> {
        std::mem::take(&mut self.pending)
            .into_values()
            .map(|p| Pictures::assemble(&p))
            .collect()
    }

    fn assemble(pictures: &[Option<SystemPicture>]) -> Snapshot {
        let mut snapshot = Snapshot::default();
        let mut time = 0.0_f64;
        for (i, picture) in pictures.iter().enumerate() {
            let Some(p) = picture else { continue };
            let dx = Pictures::offset(i);
            time = time.max(p.time);
            snapshot.ships.extend(p.ships.iter().cloned().map(|mut s| {
                s.position.0 += dx;
                s
            }));
            snapshot.shots.extend(p.shots.iter().cloned().map(|mut s| {
                s.from.0 += dx;
                s.to.0 += dx;
                s
            }));
            snapshot
                .explosions
                .extend(p.explosions.iter().cloned().map(|mut e| {
                    e.position.0 += dx;
                    e
                }));
        }
        snapshot.caption = format!("T+{time:.1}S");
        snapshot
    }
}
