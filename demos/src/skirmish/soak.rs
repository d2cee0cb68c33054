//! Soak runs (`skirmish --soak FRAMES`): the battle never ends; every few seconds of game
//! time each fleet is topped back up to its starting strength with fresh ships, so ships
//! are spawned, destroyed, warped out (and, with `--inject-panics`, crash) all the way
//! through. Resident memory and the stack pool are sampled along the way, and the run
//! fails if they are still growing after warm-up.
//!
//! "Still growing" is defined on the samples: the first quarter of the frames is
//! warm-up; the run passes when the largest sample of the last half is within
//! [`SoakOptions::rss_tolerance`] (plus [`RSS_SLACK`]) of the largest sample of the
//! second quarter for resident memory, and within [`SoakOptions::pool_tolerance`] (plus
//! one stack) for the stack pool (stacks mapped: lent plus idle, and shared stacks).
//! A leak of a stack, a tasklet record or a ship's memory per death would show as steady
//! growth over the last half and fail.

use std::fmt;

use super::Skirmish;
pub use crate::measure::resident_bytes;

/// Resident memory may exceed the second quarter's peak by this much on top of the
/// relative tolerance (allocator noise on a small process).
pub const RSS_SLACK: u64 = 1 << 20;

/// How a soak run goes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SoakOptions {
    /// Frames to run.
    pub frames: usize,
    /// Frames between reinforcement waves.
    pub wave_every: usize,
    /// How many samples to take over the run.
    pub samples: usize,
    /// Allowed growth of resident memory after warm-up (0.1: 10%).
    pub rss_tolerance: f64,
    /// Allowed growth of the stack pool after warm-up (0.02: 2%).
    pub pool_tolerance: f64,
}

impl SoakOptions {
    /// `frames` frames, a wave every 100 frames (5 game seconds at the default time
    /// step), 100 samples, 10% for memory and 2% for the pool.
    pub fn new(frames: usize) -> SoakOptions {
        SoakOptions {
            frames,
            wave_every: 100,
            samples: 100,
            rss_tolerance: 0.10,
            pool_tolerance: 0.02,
        }
    }
}

/// What one sample saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Frames run when it was taken.
    pub frame: usize,
    /// The process's resident memory (`/proc/self/statm`), bytes; `None` where `/proc` is missing.
    pub rss_bytes: Option<u64>,
    /// Stacks mapped by the pool: lent to tasklets plus idle (dedicated), plus shared
    /// stacks (copying).
    pub pool_stacks: usize,
    /// Stacks (or places on a shared stack) lent to live tasklets.
    pub stacks_in_use: usize,
    /// Ships on the field.
    pub ships: usize,
    /// Live tasklets on the driver's scheduler.
    pub tasklets: usize,
}

/// The outcome of a soak run: its samples and whether memory and the pool levelled off.
#[derive(Clone, Debug, PartialEq)]
pub struct SoakReport {
    /// The samples, in order.
    pub samples: Vec<Sample>,
    /// Ships sent in as reinforcements.
    pub reinforcements: u64,
    /// Peak resident memory over the second quarter and over the last half.
    pub rss_peaks: Option<(u64, u64)>,
    /// Peak stack pool over the second quarter and over the last half.
    pub pool_peaks: (usize, usize),
    /// Why the run failed, if it did.
    pub failures: Vec<String>,
}

