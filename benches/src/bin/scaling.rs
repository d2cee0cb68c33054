//! Measures what one frame costs per tasklet as the number of tasklets grows from 1,000
//! to 1,000,000, for each stack strategy, and plots it.
//!
//! Each tasklet does a little work (a counter bump) and calls `be_nice()`; a frame is
//! `advance(dt)` then `run_for(Budget::Unlimited)`, so every tasklet is resumed once per
//! frame. The figure is the median frame time divided by the tasklet count. Both
//! strategies go to a million (dedicated stacks are carved from large mappings with
//! guard regions, Linux 6.13+; stack copying is the `unsafe` opt-in). The floor is bare
//! corosensei coroutines on stacks carved from one mapping, resumed once each per frame.
//!
//! ```sh
//! cargo run --release -p benches --bin scaling -- --csv docs/scaling.csv --svg docs/scaling.svg
//! ```

use std::cell::Cell;
use std::error::Error;
use std::rc::Rc;
use std::time::{Duration, Instant};

use demos::measure::median;
use plotters::prelude::*;
use uthread::{Budget, Scheduler, StackStrategy};

const DT: Duration = Duration::from_millis(16);
const COUNTS: [usize; 7] = [1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000];
/// The floor's carved stacks are touched page by page; beyond this it is mostly page faults.
const FLOOR_MAX: usize = 300_000;

/// One measured point.
struct Point {
    series: &'static str,
    tasklets: usize,
    ns_per_resume: f64,
}

/// Frames to time at `n` tasklets (more for small counts, where a frame is short).
fn frames_for(n: usize) -> usize {
    (2_000_000 / n).clamp(5, 200)
}

/// Median frame time per tasklet for `n` uthread tasklets on `strategy`.
fn measure_uthread(strategy: StackStrategy, n: usize) -> Result<f64, Box<dyn Error>> {
    let sched = Scheduler::builder()
        .manual_clock()
        .stack_strategy(strategy)
        .build();
    let stop = Rc::new(Cell::new(false));
    let work = Rc::new(Cell::new(0u64));
    for _ in 0..n {
        let (stop, work) = (stop.clone(), work.clone());
        sched.spawn(move || {
            while !stop.get() {
                work.set(work.get() + 1);
                if uthread::be_nice().is_err() {
                    return;
                }
            }
        })?;
    }
    let frame = || {
        let t0 = Instant::now();
        sched.advance(DT);
        sched.run_for(Budget::Unlimited).map(|_| t0.elapsed())
    };
    for _ in 0..3 {
        frame()?;
    }
    let times: Vec<Duration> = (0..frames_for(n))
        .map(|_| frame())
        .collect::<Result<Vec<_>, _>>()?;
    // Let every tasklet return (fast) rather than be killed on drop (an unwind each).
    stop.set(true);
    frame()?;
    Ok(median(&times).as_nanos() as f64 / n as f64)
}

/// Median frame time per coroutine for `n` bare coroutines on carved stacks.
fn measure_floor(n: usize) -> Result<f64, Box<dyn Error>> {
    let mut floor = uthread::bench::FloorFrame::new(n)?;
    floor.step();
    let times: Vec<Duration> = (0..frames_for(n))
        .map(|_| {
            let t0 = Instant::now();
            floor.step();
            t0.elapsed()
        })
        .collect();
    Ok(median(&times).as_nanos() as f64 / n as f64)
}

fn plot(points: &[Point], path: &str) -> Result<(), Box<dyn Error>> {
    let max_y = points.iter().map(|p| p.ns_per_resume).fold(0.0, f64::max) * 1.15;
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "One frame, per tasklet: resume, a little work, be_nice()",
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d((800f64..1_300_000f64).log_scale(), 0f64..max_y)?;
    chart
        .configure_mesh()
        .x_desc("tasklets (log scale)")
        .y_desc("ns per tasklet per frame")
        .x_label_formatter(&|x| {
            if *x >= 1e6 {
                format!("{:.0}M", x / 1e6)
            } else {
                format!("{:.0}k", x / 1e3)
            }
        })
        .draw()?;
    let series: [(&str, RGBColor); 3] = [
        ("dedicated stacks", RGBColor(0x1f, 0x6f, 0xd6)),
        ("stack copying", RGBColor(0xd6, 0x3a, 0x1f)),
        (
            "floor: bare coroutines, carved stacks",
            RGBColor(0x55, 0x55, 0x55),
        ),
    ];
    for (name, color) in series {
        let data: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.series == name)
            .map(|p| (p.tasklets as f64, p.ns_per_resume))
            .collect();
        chart
            .draw_series(LineSeries::new(data.clone(), color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(
            data.into_iter()
                .map(|xy| Circle::new(xy, 4, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    root.present()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let csv_path = flag("--csv").unwrap_or_else(|| "docs/scaling.csv".into());
    let svg_path = flag("--svg").unwrap_or_else(|| "docs/scaling.svg".into());
    let max: usize = flag("--max")
        .and_then(|m| m.parse().ok())
        .unwrap_or(1_000_000);

    let mut points = Vec::new();
    for &n in COUNTS.iter().filter(|&&n| n <= max) {
        let mut row = |series: &'static str, ns: f64| {
            println!("{series:>40} {n:>9} tasklets: {ns:7.1} ns per tasklet per frame");
            points.push(Point {
                series,
                tasklets: n,
                ns_per_resume: ns,
            });
        };
        row(
            "dedicated stacks",
            measure_uthread(StackStrategy::dedicated(), n)?,
        );
        row(
            "stack copying",
            measure_uthread(benches::copying_stacks(), n)?,
        );
        if n <= FLOOR_MAX {
            row("floor: bare coroutines, carved stacks", measure_floor(n)?);
        }
    }
    let mut csv = String::from("series,tasklets,ns_per_tasklet_per_frame\n");
    for p in &points {
        csv.push_str(&format!(
            "{},{},{:.2}\n",
            p.series, p.tasklets, p.ns_per_resume
        ));
    }
    std::fs::write(&csv_path, csv)?;
    plot(&points, &svg_path)?;
    println!("wrote {csv_path} and {svg_path}");
    Ok(())
}
