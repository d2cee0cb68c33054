//! The skirmish's ECS systems, run every frame before the ships' behaviours: weapons
//! (resolve the shots behaviours ordered, hits go to the targets' inboxes), movement
//! (carry out every ship's helm order) and sensors (take the picture behaviours query).

use std::rc::Rc;

use engine::{FrameDriver, SystemContext};
use hecs::Entity;

use super::{Battle, Fire, Helm, Hit, Motion, Ship, ShotRecord};
use crate::Vec2;

/// Adds the systems to `driver`, in the order they run.
pub fn install(driver: &mut FrameDriver, battle: &Rc<Battle>) {
    let b = battle.clone();
    driver.add_system("weapons", move |sys| weapons(sys, &b));
    let b = battle.clone();
    driver.add_system("movement", move |sys| movement(sys, &b));
    let b = battle.clone();
    driver.add_system("sensors", move |sys| {
        b.sensors.borrow_mut().rebuild(sys.world());
    });
}

/// A shot lands if the target is still within this share of the weapon's range (ships
/// move between the order and the shot).
const RANGE_TOLERANCE: f64 = 1.1;

/// Resolves the shots ordered in the last tasklet phase: a target still in range gets a
/// [`Hit`] in its inbox, which its behaviour takes in this frame's tasklet phase.
fn weapons(sys: &mut SystemContext<'_>, battle: &Battle) {
    let orders = sys.commands::<Fire>().drain();
    let mut log = battle.log.borrow_mut();
    for order in orders {
        let world = sys.world();
        let Ok(shooter) = world.get::<&Ship>(order.from).map(|s| *s) else {
            continue; // destroyed since it fired
        };
        let (Ok(from), Ok(to)) = (
            world.get::<&Motion>(order.from).map(|m| m.position),
            world
                .get::<&Motion>(order.command.target)
                .map(|m| m.position),
        ) else {
            continue;
        };
        let class = &battle.scenario.classes[shooter.class];
        log.shots_fired[shooter.fleet] += 1;
        log.shots.push(ShotRecord {
            from,
            to,
            fleet: shooter.fleet,
        });
        if from.distance(to) <= class.weapon_range * RANGE_TOLERANCE {
            let hit = Hit {
                damage: class.damage,
                from: order.from,
            };
            if sys.send(order.command.target, hit).is_ok() {
                log.hits[shooter.fleet] += 1;
                log.damage_dealt[shooter.fleet] += class.damage;
            }
        }
    }
}

/// Steers every ship toward what its helm says, within its class's speed and
/// acceleration, and keeps it in the arena.
fn movement(sys: &mut SystemContext<'_>, battle: &Battle) {
    let dt = sys.dt().as_secs_f64();
    let arena = battle.scenario.arena;
    let world = sys.world();
    // Where every helm's target is, looked up before any ship moves this frame.
    let plans: Vec<(Entity, Option<Vec2>)> = world
        .query::<(Entity, &Helm)>()
        .iter()
        .map(|(entity, helm)| {
            let target = match *helm {
                Helm::Approach { target, .. } | Helm::Orbit { target, .. } => {
                    world.get::<&Motion>(target).ok().map(|m| m.position)
                }
                Helm::Hold | Helm::GoTo(_) => None,
            };
            (entity, target)
        })
        .collect();
    for (entity, target) in plans {
        let Ok((ship, helm, motion)) = world.query_one_mut::<(&Ship, &Helm, &mut Motion)>(entity)
        else {
            continue;
        };
        let class = &battle.scenario.classes[ship.class];
        let wanted = desired_velocity(*helm, target, motion.position, class.speed);
        // Full speed in about two seconds, from a standstill.
        let change = (wanted - motion.velocity).clamp_length(class.speed * 0.5 * dt);
        motion.velocity = (motion.velocity + change).clamp_length(class.speed);
        let mut p = motion.position + motion.velocity * dt;
        p.x = p.x.clamp(0.0, arena.width);
        p.y = p.y.clamp(0.0, arena.height);
        motion.position = p;
        if motion.velocity.length() > class.speed * 0.05 {
            motion.heading = motion.velocity.angle();
        } else if let Some(t) = target {
            motion.heading = (t - p).angle();
        }
    }
}

/// The velocity a helm order asks for from `at`.
fn desired_velocity(helm: Helm, target: Option<Vec2>, at: Vec2, speed: f64) -> Vec2 {
    match (helm, target) {
        (Helm::Approach { distance, .. }, Some(t)) => {
            let to = t - at;
            let gap = to.length() - distance;
            // Full speed until close, then ease in.
            to.normalized() * (gap.max(0.0) * 0.5).min(speed)
        }
        (
            Helm::Orbit {
                radius, clockwise, ..
            },
            Some(t),
        ) => {
            let out = at - t;
            let r = out.length().max(1.0);
            let radial = out.normalized();
            let tangent = if clockwise {
                radial.perpendicular() * -1.0
            } else {
                radial.perpendicular()
            };
            // Mostly round, with a pull back onto the circle.
            let correction = ((radius - r) / radius).clamp(-1.0, 1.0);
            (tangent + radial * (correction * 2.0)).normalized() * speed
        }
        (Helm::GoTo(point), _) => {
            let to = point - at;
            to.normalized() * (to.length() * 0.5).min(speed)
        }
        // Hold, or the target is gone: come to a stop.
        _ => Vec2::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approach_slows_down_at_the_distance_asked() {
        let helm = Helm::Approach {
            target: Entity::DANGLING,
            distance: 1000.0,
        };
        let far = desired_velocity(helm, Some(Vec2::new(10_000.0, 0.0)), Vec2::ZERO, 300.0);
        assert_eq!(far, Vec2::new(300.0, 0.0));
        let there = desired_velocity(helm, Some(Vec2::new(1000.0, 0.0)), Vec2::ZERO, 300.0);
        assert_eq!(there, Vec2::ZERO);
    }

    #[test]
    fn orbit_goes_round_and_holds_the_radius() {
        let helm = Helm::Orbit {
            target: Entity::DANGLING,
            radius: 1000.0,
            clockwise: false,
        };
        let on = desired_velocity(helm, Some(Vec2::ZERO), Vec2::new(1000.0, 0.0), 200.0);
        assert!(on.x.abs() < 1e-9 && (on.y - 200.0).abs() < 1e-9, "{on:?}");
        let outside = desired_velocity(helm, Some(Vec2::ZERO), Vec2::new(3000.0, 0.0), 200.0);
        assert!(outside.x < 0.0, "pulled back in: {outside:?}");
    }

    #[test]
    fn a_lost_target_means_stop() {
        let helm = Helm::Orbit {
            target: Entity::DANGLING,
            radius: 1000.0,
            clockwise: true,
        };
        assert_eq!(desired_velocity(helm, None, Vec2::ZERO, 200.0), Vec2::ZERO);
        assert_eq!(
            desired_velocity(Helm::Hold, None, Vec2::ZERO, 200.0),
            Vec2::ZERO
        );
    }
}
