//! What a frame did, and per-tasklet timers: the shared figures of `frame_core`, for
//! hecs entities.

use hecs::Entity;

/// What one frame did. Returned by [`FrameDriver::tick`](crate::FrameDriver::tick).
pub type FrameStats = frame_core::FrameStats<Entity>;

/// The longest slice of a frame, and whose it was.
pub type SliceSummary = frame_core::SliceSummary<Entity>;

/// Something that went wrong with an actor, named so that it can be found.
pub type Incident = frame_core::Incident<Entity>;

/// One actor's accumulated timers: how long it has run in all and how many times it
/// was resumed.
pub type TaskletTimes = frame_core::TaskletTimes<Entity>;
