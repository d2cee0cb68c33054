//! The frame driver inside your own game loop: you own the loop, and once per frame
//! you call `driver.tick(&mut world, dt)`, which resumes the entities' tasklets within
//! a budget and tells you what the frame did.
//!
//! ```sh
//! cargo run -p engine --example embed
//! ```

use std::time::{Duration, Instant};

use engine::{Actor, Budget, FrameDriver};

/// A component: how far a drone has flown.
struct Distance(f32);

fn main() {
    let mut world = hecs::World::new();
    // At most 3 resumes a frame: with 5 drones, some wait for the next frame.
    let mut driver = FrameDriver::builder().budget(Budget::Resumes(3)).build();
    for i in 0..5u64 {
        // Each drone's behaviour is a plain script: fly a unit, rest, fly again.
        let rest = Duration::from_millis(20 * (i + 1));
        let script = Actor::new(move |ctx| loop {
            ctx.update(|d: &mut Distance| d.0 += 1.0);
            if ctx.sleep(rest).is_err() {
                return; // despawned
            }
        });
        driver
            .spawn(
                &mut world,
                (Distance(0.0),),
                script.name(format!("drone {i}")),
            )
            .unwrap();
    }

    let dt = Duration::from_millis(16); // a 60 Hz game
    for _ in 0..8 {
        let started = Instant::now();
        // ... your input handling and rendering go around this call ...
        let stats = driver.tick(&mut world, dt);
        println!(
            "frame {}: t={:?} resumed {} deferred {} sleeping {} took {:?}",
            stats.frame,
            stats.game_time,
            stats.resumed,
            stats.deferred,
            stats.sleeping,
            stats.time.total
        );
        std::thread::sleep(dt.saturating_sub(started.elapsed())); // keep the pace
    }
    let flown: f32 = world.query::<&Distance>().iter().map(|d| d.0).sum();
    println!("the drones flew {flown} units in all");
}
