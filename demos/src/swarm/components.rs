//! What the systems and the animals' behaviours share: the components every animal
//! has, and the event the encounters system puts in an animal's inbox.

use super::Vec2;

/// Where an animal is, metres from the arena's lower left corner. Only the movement
/// system writes it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Position(pub Vec2);

/// How fast and which way an animal moves, metres per second. Only its own behaviour
/// writes it (the movement system turns it around at the arena's edge).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Velocity(pub Vec2);

/// Which herd an animal belongs to; never changes. Animals flock with their own herd and
/// shy away from the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Herd(pub u8);

/// What an animal is doing, as its behaviour last said. Systems read it: the movement
/// system moves only animals that are up, and the encounters system disturbs only
/// animals that are not already running.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Activity {
    /// Lying down (or catching its breath): not moving.
    #[default]
    Resting,
    /// Walking about, steering toward its herd.
    Wandering,
    /// Running away from a stranger.
    Fleeing,
}

impl Activity {
    /// Whether an animal doing this moves (and so may startle others).
    pub fn is_moving(self) -> bool {
        !matches!(self, Activity::Resting)
    }
}

/// Whether an [`Encounter`] is on its way to this animal: set by the encounters system
/// when it sends one, cleared by the animal's behaviour once it has dealt with it. A
/// startled animal is told once, not again every frame until its script gets to run
/// (which, when the budget runs out, can take a while).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Alarmed(pub bool);

/// A stranger (an animal of another herd) came close: sent by the encounters system to
/// the inbox of the animal it came close to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Encounter {
    /// Where the stranger was.
    pub threat: Vec2,
}

/// How many animals were doing what at the start of a frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Census {
    /// Lying down.
    pub resting: usize,
    /// Walking about.
    pub wandering: usize,
    /// Running away.
    pub fleeing: usize,
}

impl Census {
    /// Every animal counted.
    pub fn total(&self) -> usize {
        self.resting + self.wandering + self.fleeing
    }

    /// Counts one animal.
    pub fn count(&mut self, activity: Activity) {
        match activity {
            Activity::Resting => self.resting += 1,
            Activity::Wandering => self.wandering += 1,
            Activity::Fleeing => self.fleeing += 1,
        }
    }
}
