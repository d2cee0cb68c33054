//! Budgets: tasklets that do not fit keep their order and run first next frame; nobody
//! starves; no slice starts after the budget is spent.

mod common;

use std::time::Duration;

use common::{spin, Log, DT};
use engine::{Actor, Budget, FrameDriver};

/// `n` actors that log their index every time they run, then wait for the next frame.
fn be_nice_actors(driver: &mut FrameDriver, world: &mut hecs::World, n: usize, log: &Log) {
    for i in 0..n {
        let log = log.clone();
        driver
            .spawn(
                world,
                (),
                Actor::new(move |ctx| loop {
                    log.push(i.to_string());
                    ctx.be_nice().unwrap();
                }),
            )
            .unwrap();
    }
}

#[test]
fn a_resume_budget_runs_exactly_that_many_slices_round_robin() {
    let log = Log::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::builder().budget(Budget::Resumes(3)).build();
    be_nice_actors(&mut driver, &mut world, 10, &log);

    let mut order = Vec::new();
    for frame in 1..=20u64 {
        let stats = driver.tick(&mut world, DT).clone();
        assert_eq!(stats.resumed, 3, "frame {frame}");
        assert!(stats.budget_spent);
        // Ten ready every frame (deferred + woken by be_nice): three run and wait for
        // the next frame, seven are deferred.
        assert_eq!((stats.deferred, stats.waiting_next_frame), (7, 3));
        order.extend(log.take());
    }
    // Deferred tasklets run first next frame, in order: the run order is a perfect
    // rotation, so every actor runs once every 10/3 frames, nobody starves.
    let expected: Vec<String> = (0..60).map(|i| (i % 10).to_string()).collect();
    assert_eq!(order, expected);
}

#[test]
fn deferred_tasklets_run_before_this_frames_wakeups() {
    let log = Log::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::builder().budget(Budget::Resumes(1)).build();
    be_nice_actors(&mut driver, &mut world, 2, &log);
    let stats = driver.tick(&mut world, DT).clone();
    assert_eq!(
        (stats.resumed, stats.deferred, stats.waiting_next_frame),
        (1, 1, 1)
    );
    driver.tick(&mut world, DT);
    // Actor 1 was deferred in frame 1; it runs before actor 0, which be_nice woke.
    assert_eq!(log.take(), ["0", "1"]);
    driver.set_budget(Budget::Unlimited);
    driver.tick(&mut world, DT);
    assert_eq!(log.take(), ["0", "1"]);
}

#[test]
fn a_time_budget_defers_the_rest_and_nobody_starves() {
    let log = Log::new();
    let mut world = hecs::World::new();
    let budget = Duration::from_millis(3);
    let mut driver = FrameDriver::builder().budget(Budget::Time(budget)).build();
    // Each slice takes 1 ms: about three fit in a frame.
    for i in 0..8 {
        let log = log.clone();
        driver
            .spawn(
                &mut world,
                (),
                Actor::new(move |ctx| loop {
                    spin(Duration::from_millis(1));
                    log.push(i.to_string());
                    ctx.be_nice().unwrap();
                }),
            )
            .unwrap();
    }
    let mut runs = [0u32; 8];
    let mut order = Vec::new();
    for _ in 0..16 {
        let stats = driver.tick(&mut world, DT).clone();
        if stats.budget_spent {
            assert!(stats.time.tasklets >= budget);
        }
        for i in log.take() {
            runs[i.parse::<usize>().unwrap()] += 1;
            order.push(i);
        }
    }
    // Whatever fits per frame, the run order is a rotation: no one is skipped.
    let expected: Vec<String> = (0..order.len()).map(|i| (i % 8).to_string()).collect();
    assert_eq!(order, expected);
    assert!(order.len() >= 16, "about three slices fit in each frame");
    let (min, max) = (runs.iter().min().unwrap(), runs.iter().max().unwrap());
    assert!(max - min <= 1, "uneven service: {runs:?}");
}

#[test]
fn new_actors_queue_behind_deferred_ones() {
    let log = Log::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::builder().budget(Budget::Resumes(2)).build();
    be_nice_actors(&mut driver, &mut world, 3, &log);
    driver.tick(&mut world, DT); // runs 0, 1; 2 deferred
    let late = log.clone();
    driver
        .spawn(&mut world, (), Actor::new(move |_| late.push("new")))
        .unwrap();
    driver.tick(&mut world, DT); // 2, then the new one
    driver.tick(&mut world, DT); // 0, 1
    assert_eq!(log.take(), ["0", "1", "2", "new", "0", "1"]);
}
