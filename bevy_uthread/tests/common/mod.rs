//! Helpers shared by the plugin's tests: an app on a manual 16 ms clock, and a drop
//! counter that scripts (which must be `Send`) can carry.
#![allow(dead_code, reason = "each test file uses a different subset")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bevy_app::App;
use bevy_time::{TimePlugin, TimeUpdateStrategy};
use bevy_uthread::UthreadPlugin;

/// The virtual time step of every frame (Bevy's first frame has a zero step).
pub const STEP: Duration = Duration::from_millis(16);

/// A headless app with virtual time advancing `STEP` a frame, and `plugin`.
pub fn app(plugin: UthreadPlugin) -> App {
    let mut app = App::new();
    app.add_plugins((TimePlugin, plugin))
        .insert_resource(TimeUpdateStrategy::ManualDuration(STEP));
    app
}

/// Runs `n` frames.
pub fn frames(app: &mut App, n: usize) {
    for _ in 0..n {
        app.update();
    }
}

/// Counts drops of its tokens.
#[derive(Clone, Default)]
pub struct DropCounter(Arc<AtomicUsize>);

impl DropCounter {
    pub fn token(&self) -> Token {
        Token(self.0.clone())
    }

    pub fn dropped(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Adds one to its counter when dropped.
pub struct Token(Arc<AtomicUsize>);

impl Drop for Token {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A log that scripts append to, in the order they run.
#[derive(Clone, Default)]
pub struct Log(Arc<std::sync::Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, line: impl Into<String>) {
        self.0.lock().unwrap().push(line.into());
    }

    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}
