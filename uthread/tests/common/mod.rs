//! Helpers shared by the uthread integration tests: drop counters and an ordered log.
#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the helpers"
)]

use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Counts the drops of the guards it hands out.
#[derive(Clone, Debug, Default)]
pub struct DropCounter(Rc<Cell<usize>>);

impl DropCounter {
    pub fn new() -> DropCounter {
        DropCounter::default()
    }

    /// A new guard; dropping it adds one to the count.
    pub fn guard(&self) -> DropGuard {
        DropGuard(self.0.clone())
    }

    /// Drops counted so far.
    pub fn count(&self) -> usize {
        self.0.get()
    }
}

/// Adds one to its counter when dropped.
#[derive(Debug)]
pub struct DropGuard(Rc<Cell<usize>>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// An ordered record of what happened, shared by tasklets and the test.
#[derive(Clone, Debug, Default)]
pub struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    pub fn new() -> Log {
        Log::default()
    }

    pub fn push(&self, event: impl Into<String>) {
        self.0.borrow_mut().push(event.into());
    }

    /// Everything logged so far, leaving the log empty.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.borrow_mut())
    }

    /// Everything logged so far.
    pub fn get(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
}
