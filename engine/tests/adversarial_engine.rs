//! The engine's public API used by a hostile (but safe) caller: actors that despawn
//! themselves and each other, storms of spawns and despawns in one frame, extreme `dt`
//! and budgets, foreign entities, nested drivers, behaviours that catch their own kill,
//! and drivers and worlds dropped in the "wrong" order. Library code must not panic,
//! hang or leak actors, and the frame's stats must stay true.

mod common;

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::Duration;

use common::{Drops, DT};
use engine::{Actor, Budget, Crashed, FrameDriver, SpawnError};

/// A behaviour that yields every frame forever.
fn idler() -> Actor {
    Actor::new(|ctx| loop {
        if ctx.be_nice().is_err() {
            return;
        }
    })
}

#[test]
fn an_actor_despawns_itself_and_another_in_the_same_slice() {
    let drops = Drops::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let (a_token, b_token) = (drops.token(), drops.token());
    let b = driver
        .spawn(
            &mut world,
            (),
            Actor::new(move |ctx| {
                let _t = b_token;
                loop {
                    let _ = ctx.be_nice();
                }
            }),
        )
        .unwrap();
    let a = driver
        .spawn(
            &mut world,
            (),
            Actor::new(move |ctx| {
                let _t = a_token;
                let me = ctx.entity();
                ctx.despawn(me);
                ctx.despawn(b);
                // Twice, for good measure: the second is a no-op.
                ctx.despawn(me);
                ctx.despawn(b);
                loop {
                    let _ = ctx.be_nice();
                }
            }),
        )
        .unwrap();
    let stats = driver.tick(&mut world, DT);
    assert_eq!(stats.stopped, 2, "each actor is counted once");
    assert_eq!(stats.actors, 0);
    assert!(stats.incidents.is_empty(), "{:?}", stats.incidents);
    assert!(!world.contains(a) && !world.contains(b));
    assert_eq!(drops.count(), 2, "both stacks unwound, once each");
    let stats = driver.tick(&mut world, DT);
    assert_eq!((stats.resumed, stats.stopped), (0, 0));
}

#[test]
fn a_system_despawns_every_entity_mid_frame() {
    let drops = Drops::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    for _ in 0..50 {
        let token = drops.token();
        driver
            .spawn(
                &mut world,
                (1u8,),
                Actor::new(move |ctx| {
                    let _t = token;
                    loop {
                        ctx.update(|n: &mut u8| *n = n.wrapping_add(1));
                        let _ = ctx.be_nice();
                    }
                }),
            )
            .unwrap();
    }
    driver.tick(&mut world, DT);
    driver.add_system("nuke", |sys| {
        let all: Vec<hecs::Entity> = sys.world().iter().map(|e| e.entity()).collect();
        for e in all {
            assert!(sys.despawn(e));
            assert!(!sys.despawn(e), "a second despawn finds nothing");
        }
    });
    let stats = driver.tick(&mut world, DT);
    assert_eq!(stats.stopped, 50);
    assert_eq!(stats.resumed, 0, "nobody is left to resume");
    assert_eq!(stats.actors, 0);
    assert_eq!(world.len(), 0);
    assert_eq!(drops.count(), 50);
}

#[test]
fn a_world_cleared_behind_the_drivers_back_stops_every_actor() {
    let drops = Drops::new();
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    for _ in 0..20 {
        let token = drops.token();
        driver
            .spawn(
                &mut world,
                (),
                Actor::new(move |ctx| {
                    let _t = token;
                    let _ = ctx.recv::<u32>();
                }),
            )
            .unwrap();
    }
    driver.tick(&mut world, DT);
    world.clear();
    let stats = driver.tick(&mut world, DT);
    assert_eq!(stats.stopped, 20);
    assert_eq!(stats.actors, 0);
    assert_eq!(drops.count(), 20);
}

#[test]
fn thousands_spawned_and_despawned_within_one_frame() {
    const N: usize = 2_000;
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::builder().stack_size(16 * 1024).build();
    let ran = Rc::new(Cell::new(0u32));
    let seen = ran.clone();
    // One actor spawns N children and despawns them again in the same slice; the
    // children never run.
    driver
        .spawn(
            &mut world,
            (),
            Actor::new(move |ctx| {
                let mut kids = Vec::with_capacity(N);
                for i in 0..N {
                    let seen = seen.clone();
                    kids.push(ctx.spawn(
                        (i as u32,),
                        Actor::new(move |_| seen.set(seen.get() + 1)).despawn_on_return(),
                    ));
                }
                for kid in kids {
                    ctx.despawn(kid);
                }
            })
            .despawn_on_return(),
        )
        .unwrap();
    let stats = driver.tick(&mut world, DT);
    assert_eq!(stats.spawned, N);
    assert_eq!(stats.stopped, N + 1);
    assert_eq!(stats.actors, 0);
    assert!(stats.incidents.is_empty(), "{:?}", stats.incidents);
    assert_eq!(world.len(), 0);
    driver.tick(&mut world, DT);
    assert_eq!(ran.get(), 0, "a child despawned before it ran never runs");
    assert_eq!(driver.actor_count(), 0);
}

