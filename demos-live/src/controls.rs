//! What the player controls between frames: pause, single steps, the game clock's speed
//! and the tasklet budget, and how much game time the next tick gets.

use std::time::Duration;

use engine::Budget;

/// Speeds of the game clock the player steps through, as multiples of wall time.
pub const SPEEDS: [f64; 7] = [0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0];

/// Time budgets the player steps through, milliseconds: from far more than 40 ships
/// need down to a few microseconds, where most tasklets are deferred.
pub const TIME_BUDGETS_MS: [f64; 14] = [
    0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0,
];

/// Resume budgets the player steps through, slices per frame.
pub const RESUME_BUDGETS: [u64; 14] = [
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536,
];

/// The longest frame time one tick may turn into game time: after a stall (the window
/// dragged, a breakpoint) the battle resumes instead of jumping ahead.
pub const LONGEST_FRAME: Duration = Duration::from_millis(100);

/// How the game clock advances per tick.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ClockMode {
    /// By the host's frame time (times the speed): normal play.
    FrameTime,
    /// By this fixed step (times the speed) whatever the frame time: captures that do
    /// not depend on how fast the machine draws.
    Fixed(Duration),
}

/// The player's settings and pending requests.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use demos_live::{ClockMode, Controls};
/// use engine::Budget;
///
/// let step = Duration::from_millis(50);
/// let mut controls = Controls::new(Budget::Time(Duration::from_millis(4)), 1.0, ClockMode::FrameTime, step);
/// let frame = Duration::from_millis(16);
/// assert_eq!(controls.game_dt(frame), Some(frame));
/// controls.toggle_pause();
/// assert_eq!(controls.game_dt(frame), None); // paused: no tick
/// controls.request_step();
/// assert_eq!(controls.game_dt(frame), Some(step)); // one step of the scenario's time step
/// assert_eq!(controls.game_dt(frame), None);
/// controls.tighter_budget();
/// assert_eq!(controls.budget(), Budget::Time(Duration::from_millis(2)));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Controls {
    paused: bool,
    /// A single step asked for while paused, not yet taken.
    step_pending: bool,
    speed: f64,
    budget: Budget,
    clock: ClockMode,
    /// The scenario's time step: what a single step advances the clock by.
    step: Duration,
}

impl Controls {
    /// Running, at `speed` times wall time, with `budget` per frame; the clock advances
    /// as `clock` says, and a single step by `step` (the scenario's time step).
    pub fn new(budget: Budget, speed: f64, clock: ClockMode, step: Duration) -> Controls {
        Controls {
            paused: false,
            step_pending: false,
            speed,
            budget,
            clock,
            step,
        }
    }

    /// The game time the next tick advances by, given the host's last frame time; `None`
    /// when paused with no step asked for (the host then does not tick at all).
    pub fn game_dt(&mut self, frame_time: Duration) -> Option<Duration> {
        if self.paused {
            if !std::mem::take(&mut self.step_pending) {
                return None;
            }
            return Some(self.step);
        }
        let wall = match self.clock {
            ClockMode::FrameTime => frame_time.min(LONGEST_FRAME),
            ClockMode::Fixed(step) => step,
        };
        Some(wall.mul_f64(self.speed))
    }

    /// Pauses or resumes.
    pub fn toggle_pause(&mut self) {
        self.paused = !self.paused;
        self.step_pending = false;
    }

    /// Whether the game is paused.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Asks for one tick of the scenario's time step; pauses first if running.
    pub fn request_step(&mut self) {
        self.paused = true;
        self.step_pending = true;
    }

    /// The game clock's speed, a multiple of wall time.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Runs the game clock at the next faster speed of [`SPEEDS`].
    pub fn faster(&mut self) {
        if let Some(s) = SPEEDS.iter().find(|s| **s > self.speed * 1.0001) {
            self.speed = *s;
        }
    }

    /// Runs the game clock at the next slower speed of [`SPEEDS`].
    pub fn slower(&mut self) {
        if let Some(s) = SPEEDS.iter().rev().find(|s| **s < self.speed * 0.9999) {
            self.speed = *s;
        }
    }

    /// The budget of the tasklet phase, for the next tick.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// The next smaller budget of its kind ([`TIME_BUDGETS_MS`] or [`RESUME_BUDGETS`]).
    pub fn tighter_budget(&mut self) {
        self.budget = match self.budget {
            Budget::Time(d) => {
                let ms = d.as_secs_f64() * 1000.0;
                TIME_BUDGETS_MS
                    .iter()
                    .rev()
                    .find(|b| **b < ms * 0.9999)
                    .map_or(self.budget, |b| time_budget(*b))
            }
            Budget::Resumes(n) => RESUME_BUDGETS
                .iter()
                .rev()
                .find(|b| **b < n)
                .map_or(self.budget, |b| Budget::Resumes(*b)),
            Budget::Unlimited => time_budget(TIME_BUDGETS_MS[TIME_BUDGETS_MS.len() - 1]),
        };
    }

