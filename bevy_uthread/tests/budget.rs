//! The script phase stops when its budget is spent; the scripts left keep their order
//! and run first next frame, so nobody starves.

mod common;

use bevy_uthread::{Budget, Script, ScriptRuntime, ScriptStats, UthreadPlugin};
use common::{app, frames, Log};

fn named(log: &Log, name: &'static str) -> Script {
    let log = log.clone();
    Script::new(move |ctx| loop {
        log.push(name);
        ctx.next_frame().unwrap();
    })
}

#[test]
fn a_resume_budget_is_respected_and_leftovers_run_first_next_frame() {
    let mut app = app(UthreadPlugin::default().budget(Budget::Resumes(3)));
    let log = Log::default();
    for name in ["a", "b", "c", "d", "e"] {
        app.world_mut().spawn(named(&log, name));
    }
    frames(&mut app, 1);
    let stats = app.world().resource::<ScriptStats>().clone();
    assert_eq!(
        (stats.resumed, stats.deferred, stats.budget_spent),
        (3, 2, true)
    );
    assert_eq!(stats.waiting_next_frame, 3);
    assert_eq!(log.take(), ["a", "b", "c"]);

    frames(&mut app, 1);
    // d and e were left over: they go first, then the waiters of last frame.
    assert_eq!(log.take(), ["d", "e", "a"]);
    frames(&mut app, 1);
    assert_eq!(log.take(), ["b", "c", "d"]);
    frames(&mut app, 1);
    assert_eq!(log.take(), ["e", "a", "b"]);
    frames(&mut app, 1);
    assert_eq!(log.take(), ["c", "d", "e"]); // five frames: three slices each
}

#[test]
fn a_time_budget_stops_the_phase_once_spent() {
    let budget = Budget::Time(std::time::Duration::from_millis(1));
    let mut app = app(UthreadPlugin::default().budget(budget));
    for _ in 0..4 {
        // Each slice burns 2 ms: the budget is spent after the first.
        app.world_mut().spawn(Script::new(|ctx| loop {
            let start = std::time::Instant::now();
            while start.elapsed() < std::time::Duration::from_millis(2) {
                std::hint::spin_loop();
            }
            ctx.next_frame().unwrap();
        }));
    }
    frames(&mut app, 1);
    let stats = app.world().resource::<ScriptStats>();
    assert!(stats.budget_spent);
    assert!(stats.resumed >= 1 && stats.resumed < 4, "{}", stats.resumed);
    assert_eq!(stats.deferred as u64, 4 - stats.resumed);
    assert!(stats.overshoot.is_some());
}

#[test]
fn the_budget_can_change_between_frames() {
    let mut app = app(UthreadPlugin::default().budget(Budget::Resumes(1)));
    let log = Log::default();
    for name in ["a", "b", "c"] {
        app.world_mut().spawn(named(&log, name));
    }
    frames(&mut app, 1);
    assert_eq!(log.take(), ["a"]);
    app.world()
        .non_send::<ScriptRuntime>()
        .set_budget(Budget::Unlimited);
    frames(&mut app, 1);
    assert_eq!(log.take(), ["b", "c", "a"]);
}
