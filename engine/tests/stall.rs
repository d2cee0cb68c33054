//! The engine's live stall reports (on by default): a behaviour stuck in one slice is
//! named, with its entity, while it still runs; a frame budget preempts a
//! `#[uthread::preemptible]` behaviour and the frame's stats count it.

use std::process::Command;
use std::time::{Duration, Instant};

use engine::{Actor, Budget, FrameDriver};

const CHILD: &str = "ENGINE_STALL_CHILD";

fn spin(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

#[test]
fn child_runs_a_stalling_actor() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::builder()
        .stall_reports(Some(Duration::from_millis(40)))
        .build();
    driver
        .spawn(
            &mut world,
            (),
            Actor::new(|_ctx| {
                spin(Duration::from_millis(300));
                eprintln!("child: the spin is over");
            })
            .name("spinner"),
        )
        .unwrap();
    driver.tick(&mut world, Duration::from_millis(16));
}

#[test]
fn a_stalling_actor_is_named_with_its_entity_while_it_runs() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_runs_a_stalling_actor", "--nocapture"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    let live = lines
        .iter()
        .position(|l| l.contains("engine: stall: actor 'spinner' (entity"))
        .unwrap_or_else(|| panic!("no live report:\n{stderr}"));
    let over = lines
        .iter()
        .position(|l| l.contains("the spin is over"))
        .unwrap();
    assert!(live < over, "{stderr}");
    assert!(lines[live].contains("still running"), "{stderr}");
}

#[uthread::preemptible]
fn grind(steps: u64) -> u64 {
    let mut x = 1u64;
    for i in 0..steps {
        x = x.rotate_left(7) ^ i;
    }
    x
}

#[test]
fn a_time_budget_preempts_a_preemptible_behaviour_and_counts_it() {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::builder()
        .budget(Budget::Time(Duration::from_millis(2)))
        .stall_reports(None)
        .build();
    let e = driver
        .spawn(
            &mut world,
            (0u64,),
            Actor::new(|ctx| {
                let x = grind(20_000_000);
                ctx.update(|v: &mut u64| *v = x.max(1));
            }),
        )
        .unwrap();
    let mut preempted = 0;
    for _ in 0..10_000 {
        let stats = driver.tick(&mut world, Duration::from_millis(16));
        preempted += stats.preempted;
        if world.get::<&u64>(e).map(|v| *v != 0).unwrap_or(true) {
            break;
        }
    }
    assert!(preempted >= 1, "the grind was never cut");
    assert_ne!(*world.get::<&u64>(e).unwrap(), 0, "the grind finished");
}
