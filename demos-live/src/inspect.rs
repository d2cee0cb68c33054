//! What the inspector shows about the selected ship: its entity, its tasklet and where
//! that tasklet stands (from uthread's `Tasklet::state` and `blocked_on`), its hull and
//! what its helm is doing.

use std::time::Duration;

use demos::skirmish::{Helm, Hull, Motion, Ship, Skirmish};
use hecs::Entity;
use uthread::{BlockedOn, Tasklet, TaskletId, TaskletState};

/// A ship's state as the inspector shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct ShipReport {
    /// The ship's entity.
    pub entity: Entity,
    /// Its fleet, by index.
    pub fleet: usize,
    /// Its class's name.
    pub class: String,
    /// Its tasklet's id, while its behaviour runs.
    pub tasklet: Option<TaskletId>,
    /// Its tasklet's name ("Azure Cruiser 14").
    pub name: String,
    /// Where its tasklet stands.
    pub state: TaskletState,
    /// The same in words, with what it is blocked on.
    pub state_text: String,
    /// Hit points left.
    pub hit_points: f64,
    /// Hit points when whole.
    pub max_hit_points: f64,
    /// Metres per second.
    pub speed: f64,
    /// The ship its helm is set on (approaching or orbiting it).
    pub target: Option<Target>,
    /// The helm's order in words.
    pub helm: String,
    /// Wall time its script has run in all, over how many resumes.
    pub script_time: Option<(Duration, u64)>,
}

/// The ship another ship's helm is set on.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// Its entity.
    pub entity: Entity,
    /// Its tasklet's name (its entity once it has left the battle).
    pub name: String,
    /// How far it is, metres; `None` once it has left the battle (the helm still
    /// points at it until the ship's script picks another).
    pub distance: Option<f64>,
}

impl ShipReport {
    /// The report on `entity`; `None` once it has left the battle.
    pub fn of(skirmish: &Skirmish, entity: Entity) -> Option<ShipReport> {
        let world = &skirmish.world;
        let ship = *world.get::<&Ship>(entity).ok()?;
        let motion = *world.get::<&Motion>(entity).ok()?;
        let hull = *world.get::<&Hull>(entity).ok()?;
        let helm = world.get::<&Helm>(entity).map_or(Helm::Hold, |h| *h);
        let tasklet = skirmish.driver.tasklet_of(entity);
        let class = skirmish.battle.scenario.classes[ship.class].name.clone();
        let name = tasklet
            .as_ref()
            .and_then(Tasklet::name)
            .unwrap_or_else(|| format!("{class} {entity:?}"));
        let (state, state_text) = match &tasklet {
            Some(t) => (t.state(), describe(t)),
            None => (TaskletState::Dead, "no behaviour running".to_owned()),
        };
        let target = match helm {
            Helm::Approach { target, .. } | Helm::Orbit { target, .. } => Some(Target {
                entity: target,
                name: skirmish
                    .driver
                    .tasklet_of(target)
                    .and_then(|t| t.name())
                    .unwrap_or_else(|| format!("{target:?}")),
                distance: world
                    .get::<&Motion>(target)
                    .ok()
                    .map(|m| m.position.distance(motion.position)),
            }),
            Helm::Hold | Helm::GoTo(_) => None,
        };
        Some(ShipReport {
            entity,
            fleet: ship.fleet,
            class,
            tasklet: tasklet.as_ref().map(Tasklet::id),
            name,
            state,
            state_text,
            hit_points: hull.hit_points.max(0.0),
            max_hit_points: hull.max,
            speed: motion.velocity.length(),
            target,
            helm: helm_text(helm),
            script_time: skirmish
                .driver
                .tasklet_times_of(entity)
                .map(|t| (t.run_time, t.switches)),
        })
    }
}

/// Where `tasklet` stands, in words: "running", "sleeping until t=12.3 s", "blocked
/// on its inbox (Hit)", "waiting for lock 'dock'", ...
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uthread::Scheduler;
///
/// let sched = Scheduler::builder().manual_clock().build();
/// let nap = sched.spawn(|| uthread::sleep(Duration::from_millis(2500)).unwrap()).unwrap();
/// assert_eq!(demos_live::describe(nap.tasklet()), "ready: runs at its turn");
/// sched.run_for(uthread::Budget::Resumes(1)).unwrap();
/// assert_eq!(demos_live::describe(nap.tasklet()), "sleeping until t=2.5 s");
/// ```
pub fn describe(tasklet: &Tasklet) -> String {
    match tasklet.state() {
        TaskletState::Running => "running".to_owned(),
        TaskletState::Scheduled => "ready: runs at its turn".to_owned(),
        TaskletState::Paused => "paused".to_owned(),
        TaskletState::Dead => "finished".to_owned(),
        TaskletState::Blocked => match tasklet.blocked_on() {
            Some(on) => describe_wait(&on),
            None => "blocked".to_owned(),
        },
    }
}

fn describe_wait(on: &BlockedOn) -> String {
    match on {
        BlockedOn::Sleep { until } => format!("sleeping until t={:.1} s", until.as_secs_f64()),
        BlockedOn::NextTick => "waiting for the next frame".to_owned(),
        BlockedOn::Lock(lock) => match &lock.name {
            Some(name) => format!("waiting for lock '{name}'"),
            None => format!("waiting for lock {lock}"),
        },
        BlockedOn::QueueGet(queue) => match queue.name.as_deref().and_then(inbox_event) {
            Some(event) => format!("blocked on its inbox ({event})"),
            None => format!("getting from queue {queue}"),
        },
        other => other.to_string(),
    }
}

