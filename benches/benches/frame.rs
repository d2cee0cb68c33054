//! One game frame with 10,000 entities whose behaviour does a little work on its
//! components (`pos += vel * dt` through hecs) and then waits for the next frame (issue
//! 4): the engine's frame driver against the same loop on bare corosensei coroutines and
//! on tokio tasks, all in one group. Figures and targets are in `BENCHMARKS.md`.
//!
//! Each iteration is one frame; the group's throughput is 10,000 elements, so criterion's
//! "thrpt" is entities per second and the per-tasklet cost is its inverse. Setup
//! (spawning, and one warm-up frame that starts every behaviour) happens once per
//! variant, before its benchmark, so criterion's repeated calls only run frames.
#![allow(
    missing_docs,
    reason = "criterion_group! and criterion_main! generate undocumented items"
)]

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, Yielder};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use engine::{Actor, Budget, FrameDriver};
use hecs::{Entity, World};

const ENTITIES: usize = 10_000;
const DT: Duration = Duration::from_millis(16);

#[derive(Clone, Copy)]
struct Pos(f32, f32);
#[derive(Clone, Copy)]
struct Vel(f32, f32);

fn components(i: usize) -> (Pos, Vel) {
    (Pos(i as f32, 0.0), Vel(1.0, 0.5))
}

/// The little work every behaviour does each frame, on its own components.
fn integrate((pos, vel): (&mut Pos, &Vel)) {
    pos.0 += vel.0 * DT.as_secs_f32();
    pos.1 += vel.1 * DT.as_secs_f32();
}

/// The same step for the baselines, which reach the world through a shared `RefCell`
/// as the engine's contexts do.
fn step(world: &RefCell<World>, e: Entity) {
    if let Ok(item) = world.borrow_mut().query_one_mut::<(&mut Pos, &Vel)>(e) {
        integrate(item);
    }
}

fn shared_world() -> (Rc<RefCell<World>>, Vec<Entity>) {
    let mut world = World::new();
    let entities = (0..ENTITIES).map(|i| world.spawn(components(i))).collect();
    (Rc::new(RefCell::new(world)), entities)
}

