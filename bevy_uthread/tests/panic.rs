//! A script that panics ends alone: the frame and every other script carry on, the
//! incident names the entity and tasklet, and the crash policy marks or despawns the
//! entity. So does a script that suspends while holding the world, and one the
//! watchdog kills.

mod common;

use std::time::{Duration, Instant};

use bevy_ecs::prelude::*;
use bevy_uthread::{
    Budget, CrashPolicy, IncidentKind, Script, ScriptCrashed, ScriptRuntime, ScriptStats,
    UthreadPlugin, WatchdogPolicy,
};
use common::{app, frames};

#[derive(Component, Clone, Debug, PartialEq)]
struct Steps(u32);

fn walker() -> Script {
    Script::new(|ctx| loop {
        ctx.update(|s: &mut Steps| s.0 += 1);
        ctx.next_frame().unwrap();
    })
}

fn reactor() -> Script {
    Script::new(|ctx| {
        ctx.next_frame().unwrap();
        let frame = ctx.frame();
        panic!("reactor breach at {frame}");
    })
    .name("reactor")
}

#[test]
fn a_panic_marks_its_entity_and_the_others_carry_on() {
    let mut app = app(UthreadPlugin::default().budget(Budget::Resumes(100)));
    let walkers: Vec<Entity> = (0..3)
        .map(|_| app.world_mut().spawn((Steps(0), walker())).id())
        .collect();
    let bad = app.world_mut().spawn((Steps(0), reactor())).id();
    frames(&mut app, 2);

    let stats = app.world().resource::<ScriptStats>();
    assert_eq!(stats.incidents.len(), 1);
    let incident = &stats.incidents[0];
    assert_eq!(incident.entity, Some(bad));
    assert_eq!(incident.name, "reactor");
    assert!(incident
        .to_string()
        .contains("'reactor' panicked: reactor breach at 2"));
    assert!(
        matches!(&incident.kind, IncidentKind::Panicked { message } if message == "reactor breach at 2")
    );
    let crashed = app.world().get::<ScriptCrashed>(bad).unwrap();
    assert_eq!((crashed.tasklet.as_str(), crashed.frame), ("reactor", 2));
    assert!(crashed.reason.contains("reactor breach at 2"));
    assert!(app.world().get::<Script>(bad).is_none());

    frames(&mut app, 3);
    for w in walkers {
        assert_eq!(app.world().get::<Steps>(w), Some(&Steps(5)));
    }
    assert_eq!(app.world().non_send::<ScriptRuntime>().script_count(), 3);
    assert!(app.world().resource::<ScriptStats>().incidents.is_empty());
}

#[test]
fn under_the_despawn_policy_a_panicking_script_s_entity_goes() {
    let plugin = UthreadPlugin::default()
        .budget(Budget::Resumes(100))
        .on_panic(CrashPolicy::Despawn);
    let mut app = app(plugin);
    let bad = app.world_mut().spawn(reactor()).id();
    let good = app.world_mut().spawn((Steps(0), walker())).id();
    frames(&mut app, 3);
    assert!(app.world().get_entity(bad).is_err());
    assert_eq!(app.world().get::<Steps>(good), Some(&Steps(3)));
}

#[test]
fn a_script_that_suspends_holding_the_world_is_killed_and_reported() {
    let mut app = app(UthreadPlugin::default().budget(Budget::Resumes(100)));
    let holder = app
        .world_mut()
        .spawn((
            Steps(0),
            Script::new(|ctx| {
                let world = ctx.world();
                // Around the context, so the borrow checker cannot see it.
                let _ = uthread::be_nice();
                drop(world);
            })
            .name("greedy"),
        ))
        .id();
    let good = app.world_mut().spawn((Steps(0), walker())).id();
    frames(&mut app, 3);
    assert_eq!(app.world().get::<Steps>(good), Some(&Steps(3)));
    let crashed = app.world().get::<ScriptCrashed>(holder).unwrap();
    assert!(
        crashed.reason.contains("holding the world"),
        "{}",
        crashed.reason
    );
}

fn spin(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

#[test]
fn the_watchdog_names_and_kills_a_script_that_overran_its_slice() {
    let plugin = UthreadPlugin::default()
        .budget(Budget::Resumes(100))
        .watchdog(Duration::from_millis(5), WatchdogPolicy::Kill);
    let mut app = app(plugin);
    let slow = app
        .world_mut()
        .spawn(
            Script::new(|ctx| loop {
                spin(Duration::from_millis(40));
                ctx.next_frame().unwrap();
            })
            .name("pathfinder"),
        )
        .id();
    frames(&mut app, 1);
    let stats = app.world().resource::<ScriptStats>();
    assert_eq!(stats.overruns, 1);
    let incident = &stats.incidents[0];
    assert_eq!(
        (incident.entity, incident.name.as_str()),
        (Some(slow), "pathfinder")
    );
    assert!(matches!(
        incident.kind,
        IncidentKind::Overrun {
            action: WatchdogPolicy::Kill,
            ..
        }
    ));
    let longest = stats.longest_slice.as_ref().unwrap();
    assert_eq!(longest.entity, Some(slow));
    assert_eq!(longest.name.as_deref(), Some("pathfinder"));
    assert!(app
        .world()
        .get::<ScriptCrashed>(slow)
        .unwrap()
        .reason
        .contains("watchdog"));
    assert_eq!(app.world().non_send::<ScriptRuntime>().script_count(), 0);
}