/// The event type of an engine inbox's queue name, `inbox<path::to::Hit> of 3v1`,
/// without its path: `Hit`.
fn inbox_event(queue_name: &str) -> Option<&str> {
    let inner = queue_name.strip_prefix("inbox<")?;
    let inner = &inner[..inner.rfind("> of ")?];
    Some(inner.rsplit("::").next().unwrap_or(inner))
}

fn helm_text(helm: Helm) -> String {
    match helm {
        Helm::Hold => "holding position".to_owned(),
        Helm::Approach { distance, .. } => format!("closing to {:.1} km", distance / 1000.0),
        Helm::Orbit {
            radius, clockwise, ..
        } => format!(
            "orbiting at {:.1} km, {}",
            radius / 1000.0,
            if clockwise {
                "clockwise"
            } else {
                "anticlockwise"
            }
        ),
        Helm::GoTo(p) => format!("heading for ({:.1}, {:.1}) km", p.x / 1000.0, p.y / 1000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use demos::scenario::Scenario;
    use engine::Budget;
    use uthread::{Lock, Scheduler};

    #[test]
    fn inbox_names_give_their_event_type() {
        assert_eq!(
            inbox_event("inbox<demos::skirmish::components::Hit> of 3v1"),
            Some("Hit")
        );
        assert_eq!(inbox_event("inbox<Ping> of 1v2"), Some("Ping"));
        assert_eq!(inbox_event("orders"), None);
    }

    #[test]
    fn a_tasklet_waiting_for_a_lock_says_which() {
        let sched = Scheduler::builder().manual_clock().build();
        let lock = Lock::with_name("dock");
        let held = lock.clone();
        let holder = sched
            .spawn(move || {
                let _guard = held.lock().unwrap();
                uthread::sleep(Duration::from_secs(5)).unwrap();
            })
            .unwrap();
        let waiter = sched
            .spawn(move || {
                let _guard = lock.lock().unwrap();
            })
            .unwrap();
        sched.run_for(Budget::Resumes(2)).unwrap();
        assert_eq!(describe(holder.tasklet()), "sleeping until t=5.0 s");
        assert_eq!(describe(waiter.tasklet()), "waiting for lock 'dock'");
        sched.advance(Duration::from_secs(5));
        sched.run().unwrap();
        assert_eq!(describe(waiter.tasklet()), "finished");
    }

    fn battle(budget: Budget) -> Skirmish {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/skirmish.ron");
        let scenario = Scenario::load(path).unwrap().with_ships_per_fleet(6);
        Skirmish::new(scenario, 5, budget).unwrap()
    }

    fn ships(skirmish: &Skirmish) -> Vec<Entity> {
        let mut ships: Vec<Entity> = skirmish
            .world
            .query::<(Entity, &Ship)>()
            .iter()
            .map(|(e, _)| e)
            .collect();
        ships.sort();
        ships
    }

    #[test]
    fn ships_in_battle_wait_on_their_inboxes_and_name_their_targets() {
        let mut skirmish = battle(Budget::Resumes(10_000));
        for _ in 0..300 {
            skirmish.step();
            skirmish.drain_log();
        }
        let reports: Vec<ShipReport> = ships(&skirmish)
            .into_iter()
            .map(|e| ShipReport::of(&skirmish, e).expect("a ship in the world"))
            .collect();
        assert!(!reports.is_empty());
        for r in &reports {
            assert_eq!(r.state, TaskletState::Blocked, "{r:?}");
            assert_eq!(r.state_text, "blocked on its inbox (Hit)");
            assert!(r.name.contains(&r.class), "{r:?}");
            assert!(r.hit_points > 0.0 && r.hit_points <= r.max_hit_points);
            assert!(r.script_time.is_some_and(|(_, resumes)| resumes > 0));
        }
        let targeted: Vec<&Target> = reports.iter().filter_map(|r| r.target.as_ref()).collect();
        assert!(!targeted.is_empty(), "someone is engaging after 15 s");
        for t in targeted {
            match t.distance {
                Some(d) => assert!(d > 0.0 && t.name.contains(' '), "{t:?}"),
                None => assert_eq!(t.name, format!("{:?}", t.entity)),
            }
        }
    }

    #[test]
    fn ships_left_over_by_the_budget_are_ready() {
        let mut skirmish = battle(Budget::Resumes(1));
        skirmish.step();
        let states: Vec<TaskletState> = ships(&skirmish)
            .into_iter()
            .map(|e| ShipReport::of(&skirmish, e).unwrap().state)
            .collect();
        assert_eq!(
            states
                .iter()
                .filter(|s| **s == TaskletState::Scheduled)
                .count(),
            states.len() - 1,
            "{states:?}"
        );
    }

    #[test]
    fn a_ship_that_left_has_no_report() {
        let mut skirmish = battle(Budget::Resumes(10_000));
        let first = ships(&skirmish)[0];
        skirmish.driver.despawn(&mut skirmish.world, first);
        assert_eq!(ShipReport::of(&skirmish, first), None);
    }
}
