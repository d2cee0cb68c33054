//! The end-of-battle summary: who won, what is left, and how the frames went.

use std::fmt;

use engine::Budget;
use serde_json::{json, Map, Value};

use super::Skirmish;
use crate::measure::percentile;

/// How a battle stands, from the ships each fleet has left on the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// This fleet (by index) is the only one left.
    Winner(usize),
    /// No fleet is left: the last ships died (or warped out) together.
    Draw,
    /// More than one fleet is still on the field (the battle ran out of frames).
    Undecided,
}

impl Outcome {
    /// The outcome when each fleet has `on_field[fleet]` ships left.
    ///
    /// # Examples
    ///
    /// ```
    /// use demos::skirmish::Outcome;
    ///
    /// assert_eq!(Outcome::of(&[0, 3]), Outcome::Winner(1));
    /// assert_eq!(Outcome::of(&[0, 0]), Outcome::Draw);
    /// assert_eq!(Outcome::of(&[2, 3]), Outcome::Undecided);
    /// ```
    pub fn of(on_field: &[u32]) -> Outcome {
        let mut standing = on_field.iter().enumerate().filter(|(_, n)| **n > 0);
        match (standing.next(), standing.next()) {
            (Some((fleet, _)), None) => Outcome::Winner(fleet),
            (None, _) => Outcome::Draw,
            (Some(_), Some(_)) => Outcome::Undecided,
        }
    }

    /// `"winner"`, `"draw"` or `"undecided"`: the JSON summary's `outcome`.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Winner(_) => "winner",
            Outcome::Draw => "draw",
            Outcome::Undecided => "undecided",
        }
    }
}

/// The figures of a battle, for the last line of output (text or JSON).
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The scenario's title.
    pub scenario: String,
    /// The fleets' names, by index.
    pub fleets: Vec<String>,
    /// Frames run.
    pub frames: usize,
    /// Game time run, seconds.
    pub game_seconds: f64,
    /// Ships per fleet at the start.
    pub ships_start: Vec<u32>,
    /// Ships per fleet still in the battle.
    pub ships_alive: Vec<u32>,
    /// Ships destroyed, per fleet.
    pub destroyed: Vec<u32>,
    /// Ships warped out, per fleet.
    pub warped_out: Vec<u32>,
    /// Ships whose scripts panicked (injected faults) and were despawned, per fleet.
    pub crashed: Vec<u32>,
    /// Ships sent in as reinforcements (soak runs), per fleet.
    pub reinforcements: Vec<u32>,
    /// Shots fired, per fleet.
    pub shots: Vec<u64>,
    /// Shots that hit, per fleet.
    pub hits: Vec<u64>,
    /// Whether one fleet won, none is left, or the battle is undecided.
    pub outcome: Outcome,
    /// The name of the fleet left standing, when [`Summary::outcome`] is a winner.
    pub winner: Option<String>,
    /// Median frame time, milliseconds.
    pub frame_ms_p50: f64,
    /// 99th percentile frame time, milliseconds.
    pub frame_ms_p99: f64,
    /// Longest frame, milliseconds.
    pub frame_ms_max: f64,
    /// The per-frame time budget of the tasklet phase, if it was a time budget.
    pub budget_ms: Option<f64>,
    /// The per-frame resume budget, if it was a resume count.
    pub budget_resumes: Option<u64>,
    /// Frames whose tasklet phase ran out of budget and carried tasklets over to the
    /// next frame.
    pub overruns: u64,
    /// The world hash at the end (see [`Skirmish::world_hash`]).
    pub world_hash: u64,
    /// The fault injection rate (`--inject-panics`), 0 when off.
    pub inject_panics: f64,
    /// Panics injected into ship scripts.
    pub panics_injected: u64,
    /// Panics the engine reported, each with its entity and tasklet.
    pub panics_reported: u64,
    /// Stacks lent to tasklets right after set-up (one per ship).
    pub stacks_in_use_start: usize,
    /// Stacks lent to tasklets at the end (one per live ship).
    pub stacks_in_use_end: usize,
    /// Ship scripts still running at the end.
    pub actors_end: usize,
    /// Stacks still lent after every ship left was despawned (0 unless a stack leaked),
    /// once [`Skirmish::teardown`] has run.
    pub stacks_in_use_after_teardown: Option<usize>,
}

impl Summary {
    /// The summary of `skirmish` as it stands.
    pub fn of(skirmish: &Skirmish) -> Summary {
        let scenario = &skirmish.battle.scenario;
        let log = skirmish.battle.log.borrow();
        let times = skirmish.frame_times_ms();
        let (budget_ms, budget_resumes) = match skirmish.budget() {
            Budget::Time(d) => (Some(d.as_secs_f64() * 1000.0), None),
            Budget::Resumes(n) => (None, Some(n)),
            Budget::Unlimited => (None, None),
        };
        Summary {
            scenario: scenario.name.clone(),
            fleets: scenario.fleets.iter().map(|f| f.name.clone()).collect(),
            frames: skirmish.frames(),
            game_seconds: skirmish.driver.now().as_secs_f64(),
            ships_start: skirmish.ships_start().to_vec(),
            ships_alive: skirmish.on_field(),
            destroyed: log.destroyed.clone(),
            warped_out: log.warped_out.clone(),
            crashed: log.crashed.clone(),
            reinforcements: log.reinforcements.clone(),
            shots: log.shots_fired.clone(),
            hits: log.hits.clone(),
            outcome: skirmish.outcome(),
            winner: skirmish.winner().map(|f| scenario.fleets[f].name.clone()),
            frame_ms_p50: percentile(times, 50.0),
            frame_ms_p99: percentile(times, 99.0),
            frame_ms_max: times.iter().copied().fold(0.0, f64::max),
            budget_ms,
            budget_resumes,
            overruns: skirmish.budget_spent_frames(),
            world_hash: skirmish.world_hash(),
            inject_panics: skirmish.battle.inject_panics,
            panics_injected: skirmish.panics_injected(),
            panics_reported: skirmish.panics_reported(),
            stacks_in_use_start: skirmish.stacks_in_use_start(),
            stacks_in_use_end: skirmish.stacks_in_use(),
            actors_end: skirmish.driver.actor_count(),
            stacks_in_use_after_teardown: None,
        }
    }

