//! The budget meter's figures: how much of the tasklet budget a frame used, and the
//! last few hundred frames of it for the HUD's graph.

use std::collections::VecDeque;
use std::time::Duration;

use engine::{Budget, FrameStats};

/// How much of its budget one frame's tasklet phase used.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use demos_live::BudgetUse;
/// use engine::{Budget, FrameStats};
///
/// let mut stats = FrameStats::default();
/// stats.resumed = 6;
/// let used = BudgetUse::of(&stats, Budget::Resumes(8));
/// assert_eq!(used.fraction, 0.75);
/// assert_eq!(used.text, "6 / 8 resumes");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetUse {
    /// Used over allowed: 0 (idle) to 1 (all of it), above 1 when a slice overshot.
    pub fraction: f64,
    /// Whether the phase stopped because the budget was spent.
    pub spent: bool,
    /// "0.012 / 4.000 ms" or "6 / 8 resumes".
    pub text: String,
}

impl BudgetUse {
    /// What `stats`' tasklet phase used of `budget`.
    pub fn of(stats: &FrameStats, budget: Budget) -> BudgetUse {
        let (fraction, text) = match budget {
            Budget::Time(allowed) => {
                let used = stats.time.tasklets;
                (
                    ratio(used.as_secs_f64(), allowed.as_secs_f64()),
                    format!("{} / {} ms", ms(used), ms(allowed)),
                )
            }
            Budget::Resumes(allowed) => (
                ratio(stats.resumed as f64, allowed as f64),
                format!("{} / {allowed} resumes", stats.resumed),
            ),
            Budget::Unlimited => (0.0, format!("{} ms, unlimited", ms(stats.time.tasklets))),
        };
        BudgetUse {
            fraction,
            spent: stats.budget_spent,
            text,
        }
    }
}

/// A duration in milliseconds with enough digits for microseconds.
pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.3}")
    } else {
        format!("{ms:.1}")
    }
}

fn ratio(used: f64, allowed: f64) -> f64 {
    if allowed > 0.0 {
        used / allowed
    } else {
        0.0
    }
}

/// One frame, as the graph draws it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// The share of the budget used (see [`BudgetUse::fraction`]).
    pub fraction: f64,
    /// Whether the budget was spent.
    pub spent: bool,
    /// Tasklets deferred to the next frame.
    pub deferred: usize,
}

/// The last frames' samples, oldest first.
#[derive(Clone, Debug)]
pub struct FrameHistory {
    samples: VecDeque<Sample>,
    capacity: usize,
}

impl FrameHistory {
    /// Room for the last `capacity` frames.
    pub fn new(capacity: usize) -> FrameHistory {
        FrameHistory {
            samples: VecDeque::with_capacity(capacity),
            capacity: capacity.max(1),
        }
    }

    /// Adds a frame, forgetting the oldest when full.
    pub fn push(&mut self, sample: Sample) {
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    /// Forgets every frame.
    pub fn clear(&mut self) {
        self.samples.clear();
    }

    /// How many frames it holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The frames held, oldest first.
    pub fn samples(&self) -> impl ExactSizeIterator<Item = &Sample> {
        self.samples.iter()
    }

    /// Frames held whose budget was spent.
    pub fn spent_frames(&self) -> usize {
        self.samples.iter().filter(|s| s.spent).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_budgets_compare_the_tasklet_phase_with_the_budget() {
        let mut stats = FrameStats::default();
        stats.time.tasklets = Duration::from_micros(500);
        stats.budget_spent = false;
        let used = BudgetUse::of(&stats, Budget::Time(Duration::from_millis(2)));
        assert_eq!(used.fraction, 0.25);
        assert_eq!(used.text, "0.500 / 2.000 ms");
        assert!(!used.spent);
        let unlimited = BudgetUse::of(&stats, Budget::Unlimited);
        assert_eq!(unlimited.fraction, 0.0);
        assert_eq!(unlimited.text, "0.500 ms, unlimited");
    }

    #[test]
    fn the_history_keeps_the_latest_frames() {
        let mut history = FrameHistory::new(3);
        for i in 0..5 {
            history.push(Sample {
                fraction: f64::from(i),
                spent: i % 2 == 0,
                deferred: 0,
            });
        }
        let kept: Vec<f64> = history.samples().map(|s| s.fraction).collect();
        assert_eq!(kept, [2.0, 3.0, 4.0]);
        assert_eq!(history.spent_frames(), 2);
        history.clear();
        assert_eq!(history.samples().len(), 0);
    }
}
