//! Weapon fire, explosions and warp-outs as they fade: the battle log's events, kept
//! for a moment of game time (so a paused battle freezes them too).

use demos::skirmish::{Departure, ShotRecord};

/// How long a shot stays on screen, game seconds.
pub const SHOT_LIFE: f64 = 0.8;
/// How long an explosion lasts, game seconds.
pub const EXPLOSION_LIFE: f64 = 1.6;
/// How long a warp-out's flash lasts, game seconds.
pub const WARP_LIFE: f64 = 1.2;

/// The events still on screen, each with the game time it happened.
///
/// # Examples
///
/// ```
/// use demos::skirmish::{ShotRecord, Vec2};
/// use demos_live::Effects;
///
/// let mut effects = Effects::new();
/// let shot = ShotRecord { from: Vec2::ZERO, to: Vec2::new(100.0, 0.0), fleet: 0 };
/// effects.add(10.0, vec![shot], vec![]);
/// assert_eq!(effects.shots(10.4).count(), 1);
/// effects.forget_faded(11.0);
/// assert_eq!(effects.shots(11.0).count(), 0);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Effects {
    shots: Vec<(f64, ShotRecord)>,
    departures: Vec<(f64, Departure)>,
}

impl Effects {
    /// Nothing on screen.
    pub fn new() -> Effects {
        Effects::default()
    }

    /// Adds the shots and departures of a frame that ended at game time `now`, seconds.
    pub fn add(&mut self, now: f64, shots: Vec<ShotRecord>, departures: Vec<Departure>) {
        self.shots.extend(shots.into_iter().map(|s| (now, s)));
        self.departures
            .extend(departures.into_iter().map(|d| (now, d)));
    }

    /// Drops what has faded by game time `now`.
    pub fn forget_faded(&mut self, now: f64) {
        self.shots.retain(|(t, _)| now - t < SHOT_LIFE);
        self.departures.retain(|(t, d)| {
            let life = if d.destroyed {
                EXPLOSION_LIFE
            } else {
                WARP_LIFE
            };
            now - t < life
        });
    }

    /// Drops everything (a new battle).
    pub fn clear(&mut self) {
        self.shots.clear();
        self.departures.clear();
    }

    /// The shots on screen at `now`, each with its age from 0 (just fired) to 1 (gone).
    pub fn shots(&self, now: f64) -> impl Iterator<Item = (&ShotRecord, f32)> {
        self.shots
            .iter()
            .map(move |(t, s)| (s, age(now - t, SHOT_LIFE)))
    }

    /// The ships destroyed recently, each with the explosion's age (0 to 1).
    pub fn explosions(&self, now: f64) -> impl Iterator<Item = (&Departure, f32)> {
        self.departures
            .iter()
            .filter(|(_, d)| d.destroyed)
            .map(move |(t, d)| (d, age(now - t, EXPLOSION_LIFE)))
    }

    /// The ships that warped out recently, each with the flash's age (0 to 1).
    pub fn warp_outs(&self, now: f64) -> impl Iterator<Item = (&Departure, f32)> {
        self.departures
            .iter()
            .filter(|(_, d)| !d.destroyed)
            .map(move |(t, d)| (d, age(now - t, WARP_LIFE)))
    }
}

fn age(elapsed: f64, life: f64) -> f32 {
    (elapsed / life).clamp(0.0, 1.0) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use demos::skirmish::Vec2;

    fn departure(destroyed: bool) -> Departure {
        let mut world = hecs::World::new();
        Departure {
            entity: world.spawn(()),
            fleet: 1,
            position: Vec2::new(5.0, 5.0),
            size: 30.0,
            destroyed,
        }
    }

    #[test]
    fn explosions_and_warp_outs_age_and_fade_on_their_own_clocks() {
        let mut effects = Effects::new();
        effects.add(2.0, vec![], vec![departure(true), departure(false)]);
        let ages = |e: &Effects, now| {
            (
                e.explosions(now).map(|(_, a)| a).collect::<Vec<_>>(),
                e.warp_outs(now).map(|(_, a)| a).collect::<Vec<_>>(),
            )
        };
        assert_eq!(ages(&effects, 2.0), (vec![0.0], vec![0.0]));
        assert_eq!(
            ages(&effects, 2.8),
            (vec![0.5], vec![(0.8 / WARP_LIFE) as f32])
        );
        effects.forget_faded(2.0 + WARP_LIFE);
        assert_eq!(effects.warp_outs(3.5).count(), 0);
        assert_eq!(effects.explosions(3.5).count(), 1);
        effects.forget_faded(2.0 + EXPLOSION_LIFE);
        assert_eq!(effects.explosions(4.0).count(), 0);
    }

    #[test]
    fn clear_forgets_everything() {
        let mut effects = Effects::new();
        let shot = ShotRecord {
            from: Vec2::ZERO,
            to: Vec2::ZERO,
            fleet: 1,
        };
        effects.add(0.0, vec![shot], vec![departure(true)]);
        effects.clear();
        assert_eq!(
            effects.shots(0.0).count() + effects.explosions(0.0).count(),
            0
        );
    }
}
