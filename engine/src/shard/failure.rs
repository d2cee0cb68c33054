//! A shard that failed: a panic its frame driver does not contain (in a system, an
//! arrival handler or the host's observer), reported with the shard's name.

use std::any::Any;
use std::fmt;

use super::id::ShardId;

/// What a shard was doing when it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Its set-up (the closure given to [`ClusterBuilder::start`](super::ClusterBuilder::start)).
    Setup,
    /// Delivering messages at the start of a frame (an arrival handler panicked).
    Delivery,
    /// Its frame driver's tick (a system panicked; behaviours' panics are contained by
    /// the driver and never fail the shard).
    Tick,
    /// Handing entities over after the frame.
    Departures,
    /// The host's observer (after a frame, or at the end).
    Observer,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Setup => "set-up",
            Stage::Delivery => "message delivery",
            Stage::Tick => "tick",
            Stage::Departures => "departures",
            Stage::Observer => "observer",
        })
    }
}

/// A shard's failure. The shard stops running frames; the others carry on. Messages
/// sent to it from then on go back to their senders; its world and books stay for the
/// final report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardFailure {
    /// The shard.
    pub shard: ShardId,
    /// Its name.
    pub name: String,
    /// The frame it failed in (0 in set-up).
    pub frame: u64,
    /// What it was doing.
    pub stage: Stage,
    /// The system that panicked, if one did.
    pub system: Option<String>,
    /// The panic message.
    pub message: String,
}

impl fmt::Display for ShardFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} '{}' failed in frame {} ({}",
            self.shard, self.name, self.frame, self.stage
        )?;
        if let Some(system) = &self.system {
            write!(f, ", system '{system}'")?;
        }
        write!(f, "): {}", self.message)
    }
}

impl std::error::Error for ShardFailure {}

/// The message of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}
