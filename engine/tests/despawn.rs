//! Despawning an entity kills and unwinds its tasklet, wherever it waits and whoever
//! despawns it: destructors run exactly once, waits are cleaned up, the frame goes on.

mod common;

use std::time::Duration;

use common::{Drops, Token, DT};
use engine::{Actor, Budget, FrameDriver};
use uthread::Channel;

struct Ping(#[allow(dead_code, reason = "held for its destructor")] Token);

/// Spawns an actor whose stack holds a token from `drops`, then runs `wait`.
fn waiting_actor(
    driver: &mut FrameDriver,
    world: &mut hecs::World,
    drops: &Drops,
    wait: impl FnOnce(&mut engine::Context) + 'static,
) -> hecs::Entity {
    let token = drops.token();
    driver
        .spawn(
            world,
            (7u32,),
            Actor::new(move |ctx| {
                let _token = token;
                wait(ctx);
                panic!("the wait should never end: the actor is despawned while waiting");
            }),
        )
        .unwrap()
}

fn assert_gone(
    driver: &FrameDriver,
    world: &hecs::World,
    e: hecs::Entity,
    tasklet: &uthread::Tasklet,
) {
    assert!(!world.contains(e));
    assert!(!driver.is_actor(e));
    assert!(!tasklet.is_alive(), "the tasklet was killed");
}

#[test]
fn despawn_from_the_host_while_blocked_on_the_inbox() {
    let (drops, events) = (Drops::new(), Drops::new());
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let e = waiting_actor(&mut driver, &mut world, &drops, |ctx| {
        let _ = ctx.recv::<u8>();
    });
    driver.tick(&mut world, DT);
    let tasklet = driver.tasklet_of(e).unwrap();
    assert!(tasklet.is_blocked());
    // Undelivered events (of another type) are dropped with the inbox, once.
    driver.send(e, Ping(events.token())).unwrap();
    assert!(driver.despawn(&mut world, e));
    assert_eq!(drops.count(), 1);
    assert_eq!(events.count(), 1);
    assert_gone(&driver, &world, e, &tasklet);
    assert!(driver.send(e, 1u8).is_err(), "no inbox after despawn");
    assert!(driver.tick(&mut world, DT).incidents.is_empty());
}

#[test]
fn despawn_from_a_system_while_sleeping() {
    let drops = Drops::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let e = waiting_actor(&mut driver, &mut world, &drops, |ctx| {
        let _ = ctx.sleep(Duration::from_secs(60));
    });
    driver.tick(&mut world, DT);
    let tasklet = driver.tasklet_of(e).unwrap();
    assert_eq!(driver.scheduler().timer_count(), 1);
    let seen = std::rc::Rc::new(std::cell::Cell::new(0));
    let counted = seen.clone();
    driver.add_system("reaper", move |sys| {
        let doomed: Vec<_> = sys
            .world()
            .query::<(hecs::Entity, &u32)>()
            .iter()
            .map(|(e, _)| e)
            .collect();
        for e in doomed {
            assert!(sys.despawn(e));
            counted.set(counted.get() + 1);
        }
    });
    let stats = driver.tick(&mut world, DT).clone();
    assert_eq!(seen.get(), 1);
    assert_eq!(drops.count(), 1);
    assert_eq!(stats.stopped, 1);
    assert_eq!(stats.sleeping, 0, "its timer no longer counts");
    assert_gone(&driver, &world, e, &tasklet);
}

#[test]
fn despawn_by_another_actor_while_blocked_on_a_channel() {
    let drops = Drops::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let channel: Channel<u32> = Channel::new();
    let rx = channel.clone();
    let e = waiting_actor(&mut driver, &mut world, &drops, move |ctx| {
        let _ = ctx.blocking(|| rx.receive());
    });
    driver.tick(&mut world, DT);
    assert_eq!(channel.balance(), -1);
    let tasklet = driver.tasklet_of(e).unwrap();
    let assassin = driver
        .spawn(&mut world, (), Actor::new(move |ctx| ctx.despawn(e)))
        .unwrap();
    let stats = driver.tick(&mut world, DT).clone();
    assert_eq!(drops.count(), 1);
    assert_eq!(channel.balance(), 0, "the killed receiver left the channel");
    assert_gone(&driver, &world, e, &tasklet);
    assert!(world.contains(assassin));
    assert_eq!(
        stats.stopped, 2,
        "the victim, and the assassin whose behaviour returned"
    );
}

#[test]
fn despawn_behind_the_drivers_back_while_in_a_select() {
    let drops = Drops::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let channel: Channel<u32> = Channel::new();
    let rx = channel.clone();
    let e = waiting_actor(&mut driver, &mut world, &drops, move |ctx| {
        let inbox = ctx.inbox::<u8>();
        let _ = ctx.blocking(|| {
            uthread::select()
                .recv(&inbox, |_| ())
                .recv(&rx, |_| ())
                .timeout(Duration::from_secs(60), || ())
                .wait()
        });
    });
    driver.tick(&mut world, DT);
    let tasklet = driver.tasklet_of(e).unwrap();
    assert_eq!(channel.balance(), -1);
    world.despawn(e).unwrap(); // not through the driver
    assert!(tasklet.is_alive());
    let stats = driver.tick(&mut world, DT).clone();
    assert_eq!(stats.stopped, 1, "reconciled after the system phase");
    assert_eq!(drops.count(), 1);
    assert_eq!(channel.balance(), 0);
    assert_eq!(driver.scheduler().timer_count(), 0);
    assert_gone(&driver, &world, e, &tasklet);
}

#[test]
fn an_actor_despawning_itself_is_killed_in_the_command_phase() {
    let drops = Drops::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let e = waiting_actor(&mut driver, &mut world, &drops, |ctx| {
        let me = ctx.entity();
        ctx.despawn(me);
        // Still running until the command phase: it may wait for anything.
        let _ = ctx.be_nice();
    });
    let tasklet = driver.tasklet_of(e).unwrap();
    driver.tick(&mut world, DT);
    assert_eq!(drops.count(), 1);
    assert_gone(&driver, &world, e, &tasklet);
}

#[test]
fn despawning_a_never_started_or_deferred_actor_drops_its_behaviour() {
    let drops = Drops::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::builder().budget(Budget::Resumes(1)).build();
    let unstarted = waiting_actor(&mut driver, &mut world, &drops, |ctx| {
        let _ = ctx.be_nice();
    });
    assert!(driver.despawn(&mut world, unstarted));
    assert_eq!(drops.count(), 1, "the behaviour's captures were dropped");

    let first = waiting_actor(&mut driver, &mut world, &drops, |ctx| loop {
        let _ = ctx.be_nice();
    });
    let deferred = waiting_actor(&mut driver, &mut world, &drops, |ctx| loop {
        let _ = ctx.be_nice();
    });
    driver.tick(&mut world, DT); // budget 1: `first` runs, `deferred` waits its turn
    let tasklet = driver.tasklet_of(deferred).unwrap();
    assert!(tasklet.is_scheduled());
    assert!(driver.despawn(&mut world, deferred));
    assert_eq!(drops.count(), 2);
    assert_gone(&driver, &world, deferred, &tasklet);
    assert!(driver.is_actor(first));
}

#[test]
fn a_returning_behaviour_keeps_or_despawns_its_entity_by_option() {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let kept = driver
        .spawn(&mut world, (1u8,), Actor::new(|_| {}))
        .unwrap();
    let gone = driver
        .spawn(&mut world, (2u8,), Actor::new(|_| {}).despawn_on_return())
        .unwrap();
    let stats = driver.tick(&mut world, DT).clone();
    assert_eq!(stats.stopped, 2);
    assert_eq!(stats.actors, 0);
    assert!(world.contains(kept) && !driver.is_actor(kept));
    assert!(!world.contains(gone));
}

#[test]
fn stopping_a_behaviour_keeps_the_entity() {
    let drops = Drops::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let e = waiting_actor(&mut driver, &mut world, &drops, |ctx| {
        let _ = ctx.recv::<u8>();
    });
    driver.tick(&mut world, DT);
    assert!(driver.stop(&mut world, e));
    assert_eq!(drops.count(), 1);
    assert!(world.contains(e) && !driver.is_actor(e));
    // The entity can take a new behaviour.
    driver.attach(&mut world, e, Actor::new(|_| {})).unwrap();
    assert!(driver.is_actor(e));
}

#[test]
fn the_other_actors_carry_on_after_a_despawn() {
    let drops = Drops::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let victims: Vec<_> = (0..5)
        .map(|_| {
            waiting_actor(&mut driver, &mut world, &drops, |ctx| {
                let _ = ctx.recv::<u8>();
            })
        })
        .collect();
    let survivor = driver
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
    for e in &victims[1..4] {
        driver.despawn(&mut world, *e);
    }
    driver.tick(&mut world, DT);
    assert_eq!(drops.count(), 3);
    assert_eq!(*world.get::<&u64>(survivor).unwrap(), 2);
    assert_eq!(driver.actor_count(), 3);
    for e in [victims[0], victims[4]] {
        assert!(driver.tasklet_of(e).unwrap().is_blocked());
    }
}
