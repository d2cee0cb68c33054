//! The watchdog names a tasklet whose single slice overran its limit (entity, tasklet
//! name, duration) and reports it, throws into it, or kills it.

mod common;

use std::time::Duration;

use common::{spin, Drops, Log, DT};
use engine::{Actor, Crashed, FrameDriver, IncidentKind, SliceOverrun, WatchdogPolicy};

/// Generous against scheduler noise on a loaded machine: only the hog comes near it.
const LIMIT: Duration = Duration::from_millis(100);
const HOG: Duration = Duration::from_millis(150);

/// A steady actor, a hog that overruns in its second slice, and another steady actor.
fn scenario(
    policy: WatchdogPolicy,
    drops: &Drops,
    log: &Log,
) -> (FrameDriver, hecs::World, [hecs::Entity; 3]) {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::builder().watchdog(LIMIT, policy).build();
    let steady = |driver: &mut FrameDriver, world: &mut hecs::World| {
        driver
            .spawn(
                world,
                (0u32,),
                Actor::new(|ctx| loop {
                    ctx.update(|n: &mut u32| *n += 1);
                    ctx.be_nice().unwrap();
                }),
            )
            .unwrap()
    };
    let a = steady(&mut driver, &mut world);
    let token = drops.token();
    let log = log.clone();
    let hog = driver
        .spawn(
            &mut world,
            (0u32,),
            Actor::new(move |ctx| {
                let _token = token;
                ctx.be_nice().unwrap();
                spin(HOG); // a path-finding query gone wrong
                loop {
                    match ctx.be_nice() {
                        Ok(()) => log.push("ok"),
                        Err(uthread::WaitError::Thrown(thrown)) => {
                            let overrun = thrown.downcast_ref::<SliceOverrun>().unwrap();
                            assert_eq!(overrun.limit, LIMIT);
                            assert!(overrun.duration >= HOG);
                            log.push("thrown");
                        }
                        Err(e) => panic!("unexpected {e}"),
                    }
                }
            })
            .name("pathfinder"),
        )
        .unwrap();
    let b = steady(&mut driver, &mut world);
    (driver, world, [a, hog, b])
}

fn the_overrun(stats: &engine::FrameStats, hog: hecs::Entity, policy: WatchdogPolicy) {
    assert_eq!(stats.overruns, 1);
    assert_eq!(stats.incidents.len(), 1, "{:?}", stats.incidents);
    let incident = &stats.incidents[0];
    assert_eq!(incident.entity, Some(hog));
    assert_eq!(incident.name, "pathfinder");
    let IncidentKind::Overrun {
        duration,
        limit,
        action,
    } = incident.kind
    else {
        panic!("not an overrun: {incident:?}");
    };
    assert!(duration >= HOG);
    assert_eq!(limit, LIMIT);
    assert_eq!(action, policy);
    let longest = stats.longest_slice.as_ref().unwrap();
    assert_eq!(longest.entity, Some(hog));
    assert_eq!(longest.name.as_deref(), Some("pathfinder"));
    assert_eq!(longest.duration, duration);
}

#[test]
fn report_names_the_tasklet_and_lets_it_run_on() {
    let (drops, log) = (Drops::new(), Log::new());
    let (mut driver, mut world, [a, hog, b]) = scenario(WatchdogPolicy::Report, &drops, &log);
    assert_eq!(driver.tick(&mut world, DT).overruns, 0);
    let stats = driver.tick(&mut world, DT).clone();
    the_overrun(&stats, hog, WatchdogPolicy::Report);
    assert!(stats.incidents[0]
        .to_string()
        .contains("'pathfinder' ran one slice for"));
    driver.tick(&mut world, DT);
    assert_eq!(log.take(), ["ok"]);
    assert!(driver.is_actor(hog));
    for e in [a, b] {
        assert_eq!(*world.get::<&u32>(e).unwrap(), 3);
    }
}

#[test]
fn throw_delivers_an_overrun_error_at_the_next_blocking_call() {
    let (drops, log) = (Drops::new(), Log::new());
    let (mut driver, mut world, [_, hog, _]) = scenario(WatchdogPolicy::Throw, &drops, &log);
    driver.tick(&mut world, DT);
    let stats = driver.tick(&mut world, DT).clone();
    the_overrun(&stats, hog, WatchdogPolicy::Throw);
    // The hog is waiting in be_nice; the thrown error wakes it next frame.
    driver.tick(&mut world, DT);
    driver.tick(&mut world, DT);
    assert_eq!(log.take(), ["thrown", "ok"]);
    assert!(driver.is_actor(hog));
    assert_eq!(drops.count(), 0);
}

#[test]
fn kill_unwinds_the_tasklet_and_marks_its_entity() {
    let (drops, log) = (Drops::new(), Log::new());
    let (mut driver, mut world, [a, hog, b]) = scenario(WatchdogPolicy::Kill, &drops, &log);
    driver.tick(&mut world, DT);
    let tasklet = driver.tasklet_of(hog).unwrap();
    let stats = driver.tick(&mut world, DT).clone();
    the_overrun(&stats, hog, WatchdogPolicy::Kill);
    assert!(!tasklet.is_alive());
    assert_eq!(drops.count(), 1);
    assert!(!driver.is_actor(hog));
    let crashed = world.get::<&Crashed>(hog).unwrap();
    assert_eq!(crashed.tasklet, "pathfinder");
    assert!(crashed.reason.contains("watchdog"), "{}", crashed.reason);
    drop(crashed);
    driver.tick(&mut world, DT);
    assert!(log.take().is_empty());
    for e in [a, b] {
        assert_eq!(*world.get::<&u32>(e).unwrap(), 3);
    }
}

#[test]
fn the_longest_slice_is_reported_without_a_watchdog() {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    driver.spawn(&mut world, (), Actor::new(|_| {})).unwrap();
    let slow = driver
        .spawn(
            &mut world,
            (),
            Actor::new(|_| spin(Duration::from_millis(60))).name("slow"),
        )
        .unwrap();
    let stats = driver.tick(&mut world, DT).clone();
    let longest = stats.longest_slice.unwrap();
    assert_eq!(longest.entity, Some(slow));
    assert_eq!(longest.name.as_deref(), Some("slow"));
    assert!(longest.duration >= Duration::from_millis(60));
    assert_eq!(stats.overruns, 0);
    assert!(stats.incidents.is_empty());
}
