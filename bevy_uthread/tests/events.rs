//! Scripts wait on Bevy messages and entity events through their inboxes, on virtual
//! time (sleeps and timeouts pause with it), and on uthread primitives shared with
//! other scripts.

mod common;

use std::time::Duration;

use bevy_ecs::prelude::*;
use bevy_time::{Time, Virtual};
use bevy_uthread::{Budget, Script, ScriptAppExt, ScriptRuntime, ScriptStats, UthreadPlugin};
use common::{app, frames, Log, STEP};
use uthread::{Channel, ChannelError};

#[derive(Message, Clone, Debug)]
struct Alarm {
    at: i32,
}

#[derive(EntityEvent, Clone, Debug)]
struct Poke {
    entity: Entity,
    strength: u32,
}

fn plugin() -> UthreadPlugin {
    UthreadPlugin::default().budget(Budget::Resumes(1_000))
}

#[test]
fn a_script_waiting_on_a_message_wakes_when_one_is_written() {
    let mut app = app(plugin());
    app.add_script_message::<Alarm>();
    let log = Log::default();
    for name in ["north", "south"] {
        let log = log.clone();
        app.world_mut().spawn(Script::new(move |ctx| {
            ctx.inbox::<Alarm>(); // listen from the start
            while let Ok(Alarm { at }) = ctx.recv::<Alarm>() {
                log.push(format!("{name} heard {at} in frame {}", ctx.frame()));
            }
        }));
    }
    frames(&mut app, 3);
    assert!(log.take().is_empty());
    let stats = app.world().resource::<ScriptStats>();
    assert_eq!((stats.resumed, stats.blocked), (0, 2));

    app.world_mut().write_message(Alarm { at: 7 });
    frames(&mut app, 1);
    assert_eq!(
        log.take(),
        ["north heard 7 in frame 4", "south heard 7 in frame 4"]
    );
    frames(&mut app, 2);
    assert!(log.take().is_empty(), "a message is delivered once");
}

#[test]
fn an_entity_event_reaches_its_target_s_inbox_only() {
    let mut app = app(plugin());
    app.add_script_event::<Poke>();
    let log = Log::default();
    let mut spawn = |name: &'static str| {
        let log = log.clone();
        app.world_mut()
            .spawn(Script::new(move |ctx| {
                while let Ok(poke) = ctx.recv::<Poke>() {
                    log.push(format!("{name} poked {}", poke.strength));
                }
            }))
            .id()
    };
    let (a, _b) = (spawn("a"), spawn("b"));
    frames(&mut app, 1);
    app.world_mut().trigger(Poke {
        entity: a,
        strength: 3,
    });
    // An event for an entity that runs no script is dropped quietly.
    let plain = app.world_mut().spawn_empty().id();
    app.world_mut().trigger(Poke {
        entity: plain,
        strength: 1,
    });
    frames(&mut app, 1);
    assert_eq!(log.take(), ["a poked 3"]);
}

#[test]
fn sleeps_and_timeouts_follow_virtual_time_and_pause_with_it() {
    let mut app = app(plugin());
    let log = Log::default();
    let seen = log.clone();
    app.world_mut().spawn(Script::new(move |ctx| {
        ctx.sleep(Duration::from_millis(100)).unwrap();
        seen.push(format!("woke at {:?}", ctx.now()));
        let timed_out = ctx.recv_timeout::<Alarm>(Duration::from_millis(50));
        assert!(matches!(timed_out, Err(ChannelError::Timeout)));
        seen.push(format!("gave up at {:?}", ctx.now()));
    }));
    // Frame 1 has a zero step; then 16 ms a frame: 112 ms >= 100 ms at frame 8.
    frames(&mut app, 7);
    assert!(log.take().is_empty());
    frames(&mut app, 1);
    assert_eq!(log.take(), [format!("woke at {:?}", STEP * 7)]);

    app.world_mut().resource_mut::<Time<Virtual>>().pause();
    frames(&mut app, 20);
    assert!(
        log.take().is_empty(),
        "paused virtual time holds the timeout"
    );
    app.world_mut().resource_mut::<Time<Virtual>>().unpause();
    frames(&mut app, 4);
    assert_eq!(log.take(), [format!("gave up at {:?}", STEP * 11)]);
}

