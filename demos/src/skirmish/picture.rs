//! Turns the battle into the renderer's [`Snapshot`]s: ships from the world, recent shots
//! and explosions from the battle log.

use crate::render::{Explosion, ShipMark, Shot, Snapshot};

use super::{Departure, Hull, Motion, Ship, ShotRecord, Skirmish};

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
        let classes = &skirmish.battle.scenario.classes;
        let ships = skirmish
            .world
            .query::<(&Ship, &Motion, &Hull)>()
            .iter()
            .map(|(ship, motion, hull)| ShipMark {
                position: (motion.position.x, motion.position.y),
                heading: motion.heading,
                fleet: ship.fleet,
                size: classes[ship.class].size,
                health: hull.fraction(),
            })
            .collect();
        let shots = self
            .shots
            .iter()
            .map(|(_, s)| Shot {
                from: (s.from.x, s.from.y),
                to: (s.to.x, s.to.y),
                fleet: s.fleet,
            })
            .collect();
        let explosions = self
            .explosions
            .iter()
            .map(|(t, d)| {
                let age = ((now - t) / EXPLOSION_LIFE).clamp(0.0, 1.0);
                Explosion {
                    position: (d.position.x, d.position.y),
                    radius: d.size * (2.0 + 10.0 * age),
                    age,
                }
            })
            .collect();
        Snapshot {
            ships,
            shots,
            explosions,
            caption: format!("{}  t+{now:.1} s", skirmish.battle.scenario.name),
        }
    }
}
