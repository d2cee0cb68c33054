//! A behaviour that panics is reported with its entity and tasklet name; its entity is
//! marked `Crashed` or despawned by policy; the frame and every other entity carry on.

mod common;

use common::{Drops, DT};
use engine::{Actor, CrashPolicy, Crashed, FrameDriver, IncidentKind};

/// A world with a steady actor spawned before and after one that panics in frame 2.
fn scenario(policy: CrashPolicy, drops: &Drops) -> (FrameDriver, hecs::World, [hecs::Entity; 3]) {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::builder().on_panic(policy).build();
    let steady = |driver: &mut FrameDriver, world: &mut hecs::World| {
        driver
            .spawn(
                world,
                (0u64,),
                Actor::new(|ctx| loop {
                    ctx.update(|n: &mut u64| *n += 1);
                    ctx.be_nice().unwrap();
                }),
            )
            .unwrap()
    };
    let before = steady(&mut driver, &mut world);
    let token = drops.token();
    let doomed = driver
        .spawn(
            &mut world,
            (0u64,),
            Actor::new(move |ctx| {
                let _token = token;
                ctx.update(|n: &mut u64| *n += 1);
                ctx.be_nice().unwrap();
                let n = ctx.get::<u64>().unwrap();
                panic!("reactor breach at {n}");
            })
            .name("reactor"),
        )
        .unwrap();
    let after = steady(&mut driver, &mut world);
    (driver, world, [before, doomed, after])
}

#[test]
fn a_panic_marks_the_entity_crashed_and_names_it() {
    let drops = Drops::new();
    let (mut driver, mut world, [before, doomed, after]) =
        scenario(CrashPolicy::MarkCrashed, &drops);
    driver.tick(&mut world, DT);
    let tasklet = driver.tasklet_of(doomed).unwrap().id();
    let stats = driver.tick(&mut world, DT).clone();

    assert_eq!(
        stats.resumed, 3,
        "the actor after the panicking one still ran"
    );
    assert_eq!(stats.incidents.len(), 1);
    let incident = &stats.incidents[0];
    assert_eq!(incident.entity, Some(doomed));
    assert_eq!(incident.tasklet, Some(tasklet));
    assert_eq!(incident.name, "reactor");
    assert_eq!(incident.frame, 2);
    assert_eq!(
        incident.kind,
        IncidentKind::Panicked {
            message: "reactor breach at 1".into()
        }
    );
    assert!(incident
        .to_string()
        .contains("'reactor' panicked: reactor breach at 1"));

    let crashed = world.get::<&Crashed>(doomed).unwrap();
    assert_eq!(crashed.tasklet, "reactor");
    assert_eq!(crashed.frame, 2);
    assert!(crashed.reason.contains("reactor breach at 1"));
    drop(crashed);
    assert_eq!(drops.count(), 1, "the panicking stack unwound");
    assert!(!driver.is_actor(doomed));
    assert_eq!(stats.stopped, 1);

    for _ in 0..3 {
        assert!(driver.tick(&mut world, DT).incidents.is_empty());
    }
    for e in [before, after] {
        assert_eq!(*world.get::<&u64>(e).unwrap(), 5);
    }
    assert_eq!(
        *world.get::<&u64>(doomed).unwrap(),
        1,
        "a crashed entity stays as it was"
    );
}

#[test]
fn a_panic_despawns_the_entity_under_the_despawn_policy() {
    let drops = Drops::new();
    let (mut driver, mut world, [before, doomed, after]) = scenario(CrashPolicy::Despawn, &drops);
    driver.tick(&mut world, DT);
    let stats = driver.tick(&mut world, DT).clone();
    assert_eq!(stats.incidents.len(), 1);
    assert!(!world.contains(doomed));
    assert_eq!(drops.count(), 1);
    driver.tick(&mut world, DT);
    for e in [before, after] {
        assert_eq!(*world.get::<&u64>(e).unwrap(), 3);
    }
}

#[test]
fn several_panics_in_one_frame_are_each_reported() {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let doomed: Vec<_> = (0..4)
        .map(|i| {
            driver
                .spawn(
                    &mut world,
                    (),
                    Actor::new(move |_| panic!("boom {i}")).name(format!("bomb {i}")),
                )
                .unwrap()
        })
        .collect();
    let stats = driver.tick(&mut world, DT).clone();
    let names: Vec<_> = stats.incidents.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["bomb 0", "bomb 1", "bomb 2", "bomb 3"]);
    for e in doomed {
        assert!(world.get::<&Crashed>(e).is_ok());
    }
}

#[test]
fn a_panic_while_holding_a_component_reference_releases_it() {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let doomed = driver
        .spawn(
            &mut world,
            (5u32,),
            Actor::new(|ctx| {
                let world = ctx.world();
                let _hp = world.get_mut::<u32>().unwrap();
                panic!("mid-update");
            }),
        )
        .unwrap();
    let other = driver
        .spawn(
            &mut world,
            (5u32,),
            Actor::new(|ctx| loop {
                ctx.update(|n: &mut u32| *n += 1);
                ctx.be_nice().unwrap();
            }),
        )
        .unwrap();
    driver.tick(&mut world, DT);
    driver.tick(&mut world, DT);
    assert_eq!(*world.get::<&u32>(other).unwrap(), 7);
    assert!(world.get::<&Crashed>(doomed).is_ok());
}

#[test]
fn a_panicking_system_leaves_the_driver_usable() {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let runs = std::rc::Rc::new(std::cell::Cell::new(0));
    let counted = runs.clone();
    driver.add_system("flaky", move |sys| {
        counted.set(counted.get() + 1);
        assert!(sys.frame() != 2, "flaky system fails in frame 2");
    });
    let e = driver
        .spawn(
            &mut world,
            (0u64,),
            Actor::new(|ctx| loop {
                ctx.update(|n: &mut u64| *n += 1);
                ctx.be_nice().unwrap();
            }),
        )
        .unwrap();
    driver.tick(&mut world, DT);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        driver.tick(&mut world, DT);
    }));
    assert!(caught.is_err(), "a system's panic reaches the host");
    driver.tick(&mut world, DT);
    assert_eq!(runs.get(), 3, "the system is still installed");
    // Frame 2 stopped in its system phase; the actor woken then runs in frame 3.
    assert_eq!(*world.get::<&u64>(e).unwrap(), 2);
}