#[test]
fn a_system_spawns_and_despawns_thousands_in_one_frame() {
    const N: usize = 2_000;
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::builder().stack_size(16 * 1024).build();
    driver.add_system("churn", |sys| {
        let mut kids = Vec::new();
        for _ in 0..N {
            kids.push(sys.spawn((), idler()).unwrap());
        }
        // Every other one goes at once; the rest are despawned by the host later.
        for kid in kids.iter().step_by(2) {
            assert!(sys.despawn(*kid));
        }
    });
    let stats = driver.tick(&mut world, DT);
    assert_eq!((stats.spawned, stats.stopped), (N, N / 2));
    assert_eq!(stats.actors, N / 2);
    assert_eq!(stats.resumed, (N / 2) as u64);
    assert_eq!(world.len() as usize, N / 2);
}

#[test]
fn extreme_dt_values() {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let woke = Rc::new(Cell::new(0u32));
    let w = woke.clone();
    driver
        .spawn(
            &mut world,
            (),
            Actor::new(move |ctx| loop {
                if ctx.sleep(Duration::from_secs(3600)).is_err() {
                    return;
                }
                w.set(w.get() + 1);
            }),
        )
        .unwrap();
    let stats = driver.tick(&mut world, Duration::ZERO);
    assert_eq!((stats.resumed, stats.game_time), (1, Duration::ZERO));
    // Zero frames do not wake a sleeper.
    for _ in 0..3 {
        driver.tick(&mut world, Duration::ZERO);
    }
    assert_eq!(woke.get(), 0);
    // A huge step wakes it once (sleeps are not replayed per hour passed).
    driver.tick(&mut world, Duration::from_secs(u64::MAX / 4));
    assert_eq!(woke.get(), 1);
    // Duration::MAX saturates game time rather than overflowing, twice over.
    driver.tick(&mut world, Duration::MAX);
    let stats = driver.tick(&mut world, Duration::MAX).clone();
    assert_eq!(stats.game_time, Duration::MAX);
    assert_eq!(driver.now(), Duration::MAX);
    assert!(stats.incidents.is_empty(), "{:?}", stats.incidents);
    // At the end of time a sleep cannot end; it waits for the next frame rather than
    // returning at once (which spun the behaviour in one slice for ever).
    let after = woke.get();
    for _ in 0..3 {
        assert_eq!(driver.tick(&mut world, Duration::MAX).resumed, 1);
    }
    assert_eq!(woke.get(), after + 3);
    assert_eq!(driver.actor_count(), 1);
}

#[test]
fn a_behaviour_sleeping_duration_max_and_until_the_past() {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    driver
        .spawn(
            &mut world,
            (),
            Actor::new(move |ctx| {
                ctx.sleep_until(Duration::ZERO).unwrap();
                l.borrow_mut().push("past");
                ctx.recv_timeout::<u8>(Duration::MAX).unwrap_err();
                l.borrow_mut().push("timeout");
            }),
        )
        .unwrap();
    driver.tick(&mut world, DT);
    driver.tick(&mut world, DT);
    assert_eq!(*log.borrow(), ["past"]);
    driver.tick(&mut world, Duration::MAX);
    assert_eq!(*log.borrow(), ["past", "timeout"]);
}

#[test]
fn extreme_budgets_never_starve_forever_or_run_unbounded() {
    for budget in [
        Budget::Resumes(0),
        Budget::Time(Duration::ZERO),
        Budget::Time(Duration::MAX),
        Budget::Resumes(u64::MAX),
    ] {
        let mut world = hecs::World::new();
        let mut driver = FrameDriver::builder().budget(budget).build();
        let count = Rc::new(Cell::new(0u32));
        for _ in 0..3 {
            let c = count.clone();
            driver
                .spawn(
                    &mut world,
                    (),
                    Actor::new(move |ctx| loop {
                        c.set(c.get() + 1);
                        if ctx.be_nice().is_err() {
                            return;
                        }
                    }),
                )
                .unwrap();
        }
        let mut resumed = 0;
        for _ in 0..10 {
            let stats = driver.tick(&mut world, DT);
            resumed += stats.resumed;
            assert_eq!(stats.actors, 3, "{budget:?}");
            assert!(stats.resumed <= 3, "{budget:?}: once a frame at most");
        }
        assert_eq!(
            u64::from(count.get()),
            resumed,
            "{budget:?}: stats match runs"
        );
        // A zero budget runs nothing, as asked; any other runs everyone every frame.
        let zero = matches!(budget, Budget::Resumes(0) | Budget::Time(Duration::ZERO));
        assert_eq!(count.get(), if zero { 0 } else { 30 }, "{budget:?}");
    }
}

