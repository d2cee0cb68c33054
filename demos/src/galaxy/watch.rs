//! What a solar system tells the host: a picture after some frames (for the GIF), and
//! its figures at the end.

use std::rc::Rc;

use engine::shard::{Shard, ShardObserver};
use engine::WorldHasher;

use super::system::{Serial, StarSystem};
use crate::render::{Explosion, ShipMark, Shot};
use crate::skirmish::{
    explosion_mark, ship_marks, shot_mark, Departure, Hull, Motion, Ship, ShotRecord, Vec2,
};

/// How long a shot's line stays on screen, game seconds.
const SHOT_LIFE: f64 = 0.8;
/// How long an explosion or a jump flash lasts, game seconds.
const FLASH_LIFE: f64 = 1.6;
/// A jump flash is drawn as an explosion of a ship this big, metres.
const JUMP_FLASH_SIZE: f64 = 40.0;

/// A system's picture, in its own arena's metres.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SystemPicture {
    /// Its ships.
    pub ships: Vec<ShipMark>,
    /// Recent shots.
    pub shots: Vec<Shot>,
    /// Recent explosions and jump flashes.
    pub explosions: Vec<Explosion>,
    /// Game seconds.
    pub time: f64,
}

/// A system's figures when the galaxy stops.
#[derive(Clone, Debug, PartialEq)]
pub struct SystemEnd {
    /// Ships per fleet in the system.
    pub ships: Vec<u32>,
    /// Its world hash (ships' identity, position, velocity, hull, number).
    pub hash: u64,
    /// Ships destroyed here, per fleet.
    pub destroyed: Vec<u32>,
    /// Ships warped out of the game here (only in a galaxy without gates), per fleet.
    pub warped_out: Vec<u32>,
    /// Shots fired here.
    pub shots: u64,
    /// Jumps its ships asked for that did not happen.
    pub failed_jumps: u64,
}

/// A system's observer: keeps the battle log drained (every frame: it would grow
/// otherwise) and draws pictures every `render_every` frames.
pub struct SystemWatch {
    system: Rc<StarSystem>,
    hasher: WorldHasher,
    render_every: Option<u64>,
    shots: Vec<(f64, ShotRecord)>,
    booms: Vec<(f64, Vec2, f64)>,
    shots_fired: u64,
}

impl std::fmt::Debug for SystemWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemWatch")
            .field("system", &self.system)
            .field("render_every", &self.render_every)
            .finish_non_exhaustive()
    }
}

/// The galaxy's world hash over one system: what the skirmish hashes, plus the ships'
/// numbers.
pub fn hasher() -> WorldHasher {
    use std::hash::Hasher;
    WorldHasher::new()
        .component::<Ship>()
        .component::<Serial>()
        .component_with::<Motion>(|m, h| {
            for v in [m.position.x, m.position.y, m.velocity.x, m.velocity.y] {
                h.write_u64(v.to_bits());
            }
        })
        .component_with::<Hull>(|hull, h| h.write_u64(hull.hit_points.to_bits()))
}

impl SystemWatch {
    /// Watches `system`, drawing a picture every `render_every` frames (never: `None`).
    pub fn new(system: Rc<StarSystem>, render_every: Option<u64>) -> SystemWatch {
        SystemWatch {
            system,
            hasher: hasher(),
            render_every,
            shots: Vec::new(),
            booms: Vec::new(),
            shots_fired: 0,
        }
    }

    /// Takes this frame's shots, departures and jump flashes, and forgets what faded.
    fn collect(&mut self, now: f64) {
        let (shots, departures) = {
            let mut log = self.system.battle.log.borrow_mut();
            (
                std::mem::take(&mut log.shots),
                std::mem::take(&mut log.departures),
            )
        };
        let flashes = std::mem::take(&mut *self.system.flashes.borrow_mut());
        self.shots_fired += shots.len() as u64;
        if self.render_every.is_none() {
            return;
        }
        self.shots.extend(shots.into_iter().map(|s| (now, s)));
        let booms = departures
            .iter()
            .filter(|d: &&Departure| d.destroyed)
            .map(|d| (now, d.position, d.size));
        self.booms.extend(booms);
        self.booms
            .extend(flashes.into_iter().map(|p| (now, p, JUMP_FLASH_SIZE)));
        self.shots.retain(|(t, _)| now - t < SHOT_LIFE);
        self.booms.retain(|(t, _, _)| now - t < FLASH_LIFE);
    }

    fn picture(&self, shard: &Shard, now: f64) -> SystemPicture {
        let classes = &self.system.battle.scenario.classes;
        SystemPicture {
            ships: ship_marks(&shard.world, classes),
            shots: self.shots.iter().map(|(_, s)| shot_mark(s)).collect(),
            explosions: self
                .booms
                .iter()
                .map(|&(t, position, size)| explosion_mark(position, size, (now - t) / FLASH_LIFE))
                .collect(),
            time: now,
        }
    }
}

impl ShardObserver for SystemWatch {
    type Frame = SystemPicture;
    type End = SystemEnd;

    fn after_frame(&mut self, shard: &Shard) -> Option<SystemPicture> {
        let now = shard.driver.now().as_secs_f64();
        self.collect(now);
        let every = self.render_every?;
        (shard.frame() % every == 1 % every).then(|| self.picture(shard, now))
    }

    fn at_end(&mut self, shard: &mut Shard) -> SystemEnd {
        let battle = &self.system.battle;
        let fleets = battle.scenario.fleets.len();
        let mut ships = vec![0; fleets];
        for ship in shard.world.query::<&Ship>().iter() {
            ships[ship.fleet] += 1;
        }
        let log = battle.log.borrow();
        SystemEnd {
            ships,
            hash: self.hasher.hash(&shard.world),
            destroyed: log.destroyed.clone(),
            warped_out: log.warped_out.clone(),
            shots: self.shots_fired + log.shots.len() as u64,
            failed_jumps: self.system.failed_jumps.get(),
        }
    }
}
