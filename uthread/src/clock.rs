//! The scheduler's clock (real or manual game time) and its timer heap.
//!
//! Game time is a [`Duration`] since the scheduler's clock started. A manual clock only
//! moves when its owner calls [`Scheduler::advance`](crate::Scheduler::advance) (the frame
//! driver, a test); a real clock follows `Instant::now()`. Sleepers sit in a binary heap
//! ordered by deadline, so a tick looks only at the timers that are due: a million
//! sleepers cost nothing until they wake.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use crate::id::Key;

/// Which clock a scheduler follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockKind {
    /// Monotonic wall time (`Instant::now()`); for standalone use.
    Real,
    /// Advanced only by [`Scheduler::advance`](crate::Scheduler::advance): deterministic,
    /// for frame drivers and tests.
    Manual,
}

/// The scheduler's clock.
#[derive(Debug)]
pub(crate) struct Clock {
    kind: ClockKind,
    epoch: Instant,
    manual: Duration,
}

impl Clock {
    pub(crate) fn new(kind: ClockKind) -> Clock {
        Clock {
            kind,
            epoch: Instant::now(),
            manual: Duration::ZERO,
        }
    }

    pub(crate) fn is_manual(&self) -> bool {
        self.kind == ClockKind::Manual
    }

    pub(crate) fn kind(&self) -> ClockKind {
        self.kind
    }

    /// Time since the clock started.
    pub(crate) fn now(&self) -> Duration {
        match self.kind {
            ClockKind::Real => self.epoch.elapsed(),
            ClockKind::Manual => self.manual,
        }
    }

    /// Moves a manual clock forward (a real clock ignores this).
    pub(crate) fn advance(&mut self, dt: Duration) {
        if self.kind == ClockKind::Manual {
            self.manual = self.manual.saturating_add(dt);
        }
    }
}

/// Pending timers. Entries of tasklets woken early stay in the heap until they come up
/// (or the heap is compacted), and are skipped by their `block_seq`.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Duration, u64, Key, u32)>>,
    /// Tie-breaker: timers with equal deadlines fire in the order they were set.
    counter: u64,
    /// Entries known to be stale.
    stale: usize,
}

impl Timers {
    pub(crate) fn push(&mut self, deadline: Duration, key: Key, seq: u32) {
        self.counter += 1;
        self.heap.push(Reverse((deadline, self.counter, key, seq)));
    }

    /// An armed timer's tasklet was woken some other way.
    pub(crate) fn note_stale(&mut self) {
        self.stale += 1;
    }

    /// Timers that may still fire.
    pub(crate) fn live(&self) -> usize {
        self.heap.len().saturating_sub(self.stale)
    }

    pub(crate) fn next_deadline(&self) -> Option<Duration> {
        self.heap.peek().map(|Reverse((d, ..))| *d)
    }

    /// The next entry due at `now`. The caller checks it is still valid; an invalid one
    /// was stale, and is accounted for here.
    pub(crate) fn pop_due(&mut self, now: Duration) -> Option<(Key, u32)> {
        match self.heap.peek() {
            Some(Reverse((deadline, ..))) if *deadline <= now => {
                let Reverse((_, _, key, seq)) = self.heap.pop()?;
                Some((key, seq))
            }
            _ => None,
        }
    }

    /// Called when a popped entry turned out stale.
    pub(crate) fn popped_stale(&mut self) {
        self.stale = self.stale.saturating_sub(1);
    }

    /// Drops stale entries from the top of the heap, so that [`Timers::next_deadline`]
    /// names a timer that can still fire.
    pub(crate) fn drop_stale_front(&mut self, is_live: impl Fn(Key, u32) -> bool) {
        while let Some(Reverse((_, _, key, seq))) = self.heap.peek() {
            if is_live(*key, *seq) {
                break;
            }
            self.heap.pop();
            self.popped_stale();
        }
    }

    /// Rebuilds the heap without stale entries when they dominate it.
    pub(crate) fn compact_if_needed(&mut self, is_live: impl Fn(Key, u32) -> bool) {
        if self.heap.len() > 1024 && self.stale > self.heap.len() / 2 {
            let entries = std::mem::take(&mut self.heap).into_vec();
            self.heap = entries
                .into_iter()
                .filter(|Reverse((_, _, key, seq))| is_live(*key, *seq))
                .collect();
            self.stale = 0;
        }
    }
}
