//! Systems and tasklets talk through channels: per-entity typed inboxes (blocking,
//! timeout, select) one way, typed command queues the other.

mod common;

use std::time::Duration;

use common::{Log, DT};
use engine::{Actor, FrameDriver, Sent};
use uthread::ChannelError;

#[derive(Debug, PartialEq)]
struct Damaged {
    by: hecs::Entity,
    amount: u32,
}

#[derive(Debug, PartialEq)]
struct Fire {
    target: hecs::Entity,
}

#[derive(Debug, PartialEq)]
struct MoveTo {
    x: i32,
}

#[test]
fn events_arrive_in_order_and_wait_for_an_actor_that_has_not_started() {
    let log = Log::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let attacker = world.spawn(());
    let actor_log = log.clone();
    let ship = driver
        .spawn(
            &mut world,
            (),
            Actor::new(move |ctx| {
                while let Ok(Damaged { by, amount }) = ctx.recv::<Damaged>() {
                    actor_log.push(format!("{amount} from {by:?}"));
                }
            }),
        )
        .unwrap();
    // Sent before the behaviour first runs: buffered in its inbox.
    for amount in [1, 2, 3] {
        driver
            .send(
                ship,
                Damaged {
                    by: attacker,
                    amount,
                },
            )
            .unwrap();
    }
    driver.tick(&mut world, DT);
    let by = format!("{attacker:?}");
    assert_eq!(
        log.take(),
        [
            format!("1 from {by}"),
            format!("2 from {by}"),
            format!("3 from {by}")
        ]
    );
    assert!(driver.tasklet_of(ship).unwrap().is_blocked());
    assert_eq!(driver.tick(&mut world, DT).blocked, 1);
}

#[test]
fn sending_to_an_entity_without_a_behaviour_gives_the_event_back() {
    let mut world = hecs::World::new();
    let driver = FrameDriver::new();
    let rock = world.spawn((1u8,));
    let err = driver.send(rock, MoveTo { x: 4 }).unwrap_err();
    assert_eq!(err.to, rock);
    assert_eq!(err.into_inner(), MoveTo { x: 4 });
}

#[test]
fn a_system_feeds_the_inbox_and_the_behaviour_answers_with_commands() {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let fire = driver.command_queue::<Fire>();
    let fired = Log::new();
    let fired_log = fired.clone();
    let target = world.spawn(());
    // The sensor system reports damage; the weapons system drains fire commands.
    driver.add_system("sensors", move |sys| {
        if sys.frame() == 2 {
            let turret = sys
                .world()
                .query::<(hecs::Entity, &u32)>()
                .iter()
                .map(|(e, _)| e)
                .next()
                .unwrap();
            sys.send(
                turret,
                Damaged {
                    by: target,
                    amount: 5,
                },
            )
            .unwrap();
        }
    });
    driver.add_system("weapons", move |_| {
        fire.drain_each(|Sent { from, command }| {
            fired_log.push(format!("{from:?} fires at {:?}", command.target));
        });
    });
    let turret = driver
        .spawn(
            &mut world,
            (0u32,),
            Actor::new(|ctx| {
                while let Ok(Damaged { by, .. }) = ctx.recv::<Damaged>() {
                    ctx.command(Fire { target: by });
                    ctx.command(MoveTo { x: 1 });
                }
            }),
        )
        .unwrap();
    driver.tick(&mut world, DT); // turret starts, waits
    driver.tick(&mut world, DT); // damaged (system, same frame) -> fire command
    assert!(
        fired.take().is_empty(),
        "drained by the weapons system next frame"
    );
    driver.tick(&mut world, DT);
    assert_eq!(fired.take(), [format!("{turret:?} fires at {target:?}")]);
    // Another command type has its own queue.
    let moves = driver.command_queue::<MoveTo>().drain();
    assert_eq!(
        moves,
        [Sent {
            from: turret,
            command: MoveTo { x: 1 }
        }]
    );
}

#[test]
fn receiving_with_a_timeout_uses_game_time() {
    let log = Log::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let actor_log = log.clone();
    let e = driver
        .spawn(
            &mut world,
            (),
            Actor::new(move |ctx| loop {
                match ctx.recv_timeout::<u32>(Duration::from_millis(100)) {
                    Ok(n) => actor_log.push(format!("got {n} at frame {}", ctx.frame())),
                    Err(ChannelError::Timeout) => {
                        actor_log.push(format!("timeout at frame {}", ctx.frame()))
                    }
                    Err(e) => panic!("{e}"),
                }
            }),
        )
        .unwrap();
    let dt = Duration::from_millis(40);
    for frame in 1..=7 {
        if frame == 5 {
            driver.send(e, 9u32).unwrap();
        }
        driver.tick(&mut world, dt);
    }
    // The wait from frame 1 (t=40ms) expires at t=140ms, seen in frame 4 (t=160ms);
    // the event sent before frame 5 arrives then; the wait begun in frame 5 (t=200ms)
    // expires at t=300ms, seen in frame 8 (t=320ms).
    assert_eq!(log.take(), ["timeout at frame 4", "got 9 at frame 5"]);
    driver.tick(&mut world, dt);
    assert_eq!(log.take(), ["timeout at frame 8"]);
}

