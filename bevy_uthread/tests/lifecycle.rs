//! A `Script` starts when inserted and is killed (its stack unwinds, destructors run)
//! when its entity is despawned, its component removed or replaced, or by a script's
//! despawn command; a script that returns leaves its entity without a `Script`.

mod common;

use bevy_ecs::prelude::*;
use bevy_uthread::{Budget, Script, ScriptRuntime, ScriptStats, UthreadPlugin};
use common::{app, frames, DropCounter, Log};

#[derive(Component, Clone, Debug, PartialEq)]
struct Steps(u32);

fn plugin() -> UthreadPlugin {
    UthreadPlugin::default().budget(Budget::Resumes(1_000))
}

/// A script that counts frames in `Steps` forever, holding `token` on its stack.
fn counter(token: common::Token) -> Script {
    Script::new(move |ctx| {
        let _held = token;
        loop {
            ctx.update(|s: &mut Steps| s.0 += 1);
            ctx.next_frame().unwrap();
        }
    })
}

#[test]
fn inserting_a_script_starts_it_and_despawning_kills_and_unwinds_it() {
    let mut app = app(plugin());
    let drops = DropCounter::default();
    let e = app
        .world_mut()
        .spawn((Steps(0), counter(drops.token())))
        .id();
    assert!(app.world().non_send::<ScriptRuntime>().is_script(e));
    frames(&mut app, 3);
    assert_eq!(app.world().get::<Steps>(e), Some(&Steps(3)));
    assert_eq!(drops.dropped(), 0);

    assert!(app.world_mut().despawn(e));
    // Unwound before the despawn returned.
    assert_eq!(drops.dropped(), 1);
    let runtime = app.world().non_send::<ScriptRuntime>();
    assert_eq!(runtime.script_count(), 0);
    assert_eq!(runtime.scheduler().alive_count(), 0);
    frames(&mut app, 1);
    assert_eq!(app.world().resource::<ScriptStats>().actors, 0);
}

#[test]
fn removing_the_script_kills_it_and_keeps_the_entity() {
    let mut app = app(plugin());
    let drops = DropCounter::default();
    let e = app
        .world_mut()
        .spawn((Steps(0), counter(drops.token())))
        .id();
    frames(&mut app, 2);
    app.world_mut().entity_mut(e).remove::<Script>();
    assert_eq!(drops.dropped(), 1);
    frames(&mut app, 2);
    assert_eq!(app.world().get::<Steps>(e), Some(&Steps(2)));
    assert!(!app.world().non_send::<ScriptRuntime>().is_script(e));
}

#[test]
fn replacing_the_script_kills_the_old_one_and_starts_the_new() {
    let mut app = app(plugin());
    let (old, new) = (DropCounter::default(), DropCounter::default());
    let e = app.world_mut().spawn((Steps(0), counter(old.token()))).id();
    frames(&mut app, 2);
    app.world_mut().entity_mut(e).insert(Script::new({
        let token = new.token();
        move |ctx| {
            let _held = token;
            loop {
                ctx.update(|s: &mut Steps| s.0 += 100);
                ctx.next_frame().unwrap();
            }
        }
    }));
    assert_eq!((old.dropped(), new.dropped()), (1, 0));
    frames(&mut app, 1);
    assert_eq!(app.world().get::<Steps>(e), Some(&Steps(102)));
    assert_eq!(app.world().non_send::<ScriptRuntime>().script_count(), 1);
}

#[test]
fn a_script_despawning_another_through_commands_kills_it_in_the_same_frame() {
    let mut app = app(plugin());
    let drops = DropCounter::default();
    let victim = app
        .world_mut()
        .spawn((Steps(0), counter(drops.token())))
        .id();
    let log = Log::default();
    let seen = log.clone();
    app.world_mut().spawn(Script::new(move |ctx| {
        ctx.next_frame().unwrap();
        ctx.world().despawn(victim);
        seen.push(format!("queued in frame {}", ctx.frame()));
    }));
    frames(&mut app, 1);
    assert_eq!(drops.dropped(), 0);
    frames(&mut app, 1);
    assert_eq!(log.take(), ["queued in frame 2"]);
    assert_eq!(drops.dropped(), 1);
    assert!(app.world().get_entity(victim).is_err());
    let stats = app.world().resource::<ScriptStats>();
    // The despawned one and the one that returned.
    assert_eq!((stats.stopped, stats.actors), (2, 0));
}

#[test]
fn a_returning_script_leaves_its_entity_without_a_script_or_despawns_it() {
    let mut app = app(plugin());
    let kept = app
        .world_mut()
        .spawn((
            Steps(0),
            Script::new(|ctx| {
                ctx.update(|s: &mut Steps| s.0 = 7);
            }),
        ))
        .id();
    let gone = app
        .world_mut()
        .spawn((Steps(0), Script::new(|_| {}).despawn_on_return()))
        .id();
    frames(&mut app, 1);
    assert_eq!(app.world().get::<Steps>(kept), Some(&Steps(7)));
    assert!(app.world().get::<Script>(kept).is_none());
    assert!(app.world().get_entity(gone).is_err());
    let stats = app.world().resource::<ScriptStats>();
    assert_eq!((stats.spawned, stats.stopped, stats.actors), (2, 2, 0));
}

#[test]
fn scripts_spawned_through_commands_start_and_run_next_frame() {
    let mut app = app(plugin());
    let parent = app
        .world_mut()
        .spawn(Script::new(|ctx| {
            let child = ctx.world().spawn((
                Steps(0),
                Script::new(|ctx| loop {
                    ctx.update(|s: &mut Steps| s.0 += 1);
                    ctx.next_frame().unwrap();
                }),
            ));
            ctx.world().insert(Steps(child.index_u32()));
        }))
        .id();
    frames(&mut app, 1);
    let child_index = app.world().get::<Steps>(parent).unwrap().0;
    let child = app
        .world_mut()
        .query::<(Entity, &Steps)>()
        .iter(app.world())
        .find(|(e, _)| e.index_u32() == child_index)
        .map(|(e, _)| e)
        .unwrap();
    assert_eq!(app.world().get::<Steps>(child), Some(&Steps(0)));
    frames(&mut app, 2);
    assert_eq!(app.world().get::<Steps>(child), Some(&Steps(2)));
}

#[test]
fn dropping_the_app_unwinds_every_script() {
    let mut app = app(plugin());
    let drops = DropCounter::default();
    for _ in 0..5 {
        app.world_mut().spawn((Steps(0), counter(drops.token())));
    }
    frames(&mut app, 2);
    drop(app);
    assert_eq!(drops.dropped(), 5);
}