#[test]
fn sending_to_dead_foreign_and_returned_entities_fails_with_the_event_back() {
    let mut world = hecs::World::new();
    let mut other = hecs::World::new();
    let mut driver = FrameDriver::new();
    let plain = world.spawn((1u8,));
    let gone = driver.spawn(&mut world, (), idler()).unwrap();
    let done = driver.spawn(&mut world, (), Actor::new(|_| {})).unwrap();
    driver.tick(&mut world, DT);
    assert!(driver.despawn(&mut world, gone));
    assert!(!driver.despawn(&mut world, gone));
    let foreign = other.spawn(());
    for to in [plain, gone, done] {
        let err = driver.send(to, String::from("hi")).unwrap_err();
        assert_eq!((err.event.as_str(), err.to), ("hi", to));
    }
    // An entity of another world that collides with nothing here.
    for _ in 0..10 {
        other.spawn(());
    }
    let far = other.spawn(());
    assert!(driver.send(far, 5u8).is_err());
    assert!(matches!(
        driver.attach(&mut world, far, idler()),
        Err(SpawnError::NoSuchEntity(e)) if e == far
    ));
    // One that does collide is, to hecs, the same entity: attach works on ours.
    assert!(world.contains(foreign) == (foreign == plain));
    assert!(!driver.stop(&mut world, far));
    assert!(!driver.despawn(&mut world, far));
    assert_eq!(driver.tick(&mut world, DT).actors, 0);
}

#[test]
fn one_driver_ticked_with_two_worlds() {
    let mut a = hecs::World::new();
    let mut b = hecs::World::new();
    let mut driver = FrameDriver::new();
    let e = driver
        .spawn(
            &mut a,
            (0u32,),
            Actor::new(|ctx| loop {
                ctx.update(|n: &mut u32| *n += 1);
                if ctx.be_nice().is_err() {
                    return;
                }
            }),
        )
        .unwrap();
    driver.tick(&mut a, DT);
    // The actor's entity is not in `b`: it is stopped, as if despawned behind our back.
    let stats = driver.tick(&mut b, DT);
    assert_eq!((stats.stopped, stats.actors), (1, 0));
    assert_eq!(*a.get::<&u32>(e).unwrap(), 1);
}

#[test]
fn a_behaviour_ticking_a_nested_driver_is_reported_and_the_rest_carries_on() {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let nested = driver
        .spawn(
            &mut world,
            (),
            Actor::new(|_ctx| {
                let mut inner_world = hecs::World::new();
                let mut inner = FrameDriver::new();
                inner.tick(&mut inner_world, DT);
            })
            .name("nested"),
        )
        .unwrap();
    let bystander = driver
        .spawn(
            &mut world,
            (0u32,),
            Actor::new(|ctx| loop {
                ctx.update(|n: &mut u32| *n += 1);
                if ctx.be_nice().is_err() {
                    return;
                }
            }),
        )
        .unwrap();
    let result = catch_unwind(AssertUnwindSafe(|| {
        driver.tick(&mut world, DT).incidents.clone()
    }));
    let incidents = result.expect("the nested tick must not unwind out of the outer tick");
    // Either the nested tick works (it is another scheduler) or it is refused; if
    // refused, the actor's crash names it.
    // A tick from inside a tasklet is refused (documented to panic): the actor
    // crashes, and the crash names it.
    let crashed = world
        .get::<&Crashed>(nested)
        .expect("the nested tick was refused");
    assert_eq!(crashed.tasklet, "nested");
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].entity, Some(nested));
    drop(crashed);
    driver.tick(&mut world, DT);
    assert_eq!(*world.get::<&u32>(bystander).unwrap(), 2);
}

#[test]
fn a_system_ticking_a_nested_driver_with_its_own_actors() {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let inner_runs = Rc::new(Cell::new(0u32));
    let runs = inner_runs.clone();
    let mut inner_world = hecs::World::new();
    let mut inner = FrameDriver::new();
    inner
        .spawn(
            &mut inner_world,
            (),
            Actor::new(move |ctx| loop {
                runs.set(runs.get() + 1);
                if ctx.be_nice().is_err() {
                    return;
                }
            }),
        )
        .unwrap();
    driver.add_system("sub-sim", move |_sys| {
        inner.tick(&mut inner_world, DT);
    });
    driver.spawn(&mut world, (), idler()).unwrap();
    for _ in 0..3 {
        let stats = driver.tick(&mut world, DT);
        assert_eq!(stats.resumed, 1);
    }
    assert_eq!(inner_runs.get(), 3);
}