#[test]
fn select_takes_the_first_ready_source_or_times_out() {
    let mut app = app(plugin());
    app.add_script_message::<Alarm>().add_script_event::<Poke>();
    let log = Log::default();
    let seen = log.clone();
    let guard = app
        .world_mut()
        .spawn(Script::new(move |ctx| loop {
            let (alarms, pokes) = (ctx.inbox::<Alarm>(), ctx.inbox::<Poke>());
            let what = ctx.select(|s| {
                s.recv(&alarms, |a| format!("alarm {}", a.at))
                    .recv(&pokes, |p| format!("poke {}", p.strength))
                    .timeout(Duration::from_millis(40), || "quiet".to_owned())
            });
            seen.push(format!("{} in frame {}", what.unwrap(), ctx.frame()));
        }))
        .id();
    frames(&mut app, 1);
    app.world_mut().trigger(Poke {
        entity: guard,
        strength: 2,
    });
    frames(&mut app, 1);
    assert_eq!(log.take(), ["poke 2 in frame 2"]);
    // 40 ms from frame 2 (time 16 ms) is due at 56 ms: frame 5 (64 ms).
    frames(&mut app, 3);
    assert_eq!(log.take(), ["quiet in frame 5"]);
    app.world_mut().write_message(Alarm { at: 1 });
    frames(&mut app, 1);
    assert_eq!(log.take(), ["alarm 1 in frame 6"]);
}

#[test]
fn scripts_share_uthread_channels_and_locks_by_name() {
    let mut app = app(plugin());
    let log = Log::default();
    let seen = log.clone();
    app.world_mut().spawn(Script::new(move |ctx| {
        let pipe: Channel<u32> = ctx.shared("pipe", Channel::new);
        let mut total = 0;
        while let Ok(n) = ctx.blocking(|| pipe.receive()) {
            total += n;
            seen.push(format!("got {n}, total {total}"));
        }
    }));
    app.world_mut().spawn(Script::new(|ctx| {
        let pipe: Channel<u32> = ctx.shared("pipe", Channel::new);
        for n in 1..=3 {
            ctx.blocking(|| pipe.send(n)).unwrap();
            ctx.next_frame().unwrap();
        }
    }));
    frames(&mut app, 4);
    assert_eq!(
        log.take(),
        ["got 1, total 1", "got 2, total 3", "got 3, total 6"]
    );

    // A lock taken across frames: the second script waits for the first to release.
    let order = Log::default();
    for name in ["first", "second"] {
        let order = order.clone();
        app.world_mut().spawn(Script::new(move |ctx| {
            let door: uthread::Lock = ctx.shared("door", uthread::Lock::new);
            ctx.blocking(|| door.acquire()).unwrap();
            order.push(format!("{name} in at {}", ctx.frame()));
            ctx.next_frame().unwrap();
            ctx.next_frame().unwrap();
            order.push(format!("{name} out at {}", ctx.frame()));
            door.release().unwrap();
        }));
    }
    frames(&mut app, 6);
    assert_eq!(
        order.take(),
        [
            "first in at 5",
            "first out at 7",
            "second in at 7",
            "second out at 9"
        ]
    );
}

#[test]
fn a_system_sends_to_a_script_through_the_runtime() {
    let mut app = app(plugin());
    let log = Log::default();
    let seen = log.clone();
    let e = app
        .world_mut()
        .spawn(Script::new(move |ctx| {
            while let Ok(n) = ctx.recv::<u64>() {
                seen.push(n.to_string());
            }
        }))
        .id();
    let runtime = app.world().non_send::<ScriptRuntime>();
    runtime.send(e, 5u64).unwrap();
    let plain = Entity::from_raw_u32(999).unwrap();
    let error = runtime.send(plain, 6u64).unwrap_err();
    assert_eq!((error.to, error.event), (plain, 6));
    frames(&mut app, 1);
    assert_eq!(log.take(), ["5"]);
}
