//! What a behaviour can reach through its context during a slice: its own components to
//! read and write, everything else to read, and structural changes as queued commands.

mod common;

use common::{Log, DT};
use engine::{Actor, FrameDriver};

#[derive(Clone, Copy, Debug, PartialEq)]
struct Pos(i32);
#[derive(Clone, Copy, Debug, PartialEq)]
struct Hostile;
#[derive(Clone, Copy, Debug, PartialEq)]
struct Shield(u32);
#[derive(Clone, Copy, Debug, PartialEq)]
struct Target(Option<hecs::Entity>);

#[test]
fn a_behaviour_queries_the_world_and_writes_only_its_own_components() {
    let log = Log::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let near = world.spawn((Pos(3), Hostile));
    let _far = world.spawn((Pos(50), Hostile));
    let _friend = world.spawn((Pos(1),));
    let actor_log = log.clone();
    let me = driver
        .spawn(
            &mut world,
            (Pos(0), Target(None)),
            Actor::new(move |ctx| {
                let target = {
                    let world = ctx.world();
                    let here = world.get::<Pos>().unwrap().0;
                    assert!(world.has::<Target>() && !world.has::<Shield>());
                    assert!(world.satisfies::<&Hostile>(near));
                    assert_eq!(world.read::<Pos>(near).map(|p| p.0), Some(3));
                    let nearest = world
                        .query::<(hecs::Entity, &Pos, &Hostile)>()
                        .iter()
                        .min_by_key(|(_, p, _)| (p.0 - here).abs())
                        .map(|(e, _, _)| e);
                    *world.get_mut::<Target>().unwrap() = Target(nearest);
                    nearest
                };
                actor_log.push(format!("locked {:?}", target.unwrap()));
                // Several components at once, exclusively, without run-time borrow checks.
                ctx.with::<(&mut Pos, &Target), _>(|(pos, target)| {
                    if target.0.is_some() {
                        pos.0 += 1;
                    }
                });
                assert_eq!(ctx.get::<Shield>(), None);
                assert_eq!(ctx.update(|s: &mut Shield| s.0), None);
                let me = ctx.entity();
                ctx.insert(me, (Shield(5),));
                ctx.remove::<Target>(me);
                let wreck = ctx.spawn_entity((Pos(-1),));
                actor_log.push(format!("wreck reserved: {}", ctx.world().contains(wreck)));
                ctx.be_nice().unwrap();
                assert_eq!(ctx.get::<Shield>(), Some(Shield(5)));
                assert_eq!(ctx.get::<Target>(), None);
                assert_eq!(ctx.world().read::<Pos>(wreck).map(|p| p.0), Some(-1));
                actor_log.push("done");
            }),
        )
        .unwrap();
    driver.tick(&mut world, DT);
    assert_eq!(world.get::<&Pos>(me).unwrap().0, 1);
    assert_eq!(world.get::<&Shield>(me).unwrap().0, 5);
    driver.tick(&mut world, DT);
    assert_eq!(
        log.take(),
        [
            format!("locked {near:?}"),
            "wreck reserved: true".into(),
            "done".into()
        ]
    );
    assert_eq!(world.query::<&Pos>().iter().count(), 5);
}

#[test]
fn context_reports_the_frame_game_time_and_name() {
    let log = Log::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let actor_log = log.clone();
    driver
        .spawn(
            &mut world,
            (),
            Actor::new(move |ctx| loop {
                actor_log.push(format!(
                    "{} {} {:?} {:?}",
                    ctx.name(),
                    ctx.frame(),
                    ctx.now(),
                    ctx.dt()
                ));
                ctx.be_nice().unwrap();
            })
            .name("clock"),
        )
        .unwrap();
    driver.tick(&mut world, DT);
    driver.tick(&mut world, DT);
    assert_eq!(
        log.take(),
        [
            format!("clock 1 {DT:?} {DT:?}"),
            format!("clock 2 {:?} {DT:?}", DT * 2)
        ]
    );
}
