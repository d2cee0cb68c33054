//! The patrol scene: guards walk their rounds as scripts, an intruder sneaks along a
//! fixed route, a guard that sees it raises an alarm (a Bevy message) that the other
//! guards answer, and a guard that reaches it catches it (an entity event).
//!
//! Positions are grid cells, so that a run with a resume budget is exactly repeatable.

use std::hash::{Hash, Hasher};
use std::time::Duration;

use bevy_app::{App, Last};
use bevy_ecs::prelude::*;
use bevy_uthread::{Script, ScriptAppExt, ScriptContext, StableHasher};

/// How far (in cells, in both axes) a guard sees.
pub const SIGHT: i32 = 3;
/// How long a guard that raised an alarm waits before raising another.
pub const ALARM_COOLDOWN: Duration = Duration::from_secs(2);
/// How far a guard goes to answer an alarm before it returns to its round.
pub const RESPONSE_STEPS: usize = 12;

/// A grid cell.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pos {
    pub x: i32,
    pub y: i32,
}

impl Pos {
    fn step_toward(self, to: Pos) -> Pos {
        Pos {
            x: self.x + (to.x - self.x).signum(),
            y: self.y + (to.y - self.y).signum(),
        }
    }

    fn sees(self, other: Pos) -> bool {
        (self.x - other.x).abs() <= SIGHT && (self.y - other.y).abs() <= SIGHT
    }
}

/// A guard, numbered for the world hash.
#[derive(Component, Clone, Copy, Debug)]
pub struct Guard {
    pub id: u32,
}

/// The intruder.
#[derive(Component, Clone, Copy, Debug)]
pub struct Intruder;

/// Raised by a guard that sees the intruder; every guard hears it.
#[derive(Message, Clone, Copy, Debug)]
pub struct Alarm {
    pub by: Entity,
    pub at: Pos,
}

/// Triggered on the intruder by the guard that reached it.
#[derive(EntityEvent, Clone, Copy, Debug)]
pub struct Caught {
    pub entity: Entity,
}

/// Alarms raised and catches made so far.
#[derive(Resource, Clone, Copy, Debug, Default)]
pub struct Tally {
    pub alarms: u64,
    pub caught: u64,
}

/// Adds the scene to `app` (which has `UthreadPlugin`): the messages, the tally, the
/// intruder and `guards` guards.
pub fn setup(app: &mut App, guards: u32) {
    app.add_script_message::<Alarm>()
        .add_script_event::<Caught>()
        .init_resource::<Tally>()
        .add_systems(Last, count_alarms);
    let world = app.world_mut();
    let intruder = world
        .spawn((
            Intruder,
            Pos { x: 0, y: 0 },
            Script::new(sneak).name("intruder"),
        ))
        .id();
    for id in 0..guards {
        // Each guard walks a square round of its own, on a ring around the yard.
        let angle = id as f64 * std::f64::consts::TAU / f64::from(guards.max(1));
        let (cx, cy) = ((12.0 * angle.cos()) as i32, (12.0 * angle.sin()) as i32);
        let round = [(-3, -3), (3, -3), (3, 3), (-3, 3)].map(|(dx, dy)| Pos {
            x: cx + dx,
            y: cy + dy,
        });
        world.spawn((
            Guard { id },
            round[0],
            Script::new(move |ctx| patrol(ctx, round, intruder)).name(format!("guard {id}")),
        ));
    }
}

fn count_alarms(mut alarms: MessageReader<'_, '_, Alarm>, mut tally: ResMut<'_, Tally>) {
    tally.alarms += alarms.read().count() as u64;
}

