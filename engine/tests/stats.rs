//! Frame stats count tasklets by what they wait on, and per-tasklet timers accumulate
//! run time and switches.

mod common;

use std::time::Duration;

use common::{spin, DT};
use engine::{Actor, Budget, FrameDriver};

#[test]
fn tasklets_are_counted_by_what_they_wait_for() {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::builder().budget(Budget::Resumes(5)).build();
    for _ in 0..2 {
        driver
            .spawn(
                &mut world,
                (),
                Actor::new(|ctx| loop {
                    ctx.be_nice().unwrap();
                }),
            )
            .unwrap();
    }
    for _ in 0..3 {
        driver
            .spawn(
                &mut world,
                (),
                Actor::new(|ctx| {
                    let _ = ctx.sleep(Duration::from_secs(10));
                }),
            )
            .unwrap();
    }
    driver
        .spawn(
            &mut world,
            (),
            Actor::new(|ctx| {
                let _ = ctx.recv_timeout::<u8>(Duration::from_secs(10));
            }),
        )
        .unwrap();
    for _ in 0..4 {
        driver
            .spawn(
                &mut world,
                (),
                Actor::new(|ctx| {
                    let _ = ctx.recv::<u8>();
                }),
            )
            .unwrap();
    }
    // Ten new tasklets, five resumes: five deferred.
    let stats = driver.tick(&mut world, DT).clone();
    assert_eq!(stats.resumed, 5);
    assert_eq!(stats.deferred, 5);
    assert_eq!(stats.actors, 10);
    // The deferred five run first; the two be_nice waiters wait for the next frame.
    let stats = driver.tick(&mut world, DT).clone();
    assert_eq!((stats.resumed, stats.deferred), (5, 2));
    let stats = driver.tick(&mut world, DT).clone();
    assert_eq!(stats.resumed, 2);
    assert_eq!(stats.deferred, 0);
    assert_eq!(stats.waiting_next_frame, 2);
    assert_eq!(stats.sleeping, 4, "three sleepers and one timed wait");
    assert_eq!(stats.blocked, 4);
}

#[test]
fn per_tasklet_timers_accumulate() {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let heavy = driver
        .spawn(
            &mut world,
            (),
            Actor::new(|ctx| loop {
                spin(Duration::from_millis(2));
                ctx.be_nice().unwrap();
            })
            .name("heavy"),
        )
        .unwrap();
    let light = driver
        .spawn(
            &mut world,
            (),
            Actor::new(|ctx| loop {
                ctx.yield_now().unwrap();
                ctx.be_nice().unwrap();
            })
            .name("light"),
        )
        .unwrap();
    for _ in 0..5 {
        driver.tick(&mut world, DT);
    }
    let times = driver.tasklet_times();
    assert_eq!(times.len(), 2);
    assert_eq!(times[0].entity, heavy, "the longest-running first");
    assert_eq!(&*times[0].name, "heavy");
    assert!(times[0].run_time >= Duration::from_millis(10));
    assert_eq!(times[0].switches, 5);
    assert_eq!(times[1].entity, light);
    assert_eq!(times[1].switches, 10, "two slices a frame");
    assert_eq!(driver.tasklet_times_of(light).unwrap(), times[1]);
    assert!(driver.tasklet_times_of(world.spawn(())).is_none());
}
