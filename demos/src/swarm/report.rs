//! The swarm's summary: how many animals and tasklets, what they were doing, and how the
//! frames, the resumes and the memory went. Text for people, one JSON line for scripts.

use std::fmt;

use engine::Budget;
use serde_json::{json, Value};

use super::Swarm;
use crate::cli::stack_name;
use crate::measure::percentile;

/// The figures of a swarm run, for the last line of output (text or JSON).
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Animals spawned.
    pub entities: usize,
    /// Tasklets alive in the scheduler at the end.
    pub tasklets_live: usize,
    /// Frames run (the start-up tick not counted).
    pub frames: usize,
    /// Game time run, seconds.
    pub game_seconds: f64,
    /// The seed.
    pub seed: u64,
    /// `"dedicated"` or `"copying"`.
    pub stacks: &'static str,
    /// Usable stack per tasklet, bytes.
    pub stack_size: usize,
    /// Animals lying down, walking and running at the start of the last frame.
    pub resting: usize,
    /// See `resting`.
    pub wandering: usize,
    /// See `resting`.
    pub fleeing: usize,
    /// Encounters the systems sent to inboxes, in all.
    pub encounters: u64,
    /// Median frame time (the whole tick), milliseconds.
    pub frame_ms_p50: f64,
    /// 99th percentile frame time, milliseconds.
    pub frame_ms_p99: f64,
    /// Longest frame, milliseconds.
    pub frame_ms_max: f64,
    /// Median time of the tasklet phase (what the budget limits), milliseconds.
    pub tasklet_ms_p50: f64,
    /// 99th percentile time of the tasklet phase, milliseconds.
    pub tasklet_ms_p99: f64,
    /// Median time of the clock phase (waking the sleepers that are due), milliseconds.
    pub clock_ms_p50: f64,
    /// Median time of the system phase (movement, grid, encounters), milliseconds.
    pub systems_ms_p50: f64,
    /// The tasklet phase's time budget per frame, if it was a time budget.
    pub budget_ms: Option<f64>,
    /// The tasklet phase's resume budget per frame, if it was a resume count.
    pub budget_resumes: Option<u64>,
    /// Frames whose tasklet phase ran out of budget and carried tasklets over.
    pub overruns: u64,
    /// Resumes per frame, on average.
    pub resumes_per_frame: f64,
    /// Time in the tasklet phase divided by the resumes made in it, nanoseconds: what
    /// one resume costs, with the behaviour's own work and the switch in and out.
    pub ns_per_resume: f64,
    /// Spawning every animal (entity, actor and tasklet), milliseconds.
    pub setup_ms: f64,
    /// The start-up tick, in which every animal ran for the first time, milliseconds.
    pub startup_ms: f64,
    /// Resident memory before the first spawn, bytes.
    pub rss_bytes_before: Option<u64>,
    /// Resident memory after the start-up tick, every animal having run once, bytes.
    pub rss_bytes_started: Option<u64>,
    /// `(rss_bytes_started - rss_bytes_before) / tasklets_live`: everything one animal
    /// costs in resident memory (its entity, its actor in the engine, its tasklet record,
    /// its saved stack or its own stack's touched pages, its inbox, its grid entry).
    pub rss_bytes_per_tasklet: Option<f64>,
    /// Killing and unwinding every tasklet at the end, milliseconds (set by
    /// [`Swarm::finish`]).
    pub teardown_ms: Option<f64>,
    /// The world hash at the end (see [`Swarm::world_hash`]).
    pub world_hash: u64,
}

impl Summary {
    /// The summary of `swarm` as it stands.
    ///
    /// How the figures are measured: each tick after the start-up tick is timed as a
    /// whole (`frame_ms_*`), and the driver's [`FrameStats`](engine::FrameStats) give the
    /// time of its tasklet phase and the resumes made in it, summed over every frame for
    /// `ns_per_resume` (so a resume's cost includes the behaviour's own work, the
    /// switches in and out and, with stack copying, the copies). Resident memory is read
    /// from `/proc/self/statm` right before the first animal is spawned and right after
    /// the start-up tick, when every tasklet has run once and is suspended (blocked on
    /// its inbox with a timeout); the difference over the tasklets alive is
    /// `rss_bytes_per_tasklet`. It counts everything that came with the animals, as the
    /// kernel sees it (allocator slack included), not just the stacks: the entity, the
    /// actor in the engine, the tasklet and its saved stack (or its own stack's touched
    /// pages), its inbox, its timer, its grid entry.
    pub fn of(swarm: &Swarm) -> Summary {
        let config = swarm.config();
        let frames = swarm.frame_times_ms();
        let tasklets = swarm.tasklet_times_ms();
        let (budget_ms, budget_resumes) = match config.budget {
            Budget::Time(d) => (Some(d.as_secs_f64() * 1000.0), None),
            Budget::Resumes(n) => (None, Some(n)),
            Budget::Unlimited => (None, None),
        };
        let census = swarm.field.census.get();
        let tasklets_live = swarm.tasklets_live();
        let (before, started) = swarm.resident_memory();
        let per_tasklet = match (before, started) {
            (Some(before), Some(after)) if tasklets_live > 0 => {
                Some((after as f64 - before as f64) / tasklets_live as f64)
            }
            _ => None,
        };
        let resumes = swarm.resumes();
        Summary {
            entities: config.entities,
            tasklets_live,
            frames: frames.len(),
            game_seconds: swarm.driver.now().as_secs_f64(),
            seed: config.seed,
            stacks: stack_name(config.stacks),
            stack_size: config.stack_size,
            resting: census.resting,
            wandering: census.wandering,
            fleeing: census.fleeing,
            encounters: swarm.field.encounters.get(),
            frame_ms_p50: percentile(frames, 50.0),
            frame_ms_p99: percentile(frames, 99.0),
            frame_ms_max: frames.iter().copied().fold(0.0, f64::max),
            tasklet_ms_p50: percentile(tasklets, 50.0),
            tasklet_ms_p99: percentile(tasklets, 99.0),
            clock_ms_p50: percentile(swarm.clock_times_ms(), 50.0),
            systems_ms_p50: percentile(swarm.system_times_ms(), 50.0),
            budget_ms,
            budget_resumes,
            overruns: swarm.budget_spent_frames(),
            resumes_per_frame: if frames.is_empty() {
                0.0
            } else {
                resumes as f64 / frames.len() as f64
            },
            ns_per_resume: if resumes == 0 {
                0.0
            } else {
                swarm.tasklet_time().as_secs_f64() * 1e9 / resumes as f64
            },
            setup_ms: swarm.setup_time().as_secs_f64() * 1000.0,
            startup_ms: swarm.startup_time().as_secs_f64() * 1000.0,
            rss_bytes_before: before,
            rss_bytes_started: started,
            rss_bytes_per_tasklet: per_tasklet,
            teardown_ms: None,
            world_hash: swarm.world_hash(),
        }
    }

