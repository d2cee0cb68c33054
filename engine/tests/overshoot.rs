//! No slice starts after a time budget is spent, so a frame overshoots its budget by at
//! most about one slice; the overshoot is measured every frame.

mod common;

use std::time::Duration;

use common::{spin, DT};
use engine::{Actor, Budget, FrameDriver};

#[test]
fn the_overshoot_is_at_most_one_slice() {
    let budget = Duration::from_millis(3);
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::builder()
        .budget(Budget::Time(budget))
        .seed(5)
        .build();
    // Forty actors whose slices take 0.2 to 1 ms: far more work than fits in a frame.
    for _ in 0..40 {
        driver
            .spawn(
                &mut world,
                (),
                Actor::new(|ctx| loop {
                    let work = Duration::from_micros(200 + ctx.rng().below(800));
                    spin(work);
                    ctx.be_nice().unwrap();
                }),
            )
            .unwrap();
    }
    let mut spent = 0;
    let mut beyond_one_slice = 0;
    let mut overshoots = Vec::new();
    for _ in 0..40 {
        let stats = driver.tick(&mut world, DT).clone();
        assert!(stats.budget_spent, "there is always more work than budget");
        spent += 1;
        let overshoot = stats.overshoot.expect("measured when the budget is spent");
        let Some(longest) = stats.longest_slice.as_ref().map(|s| s.duration) else {
            // The OS kept us away until the budget had passed: no slice started at all.
            assert_eq!(stats.resumed, 0);
            continue;
        };
        // Another slice started after the budget would add at least 200 us more.
        if overshoot > longest + Duration::from_micros(150) {
            beyond_one_slice += 1;
        }
        assert!(stats.deferred > 0);
        overshoots.push(overshoot);
    }
    overshoots.sort();
    eprintln!(
        "overshoot over {spent} frames: median {:?}, max {:?}",
        overshoots[overshoots.len() / 2],
        overshoots.last().unwrap()
    );
    // Allow for the odd frame where the OS preempted us between two slices.
    assert!(
        beyond_one_slice <= 4,
        "{beyond_one_slice} frames overshot by more than one slice"
    );
}

#[test]
fn no_overshoot_is_reported_when_the_work_fits() {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::builder()
        .budget(Budget::Time(Duration::from_millis(50)))
        .build();
    driver
        .spawn(
            &mut world,
            (),
            Actor::new(|ctx| loop {
                ctx.be_nice().unwrap();
            }),
        )
        .unwrap();
    let stats = driver.tick(&mut world, DT);
    assert!(!stats.budget_spent);
    assert_eq!(stats.overshoot, None);
}
