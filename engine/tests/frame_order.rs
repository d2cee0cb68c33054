//! The phases of a frame run in the documented order: clock (timers, then be_nice
//! waiters), systems, tasklets, commands, stats.

mod common;

use common::{Log, DT};
use engine::{Actor, FrameDriver};

#[derive(Clone, Copy, Debug, PartialEq)]
struct Counter(u32);
#[derive(Debug, PartialEq)]
struct Marker;

#[test]
fn systems_run_before_tasklets_and_timers_wake_before_be_nice_waiters() {
    let log = Log::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let system_log = log.clone();
    driver.add_system("first", move |sys| {
        system_log.push(format!("sys {}", sys.frame()))
    });
    let second_log = log.clone();
    driver.add_system("second", move |sys| {
        second_log.push(format!("sys2 {}", sys.frame()))
    });

    let nice_log = log.clone();
    driver
        .spawn(
            &mut world,
            (),
            Actor::new(move |ctx| loop {
                nice_log.push(format!("nice {}", ctx.frame()));
                ctx.be_nice().unwrap();
            }),
        )
        .unwrap();
    let sleep_log = log.clone();
    driver
        .spawn(
            &mut world,
            (),
            Actor::new(move |ctx| loop {
                sleep_log.push(format!("sleeper {}", ctx.frame()));
                // Exactly one frame of game time: due at the next frame's clock phase.
                ctx.sleep(DT).unwrap();
            }),
        )
        .unwrap();

    for _ in 0..3 {
        driver.tick(&mut world, DT);
    }
    assert_eq!(
        log.take(),
        [
            "sys 1",
            "sys2 1",
            "nice 1",
            "sleeper 1", // new tasklets run in spawn order
            "sys 2",
            "sys2 2",
            "sleeper 2",
            "nice 2", // due timers wake before be_nice waiters
            "sys 3",
            "sys2 3",
            "sleeper 3",
            "nice 3",
        ]
    );
}

#[test]
fn tasklets_see_this_frames_system_writes_and_commands_apply_after_the_tasklet_phase() {
    let log = Log::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    driver.add_system("count", |sys| {
        for c in sys.world().query_mut::<&mut Counter>() {
            c.0 += 100;
        }
    });
    let actor_log = log.clone();
    let e = driver
        .spawn(
            &mut world,
            (Counter(0),),
            Actor::new(move |ctx| {
                let me = ctx.entity();
                // Frame 1: the system already added 100 in this frame.
                actor_log.push(format!("counter {}", ctx.get::<Counter>().unwrap().0));
                ctx.update(|c: &mut Counter| c.0 += 1);
                ctx.insert(me, (Marker,));
                // Queued, not applied: the marker is not there during the slice.
                actor_log.push(format!("marker now: {}", ctx.world().has::<Marker>()));
                let child_log = actor_log.clone();
                let child = ctx.spawn(
                    (Counter(7),),
                    Actor::new(move |ctx| {
                        child_log.push(format!("child runs in frame {}", ctx.frame()));
                    }),
                );
                // The id is reserved now; the components arrive in the command phase.
                let has_components = ctx.world().satisfies::<&Counter>(child);
                actor_log.push(format!("child has components now: {has_components}"));
                ctx.be_nice().unwrap();
                actor_log.push(format!(
                    "marker next frame: {}",
                    ctx.world().has::<Marker>()
                ));
                actor_log.push(format!("counter {}", ctx.get::<Counter>().unwrap().0));
            }),
        )
        .unwrap();

    let stats = driver.tick(&mut world, DT);
    assert_eq!(stats.spawned, 1, "the child started in the command phase");
    assert_eq!(world.get::<&Marker>(e).as_deref(), Ok(&Marker));
    assert_eq!(world.query::<&Counter>().iter().count(), 2);
    driver.tick(&mut world, DT);
    assert_eq!(
        log.take(),
        [
            "counter 100",
            "marker now: false",
            "child has components now: false",
            "child runs in frame 2",
            "marker next frame: true",
            "counter 201",
        ]
    );
    assert_eq!(world.get::<&Counter>(e).unwrap().0, 201);
}

#[test]
fn stats_report_the_frame_and_its_phase_times() {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    driver.add_system("busy", |_| {
        common::spin(std::time::Duration::from_millis(2))
    });
    driver
        .spawn(
            &mut world,
            (),
            Actor::new(|ctx| loop {
                common::spin(std::time::Duration::from_millis(1));
                ctx.be_nice().unwrap();
            }),
        )
        .unwrap();
    let stats = driver.tick(&mut world, DT).clone();
    assert_eq!(stats.frame, 1);
    assert_eq!(stats.game_time, DT);
    assert_eq!(stats.resumed, 1);
    assert!(stats.time.systems >= std::time::Duration::from_millis(2));
    assert!(stats.time.tasklets >= std::time::Duration::from_millis(1));
    let t = stats.time;
    assert!(t.clock + t.systems + t.tasklets + t.commands <= t.total);
    assert_eq!(driver.frame(), 1);
    assert_eq!(driver.now(), DT);
}
