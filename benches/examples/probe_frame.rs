//! Instruction-count probe for a frame: N tasklets that each bump a counter and call
//! `be_nice()`, ticked F times on a manual clock
//! (`valgrind --tool=callgrind target/release/examples/probe_frame N F`).
//! Build it with `cargo build --release -p benches --examples`.
use std::cell::Cell;
use std::rc::Rc;

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<u64>().unwrap_or(0));
    let n = args.next().unwrap_or(1000);
    let frames = args.next().unwrap_or(100);
    let sched = uthread::Scheduler::builder().manual_clock().build();
    let work = Rc::new(Cell::new(0u64));
    for _ in 0..n {
        let work = work.clone();
        sched
            .spawn(move || loop {
                work.set(work.get() + 1);
                if uthread::be_nice().is_err() {
                    break;
                }
            })
            .unwrap();
    }
    // One warm-up frame starts every body; the rest are timed.
    sched.run().unwrap();
    let before = work.get();
    let t0 = std::time::Instant::now();
    for _ in 0..frames {
        sched.advance(std::time::Duration::from_millis(16));
        sched.run().unwrap();
    }
    let elapsed = t0.elapsed();
    let resumes = work.get() - before;
    println!(
        "{resumes} resumes, {:.1} ns each",
        elapsed.as_nanos() as f64 / resumes.max(1) as f64
    );
}
