//! The cost of one frame per entity, as the fastest of many frames: robust against other
//! processes on the machine, which only ever make a frame slower. Complements the
//! criterion benchmarks `frame/*` (benches/benches/frame.rs), which report means.
//!
//! Every variant runs the same behaviour for each entity: `pos += vel * dt` on its hecs
//! components, then wait for the next frame.
//!
//! ```sh
//! cargo run --release -p benches --example frame_cost [entities] [frames]
//! ```

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, Yielder};
use engine::{Actor, Budget, FrameDriver};
use hecs::{Entity, World};

const DT: Duration = Duration::from_millis(16);

struct Pos(f32, f32);
struct Vel(f32, f32);

fn integrate((pos, vel): (&mut Pos, &Vel)) {
    pos.0 += vel.0 * DT.as_secs_f32();
    pos.1 += vel.1 * DT.as_secs_f32();
}

fn step(world: &RefCell<World>, e: Entity) {
    if let Ok(item) = world.borrow_mut().query_one_mut::<(&mut Pos, &Vel)>(e) {
        integrate(item);
    }
}

fn shared_world(n: usize) -> (Rc<RefCell<World>>, Vec<Entity>) {
    let mut world = World::new();
    let entities = (0..n)
        .map(|i| world.spawn((Pos(i as f32, 0.0), Vel(1.0, 0.5))))
        .collect();
    (Rc::new(RefCell::new(world)), entities)
}

/// The fastest of `frames` runs of `frame`.
fn fastest(frames: usize, mut frame: impl FnMut()) -> Duration {
    (0..frames)
        .map(|_| {
            let start = Instant::now();
            frame();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn raw(n: usize, frames: usize) -> Duration {
    let (world, entities) = shared_world(n);
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
    fastest(frames, || {
        for co in &mut coroutines {
            co.resume(());
        }
    })
}

fn bare_uthread(n: usize, frames: usize) -> Duration {
    let (world, entities) = shared_world(n);
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
    fastest(frames, || {
        scheduler.advance(DT);
        scheduler.run_for(Budget::Unlimited).expect("run");
    })
}

fn engine(n: usize, frames: usize, timed: bool) -> Duration {
    let mut driver = if timed {
        FrameDriver::builder()
            .budget(Budget::Time(Duration::from_secs(1)))
            .build()
    } else {
        FrameDriver::builder()
            .budget(Budget::Resumes(2 * n as u64))
            .timing(false)
            .build()
    };
    let mut world = World::new();
    for i in 0..n {
        driver
            .spawn(
                &mut world,
                (Pos(i as f32, 0.0), Vel(1.0, 0.5)),
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
    fastest(frames, || {
        driver.tick(&mut world, DT);
    })
}

fn tokio_yield(n: usize, frames: usize) -> Duration {
    let (world, entities) = shared_world(n);
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
    local.block_on(&runtime, async {
        let mut best = Duration::MAX;
        for _ in 0..frames {
            let target = steps.get() + n as u64;
            let start = Instant::now();
            while steps.get() < target {
                tokio::task::yield_now().await;
            }
            best = best.min(start.elapsed());
        }
        best
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let frames: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(300);
    let per = |d: Duration| d.as_nanos() as f64 / n as f64;
    let raw = per(raw(n, frames));
    println!("{n} entities, fastest of {frames} frames, ns per entity per frame:");
    println!("  corosensei raw          {raw:8.1}");
    for (name, ns) in [
        ("uthread (bare)", per(bare_uthread(n, frames))),
        ("engine", per(engine(n, frames, false))),
        ("engine, timed slices", per(engine(n, frames, true))),
        ("tokio yield_now", per(tokio_yield(n, frames))),
    ] {
        println!("  {name:<22}  {ns:8.1}   {:5.2}x raw", ns / raw);
    }
}
