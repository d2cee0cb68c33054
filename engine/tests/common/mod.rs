//! Helpers shared by the engine's integration tests.
#![allow(dead_code, reason = "each test file uses a different subset")]

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

/// One frame at 60 Hz.
pub const DT: Duration = Duration::from_micros(16_667);

/// Counts how many times values it hands out are dropped.
#[derive(Clone, Default)]
pub struct Drops(Rc<Cell<u32>>);

impl Drops {
    pub fn new() -> Drops {
        Drops::default()
    }

    /// A value whose drop is counted here.
    pub fn token(&self) -> Token {
        Token(self.0.clone())
    }

    pub fn count(&self) -> u32 {
        self.0.get()
    }
}

/// Dropped exactly once, if destructors run as they should.
pub struct Token(Rc<Cell<u32>>);

impl Drop for Token {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// A shared log of what happened, in order.
#[derive(Clone, Default)]
pub struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    pub fn new() -> Log {
        Log::default()
    }

    pub fn push(&self, entry: impl Into<String>) {
        self.0.borrow_mut().push(entry.into());
    }

    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.borrow_mut())
    }
}

/// Busy-waits for `d` of wall time (a slice that does real work).
pub fn spin(d: Duration) {
    let start = std::time::Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// Stack copying for the tests that run actors on both strategies.
#[allow(unsafe_code, reason = "the tests' opt-in to stack copying")]
pub fn copying() -> engine::StackStrategy {
    // SAFETY: the actors of these tests keep no pointer into their stacks across a
    // blocking call: they lend no local to another thread or tasklet and pin no future.
    unsafe { engine::StackStrategy::copying() }
}

pub mod shards;
