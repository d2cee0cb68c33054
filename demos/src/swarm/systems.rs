//! The swarm's ECS systems, run every frame before the behaviours, in this order:
//! movement (carry every animal that is up along its velocity, turning it around at the
//! arena's edge, and count who does what), the grid (file every animal under its cell)
//! and encounters (tell animals that a stranger came close, through their inboxes).
//! Each is O(animals) per frame, plus a few cells' worth of neighbours per moving animal.

use std::rc::Rc;

use engine::{FrameDriver, SystemContext};
use hecs::Entity;

use super::{Activity, Census, Encounter, Field, Position, Vec2, Velocity, ENCOUNTER_RADIUS};

/// Adds the systems to `driver`, in the order they run.
pub fn install(driver: &mut FrameDriver, field: &Rc<Field>) {
    let f = field.clone();
    driver.add_system("movement", move |sys| movement(sys, &f));
    let f = field.clone();
    driver.add_system("grid", move |sys| f.grid.borrow_mut().rebuild(sys.world()));
    let f = field.clone();
    // Reused every frame: who is startled, and by whom.
    let mut startled = Vec::new();
    driver.add_system("encounters", move |sys| encounters(sys, &f, &mut startled));
}

/// Moves every animal that is up by its velocity over the frame's `dt`; one that would
/// leave the arena bounces off the edge. Counts what everybody is doing.
fn movement(sys: &mut SystemContext<'_>, field: &Field) {
    let dt = sys.dt().as_secs_f64();
    let side = field.side;
    let mut census = Census::default();
    for (position, velocity, activity) in sys
        .world()
        .query_mut::<(&mut Position, &mut Velocity, &Activity)>()
    {
        census.count(*activity);
        if !activity.is_moving() {
            continue;
        }
        let mut p = position.0 + velocity.0 * dt;
        let v = &mut velocity.0;
        (p.x, v.x) = bounce(p.x, v.x, side);
        (p.y, v.y) = bounce(p.y, v.y, side);
        position.0 = p;
    }
    field.census.set(census);
}

/// One coordinate and its speed after bouncing off the walls at 0 and `side`.
fn bounce(x: f64, v: f64, side: f64) -> (f64, f64) {
    if x < 0.0 {
        ((-x).min(side), v.abs())
    } else if x > side {
        ((2.0 * side - x).max(0.0), -v.abs())
    } else {
        (x, v)
    }
}

/// Every moving animal startles the animals of other herds within
/// [`ENCOUNTER_RADIUS`] that are not already running: each gets an [`Encounter`] in its
/// inbox, which wakes it if it waits there. Reads the grid built this frame.
fn encounters(sys: &mut SystemContext<'_>, field: &Field, startled: &mut Vec<(Entity, Vec2)>) {
    {
        let grid = field.grid.borrow();
        for cell in 0..grid.cell_count() {
            for mover in grid.cell(cell) {
                if !mover.activity.is_moving() {
                    continue;
                }
                grid.for_each_near(mover.position, ENCOUNTER_RADIUS, |other| {
                    if other.herd != mover.herd && other.activity != Activity::Fleeing {
                        startled.push((other.entity, mover.position));
                    }
                });
            }
        }
    }
    let mut sent = 0;
    for (entity, threat) in startled.drain(..) {
        if sys.send(entity, Encounter { threat }).is_ok() {
            sent += 1;
        }
    }
    field.encounters.set(field.encounters.get() + sent);
}

#[cfg(test)]
mod tests {
    use super::bounce;

    #[test]
    fn animals_bounce_off_the_walls() {
        assert_eq!(bounce(5.0, 1.0, 10.0), (5.0, 1.0));
        assert_eq!(bounce(-1.0, -2.0, 10.0), (1.0, 2.0));
        assert_eq!(bounce(11.0, 2.0, 10.0), (9.0, -2.0));
    }
}