impl SoakReport {
    /// Whether memory and the stack pool stopped growing after warm-up.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl fmt::Display for SoakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let frames = self.samples.last().map_or(0, |s| s.frame);
        writeln!(
            f,
            "soak: {frames} frames, {} samples, {} reinforcements",
            self.samples.len(),
            self.reinforcements
        )?;
        if let Some((q2, last)) = self.rss_peaks {
            writeln!(
                f,
                "  resident memory: peak {:.1} MiB in the second quarter, {:.1} MiB in the last half",
                mib(q2),
                mib(last)
            )?;
        }
        writeln!(
            f,
            "  stack pool: peak {} stacks in the second quarter, {} in the last half",
            self.pool_peaks.0, self.pool_peaks.1
        )?;
        if self.passed() {
            write!(f, "  verdict: levelled off after warm-up")
        } else {
            write!(f, "  verdict: FAILED: {}", self.failures.join("; "))
        }
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Takes a sample of `skirmish` now.
pub fn sample(skirmish: &Skirmish) -> Sample {
    let stats = skirmish.driver.scheduler().stack_stats();
    Sample {
        frame: skirmish.frames(),
        rss_bytes: resident_bytes(),
        pool_stacks: stats.in_use + stats.idle + stats.shared_stacks,
        stacks_in_use: stats.in_use + stats.copying,
        ships: skirmish.on_field().iter().sum::<u32>() as usize,
        tasklets: skirmish.driver.scheduler().alive_count(),
    }
}

/// Runs `skirmish` for `options.frames` frames with reinforcement waves, sampling as it
/// goes. `after_frame` runs after every frame (to print panic reports, say); `on_sample`
/// gets every sample as it is taken.
///
/// # Errors
///
/// The engine's spawn error when a reinforcement's tasklet cannot be made.
pub fn run(
    skirmish: &mut Skirmish,
    options: SoakOptions,
    mut after_frame: impl FnMut(&mut Skirmish),
    mut on_sample: impl FnMut(&Sample),
) -> Result<SoakReport, engine::SpawnError> {
    let every = (options.frames / options.samples.max(1)).max(1);
    let wave_every = options.wave_every.max(1);
    let mut samples = Vec::with_capacity(options.samples + 2);
    let mut reinforcements = 0u64;
    let first = sample(skirmish);
    on_sample(&first);
    samples.push(first);
    for frame in 1..=options.frames {
        if frame % wave_every == 0 {
            reinforcements += u64::from(skirmish.reinforce()?);
        }
        skirmish.step();
        skirmish.drain_log();
        after_frame(skirmish);
        if frame % every == 0 || frame == options.frames {
            let s = sample(skirmish);
            on_sample(&s);
            samples.push(s);
        }
    }
    Ok(judge(samples, reinforcements, options))
}

/// Applies the "stopped growing" rule of the module docs to `samples`.
pub fn judge(samples: Vec<Sample>, reinforcements: u64, options: SoakOptions) -> SoakReport {
    let frames = samples.last().map_or(0, |s| s.frame);
    let in_q2 = |s: &&Sample| s.frame > frames / 4 && s.frame <= frames / 2;
    let in_last_half = |s: &&Sample| s.frame > frames / 2;
    let mut failures = Vec::new();

    let rss_peak = |pick: &dyn Fn(&&Sample) -> bool| {
        samples
            .iter()
            .filter(|s| pick(s))
            .filter_map(|s| s.rss_bytes)
            .max()
    };
    let rss_peaks = match (rss_peak(&in_q2), rss_peak(&in_last_half)) {
        (Some(q2), Some(last)) => {
            let allowed = (q2 as f64 * (1.0 + options.rss_tolerance)) as u64 + RSS_SLACK;
            if last > allowed {
                failures.push(format!(
                    "resident memory kept growing after warm-up: peak {:.1} MiB in the last \
                     half against {:.1} MiB in the second quarter (allowed {:.1} MiB)",
                    mib(last),
                    mib(q2),
                    mib(allowed)
                ));
            }
            Some((q2, last))
        }
        _ => None,
    };

    let pool_peak = |pick: &dyn Fn(&&Sample) -> bool| {
        samples
            .iter()
            .filter(|s| pick(s))
            .map(|s| s.pool_stacks)
            .max()
            .unwrap_or(0)
    };
    let pool_peaks = (pool_peak(&in_q2), pool_peak(&in_last_half));
    let allowed = (pool_peaks.0 as f64 * (1.0 + options.pool_tolerance)) as usize + 1;
    if pool_peaks.1 > allowed {
        failures.push(format!(
            "the stack pool kept growing after warm-up: {} stacks in the last half against \
             {} in the second quarter (allowed {allowed})",
            pool_peaks.1, pool_peaks.0
        ));
    }
    if samples.iter().filter(|s| in_q2(s)).count() == 0 {
        failures.push(format!(
            "too few frames ({frames}) to judge: no sample in the second quarter"
        ));
    }
    SoakReport {
        samples,
        reinforcements,
        rss_peaks,
        pool_peaks,
        failures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(rss: &[u64], pool: &[usize]) -> Vec<Sample> {
        rss.iter()
            .zip(pool)
            .enumerate()
            .map(|(i, (&rss, &pool))| Sample {
                frame: (i + 1) * 100,
                rss_bytes: Some(rss << 20),
                pool_stacks: pool,
                stacks_in_use: pool,
                ships: 10,
                tasklets: 10,
            })
            .collect()
    }

    #[test]
    fn a_flat_run_passes() {
        let report = judge(
            samples(
                &[10, 30, 40, 40, 41, 40, 40, 41],
                &[5, 9, 10, 10, 10, 10, 10, 10],
            ),
            0,
            SoakOptions::new(800),
        );
        assert!(report.passed(), "{report}");
    }

    #[test]
    fn memory_that_keeps_growing_fails() {
        let report = judge(
            samples(&[10, 20, 30, 40, 50, 60, 70, 80], &[10; 8]),
            0,
            SoakOptions::new(800),
        );
        assert!(!report.passed());
        assert!(report.failures[0].contains("resident memory"), "{report}");
    }

    #[test]
    fn a_pool_that_keeps_growing_fails() {
        let report = judge(
            samples(&[40; 8], &[10, 20, 30, 40, 50, 60, 70, 80]),
            0,
            SoakOptions::new(800),
        );
        assert!(!report.passed());
        assert!(report.failures[0].contains("stack pool"), "{report}");
    }

    #[test]
    fn resident_memory_is_readable_here() {
        assert!(resident_bytes().is_some_and(|b| b > 0));
    }
}
