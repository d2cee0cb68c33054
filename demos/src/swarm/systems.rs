//! The swarm's ECS systems, run every frame before the behaviours, in this order:
//! movement (carry every animal that is up along its velocity, turning it around at the
//! arena's edge; count who does what; list who moved), the grid (file the movers'
//! new positions) and encounters (tell animals that a stranger came close, through
//! their inboxes). Movement is one pass over every animal, O(n); the other two cost
//! O(movers), plus a few cells' worth of neighbours per mover.

use std::rc::Rc;

use engine::{FrameDriver, SystemContext};
use hecs::Entity;

use super::{
    Activity, Alarmed, Census, Encounter, Field, Herd, Position, Vec2, Velocity, ENCOUNTER_EVERY,
    ENCOUNTER_RADIUS,
};

/// An animal that moved this frame, as the movement system found it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mover {
    /// The animal.
    pub entity: Entity,
    /// Where it is now.
    pub position: Vec2,
    /// Its herd.
    pub herd: u8,
}

/// Adds the systems to `driver`, in the order they run.
pub fn install(driver: &mut FrameDriver, field: &Rc<Field>) {
    let f = field.clone();
    driver.add_system("movement", move |sys| movement(sys, &f));
    let f = field.clone();
    driver.add_system("grid", move |_| {
        let mut grid = f.grid.borrow_mut();
        for mover in f.movers.borrow().iter() {
            // Every animal is filed when it is spawned.
            let filed = grid.moved(mover.entity, mover.position);
            debug_assert!(filed, "{:?} is not in the grid", mover.entity);
        }
    });
    let f = field.clone();
    // Reused every frame: who is startled, and by whom.
    let mut startled = Vec::new();
    driver.add_system("encounters", move |sys| encounters(sys, &f, &mut startled));
}

/// Moves every animal that is up by its velocity over the frame's `dt`; one that would
/// leave the arena bounces off the edge. Counts what everybody is doing and lists the
/// movers in [`Field::movers`].
fn movement(sys: &mut SystemContext<'_>, field: &Field) {
    let dt = sys.dt().as_secs_f64();
    let side = field.side;
    let mut census = Census::default();
    let mut movers = field.movers.borrow_mut();
    movers.clear();
    for (entity, (position, velocity, activity, herd)) in sys
        .world()
        .query_mut::<(Entity, (&mut Position, &mut Velocity, &Activity, &Herd))>()
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
        movers.push(Mover {
            entity,
            position: p,
            herd: herd.0,
        });
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

/// Movers startle the animals of other herds within [`ENCOUNTER_RADIUS`] that are
/// neither running nor already [`Alarmed`]: each gets an [`Encounter`] in its inbox,
/// which wakes it if it waits there, and is marked alarmed. Each mover looks around once
/// every [`ENCOUNTER_EVERY`] frames, in turn by entity (a neighbour query per mover per
/// frame was most of the frame with a million animals).
fn encounters(sys: &mut SystemContext<'_>, field: &Field, startled: &mut Vec<(Entity, Vec2)>) {
    let turn = sys.frame() % ENCOUNTER_EVERY;
    {
        let grid = field.grid.borrow();
        let movers = field.movers.borrow();
        let looking = movers
            .iter()
            .filter(|m| u64::from(m.entity.id()) % ENCOUNTER_EVERY == turn);
        for mover in looking {
            grid.for_each_near(mover.position, ENCOUNTER_RADIUS, |other| {
                if other.herd != mover.herd {
                    startled.push((other.entity, mover.position));
                }
            });
        }
    }
    let mut sent = 0;
    for (entity, threat) in startled.drain(..) {
        let world = sys.world();
        let Ok((activity, alarmed)) = world.query_one_mut::<(&Activity, &mut Alarmed)>(entity)
        else {
            continue;
        };
        if *activity == Activity::Fleeing || alarmed.0 {
            continue;
        }
        alarmed.0 = true;
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
