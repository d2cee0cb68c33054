//! A 2-D vector in metres (or metres per second), for positions and velocities.

use std::ops::{Add, AddAssign, Mul, Sub};

/// A 2-D vector.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Vec2 {
    /// x, metres from the left edge (or metres per second).
    pub x: f64,
    /// y, metres from the bottom edge (or metres per second).
    pub y: f64,
}

impl Vec2 {
    /// The zero vector.
    pub const ZERO: Vec2 = Vec2 { x: 0.0, y: 0.0 };

    /// A vector from its parts.
    pub fn new(x: f64, y: f64) -> Vec2 {
        Vec2 { x, y }
    }

    /// The unit vector at `angle` radians counter-clockwise from +x.
    pub fn from_angle(angle: f64) -> Vec2 {
        Vec2::new(angle.cos(), angle.sin())
    }

    /// Length.
    pub fn length(self) -> f64 {
        self.x.hypot(self.y)
    }

    /// Distance to `other`.
    pub fn distance(self, other: Vec2) -> f64 {
        (other - self).length()
    }

    /// The same direction with length 1 (zero stays zero).
    pub fn normalized(self) -> Vec2 {
        let length = self.length();
        if length > 1e-9 {
            self * (1.0 / length)
        } else {
            Vec2::ZERO
        }
    }

    /// Turned a quarter counter-clockwise.
    pub fn perpendicular(self) -> Vec2 {
        Vec2::new(-self.y, self.x)
    }

    /// This vector shortened to at most `max` long.
    pub fn clamp_length(self, max: f64) -> Vec2 {
        let length = self.length();
        if length > max {
            self * (max / length)
        } else {
            self
        }
    }

    /// The angle from +x, radians counter-clockwise.
    pub fn angle(self) -> f64 {
        self.y.atan2(self.x)
    }
}

impl Add for Vec2 {
    type Output = Vec2;
    fn add(self, o: Vec2) -> Vec2 {
        Vec2::new(self.x + o.x, self.y + o.y)
    }
}

impl AddAssign for Vec2 {
    fn add_assign(&mut self, o: Vec2) {
        *self = *self + o;
    }
}

impl Sub for Vec2 {
    type Output = Vec2;
    fn sub(self, o: Vec2) -> Vec2 {
        Vec2::new(self.x - o.x, self.y - o.y)
    }
}

impl Mul<f64> for Vec2 {
    type Output = Vec2;
    fn mul(self, k: f64) -> Vec2 {
        Vec2::new(self.x * k, self.y * k)
    }
}

#[cfg(test)]
mod tests {
    use super::Vec2;

    #[test]
    fn lengths_directions_and_clamps() {
        let v = Vec2::new(3.0, 4.0);
        assert_eq!(v.length(), 5.0);
        assert!((v.normalized().length() - 1.0).abs() < 1e-12);
        assert_eq!(Vec2::ZERO.normalized(), Vec2::ZERO);
        assert_eq!(v.clamp_length(2.5), Vec2::new(1.5, 2.0));
        assert_eq!(v.clamp_length(10.0), v);
        assert_eq!(Vec2::new(1.0, 0.0).perpendicular(), Vec2::new(0.0, 1.0));
        assert!((Vec2::from_angle(1.0).angle() - 1.0).abs() < 1e-12);
        assert_eq!(Vec2::new(1.0, 1.0).distance(Vec2::new(4.0, 5.0)), 5.0);
    }
}
