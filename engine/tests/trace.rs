//! Traces of N frames (one span per frame, phase, system and slice) export as valid
//! Chrome trace / Perfetto JSON.

mod common;

use common::DT;
use engine::{Actor, FrameDriver, SpanKind};
use serde_json::Value;

fn driver_with_traffic(timing: bool) -> (FrameDriver, hecs::World) {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::builder().timing(timing).build();
    driver.add_system("physics", |_| {});
    driver.add_system("ai \"director\"", |_| {});
    for i in 0..3 {
        driver
            .spawn(
                &mut world,
                (),
                Actor::new(|ctx| loop {
                    ctx.yield_now().unwrap(); // two slices per frame
                    ctx.be_nice().unwrap();
                })
                .name(format!("drone {i}")),
            )
            .unwrap();
    }
    (driver, world)
}

#[test]
fn a_trace_covers_exactly_the_requested_frames() {
    let (mut driver, mut world) = driver_with_traffic(true);
    driver.tick(&mut world, DT);
    driver.record_trace(4);
    let mut resumed = 0;
    for _ in 0..6 {
        let stats = driver.tick(&mut world, DT);
        if stats.frame <= 5 {
            resumed += stats.resumed;
        }
    }
    let trace = driver.trace();
    assert_eq!(trace.frames(), 4);
    let count =
        |pred: fn(&SpanKind) -> bool| trace.spans().iter().filter(|s| pred(&s.kind)).count();
    assert_eq!(count(|k| matches!(k, SpanKind::Frame)), 4);
    assert_eq!(count(|k| matches!(k, SpanKind::Phase)), 16);
    assert_eq!(count(|k| matches!(k, SpanKind::System)), 8);
    assert_eq!(
        count(|k| matches!(k, SpanKind::Slice { .. })) as u64,
        resumed
    );
    assert!(trace.spans().iter().all(|s| (2..=5).contains(&s.frame)));
    // Every slice lies within its frame's span.
    for slice in trace
        .spans()
        .iter()
        .filter(|s| matches!(s.kind, SpanKind::Slice { .. }))
    {
        let frame = trace
            .spans()
            .iter()
            .find(|s| s.kind == SpanKind::Frame && s.frame == slice.frame)
            .unwrap();
        assert!(slice.start >= frame.start);
        assert!(slice.start + slice.duration <= frame.start + frame.duration);
        assert!(slice.name.starts_with("drone "));
    }
}

#[test]
fn the_chrome_json_parses_and_has_one_event_per_span() {
    // Timing off: recording turns it on for the traced frames.
    let (mut driver, mut world) = driver_with_traffic(false);
    driver.record_trace(2);
    driver.tick(&mut world, DT);
    driver.tick(&mut world, DT);
    let trace = driver.trace();
    let mut bytes = Vec::new();
    trace.write_chrome_json(&mut bytes).unwrap();
    let json: Value = serde_json::from_slice(&bytes).expect("valid JSON");
    let events = json["traceEvents"].as_array().unwrap();
    let complete: Vec<&Value> = events.iter().filter(|e| e["ph"] == "X").collect();
    assert_eq!(complete.len(), trace.spans().len());
    assert_eq!(
        events.iter().filter(|e| e["ph"] == "M").count(),
        2,
        "two named tracks"
    );
    for e in &complete {
        assert!(e["ts"].as_f64().unwrap() >= 0.0);
        assert!(e["dur"].as_f64().unwrap() >= 0.0);
        assert!(e["name"].is_string());
        assert!(e["pid"].is_u64() && e["tid"].is_u64());
    }
    let slices: Vec<&&Value> = complete.iter().filter(|e| e["cat"] == "slice").collect();
    assert_eq!(slices.len(), 12, "3 drones x 2 slices x 2 frames");
    assert!(slices
        .iter()
        .all(|e| e["args"]["entity"].is_string() && e["args"]["tasklet"].is_string()));
    assert!(
        complete.iter().any(|e| e["name"] == "ai \"director\""),
        "names are escaped"
    );
    assert_eq!(complete.iter().filter(|e| e["cat"] == "frame").count(), 2);
}

#[test]
fn recording_again_starts_a_fresh_trace() {
    let (mut driver, mut world) = driver_with_traffic(true);
    driver.record_trace(1);
    driver.tick(&mut world, DT);
    driver.record_trace(1);
    driver.tick(&mut world, DT);
    driver.tick(&mut world, DT);
    assert_eq!(driver.trace().frames(), 1);
    assert!(driver.trace().spans().iter().all(|s| s.frame == 2));
}
