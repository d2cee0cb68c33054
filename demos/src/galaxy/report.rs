//! The galaxy's summary: ships, jumps, messages, frame times and the world hash, for
//! the last line of output (text or JSON).

use std::fmt;
use std::hash::Hasher;

use engine::shard::{ClusterReport, HandOffCounts, MessageCounts};
use engine::{Budget, StableHasher};
use serde_json::{json, Value};

use super::watch::SystemEnd;
use super::GalaxyConfig;
use crate::skirmish::percentile;

/// One system's line of the summary.
#[derive(Clone, Debug, PartialEq)]
pub struct SystemSummary {
    /// Its name.
    pub name: String,
    /// The thread that ran it.
    pub thread: usize,
    /// Ships in it at the end, per fleet.
    pub ships: Vec<u32>,
    /// Its world hash.
    pub hash: u64,
    /// Wall time of its tasklet phases, milliseconds.
    pub tasklet_ms: f64,
    /// Wall time of its frames, milliseconds.
    pub busy_ms: f64,
    /// Ships that jumped out of it.
    pub jumps_out: u64,
    /// Ships that jumped into it.
    pub arrivals: u64,
    /// Why it failed, if it did.
    pub failure: Option<String>,
}

/// What a galaxy did.
#[derive(Clone, Debug, PartialEq)]
pub struct GalaxySummary {
    /// Solar systems.
    pub systems: usize,
    /// Threads that ran them.
    pub threads: usize,
    /// Frames run.
    pub frames: u64,
    /// Whether the systems ran in lockstep.
    pub lockstep: bool,
    /// The seed.
    pub seed: u64,
    /// Each system's tasklet budget per frame.
    pub budget: Budget,
    /// The fleets' names.
    pub fleets: Vec<String>,
    /// Ships per fleet at the start, in all systems.
    pub ships_start: Vec<u32>,
    /// Ships per fleet at the end, in all systems.
    pub ships_alive: Vec<u32>,
    /// Ships destroyed, per fleet.
    pub destroyed: Vec<u32>,
    /// Ships warped out of the game (only without gates), per fleet.
    pub warped_out: Vec<u32>,
    /// Shots fired.
    pub shots: u64,
    /// Hand-offs between systems (jumps and their fates).
    pub hand_offs: HandOffCounts,
    /// Jumps ships asked for that did not happen.
    pub failed_jumps: u64,
    /// Messages between systems (intel and jumps) and their fates.
    pub messages: MessageCounts,
    /// Frame times, milliseconds: median, 99th percentile, longest.
    pub frame_ms_p50: f64,
    /// See `frame_ms_p50`.
    pub frame_ms_p99: f64,
    /// See `frame_ms_p50`.
    pub frame_ms_max: f64,
    /// Wall time of the frames, milliseconds (set-up and teardown excluded).
    pub run_ms: f64,
    /// Per thread: milliseconds busy and waiting (for the other threads, in lockstep).
    pub thread_ms: Vec<(f64, f64)>,
    /// In lockstep, milliseconds lost to uneven work between threads, frame by frame
    /// (the rest of the waiting is the barrier's own cost).
    pub imbalance_ms: f64,
    /// Every system's hash, combined in system order.
    pub world_hash: u64,
    /// Per system.
    pub per_system: Vec<SystemSummary>,
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl GalaxySummary {
    /// Sums up a finished galaxy's report.
    pub fn new(
        config: &GalaxyConfig,
        threads: usize,
        fleets: &[String],
        ships_start: &[u32],
        report: &ClusterReport<SystemEnd>,
    ) -> GalaxySummary {
        let zero = vec![0u32; fleets.len()];
        let (mut alive, mut destroyed, mut warped_out) = (zero.clone(), zero.clone(), zero);
        let (mut shots, mut failed_jumps) = (0, 0);
        let mut world = StableHasher::new();
        let mut per_system = Vec::new();
        for shard in &report.shards {
            let end = shard.end.as_ref();
            if let Some(end) = end {
                for f in 0..fleets.len() {
                    alive[f] += end.ships[f];
                    destroyed[f] += end.destroyed[f];
                    warped_out[f] += end.warped_out[f];
                }
                shots += end.shots;
                failed_jumps += end.failed_jumps;
            }
            let hash = end.map_or(0, |e| e.hash);
            world.write_u64(hash);
            per_system.push(SystemSummary {
                name: shard.name.clone(),
                thread: shard.thread,
                ships: end.map_or_else(Vec::new, |e| e.ships.clone()),
                hash,
                tasklet_ms: ms(shard.tasklet_time),
                busy_ms: ms(shard.busy_time),
                jumps_out: shard.hand_offs.departed,
                arrivals: shard.hand_offs.arrived,
                failure: shard.failure.as_ref().map(ToString::to_string),
            });
        }
        let frame_ms: Vec<f64> = report.frame_times().into_iter().map(ms).collect();
        GalaxySummary {
            systems: report.shards.len(),
            threads,
            frames: report.frames(),
            lockstep: config.lockstep,
            seed: config.seed,
            budget: config.budget,
            fleets: fleets.to_vec(),
            ships_start: ships_start.to_vec(),
            ships_alive: alive,
            destroyed,
            warped_out,
            shots,
            hand_offs: report.hand_offs(),
            failed_jumps,
            messages: report.messages(),
            frame_ms_p50: percentile(&frame_ms, 50.0),
            frame_ms_p99: percentile(&frame_ms, 99.0),
            frame_ms_max: frame_ms.iter().copied().fold(0.0, f64::max),
            run_ms: ms(report.run_time),
            thread_ms: report
                .threads
                .iter()
                .map(|t| (ms(t.busy), ms(t.waiting())))
                .collect(),
            imbalance_ms: ms(report.imbalance()),
            world_hash: world.finish(),
            per_system,
        }
    }

    /// Ships alive in all.
    pub fn ships_alive_total(&self) -> u32 {
        self.ships_alive.iter().sum()
    }

    /// Whether every ship is accounted for: those that started are in a system,
    /// destroyed, warped out, or lost in transit when the galaxy stopped.
    pub fn books_balance(&self) -> bool {
        let start: u64 = self.ships_start.iter().map(|&n| u64::from(n)).sum();
        let ended: u64 = [&self.ships_alive, &self.destroyed, &self.warped_out]
            .iter()
            .flat_map(|v| v.iter())
            .map(|&n| u64::from(n))
            .sum();
        start == ended + self.hand_offs.lost
    }

    /// The systems that failed.
    pub fn failures(&self) -> Vec<&str> {
        self.per_system
            .iter()
            .filter_map(|s| s.failure.as_deref())
            .collect()
    }

    /// The summary as one JSON object (the `--json` line).
    pub fn to_json(&self) -> Value {
        let per_fleet = |values: &[u32]| -> Value {
            self.fleets
                .iter()
                .zip(values)
                .map(|(name, v)| (name.clone(), json!(v)))
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        let (budget_ms, budget_resumes) = match self.budget {
            Budget::Time(d) => (Some(ms(d)), None),
            Budget::Resumes(n) => (None, Some(n)),
            Budget::Unlimited => (None, None),
        };
        let per_system: Vec<Value> = self
            .per_system
            .iter()
            .map(|s| {
                json!({
                    "name": s.name,
                    "thread": s.thread,
                    "ships": s.ships.iter().sum::<u32>(),
                    "ships_per_fleet": per_fleet(&s.ships),
                    "hash": format!("{:016x}", s.hash),
                    "tasklet_ms": s.tasklet_ms,
                    "busy_ms": s.busy_ms,
                    "jumps_out": s.jumps_out,
                    "arrivals": s.arrivals,
                    "failure": s.failure,
                })
            })
            .collect();
        let m = &self.messages;
        let h = &self.hand_offs;
        json!({
            "systems": self.systems,
            "threads": self.threads,
            "frames": self.frames,
            "clock": if self.lockstep { "lockstep" } else { "free-running" },
            "seed": self.seed,
            "budget_ms": budget_ms,
            "budget_resumes": budget_resumes,
            "ships_start": self.ships_start.iter().sum::<u32>(),
            "ships_alive": self.ships_alive_total(),
            "ships_alive_per_fleet": per_fleet(&self.ships_alive),
            "destroyed": per_fleet(&self.destroyed),
            "warped_out": per_fleet(&self.warped_out),
            "shots": self.shots,
            "jumps": h.departed,
            "arrivals": h.arrived,
            "jumps_came_back": h.came_back,
            "jumps_cancelled": h.cancelled,
            "jumps_refused": h.refused,
            "jumps_failed": self.failed_jumps,
            "lost_in_transit": h.lost,
            "messages_sent": m.sent,
            "messages_delivered": m.delivered,
            "messages_returned": m.returned,
            "messages_dropped": m.dropped,
            "frame_ms_p50": self.frame_ms_p50,
            "frame_ms_p99": self.frame_ms_p99,
            "frame_ms_max": self.frame_ms_max,
            "run_ms": self.run_ms,
            "thread_busy_ms": self.thread_ms.iter().map(|t| t.0).collect::<Vec<_>>(),
            "thread_wait_ms": self.thread_ms.iter().map(|t| t.1).collect::<Vec<_>>(),
            "imbalance_ms": self.imbalance_ms,
            "world_hash": format!("{:016x}", self.world_hash),
            "books_balance": self.books_balance(),
            "failures": self.failures(),
            "per_system": per_system,
        })
    }
}

impl fmt::Display for GalaxySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let clock = if self.lockstep {
            "lockstep"
        } else {
            "free-running"
        };
        writeln!(
            f,
            "galaxy: {} systems on {} thread(s), {} frames ({clock})",
            self.systems, self.threads, self.frames
        )?;
        for s in &self.per_system {
            let ships: Vec<String> = self
                .fleets
                .iter()
                .zip(&s.ships)
                .map(|(name, n)| format!("{name} {n:>4}"))
                .collect();
            writeln!(
                f,
                "  {:<12} thread {}  {}  jumps out {:>4}, in {:>4}  tasklets {:>8.1} ms  hash {:016x}",
                s.name,
                s.thread,
                ships.join("  "),
                s.jumps_out,
                s.arrivals,
                s.tasklet_ms,
                s.hash
            )?;
            if let Some(failure) = &s.failure {
                writeln!(f, "    FAILED: {failure}")?;
            }
        }
        let h = &self.hand_offs;
        writeln!(
            f,
            "  ships: {} at the start, {} alive, {} destroyed, {} warped out, {} lost in transit",
            self.ships_start.iter().sum::<u32>(),
            self.ships_alive_total(),
            self.destroyed.iter().sum::<u32>(),
            self.warped_out.iter().sum::<u32>(),
            h.lost
        )?;
        writeln!(
            f,
            "  jumps: {} out, {} arrived, {} came back, {} cancelled",
            h.departed, h.arrived, h.came_back, h.cancelled
        )?;
        let m = &self.messages;
        writeln!(
            f,
            "  messages: {} sent = {} delivered + {} returned + {} dropped (in flight at the stop)",
            m.sent, m.delivered, m.returned, m.dropped
        )?;
        writeln!(
            f,
            "  frame time: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; {:.0} ms in all",
            self.frame_ms_p50, self.frame_ms_p99, self.frame_ms_max, self.run_ms
        )?;
        for (i, (busy, wait)) in self.thread_ms.iter().enumerate() {
            writeln!(f, "  thread {i}: {busy:.0} ms busy, {wait:.0} ms waiting")?;
        }
        if self.lockstep && self.threads > 1 {
            writeln!(
                f,
                "  uneven work between threads, frame by frame: {:.0} ms of the waiting",
                self.imbalance_ms
            )?;
        }
        write!(f, "  world hash: {:016x}", self.world_hash)
    }
}
