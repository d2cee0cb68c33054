//! Turns the battle into the renderer's [`Snapshot`]s: ships from the world, recent shots
//! and explosions from the battle log.

use hecs::World;

use crate::render::{Explosion, ShipMark, Shot, Snapshot};
use crate::scenario::ShipClass;

use super::{Departure, Hull, Motion, Ship, ShotRecord, Skirmish, Vec2};

/// How long a shot's line stays on screen, game seconds.
const SHOT_LIFE: f64 = 0.8;
/// How long an explosion lasts, game seconds.
const EXPLOSION_LIFE: f64 = 1.6;

/// Gathers the battle's shots and departures every frame and draws snapshots from them.
#[derive(Debug, Default)]
pub struct Picture {
    /// Recent shots with the game time they were fired.
    shots: Vec<(f64, ShotRecord)>,
    /// Recent ships destroyed, with the game time.
    explosions: Vec<(f64, Departure)>,
}

impl Picture {
    /// An empty picture.
    pub fn new() -> Picture {
        Picture::default()
    }

    /// Takes this frame's shots and departures from the battle log (call every frame:
    /// it also keeps the log from growing) and forgets what has faded.
    pub fn collect(&mut self, skirmish: &Skirmish) {
        let now = skirmish.driver.now().as_secs_f64();
        let (shots, departures) = skirmish.drain_log();
        self.shots.extend(shots.into_iter().map(|s| (now, s)));
        self.explosions.extend(
            departures
                .into_iter()
                .filter(|d| d.destroyed)
                .map(|d| (now, d)),
        );
        self.shots.retain(|(t, _)| now - t < SHOT_LIFE);
        self.explosions.retain(|(t, _)| now - t < EXPLOSION_LIFE);
    }

    /// What the battle looks like now.
    pub fn snapshot(&self, skirmish: &Skirmish) -> Snapshot {
        let now = skirmish.driver.now().as_secs_f64();
        let ships = ship_marks(&skirmish.world, &skirmish.battle.scenario.classes);
        let shots = self.shots.iter().map(|(_, s)| shot_mark(s)).collect();
        let explosions = self
            .explosions
            .iter()
            .map(|(t, d)| explosion_mark(d.position, d.size, (now - t) / EXPLOSION_LIFE))
            .collect();
        Snapshot {
            ships,
            shots,
            explosions,
            caption: format!("{}  t+{now:.1} s", skirmish.battle.scenario.name),
        }
    }
}

/// The ships of `world` as the renderer draws them.
pub fn ship_marks(world: &World, classes: &[ShipClass]) -> Vec<ShipMark> {
    world
        .query::<(&Ship, &Motion, &Hull)>()
        .iter()
        .map(|(ship, motion, hull)| ShipMark {
            position: (motion.position.x, motion.position.y),
            heading: motion.heading,
            fleet: ship.fleet,
            size: classes[ship.class].size,
            health: hull.fraction(),
        })
        .collect()
}

/// A shot as the renderer draws it.
pub fn shot_mark(shot: &ShotRecord) -> Shot {
    Shot {
        from: (shot.from.x, shot.from.y),
        to: (shot.to.x, shot.to.y),
        fleet: shot.fleet,
    }
}

/// An explosion at `position` of a ship `size` metres across, `age` of the way through
/// its life (0 to 1): a ring that grows and cools.
pub fn explosion_mark(position: Vec2, size: f64, age: f64) -> Explosion {
    let age = age.clamp(0.0, 1.0);
    Explosion {
        position: (position.x, position.y),
        radius: size * (2.0 + 10.0 * age),
        age,
    }
}
