//! The runaway script's loop again, under `#[uthread::preemptible]`: the attribute puts a
//! preempt point at the top of each iteration, so a hard watchdog of 2 ms per slice
//! (`Watchdog::per_slice`) takes the script out of the run queue mid-loop. The frame loop
//! puts it back at the start of the next frame, where it carries on from where it was:
//! the 300 ms computation is spread over many short frames, and finishes with the same
//! result as the plain loop.

use std::time::{Duration, Instant};

use uthread::{Builder, RunOutcome, Scheduler, Tasklet, Watchdog};

use crate::runaway::{mix, ms, Patrols, FRAME, SEED};
use crate::Outcome;

/// Frames printed one by one at the start; the rest are summed up.
const FRAMES_SHOWN: u32 = 3;

/// A fixed amount of the runaway's arithmetic: the preempted run must end where a plain
/// run of the same steps ends.
#[derive(Clone, Copy, Debug)]
struct Work {
    /// Steps of `mix`.
    steps: u64,
}

impl Work {
    /// As many steps as take about `target` here. The fastest of a few short plain runs
    /// sets the rate: a run the OS held back on a loaded machine only ever looks slower.
    fn calibrate(target: Duration) -> Work {
        let mut steps = 1_000u64;
        while time_plain(Work { steps }) < Duration::from_millis(2) && steps < 1 << 40 {
            steps *= 2;
        }
        let fastest = (0..5)
            .map(|_| time_plain(Work { steps }))
            .min()
            .unwrap_or(Duration::from_millis(2));
        let per_step = fastest.as_secs_f64() / steps as f64;
        Work {
            steps: (target.as_secs_f64() / per_step).max(1.0) as u64,
        }
    }
}

fn time_plain(work: Work) -> Duration {
    let start = Instant::now();
    std::hint::black_box(crunch_plain(work));
    start.elapsed()
}

/// The runaway loop in plain Rust, over a fixed number of steps.
fn crunch_plain(work: Work) -> u64 {
    let mut x = SEED;
    for _ in 0..work.steps {
        x = mix(x);
    }
    x
}

/// The runaway loop, preemptible: the same steps as `crunch_plain`, plus a point at the
/// top of each iteration.
#[uthread::preemptible]
fn crunch(work: Work) -> u64 {
    let mut x = SEED;
    for _ in 0..work.steps {
        x = mix(x);
    }
    x
}

pub(crate) fn run(spin_ms: u64, limit_ms: u64) -> Outcome {
    let limit = Duration::from_millis(limit_ms);
    let work = Work::calibrate(Duration::from_millis(spin_ms));
    println!(
        "The runaway's loop ({} steps, about {spin_ms} ms in plain Rust) under \
         #[uthread::preemptible], with a hard watchdog of {limit_ms} ms per slice: each \
         frame the script runs until the watchdog takes it out at its next loop iteration; \
         the next frame puts it back.",
        work.steps
    );
    let sched = Scheduler::builder().manual_clock().build();
    let patrols = Patrols::spawn(&sched)?;
    let runaway = Builder::new()
        .name("runaway")
        .spawn_on(&sched, move || crunch(work))
        .map_err(|e| e.to_string())?;

    let mut frames = 0u32;
    let mut interruptions = 0u32;
    let mut longest_frame = Duration::ZERO;
    let mut taken_out: Option<Tasklet> = None;
    let started = Instant::now();
    while !runaway.is_finished() {
        frames += 1;
        // Back into the run queue: it resumes inside its loop, where the watchdog took it.
        if let Some(tasklet) = taken_out.take() {
            tasklet.insert().map_err(|e| e.to_string())?;
        }
        let moves_before = patrols.moves();
        let frame_start = Instant::now();
        let mut interrupted_at = None;
        loop {
            match sched.run_watchdog(Watchdog::per_slice(limit)) {
                Ok(RunOutcome::Interrupted {
                    tasklet,
                    removed: true,
                }) => {
                    interruptions += 1;
                    interrupted_at = Some(frame_start.elapsed());
                    if !tasklet.is_paused() {
                        return Err(format!("{tasklet} was interrupted but is not paused"));
                    }
                    taken_out = Some(tasklet);
                    // The rest of the frame's scripts still run.
                }
                Ok(RunOutcome::Idle { .. } | RunOutcome::Finished) => break,
                Ok(other) => return Err(format!("unexpected end of a frame: {other:?}")),
                Err(error) => return Err(error.to_string()),
            }
        }
        let took = frame_start.elapsed();
        longest_frame = longest_frame.max(took);
        if frames <= FRAMES_SHOWN {
            let what = match (&taken_out, interrupted_at) {
                (Some(tasklet), Some(at)) => format!(
                    "{tasklet} interrupted {:.2} ms into the frame, paused",
                    ms(at)
                ),
                _ => "the runaway finished".to_string(),
            };
            println!(
                "frame {frames}: {:.2} ms, {} patrol moves; {what}",
                ms(took),
                patrols.moves() - moves_before
            );
        } else if frames == FRAMES_SHOWN + 1 {
            println!("...");
        }
        sched.advance(FRAME);
    }
    let elapsed = started.elapsed();
    patrols.stop(&sched)?;
    let value = runaway.join().map_err(|e| e.to_string())?;
    println!(
        "'runaway' finished in frame {frames} after {interruptions} interruptions \
         ({:.0} ms of frames, the longest {:.2} ms; the plain loop held one frame for \
         all of it)",
        ms(elapsed),
        ms(longest_frame)
    );
    let plain = crunch_plain(work);
    if value != plain {
        return Err(format!(
            "the preempted loop ended with {value:#018x}, the plain one with {plain:#018x}"
        ));
    }
    println!("result: {value:#018x}, the same as the plain loop's");
    Ok(())
}
