//! With a resume budget, the same scene gives the same world, frame for frame: the
//! patrol example's scene (guards, intruder, alarms) run twice.

mod common;

#[path = "../examples/patrol/scene.rs"]
#[allow(dead_code, reason = "the example uses parts the test does not")]
mod scene;

use bevy_ecs::prelude::*;
use bevy_uthread::{Budget, Script, ScriptRuntime, ScriptStats, UthreadPlugin};
use common::app;

/// The world hash after each of `frames` frames, and the alarms raised.
fn run(budget: Budget, frames: usize) -> (Vec<u64>, u64) {
    let mut app = app(UthreadPlugin::default().budget(budget));
    scene::setup(&mut app, 6);
    let mut hashes = Vec::with_capacity(frames);
    for _ in 0..frames {
        app.update();
        hashes.push(scene::world_hash(app.world_mut()));
        assert!(app.world().resource::<ScriptStats>().incidents.is_empty());
    }
    (hashes, app.world().resource::<scene::Tally>().alarms)
}

#[test]
fn the_same_resume_budget_gives_the_same_world_frame_for_frame() {
    let (first, alarms) = run(Budget::Resumes(3), 400);
    let (second, _) = run(Budget::Resumes(3), 400);
    assert_eq!(first, second);
    // Not a still life: the world changes, and guards see the intruder.
    assert_ne!(first[100], first[399]);
    assert!(alarms > 0, "no alarm was raised");
}

#[test]
fn a_budget_of_one_resume_defers_scripts_but_starves_none() {
    let (tight, _) = run(Budget::Resumes(1), 200);
    let (loose, _) = run(Budget::Resumes(1_000), 200);
    assert_ne!(
        tight, loose,
        "one resume a frame cannot keep up with seven scripts"
    );

    let mut app = app(UthreadPlugin::default().budget(Budget::Resumes(1)));
    scene::setup(&mut app, 6);
    let mut deferred_frames = 0;
    for _ in 0..50 {
        app.update();
        let stats = app.world().resource::<ScriptStats>();
        assert!(stats.resumed <= 1);
        deferred_frames += usize::from(stats.deferred > 0);
    }
    assert!(deferred_frames > 10, "{deferred_frames}");
    let scripts: Vec<_> = app
        .world_mut()
        .query_filtered::<Entity, With<Script>>()
        .iter(app.world())
        .collect();
    assert_eq!(scripts.len(), 7);
    let runtime = app.world().non_send::<ScriptRuntime>();
    for script in scripts {
        let switches = runtime.tasklet_of(script).unwrap().switch_count();
        assert!(switches >= 2, "{script} ran {switches} times in 50 frames");
    }
}
