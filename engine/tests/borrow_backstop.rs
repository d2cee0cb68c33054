//! The run-time backstop behind the borrow checker: a tasklet that suspends while
//! holding the world (by calling a blocking uthread function directly, around its
//! context) is killed and reported, and the world is handed back to the host.

mod common;

use common::{Drops, DT};
use engine::{Actor, Crashed, FrameDriver, IncidentKind};

#[derive(Debug, PartialEq)]
struct Hp(u32);

/// An actor that yields with a component reference still alive.
fn offender(drops: &Drops) -> Actor {
    let token = drops.token();
    Actor::new(move |ctx| {
        let _token = token;
        let world = ctx.world();
        let mut hp = world.get_mut::<Hp>().unwrap();
        hp.0 -= 1;
        // Wrong: this yields around the context while `world` and `hp` are alive.
        // `ctx.be_nice()` here would not compile.
        let _ = uthread::be_nice();
        hp.0 -= 1;
    })
    .name("offender")
}

fn the_incident(stats: &engine::FrameStats, who: hecs::Entity) {
    assert_eq!(stats.incidents.len(), 1, "{:?}", stats.incidents);
    let incident = &stats.incidents[0];
    assert_eq!(incident.entity, Some(who));
    assert_eq!(incident.name, "offender");
    assert_eq!(incident.kind, IncidentKind::HeldWorld);
}

#[test]
fn the_next_tasklet_that_needs_the_world_evicts_the_holder() {
    let drops = Drops::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let bad = driver
        .spawn(&mut world, (Hp(10),), offender(&drops))
        .unwrap();
    let good = driver
        .spawn(
            &mut world,
            (Hp(10),),
            Actor::new(|ctx| loop {
                ctx.update(|hp: &mut Hp| hp.0 += 1);
                ctx.be_nice().unwrap();
            }),
        )
        .unwrap();
    let tasklet = driver.tasklet_of(bad).unwrap();
    let stats = driver.tick(&mut world, DT).clone();
    the_incident(&stats, bad);
    assert!(!tasklet.is_alive());
    assert_eq!(drops.count(), 1, "the offender's stack unwound");
    assert_eq!(
        world.get::<&Hp>(good).unwrap().0,
        11,
        "the good actor got the world"
    );
    assert_eq!(
        world.get::<&Hp>(bad).unwrap().0,
        9,
        "the first write stands"
    );
    assert!(world.get::<&Crashed>(bad).is_ok());
    assert_eq!(world.len(), 2, "the host has its world back");
    driver.tick(&mut world, DT);
    assert_eq!(world.get::<&Hp>(good).unwrap().0, 12);
}

#[test]
fn a_holder_left_at_the_end_of_the_tasklet_phase_is_evicted_there() {
    let drops = Drops::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let bad = driver
        .spawn(&mut world, (Hp(10),), offender(&drops))
        .unwrap();
    let stats = driver.tick(&mut world, DT).clone();
    the_incident(&stats, bad);
    assert_eq!(drops.count(), 1);
    assert_eq!(world.len(), 1);
    // The host can use the world normally.
    world.get::<&mut Hp>(bad).unwrap().0 = 1;
    let stats = driver.tick(&mut world, DT);
    assert!(stats.incidents.is_empty());
}

#[test]
fn holding_the_world_inside_a_closure_access_is_caught_too() {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let bad = driver
        .spawn(
            &mut world,
            (Hp(10),),
            Actor::new(|ctx| {
                ctx.update(|hp: &mut Hp| {
                    hp.0 = 0;
                    let _ = uthread::schedule(); // yields inside the access
                });
            })
            .name("offender"),
        )
        .unwrap();
    let good = driver
        .spawn(
            &mut world,
            (Hp(10),),
            Actor::new(|ctx| {
                ctx.update(|hp: &mut Hp| hp.0 = 20);
            }),
        )
        .unwrap();
    let stats = driver.tick(&mut world, DT).clone();
    the_incident(&stats, bad);
    assert_eq!(world.get::<&Hp>(good).unwrap().0, 20);
}