    /// The next larger budget of its kind.
    pub fn looser_budget(&mut self) {
        self.budget = match self.budget {
            Budget::Time(d) => {
                let ms = d.as_secs_f64() * 1000.0;
                TIME_BUDGETS_MS
                    .iter()
                    .find(|b| **b > ms * 1.0001)
                    .map_or(self.budget, |b| time_budget(*b))
            }
            Budget::Resumes(n) => RESUME_BUDGETS
                .iter()
                .find(|b| **b > n)
                .map_or(self.budget, |b| Budget::Resumes(*b)),
            Budget::Unlimited => Budget::Unlimited,
        };
    }

    /// Switches between a time budget and a resume budget (16 resumes, or 1 ms).
    pub fn switch_budget_kind(&mut self) {
        self.budget = match self.budget {
            Budget::Time(_) | Budget::Unlimited => Budget::Resumes(16),
            Budget::Resumes(_) => time_budget(1.0),
        };
    }
}

fn time_budget(ms: f64) -> Budget {
    Budget::Time(Duration::from_secs_f64(ms / 1000.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEP: Duration = Duration::from_millis(50);

    fn controls(budget: Budget) -> Controls {
        Controls::new(budget, 1.0, ClockMode::FrameTime, STEP)
    }

    #[test]
    fn the_frame_time_is_scaled_by_the_speed_and_capped() {
        let mut c = controls(Budget::Resumes(8));
        c.faster();
        c.faster();
        assert_eq!(c.speed(), 4.0);
        let frame = Duration::from_millis(10);
        assert_eq!(c.game_dt(frame), Some(Duration::from_millis(40)));
        let stall = Duration::from_secs(3);
        assert_eq!(c.game_dt(stall), Some(LONGEST_FRAME * 4));
        for _ in 0..20 {
            c.slower();
        }
        assert_eq!(c.speed(), SPEEDS[0]);
        for _ in 0..20 {
            c.faster();
        }
        assert_eq!(c.speed(), SPEEDS[SPEEDS.len() - 1]);
    }

    #[test]
    fn a_fixed_clock_ignores_the_frame_time() {
        let mut c = Controls::new(Budget::Resumes(8), 2.0, ClockMode::Fixed(STEP), STEP);
        assert_eq!(c.game_dt(Duration::from_secs(1)), Some(STEP * 2));
        assert_eq!(c.game_dt(Duration::ZERO), Some(STEP * 2));
    }

    #[test]
    fn paused_means_no_tick_and_each_step_is_one_tick() {
        let mut c = controls(Budget::Resumes(8));
        let frame = Duration::from_millis(16);
        c.request_step();
        assert!(c.is_paused(), "stepping pauses");
        assert_eq!(c.game_dt(frame), Some(STEP));
        assert_eq!(c.game_dt(frame), None);
        c.request_step();
        c.request_step(); // asked twice in one frame: still one tick
        assert_eq!(c.game_dt(frame), Some(STEP));
        assert_eq!(c.game_dt(frame), None);
        c.toggle_pause();
        assert_eq!(c.game_dt(frame), Some(frame));
    }

    #[test]
    fn time_budgets_step_along_the_ladder_from_any_start() {
        let mut c = controls(Budget::Time(Duration::from_secs_f64(0.003)));
        c.tighter_budget();
        assert_eq!(c.budget(), time_budget(2.0));
        c.looser_budget();
        c.looser_budget();
        assert_eq!(c.budget(), time_budget(8.0));
        for _ in 0..30 {
            c.tighter_budget();
        }
        assert_eq!(c.budget(), time_budget(TIME_BUDGETS_MS[0]));
        for _ in 0..30 {
            c.looser_budget();
        }
        assert_eq!(c.budget(), time_budget(32.0));
    }

    #[test]
    fn resume_budgets_step_and_the_kind_switches() {
        let mut c = controls(Budget::Resumes(3));
        c.tighter_budget();
        assert_eq!(c.budget(), Budget::Resumes(2));
        c.looser_budget();
        assert_eq!(c.budget(), Budget::Resumes(4));
        c.looser_budget();
        assert_eq!(c.budget(), Budget::Resumes(8));
        c.switch_budget_kind();
        assert_eq!(c.budget(), time_budget(1.0));
        c.switch_budget_kind();
        assert_eq!(c.budget(), Budget::Resumes(16));
    }
}