/// The intruder: a figure-eight through the yard, one cell every other frame; caught,
/// it starts over from the gate.
fn sneak(ctx: &mut ScriptContext) {
    let route: Vec<Pos> = (0..96)
        .map(|i| {
            let t = f64::from(i) * std::f64::consts::TAU / 96.0;
            Pos {
                x: (16.0 * t.sin()) as i32,
                y: (10.0 * (2.0 * t).sin()) as i32,
            }
        })
        .collect();
    let mut next = 0;
    loop {
        if let Ok(Caught { .. }) = ctx.try_recv::<Caught>() {
            next = 0;
            if let Some(mut tally) = ctx.world().resource_mut::<Tally>() {
                tally.caught += 1;
            }
        }
        let to = route[next % route.len()];
        ctx.update(|p: &mut Pos| *p = to);
        next += 1;
        if ctx.sleep(Duration::from_millis(33)).is_err() {
            return;
        }
    }
}

/// A guard's life: walk the round; at each corner look around for a moment, listening
/// for alarms; answer an alarm raised by another guard.
fn patrol(ctx: &mut ScriptContext, round: [Pos; 4], intruder: Entity) {
    let alarms = ctx.inbox::<Alarm>();
    let me = ctx.entity();
    let mut quiet_until = Duration::ZERO;
    loop {
        for corner in round {
            if walk_to(ctx, corner, usize::MAX, intruder, &mut quiet_until).is_err() {
                return;
            }
            let heard = ctx.select(|s| {
                s.recv(&alarms, Some)
                    .timeout(Duration::from_millis(250), || None)
            });
            match heard {
                Ok(Some(alarm)) if alarm.by != me => {
                    if walk_to(ctx, alarm.at, RESPONSE_STEPS, intruder, &mut quiet_until).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    }
}

/// Walks toward `to`, one cell a frame, for at most `steps` steps, looking for the
/// intruder after each; answers alarms heard on the way by turning toward them.
fn walk_to(
    ctx: &mut ScriptContext,
    mut to: Pos,
    mut steps: usize,
    intruder: Entity,
    quiet_until: &mut Duration,
) -> Result<(), uthread::WaitError> {
    let me = ctx.entity();
    while steps > 0 {
        let Some(here) = ctx.get::<Pos>() else {
            return Ok(());
        };
        if here == to {
            return Ok(());
        }
        let next = here.step_toward(to);
        ctx.update(|p: &mut Pos| *p = next);
        look(ctx, next, intruder, quiet_until);
        if let Ok(alarm) = ctx.try_recv::<Alarm>() {
            if alarm.by != me && steps == usize::MAX {
                to = alarm.at;
                steps = RESPONSE_STEPS;
            }
        }
        steps = steps.saturating_sub(1);
        ctx.next_frame()?;
    }
    Ok(())
}

/// Looks for the intruder from `here`: on its cell, catches it; in sight, raises an
/// alarm (at most one per cooldown).
fn look(ctx: &mut ScriptContext, here: Pos, intruder: Entity, quiet_until: &mut Duration) {
    let me = ctx.entity();
    let now = ctx.now();
    let mut world = ctx.world();
    let Some(&there) = world.read::<Pos>(intruder) else {
        return;
    };
    if here == there {
        world.commands().trigger(Caught { entity: intruder });
    } else if here.sees(there) && now >= *quiet_until {
        world.commands().write_message(Alarm { by: me, at: there });
        *quiet_until = now + ALARM_COOLDOWN;
    }
}

/// A hash of everything the scene decides: each guard's cell (by number), the
/// intruder's, and the tally.
pub fn world_hash(world: &mut World) -> u64 {
    let mut guards: Vec<(u32, Pos)> = world
        .query::<(&Guard, &Pos)>()
        .iter(world)
        .map(|(g, p)| (g.id, *p))
        .collect();
    guards.sort_by_key(|(id, _)| *id);
    let intruder: Vec<Pos> = world
        .query_filtered::<&Pos, With<Intruder>>()
        .iter(world)
        .copied()
        .collect();
    let tally = world.get_resource::<Tally>().copied().unwrap_or_default();
    let mut h = StableHasher::new();
    guards.hash(&mut h);
    intruder.hash(&mut h);
    (tally.alarms, tally.caught).hash(&mut h);
    h.finish()
}