#[test]
fn select_mixes_inboxes_channels_and_a_timeout() {
    #[derive(Debug, PartialEq)]
    enum Wake {
        Hit(u32),
        Order(&'static str),
        Idle,
    }
    let log = Log::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let rx = uthread::Channel::new();
    let tx = rx.clone();
    let actor_log = log.clone();
    let e = driver
        .spawn(
            &mut world,
            (),
            Actor::new(move |ctx| {
                let hits = ctx.inbox::<u32>();
                for _ in 0..3 {
                    let wake = ctx.blocking(|| {
                        uthread::select()
                            .recv(&hits, Wake::Hit)
                            .recv(&rx, Wake::Order)
                            .timeout(Duration::from_millis(50), || Wake::Idle)
                            .wait()
                            .unwrap()
                    });
                    actor_log.push(format!("{wake:?}"));
                }
            }),
        )
        .unwrap();
    driver.tick(&mut world, DT);
    driver.send(e, 3u32).unwrap();
    driver.tick(&mut world, DT);
    // Another actor sends on the channel (a rendezvous between tasklets; systems and
    // the host use inboxes, which never switch).
    driver
        .spawn(
            &mut world,
            (),
            Actor::new(move |ctx| {
                ctx.blocking(|| tx.send("warp")).unwrap();
            }),
        )
        .unwrap();
    for _ in 0..4 {
        driver.tick(&mut world, DT);
    }
    assert_eq!(log.take(), ["Hit(3)", "Order(\"warp\")", "Idle"]);
}

#[test]
fn actors_send_to_each_other_and_try_recv_does_not_block() {
    let log = Log::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let pong_log = log.clone();
    let pong = driver
        .spawn(
            &mut world,
            (),
            Actor::new(move |ctx| {
                assert!(ctx.try_recv::<hecs::Entity>().is_err(), "nothing yet");
                let from = ctx.recv::<hecs::Entity>().unwrap();
                pong_log.push("ping");
                ctx.send(from, "pong").unwrap();
            }),
        )
        .unwrap();
    let ping_log = log.clone();
    driver
        .spawn(
            &mut world,
            (),
            Actor::new(move |ctx| {
                let me = ctx.entity();
                ctx.send(pong, me).unwrap();
                ping_log.push(ctx.recv::<&'static str>().unwrap());
            }),
        )
        .unwrap();
    driver.tick(&mut world, DT);
    assert_eq!(log.take(), ["ping", "pong"]);
}

#[test]
fn an_inbox_closes_when_its_actor_ends() {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let kept = std::rc::Rc::new(std::cell::RefCell::new(None));
    let keep = kept.clone();
    let e = driver
        .spawn(
            &mut world,
            (),
            Actor::new(move |ctx| {
                *keep.borrow_mut() = Some(ctx.inbox::<u8>());
            }),
        )
        .unwrap();
    driver.tick(&mut world, DT);
    let inbox = kept.borrow_mut().take().unwrap();
    assert_eq!(inbox.owner(), e);
    assert!(inbox.is_closed());
    assert!(driver.send(e, 1u8).is_err());
}

#[test]
fn an_actor_woken_by_a_rendezvous_outside_the_tasklet_phase_is_told_why() {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let orders: uthread::Channel<u32> = uthread::Channel::new();
    let rx = orders.clone();
    let e = driver
        .spawn(
            &mut world,
            (0u32,),
            Actor::new(move |ctx| {
                let n = ctx.blocking(|| rx.receive()).unwrap();
                ctx.update(|v: &mut u32| *v = n);
            }),
        )
        .unwrap();
    driver.tick(&mut world, DT);
    // Wrong: a system hands a value over a rendezvous channel, which runs the receiver
    // right there, in the system phase, where the world is not the tasklets'.
    driver.add_system("bad", move |_| {
        let _ = orders.try_send(5);
    });
    let stats = driver.tick(&mut world, DT).clone();
    assert_eq!(stats.incidents.len(), 1);
    let engine::IncidentKind::Panicked { message } = &stats.incidents[0].kind else {
        panic!("{:?}", stats.incidents);
    };
    assert!(message.contains("outside the tasklet phase"), "{message}");
    assert_eq!(*world.get::<&u32>(e).unwrap(), 0);
}