fn frame(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame");
    group.throughput(Throughput::Elements(ENTITIES as u64));

    // Baseline: a bare coroutine per entity, each resumed once per frame.
    let (world, entities) = shared_world();
    let mut coroutines: Vec<Coroutine<(), (), (), DefaultStack>> = entities
        .iter()
        .map(|&e| {
            let world = world.clone();
            Coroutine::new(move |yielder: &Yielder<(), ()>, ()| loop {
                step(&world, e);
                yielder.suspend(());
            })
        })
        .collect();
    group.bench_function("10k_corosensei_raw", |b| {
        b.iter(|| {
            for co in &mut coroutines {
                co.resume(());
            }
        });
    });
    drop(coroutines);

    // The layer below the engine: the same behaviour as bare uthread tasklets calling
    // `uthread::be_nice()`, ticked by hand (isolates the engine's own overhead).
    let (world, entities) = shared_world();
    let scheduler = uthread::Scheduler::builder().manual_clock().build();
    for &e in &entities {
        let world = world.clone();
        scheduler
            .spawn(move || loop {
                step(&world, e);
                if uthread::be_nice().is_err() {
                    return;
                }
            })
            .expect("spawn");
    }
    scheduler.run_for(Budget::Unlimited).expect("run");
    group.bench_function("10k_uthread", |b| {
        b.iter(|| {
            scheduler.advance(DT);
            scheduler.run_for(Budget::Unlimited).expect("run")
        });
    });
    drop(scheduler);

    // The engine, configured for deterministic play: a resume budget, no slice timing.
    let mut driver = FrameDriver::builder()
        .budget(Budget::Resumes(2 * ENTITIES as u64))
        .timing(false)
        .build();
    let mut world = spawn_actors(&mut driver);
    group.bench_function("10k_engine", |b| {
        b.iter(|| driver.tick(&mut world, DT).resumed);
    });
    drop(driver);

    // The engine configured for normal play: a time budget (which times every slice).
    let mut driver = FrameDriver::builder()
        .budget(Budget::Time(Duration::from_secs(1)))
        .build();
    let mut world = spawn_actors(&mut driver);
    group.bench_function("10k_engine_timed", |b| {
        b.iter(|| driver.tick(&mut world, DT).resumed);
    });
    drop(driver);

    // Peer: a tokio task per entity on a current-thread runtime, each yielding once per
    // frame; a frame ends when every task has done one step (counted).
    let (world, entities) = shared_world();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    let steps = Rc::new(Cell::new(0u64));
    for &e in &entities {
        let (world, steps) = (world.clone(), steps.clone());
        local.spawn_local(async move {
            loop {
                step(&world, e);
                steps.set(steps.get() + 1);
                tokio::task::yield_now().await;
            }
        });
    }
    group.bench_function("10k_tokio_yield", |b| {
        b.iter_custom(|frames| {
            local.block_on(&runtime, async {
                let target = steps.get() + frames * ENTITIES as u64;
                let start = Instant::now();
                while steps.get() < target {
                    tokio::task::yield_now().await;
                }
                start.elapsed()
            })
        });
    });

    // Peer: async-executor's `LocalExecutor` (smol), a task per entity, each yielding once
    // per frame; a frame ends when every task has done one step (counted).
    let (world, entities) = shared_world();
    let executor = async_executor::LocalExecutor::new();
    let steps = Rc::new(Cell::new(0u64));
    let tasks: Vec<_> = entities
        .iter()
        .map(|&e| {
            let (world, steps) = (world.clone(), steps.clone());
            executor.spawn(async move {
                loop {
                    step(&world, e);
                    steps.set(steps.get() + 1);
                    futures_lite::future::yield_now().await;
                }
            })
        })
        .collect();
    group.bench_function("10k_async_executor_yield", |b| {
        b.iter_custom(|frames| {
            futures_lite::future::block_on(executor.run(async {
                let target = steps.get() + frames * ENTITIES as u64;
                let start = Instant::now();
                while steps.get() < target {
                    futures_lite::future::yield_now().await;
                }
                start.elapsed()
            }))
        });
    });
    drop(tasks);

    group.finish();
}

/// `frame/100k_*`: 100,000 tasklets, past what dedicated stacks allow (the kernel's
/// mapping limit), so the engine runs them with stack copying. The floor is 100,000
/// bare coroutines on stacks carved from one mapping, each resumed once per frame with
/// nothing but a counter bump: the cost of the switches alone.
fn frame_100k(c: &mut Criterion) {
    const N: usize = 100_000;
    let mut group = c.benchmark_group("frame");
    group.throughput(Throughput::Elements(N as u64));
    group.sample_size(20);

    let mut floor = uthread::bench::FloorFrame::new(N).expect("map the floor's stacks");
    floor.step();
    group.bench_function("100k_corosensei_raw", |b| b.iter(|| floor.step()));
    drop(floor);

    let mut driver = FrameDriver::builder()
        .budget(Budget::Resumes(2 * N as u64))
        .timing(false)
        .build();
    let mut world = spawn_n_actors(&mut driver, N);
    group.bench_function("100k_engine", |b| {
        b.iter(|| driver.tick(&mut world, DT).resumed);
    });
    // Dropping the driver kills (unwinds) the 100,000 behaviours: outside the timing.
    drop(driver);
    group.finish();
}

/// 10,000 actors that integrate their position and call `be_nice()` every frame, after
/// one frame that starts them all.
fn spawn_actors(driver: &mut FrameDriver) -> World {
    spawn_n_actors(driver, ENTITIES)
}

/// `n` such actors.
fn spawn_n_actors(driver: &mut FrameDriver, n: usize) -> World {
    let mut world = World::new();
    for i in 0..n {
        driver
            .spawn(
                &mut world,
                components(i),
                Actor::new(|ctx| loop {
                    ctx.with::<(&mut Pos, &Vel), _>(integrate);
                    if ctx.be_nice().is_err() {
                        return;
                    }
                }),
            )
            .expect("spawn");
    }
    driver.tick(&mut world, DT);
    world
}

criterion_group!(benches, frame, frame_100k);
criterion_main!(benches);