#[test]
fn dropping_the_world_before_the_driver_and_the_driver_while_actors_wait() {
    let drops = Drops::new();
    let touched = Rc::new(Cell::new(0u32));
    {
        let mut world = hecs::World::new();
        let mut driver = FrameDriver::new();
        for i in 0..10 {
            let token = drops.token();
            let touched = touched.clone();
            struct Guard<'a>(&'a mut engine::Context, Rc<Cell<u32>>);
            impl Drop for Guard<'_> {
                fn drop(&mut self) {
                    // Uses the context while being torn down with no world lent.
                    let _ = self.0.get::<u32>();
                    self.0.despawn(self.0.entity());
                    let _ = self.0.spawn_entity(());
                    self.1.set(self.1.get() + 1);
                }
            }
            driver
                .spawn(
                    &mut world,
                    (i as u32,),
                    Actor::new(move |ctx| {
                        let _t = token;
                        let g = Guard(ctx, touched);
                        let _ = match i % 3 {
                            0 => g.0.be_nice(),
                            1 => g.0.sleep(Duration::from_secs(10)),
                            _ => {
                                g.0.recv::<u8>()
                                    .map(|_| ())
                                    .map_err(|_| uthread::WaitError::Killed)
                            }
                        };
                        let _ = g.0.recv::<u16>();
                    }),
                )
                .unwrap();
        }
        driver.tick(&mut world, DT);
        drop(world);
        drop(driver);
    }
    assert_eq!(drops.count(), 10);
    assert_eq!(touched.get(), 10);
}

#[test]
fn a_behaviour_that_catches_its_kill_and_returns_does_not_stop_the_next_actor() {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let e = driver
        .spawn(
            &mut world,
            (),
            Actor::new(|ctx| {
                // Catches the kill's unwind, then returns normally.
                let _ = catch_unwind(AssertUnwindSafe(|| loop {
                    let _ = ctx.be_nice();
                }));
            })
            .name("stubborn"),
        )
        .unwrap();
    driver.tick(&mut world, DT);
    assert!(driver.stop(&mut world, e));
    assert!(world.contains(e));
    // A new behaviour on the same entity.
    let runs = Rc::new(Cell::new(0u32));
    let r = runs.clone();
    driver
        .attach(
            &mut world,
            e,
            Actor::new(move |ctx| loop {
                r.set(r.get() + 1);
                if ctx.be_nice().is_err() {
                    return;
                }
            })
            .name("successor")
            .despawn_on_return(),
        )
        .unwrap();
    for _ in 0..3 {
        let stats = driver.tick(&mut world, DT);
        assert_eq!(
            stats.stopped, 0,
            "the old behaviour's return stopped its successor"
        );
    }
    assert!(driver.is_actor(e));
    assert!(world.contains(e));
    assert_eq!(runs.get(), 3);
}

#[test]
fn a_behaviour_that_refuses_its_kill_is_stopped_and_never_runs_again() {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let runs = Rc::new(Cell::new(0u32));
    let r = runs.clone();
    let e = driver
        .spawn(
            &mut world,
            (),
            Actor::new(move |ctx| loop {
                r.set(r.get() + 1);
                // Catches every kill's unwind; gives up only when told it may not block
                // (the scheduler's teardown), so that dropping the driver ends.
                if let Ok(Err(_)) = catch_unwind(AssertUnwindSafe(|| ctx.be_nice())) {
                    return;
                }
            })
            .name("immortal"),
        )
        .unwrap();
    driver.tick(&mut world, DT);
    let tasklet = driver.tasklet_of(e).unwrap();
    driver.add_system("reaper", move |sys| {
        sys.despawn(e);
    });
    let stats = driver.tick(&mut world, DT).clone();
    assert!(!world.contains(e));
    assert_eq!((stats.actors, stats.stopped, stats.resumed), (0, 1, 0));
    assert!(!driver.is_actor(e));
    // Parked with its kill pending (reported on stderr), it never runs again.
    let before = runs.get();
    for _ in 0..3 {
        assert_eq!(driver.tick(&mut world, DT).resumed, 0);
    }
    assert_eq!(runs.get(), before);
    assert!(
        tasklet.is_alive(),
        "uthread parks a tasklet that refuses its kill"
    );
}