    /// Whether every ship is accounted for: per fleet, those that started or came in
    /// as reinforcements are still on the field, destroyed, warped out or crashed.
    pub fn books_balance(&self) -> bool {
        (0..self.fleets.len()).all(|f| {
            self.ships_start[f] + self.reinforcements[f]
                == self.ships_alive[f] + self.destroyed[f] + self.warped_out[f] + self.crashed[f]
        })
    }

    /// `{fleet name: value}` for per-fleet figures.
    fn per_fleet<T: Into<Value> + Copy>(&self, values: &[T]) -> Value {
        let map: Map<String, Value> = self
            .fleets
            .iter()
            .zip(values)
            .map(|(name, v)| (name.clone(), (*v).into()))
            .collect();
        Value::Object(map)
    }

    /// The summary as one JSON object (the `--json` line).
    pub fn to_json(&self) -> Value {
        json!({
            "scenario": self.scenario,
            "frames": self.frames,
            "game_seconds": self.game_seconds,
            "ships_start": self.per_fleet(&self.ships_start),
            "ships_alive": self.per_fleet(&self.ships_alive),
            "destroyed": self.per_fleet(&self.destroyed),
            "warped_out": self.per_fleet(&self.warped_out),
            "crashed": self.per_fleet(&self.crashed),
            "reinforcements": self.per_fleet(&self.reinforcements),
            "shots": self.per_fleet(&self.shots),
            "hits": self.per_fleet(&self.hits),
            "outcome": self.outcome.name(),
            "winner": self.winner,
            "frame_ms_p50": self.frame_ms_p50,
            "frame_ms_p99": self.frame_ms_p99,
            "frame_ms_max": self.frame_ms_max,
            "budget_ms": self.budget_ms,
            "budget_resumes": self.budget_resumes,
            "overruns": self.overruns,
            "world_hash": format!("{:016x}", self.world_hash),
            "inject_panics": self.inject_panics,
            "panics_injected": self.panics_injected,
            "panics_reported": self.panics_reported,
            "stacks_in_use_start": self.stacks_in_use_start,
            "stacks_in_use_end": self.stacks_in_use_end,
            "actors_end": self.actors_end,
            "stacks_in_use_after_teardown": self.stacks_in_use_after_teardown,
            "books_balance": self.books_balance(),
        })
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} frames, {:.1} s of game time",
            self.scenario, self.frames, self.game_seconds
        )?;
        for (i, name) in self.fleets.iter().enumerate() {
            writeln!(
                f,
                "  {name:<12} {:>5} of {:>5} left  {:>5} destroyed  {:>5} warped out  \
                 {:>6} shots, {:>6} hits",
                self.ships_alive[i],
                self.ships_start[i] + self.reinforcements[i],
                self.destroyed[i],
                self.warped_out[i],
                self.shots[i],
                self.hits[i],
            )?;
            if self.crashed[i] > 0 || self.reinforcements[i] > 0 {
                writeln!(
                    f,
                    "  {:<12} {:>5} crashed (injected panics), {:>5} came in as reinforcements",
                    "", self.crashed[i], self.reinforcements[i]
                )?;
            }
        }
        match (self.outcome, &self.winner) {
            (Outcome::Winner(_), Some(name)) => writeln!(f, "  outcome: {name} won")?,
            (Outcome::Draw, _) => writeln!(
                f,
                "  outcome: a draw; no fleet is left on the field (the last ships went down \
                 together)"
            )?,
            _ => writeln!(
                f,
                "  outcome: undecided; both fleets were still fighting when the battle \
                 stopped after {} frames",
                self.frames
            )?,
        }
        let budget = match (self.budget_ms, self.budget_resumes) {
            (Some(ms), _) => format!("{ms} ms of tasklets per frame"),
            (None, Some(n)) => format!("{n} resumes per frame"),
            (None, None) => "unlimited".to_owned(),
        };
        writeln!(
            f,
            "  frame time: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; budget: {budget}, \
             ran out in {} frame(s)",
            self.frame_ms_p50, self.frame_ms_p99, self.frame_ms_max, self.overruns
        )?;
        if self.inject_panics > 0.0 {
            writeln!(
                f,
                "  faults: {} panics injected (rate {}), {} reported; stacks in use: {} at \
                 the start, {} at the end for {} live ships{}",
                self.panics_injected,
                self.inject_panics,
                self.panics_reported,
                self.stacks_in_use_start,
                self.stacks_in_use_end,
                self.actors_end,
                match self.stacks_in_use_after_teardown {
                    Some(n) => format!(", {n} after despawning them all"),
                    None => String::new(),
                }
            )?;
        }
        write!(f, "  world hash: {:016x}", self.world_hash)
    }
}
