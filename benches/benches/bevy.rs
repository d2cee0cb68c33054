//! One frame of a Bevy app with 10,000 scripted entities (issue 15): each script does a
//! little work on its components (`pos += vel * dt` through `ScriptWorld`) and waits for
//! the next frame. In the same group, the same behaviour as hecs engine actors (the
//! engine's `frame/10k_engine`, measured again in this run so that the ratio is fair)
//! and as one plain Bevy system over a query (the floor: no tasklets at all).
//!
//! Each iteration is one frame (`App::update`, or `FrameDriver::tick`); the group's
//! throughput is 10,000 elements. Setup (spawning, and one warm-up frame that starts
//! every script) happens once per variant, outside the timed closure.
#![allow(
    missing_docs,
    reason = "criterion_group! and criterion_main! generate undocumented items"
)]

use std::time::Duration;

use bevy_app::{App, Update};
use bevy_ecs::prelude::*;
use bevy_uthread::{Budget, Script, ScriptStats, UthreadPlugin};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use engine::{Actor, FrameDriver};

const ENTITIES: usize = 10_000;
const DT: f32 = 0.016;

#[derive(Component, Clone, Copy)]
struct Pos(f32, f32);
#[derive(Component, Clone, Copy)]
struct Vel(f32, f32);

fn integrate(pos: &mut Pos, vel: &Vel) {
    pos.0 += vel.0 * DT;
    pos.1 += vel.1 * DT;
}

fn components(i: usize) -> (Pos, Vel) {
    (Pos(i as f32, 0.0), Vel(1.0, 0.5))
}

/// A headless app whose 10,000 entities each run a script, with a resume budget that
/// never binds and no slice timing (as `frame/10k_engine`).
fn scripted_app() -> App {
    let mut app = App::new();
    app.add_plugins(
        UthreadPlugin::default()
            .budget(Budget::Resumes(2 * ENTITIES as u64))
            .timing(false),
    );
    for i in 0..ENTITIES {
        app.world_mut().spawn((
            components(i),
            Script::new(|ctx| loop {
                {
                    let mut world = ctx.world();
                    let vel = *world.get::<Vel>().expect("vel");
                    integrate(&mut world.get_mut::<Pos>().expect("pos"), &vel);
                }
                if ctx.next_frame().is_err() {
                    return;
                }
            }),
        ));
    }
    app.update();
    app
}

fn bevy(c: &mut Criterion) {
    let mut group = c.benchmark_group("bevy");
    group.throughput(Throughput::Elements(ENTITIES as u64));

    let mut app = scripted_app();
    group.bench_function("10k_scripts_frame", |b| {
        b.iter(|| {
            app.update();
            app.world().resource::<ScriptStats>().resumed
        });
    });
    assert_eq!(
        app.world().resource::<ScriptStats>().resumed,
        ENTITIES as u64,
        "every script ran once a frame"
    );
    drop(app);

    // The same behaviour as hecs engine actors (what `frame/10k_engine` runs).
    let mut driver = FrameDriver::builder()
        .budget(Budget::Resumes(2 * ENTITIES as u64))
        .timing(false)
        .build();
    let mut world = hecs::World::new();
    for i in 0..ENTITIES {
        let (pos, vel) = components(i);
        driver
            .spawn(
                &mut world,
                (pos, vel),
                Actor::new(|ctx| loop {
                    ctx.with::<(&mut Pos, &Vel), _>(|(p, v)| integrate(p, v));
                    if ctx.be_nice().is_err() {
                        return;
                    }
                }),
            )
            .expect("spawn");
    }
    driver.tick(&mut world, Duration::from_millis(16));
    group.bench_function("10k_engine_frame", |b| {
        b.iter(|| driver.tick(&mut world, Duration::from_millis(16)).resumed);
    });
    drop(driver);

    // The floor: one Bevy system integrating every entity, no scripts.
    let mut app = App::new();
    app.add_systems(Update, |mut q: Query<'_, '_, (&mut Pos, &Vel)>| {
        for (mut pos, vel) in &mut q {
            integrate(&mut pos, vel);
        }
    });
    for i in 0..ENTITIES {
        app.world_mut().spawn(components(i));
    }
    app.update();
    group.bench_function("10k_system_frame", |b| b.iter(|| app.update()));
    group.finish();
}

criterion_group!(benches, bevy);
criterion_main!(benches);
