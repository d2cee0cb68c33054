//! A runaway script: one tasklet of a game's frame loop spins in plain Rust for 300 ms
//! without a uthread call. Nothing can stop native code that never calls the scheduler,
//! so the frame hangs. The scheduler's live stall report (a watchdog thread) names the
//! script while it still spins; the slice watchdog can only say so once the slice has
//! ended. (`classics preempt` runs the same loop under `#[uthread::preemptible]`.)

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use uthread::{Builder, JoinHandle, RunOutcome, Scheduler, Watchdog};

use crate::Outcome;

/// One frame of game time, and the slice limit of the watchdog that watches the frames.
pub(crate) const FRAME: Duration = Duration::from_millis(16);
/// Slices longer than this are reported while they run.
const STALL_THRESHOLD: Duration = Duration::from_millis(50);
/// Frames the demo runs; the script runs away in `STALL_FRAME`.
const FRAMES: u32 = 5;
const STALL_FRAME: u32 = 3;

pub(crate) fn run(spin_ms: u64) -> Outcome {
    let spin = Duration::from_millis(spin_ms);
    println!(
        "Frames of {} ms on a manual clock: two patrol scripts move once a frame and wait \
         for the next one (be_nice). In frame {STALL_FRAME} the 'runaway' script computes for \
         {spin_ms} ms in plain Rust, with no uthread call.",
        FRAME.as_millis(),
    );
    let sched = Scheduler::builder()
        .manual_clock()
        .stall_reports(Some(STALL_THRESHOLD))
        .build();
    // Called on the watchdog thread, while the main thread is stuck in the runaway.
    let started = Instant::now();
    sched.set_stall_handler(move |report| {
        println!(
            "  live stall report, {:.1} ms into the demo: {report}",
            ms(started.elapsed())
        );
    });
    let patrols = Patrols::spawn(&sched)?;
    let runaway = spawn_runaway(&sched, spin)?;
    for frame in 1..=FRAMES {
        let moves_before = patrols.moves();
        let start = Instant::now();
        let reports = run_watched_frame(&sched, start)?;
        let took = start.elapsed();
        let over = if took > FRAME {
            format!(": over its {} ms frame", FRAME.as_millis())
        } else {
            String::new()
        };
        println!(
            "frame {frame}: {:.1} ms, {} patrol moves{over}",
            ms(took),
            patrols.moves() - moves_before
        );
        for report in reports {
            println!("  {report}");
        }
        sched.advance(FRAME);
    }
    patrols.stop(&sched)?;
    let steps = runaway.join().map_err(|e| e.to_string())?;
    println!(
        "The runaway made {steps} steps in its one slice. While it spun nothing else ran; \
         the live stall report named it after {} ms, while it spun, and the slice \
         watchdog when the slice ended. `classics preempt` runs the same loop under \
         #[uthread::preemptible].",
        STALL_THRESHOLD.as_millis()
    );
    Ok(())
}

/// Runs one frame's scripts under a soft slice watchdog, and returns what it reported.
///
/// The soft slice watchdog reports a slice after it has ended; the live stall report
/// (switched on where the scheduler is built) speaks while it still runs.
fn run_watched_frame(sched: &Scheduler, frame_start: Instant) -> Result<Vec<String>, String> {
    let mut reports = Vec::new();
    loop {
        match sched.run_watchdog(Watchdog::per_slice(FRAME).soft()) {
            Ok(RunOutcome::Interrupted {
                tasklet,
                removed: false,
            }) => {
                let slice = sched
                    .last_run_longest_slice()
                    .map_or(Duration::ZERO, |(_, d)| d);
                reports.push(format!(
                    "slice watchdog, {:.1} ms into the frame: {tasklet} ran {:.1} ms in one \
                     slice (limit {} ms); reported after the slice ended",
                    ms(frame_start.elapsed()),
                    ms(slice),
                    FRAME.as_millis()
                ));
            }
            Ok(RunOutcome::Idle { .. } | RunOutcome::Finished) => return Ok(reports),
            Ok(other) => return Err(format!("unexpected end of a frame: {other:?}")),
            Err(error) => return Err(error.to_string()),
        }
    }
}

/// Where the generator starts.
pub(crate) const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// One step of the script's computation: 64 rounds of xorshift64, serial arithmetic that
/// the compiler cannot fold away.
pub(crate) fn mix(mut x: u64) -> u64 {
    for _ in 0..64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

/// The runaway loop in plain Rust: steps the generator for `d` of wall time, with no
/// uthread call, so nothing can interrupt it. Returns the steps it made.
fn spin_plain(d: Duration) -> u64 {
    let (start, mut steps, mut x) = (Instant::now(), 0u64, SEED);
    while start.elapsed() < d {
        x = mix(x);
        steps += 1;
    }
    std::hint::black_box(x);
    steps
}

/// Two patrol scripts that move once a frame (and wait for the next with `be_nice`)
/// until told to stop.
pub(crate) struct Patrols {
    /// Moves made so far, both patrols together.
    moves: Rc<Cell<u32>>,
    stop: Rc<Cell<bool>>,
}

impl Patrols {
    pub(crate) fn spawn(sched: &Scheduler) -> Result<Patrols, String> {
        let patrols = Patrols {
            moves: Rc::new(Cell::new(0)),
            stop: Rc::new(Cell::new(false)),
        };
        for name in ["patrol-1", "patrol-2"] {
            let (moves, stop) = (patrols.moves.clone(), patrols.stop.clone());
            Builder::new()
                .name(name)
                .spawn_on(sched, move || {
                    while !stop.get() {
                        moves.set(moves.get() + 1);
                        if uthread::be_nice().is_err() {
                            break;
                        }
                    }
                })
                .map_err(|e| e.to_string())?;
        }
        Ok(patrols)
    }

    pub(crate) fn moves(&self) -> u32 {
        self.moves.get()
    }

    /// Tells the patrols to stop and runs the scheduler until every script has ended.
    pub(crate) fn stop(&self, sched: &Scheduler) -> Outcome {
        self.stop.set(true);
        sched.advance(FRAME);
        match sched.run().map_err(|e| e.to_string())? {
            RunOutcome::Finished => Ok(()),
            other => Err(format!("the scripts did not end: {other:?}")),
        }
    }
}

/// The 'runaway' script: waits for its frame, spins for `spin` in plain Rust, and keeps
/// going to the last frame. Returns the steps it made while it spun.
fn spawn_runaway(sched: &Scheduler, spin: Duration) -> Result<JoinHandle<u64>, String> {
    Builder::new()
        .name("runaway")
        .spawn_on(sched, move || {
            let mut steps = 0;
            for frame in 1..=FRAMES {
                if frame == STALL_FRAME {
                    steps = spin_plain(spin);
                }
                if uthread::be_nice().is_err() {
                    break;
                }
            }
            steps
        })
        .map_err(|e| e.to_string())
}

/// Milliseconds, for printing.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
