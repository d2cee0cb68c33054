//! Spawning actors from the host, systems and behaviours; what happens when a spawn
//! cannot get a stack.

mod common;

use common::{Log, DT};
use engine::{Actor, FrameDriver, IncidentKind, SpawnError};

/// More address space than any machine has: no stack can be mapped for it.
const IMPOSSIBLE_STACK: usize = 1 << 50;

#[test]
fn a_failed_spawn_leaves_no_entity_behind() {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let err = driver
        .spawn(
            &mut world,
            (1u8,),
            Actor::new(|_| {}).stack_size(IMPOSSIBLE_STACK),
        )
        .unwrap_err();
    assert!(matches!(err, SpawnError::Tasklet(_)), "{err}");
    assert!(world.is_empty());
    assert_eq!(driver.actor_count(), 0);
}

#[test]
fn a_behaviour_spawning_into_a_failure_is_reported() {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let spawned = std::rc::Rc::new(std::cell::Cell::new(None));
    let out = spawned.clone();
    driver
        .spawn(
            &mut world,
            (),
            Actor::new(move |ctx| {
                out.set(Some(
                    ctx.spawn(
                        (2u8,),
                        Actor::new(|_| {})
                            .name("too big")
                            .stack_size(IMPOSSIBLE_STACK),
                    ),
                ));
            }),
        )
        .unwrap();
    let stats = driver.tick(&mut world, DT).clone();
    let child = spawned.get().unwrap();
    assert!(!world.contains(child));
    assert_eq!(stats.incidents.len(), 1);
    assert_eq!(stats.incidents[0].entity, Some(child));
    assert_eq!(stats.incidents[0].name, "too big");
    assert!(matches!(
        stats.incidents[0].kind,
        IncidentKind::SpawnFailed { .. }
    ));
}

#[test]
fn attach_checks_the_entity() {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let e = world.spawn(());
    driver.attach(&mut world, e, Actor::new(|_| {})).unwrap();
    assert!(matches!(
        driver.attach(&mut world, e, Actor::new(|_| {})),
        Err(SpawnError::AlreadyAnActor(x)) if x == e
    ));
    world.despawn(e).unwrap();
    assert!(matches!(
        driver.attach(&mut world, e, Actor::new(|_| {})),
        Err(SpawnError::NoSuchEntity(_))
    ));
}

#[test]
fn systems_spawn_actors_that_run_in_the_same_frame() {
    let log = Log::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let system_log = log.clone();
    driver.add_system("spawner", move |sys| {
        if sys.frame() == 1 {
            let actor_log = system_log.clone();
            let e = sys
                .spawn(
                    (),
                    Actor::new(move |ctx| actor_log.push(format!("runs in frame {}", ctx.frame()))),
                )
                .unwrap();
            assert!(sys.is_actor(e));
        }
    });
    let stats = driver.tick(&mut world, DT).clone();
    assert_eq!(stats.spawned, 1);
    assert_eq!(stats.stopped, 1, "it returned in the same frame");
    assert_eq!(log.take(), ["runs in frame 1"]);
}

#[test]
fn actors_get_distinct_reproducible_random_streams() {
    let draws = |seed: u64| {
        let mut world = hecs::World::new();
        let mut driver = FrameDriver::builder().seed(seed).build();
        let log = Log::new();
        for _ in 0..3 {
            let log = log.clone();
            driver
                .spawn(
                    &mut world,
                    (),
                    Actor::new(move |ctx| log.push(ctx.rng().next_u64().to_string())),
                )
                .unwrap();
        }
        driver.tick(&mut world, DT);
        log.take()
    };
    let a = draws(9);
    assert_eq!(a, draws(9));
    assert_ne!(a[0], a[1]);
    assert_ne!(a, draws(10));
}

#[test]
fn actors_run_on_copied_stacks_too() {
    // Stack copying (the `unsafe` opt-in, a third of the memory per actor): actors, their
    // world access and their unwinding work the same way on it.
    let drops = common::Drops::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::builder()
        .stack_strategy(common::copying())
        .build();
    let actors: Vec<_> = (0..1_000u32)
        .map(|i| {
            let token = drops.token();
            driver
                .spawn(
                    &mut world,
                    (i,),
                    Actor::new(move |ctx| {
                        let _token = token;
                        loop {
                            ctx.update(|n: &mut u32| *n += 1);
                            ctx.be_nice().unwrap();
                        }
                    }),
                )
                .unwrap()
        })
        .collect();
    for _ in 0..3 {
        assert_eq!(driver.tick(&mut world, DT).resumed, 1_000);
    }
    assert_eq!(*world.get::<&u32>(actors[10]).unwrap(), 13);
    for &e in &actors[..500] {
        driver.despawn(&mut world, e);
    }
    assert_eq!(drops.count(), 500);
    assert_eq!(driver.tick(&mut world, DT).resumed, 500);
}
