//! The engine-neutral core of a frame driver, shared by every host that gives game
//! entities Stackless-style tasklets: the hecs engine (`engine`) and the Bevy plugin
//! (`bevy_uthread`) both sit on it.
//!
//! - [`FramePump`]: the tasklet phase of a frame, resuming ready tasklets within a
//!   [`Budget`] (leftovers keep their order and run first next frame), counting what
//!   they did into [`FrameStats`], and logging slices for the watchdog and traces.
//! - [`judge_overruns`]: the slice watchdog's verdicts ([`WatchdogPolicy`]).
//! - [`WorldLoan`]: the host's world, lent to one slice at a time, with the backstop
//!   that evicts a tasklet which suspended while holding it.
//! - [`FrameStats`], [`Incident`], [`CrashPolicy`], [`OnReturn`]: the figures and
//!   policies every host reports and applies the same way, generic over its entity id.
//! - [`Registry`], [`ActorEvent`]: the actors a host knows, and what happened to them.
//! - [`Inbox`], [`Inboxes`]: each actor's typed inboxes, fed without blocking.
//! - [`StableHasher`]: for world hashes in determinism checks.
//!
//! It knows nothing of any ECS; `uthread` knows nothing of it.
//!
//! # Examples
//!
//! A minimal host: entities are `u32`s, the world is a `Vec` of positions, and each
//! entity's tasklet moves it one step per frame.
//!
//! ```
//! use std::rc::Rc;
//! use std::time::Duration;
//! use frame_core::{Budget, FramePump, FrameStats, WorldLoan};
//!
//! let scheduler = Rc::new(uthread::Scheduler::builder().manual_clock().build());
//! let loan: Rc<WorldLoan<Vec<i32>, u32>> = Rc::new(WorldLoan::new(Vec::new()));
//! for me in 0..3u32 {
//!     let loan = loan.clone();
//!     scheduler.spawn(move || loop {
//!         loan.borrow(me, |_| false)[me as usize] += 1; // this slice's access
//!         loan.release();
//!         uthread::be_nice().unwrap();
//!     }).unwrap();
//! }
//! let pump = FramePump::new(scheduler.clone(), Budget::Resumes(100), true, None);
//! let mut world = vec![0, 10, 20];
//! let mut stats = FrameStats::<u32>::default();
//! for frame in 1..=5 {
//!     stats.reset(frame);
//!     scheduler.advance(Duration::from_millis(16));
//!     let lent = loan.lend(&mut world, |_| false);
//!     let run = pump.run(&mut stats);
//!     lent.reclaim();
//!     assert!(run.failure.is_none());
//! }
//! assert_eq!(world, [5, 15, 25]);
//! assert_eq!((stats.resumed, stats.waiting_next_frame), (3, 3));
//! ```
#![doc(html_no_source)]

mod error;
mod hash;
mod inbox;
mod loan;
mod policy;
mod pump;
mod registry;
mod stats;
mod watchdog;

pub use error::SendError;
pub use hash::StableHasher;
pub use inbox::{Inbox, Inboxes};
pub use loan::{Lent, WorldLoan};
pub use policy::{CrashPolicy, OnReturn, WatchdogPolicy};
pub use pump::{FramePump, PumpRun};
pub use registry::{ActorEvent, ActorSlot, Registry};
pub use stats::{FrameStats, Incident, IncidentKind, PhaseTimes, SliceSummary, TaskletTimes};
pub use uthread::Budget;
pub use watchdog::{judge_overruns, Described, SliceOverrun, WatchdogConfig};
