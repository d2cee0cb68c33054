//! What the systems and the ships' behaviours share: components in the world, the event
//! that reaches a ship's inbox and the command a behaviour gives the weapons system.

use hecs::Entity;

use crate::Vec2;

/// Which side and class a ship is; never changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ship {
    /// Index of its fleet in the scenario.
    pub fleet: usize,
    /// Index of its class in the scenario.
    pub class: usize,
}

/// Where a ship is and how it moves. Only the movement system writes it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Motion {
    /// Metres.
    pub position: Vec2,
    /// Metres per second.
    pub velocity: Vec2,
    /// Where the nose points, radians counter-clockwise from +x.
    pub heading: f64,
}

/// Hit points. Only the ship's own behaviour writes it (hits come to its inbox).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hull {
    /// Hit points left.
    pub hit_points: f64,
    /// The full amount.
    pub max: f64,
}

impl Hull {
    /// Hit points left as a share of the full amount.
    pub fn fraction(&self) -> f64 {
        self.hit_points / self.max
    }
}

/// The order a behaviour gives its ship; the movement system carries it out every frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Helm {
    /// Slow to a stop.
    Hold,
    /// Fly at `target` until within `distance` of it.
    Approach {
        /// The ship to close in on.
        target: Entity,
        /// How close to get, metres.
        distance: f64,
    },
    /// Circle `target` at `radius` metres.
    Orbit {
        /// The ship to circle.
        target: Entity,
        /// Metres.
        radius: f64,
        /// Which way round.
        clockwise: bool,
    },
    /// Fly to a point and stop there.
    GoTo(Vec2),
}

/// A weapon hit: the weapons system puts it in the target's inbox.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    /// Hit points it takes off.
    pub damage: f64,
    /// Who fired.
    pub from: Entity,
}

/// A behaviour's command to the weapons system: fire this ship's weapon at `target`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fire {
    /// The ship fired at.
    pub target: Entity,
}
