//! Measures how far the tasklet phase overshoots a time budget, over many frames.
//!
//! 200 actors each do 20 to 500 us of work per slice (drawn from their seeded
//! generators), far more than fits in the 4 ms budget, so every frame spends it. First
//! as plain code: no slice starts after the budget is spent, so the overshoot is bounded
//! by the slice that was running when it ran out. Prints the median and 99th percentile
//! of the overshoot, of the longest slice for comparison, and (from a trace of every
//! frame) when the last slice of each frame started and how much of the overshoot was
//! not that slice. Then the same work in a `#[uthread::preemptible]` function: the
//! budget cuts the running slice at its next loop iteration, so the overshoot is the gap
//! between two preempt points plus the watchdog thread's wake-up.
//!
//! ```sh
//! cargo run --release -p benches --example overshoot [frames]
//! ```

use std::time::{Duration, Instant};

use demos::measure::percentile;
use engine::{Actor, Budget, FrameDriver, SpanKind};

/// `work` of busy computation, with a preempt point in every iteration of its loop.
#[uthread::preemptible]
fn preemptible_work(work: Duration) {
    let start = Instant::now();
    while start.elapsed() < work {
        std::hint::spin_loop();
    }
}

/// The same work as plain code.
fn plain_work(work: Duration) {
    let start = Instant::now();
    while start.elapsed() < work {
        std::hint::spin_loop();
    }
}

fn main() {
    let frames: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    println!("plain behaviours (a slice is never cut):");
    measure(frames, plain_work, true);
    println!();
    println!("#[uthread::preemptible] behaviours (the budget cuts a slice at a loop iteration):");
    measure(frames, preemptible_work, false);
}

fn measure(frames: usize, work: fn(Duration), trace: bool) {
    let budget = Duration::from_millis(4);
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::builder()
        .budget(Budget::Time(budget))
        .seed(2024)
        .build();
    for _ in 0..200 {
        driver
            .spawn(
                &mut world,
                (),
                Actor::new(move |ctx| loop {
                    work(Duration::from_micros(20 + ctx.rng().below(481)));
                    if ctx.be_nice().is_err() {
                        return;
                    }
                }),
            )
            .expect("spawn");
    }

    if trace {
        driver.record_trace(frames);
    }
    let mut overshoots = Vec::with_capacity(frames);
    let mut longest = Vec::with_capacity(frames);
    let mut resumed = 0;
    let mut preempted = 0;
    for _ in 0..frames {
        let stats = driver.tick(&mut world, Duration::from_millis(16));
        resumed += stats.resumed;
        preempted += stats.preempted;
        if let Some(overshoot) = stats.overshoot {
            overshoots.push(overshoot);
        }
        if let Some(slice) = &stats.longest_slice {
            longest.push(slice.duration);
        }
    }
    // From the trace: the last slice of each frame's tasklet phase, when it started, and
    // how long the phase went on after it (the driver's and scheduler's own share).
    let spans = driver.trace().spans();
    let mut last_start = Vec::new();
    let mut after_last = Vec::new();
    for phase in spans
        .iter()
        .filter(|s| s.kind == SpanKind::Phase && &*s.name == "tasklets")
    {
        let last = spans
            .iter()
            .filter(|s| s.frame == phase.frame && matches!(s.kind, SpanKind::Slice { .. }))
            .max_by_key(|s| s.start);
        if let Some(last) = last {
            last_start.push(last.start.saturating_sub(phase.start));
            let (phase_end, slice_end) = (phase.start + phase.duration, last.start + last.duration);
            after_last.push(phase_end.saturating_sub(slice_end));
        }
    }
    last_start.sort();
    after_last.sort();
    overshoots.sort();
    longest.sort();
    println!(
        "{frames} frames, budget {budget:?}, {:.1} slices per frame, budget spent in {} frames, \
         {preempted} slices cut",
        resumed as f64 / frames as f64,
        overshoots.len()
    );
    println!(
        "overshoot:     median {:>10.1?}  p99 {:>10.1?}  max {:>10.1?}",
        percentile(&overshoots, 50.0),
        percentile(&overshoots, 99.0),
        overshoots.last().copied().unwrap_or_default()
    );
    println!(
        "longest slice: median {:>10.1?}  p99 {:>10.1?}  max {:>10.1?}",
        percentile(&longest, 50.0),
        percentile(&longest, 99.0),
        longest.last().copied().unwrap_or_default()
    );
    if !trace {
        return;
    }
    let late = last_start.iter().filter(|&&d| d > budget).count();
    println!(
        "last slice started at: median {:>10.1?}  p99 {:>10.1?}  ({late} frames after the budget)",
        percentile(&last_start, 50.0),
        percentile(&last_start, 99.0),
    );
    println!(
        "phase end after the last slice: median {:>10.1?}  p99 {:>10.1?}",
        percentile(&after_last, 50.0),
        percentile(&after_last, 99.0)
    );
}