    /// The summary as one JSON object (the `--json` line).
    pub fn to_json(&self) -> Value {
        json!({
            "entities": self.entities,
            "tasklets_live": self.tasklets_live,
            "frames": self.frames,
            "game_seconds": self.game_seconds,
            "seed": self.seed,
            "stacks": self.stacks,
            "stack_size": self.stack_size,
            "resting": self.resting,
            "wandering": self.wandering,
            "fleeing": self.fleeing,
            "encounters": self.encounters,
            "frame_ms_p50": self.frame_ms_p50,
            "frame_ms_p99": self.frame_ms_p99,
            "frame_ms_max": self.frame_ms_max,
            "tasklet_ms_p50": self.tasklet_ms_p50,
            "tasklet_ms_p99": self.tasklet_ms_p99,
            "clock_ms_p50": self.clock_ms_p50,
            "systems_ms_p50": self.systems_ms_p50,
            "budget_ms": self.budget_ms,
            "budget_resumes": self.budget_resumes,
            "overruns": self.overruns,
            "resumes_per_frame": self.resumes_per_frame,
            "ns_per_resume": self.ns_per_resume,
            "setup_ms": self.setup_ms,
            "startup_ms": self.startup_ms,
            "rss_bytes_before": self.rss_bytes_before,
            "rss_bytes_started": self.rss_bytes_started,
            "rss_bytes_per_tasklet": self.rss_bytes_per_tasklet,
            "teardown_ms": self.teardown_ms,
            "world_hash": format!("{:016x}", self.world_hash),
        })
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "swarm: {} animals, {} tasklets live ({} stacks of {} KiB), {} frames, {:.1} s \
             of game time",
            self.entities,
            self.tasklets_live,
            self.stacks,
            self.stack_size / 1024,
            self.frames,
            self.game_seconds
        )?;
        writeln!(
            f,
            "  at the end: {} resting, {} wandering, {} fleeing; {} encounters in all",
            self.resting, self.wandering, self.fleeing, self.encounters
        )?;
        let budget = match (self.budget_ms, self.budget_resumes) {
            (Some(ms), _) => format!("{ms} ms"),
            (None, Some(n)) => format!("{n} resumes"),
            (None, None) => "unlimited".to_owned(),
        };
        writeln!(
            f,
            "  frame time: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; tasklet phase p50 \
             {:.3} ms, p99 {:.3} ms against a budget of {budget}, ran out in {} frame(s)",
            self.frame_ms_p50,
            self.frame_ms_p99,
            self.frame_ms_max,
            self.tasklet_ms_p50,
            self.tasklet_ms_p99,
            self.overruns
        )?;
        writeln!(
            f,
            "  phases (p50): clock {:.3} ms, systems {:.3} ms, tasklets {:.3} ms",
            self.clock_ms_p50, self.systems_ms_p50, self.tasklet_ms_p50
        )?;
        writeln!(
            f,
            "  {:.0} resumes per frame, {:.0} ns per resume; spawning took {:.0} ms, the \
             start-up tick (every animal's first run) {:.0} ms",
            self.resumes_per_frame, self.ns_per_resume, self.setup_ms, self.startup_ms
        )?;
        match self.rss_bytes_per_tasklet {
            Some(bytes) => writeln!(
                f,
                "  resident memory: {bytes:.0} bytes per tasklet, every one run once and \
                 suspended"
            )?,
            None => writeln!(f, "  resident memory per tasklet: not measured (no /proc)")?,
        }
        if let Some(ms) = self.teardown_ms {
            writeln!(
                f,
                "  teardown (every tasklet killed and unwound): {ms:.0} ms"
            )?;
        }
        write!(f, "  world hash: {:016x}", self.world_hash)
    }
}
