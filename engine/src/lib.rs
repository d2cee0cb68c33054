//! The frame driver: one tasklet per [hecs] entity, resumed once per frame within a
//! budget, as CCP Games drove EVE Online's entities with Stackless Python.
//!
//! An [`Actor`] is an entity plus a behaviour: plain sequential code that receives a
//! [`Context`] and may block anywhere (`be_nice`, `sleep`, receiving from its inbox, any
//! uthread primitive). A [`FrameDriver`] ticks once per frame: it advances the game
//! clock, runs the ECS systems, resumes ready tasklets until the budget is spent, applies
//! the commands they queued, and reports [`FrameStats`]. Systems and behaviours talk
//! through per-entity [`Inbox`]es and typed [`CommandQueue`]s. The phases and who may
//! touch what in each are in [`phases`]. To use more than one core, [`shard`] splits a
//! world into shards, each a world and its driver on a thread, exchanging messages and
//! entities at frame boundaries.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use engine::{Actor, Budget, FrameDriver};
//!
//! struct Pos(f32);
//! struct Damaged { amount: u32 }
//! struct Hull(u32);
//!
//! let mut world = hecs::World::new();
//! let budget = Budget::Time(Duration::from_millis(10));
//! let mut driver = FrameDriver::builder().budget(budget).build();
//! // A system: anything left of x = 5 is hit every frame.
//! driver.add_system("minefield", |sys| {
//!     let hits: Vec<_> = sys.world().query::<(hecs::Entity, &Pos)>().iter()
//!         .filter(|(_, p)| p.0 < 5.0)
//!         .map(|(e, _)| e)
//!         .collect();
//!     for e in hits {
//!         let _ = sys.send(e, Damaged { amount: 10 });
//!     }
//! });
//! // An actor: flies right one unit per frame, reacting to hits on the way.
//! let ship = driver.spawn(&mut world, (Pos(0.0), Hull(100)), Actor::new(|ctx| loop {
//!     while let Ok(Damaged { amount }) = ctx.try_recv() {
//!         ctx.update(|h: &mut Hull| h.0 -= amount);
//!     }
//!     ctx.update(|p: &mut Pos| p.0 += 1.0);
//!     ctx.be_nice().unwrap();
//! }).name("ship")).unwrap();
//!
//! for _ in 0..10 {
//!     let stats = driver.tick(&mut world, Duration::from_millis(16));
//!     assert_eq!(stats.resumed, 1);
//! }
//! assert_eq!(world.get::<&Pos>(ship).unwrap().0, 10.0);
//! assert_eq!(world.get::<&Hull>(ship).unwrap().0, 50); // hit at x = 0, 1, 2, 3, 4
//! ```

mod access;
mod actor;
mod command;
mod context;
mod driver;
mod error;
mod hash;
mod hub;
mod hub_state;
mod inbox;
pub mod phases;
mod rng;
pub mod shard;
mod stall;
mod stats;
mod system;
mod trace;

pub use access::WorldAccess;
pub use actor::{Actor, CrashPolicy, Crashed, OnReturn};
pub use command::{CommandQueue, Sent};
pub use context::Context;
pub use driver::{FrameDriver, FrameDriverBuilder};
pub use error::{SendError, SpawnError};
pub use frame_core::StableHasher;
pub use frame_core::{IncidentKind, PhaseTimes, SliceOverrun, WatchdogConfig, WatchdogPolicy};
pub use hash::WorldHasher;
pub use inbox::Inbox;
pub use rng::Rng;
pub use stall::DEFAULT_STALL_THRESHOLD;
pub use stats::{FrameStats, Incident, SliceSummary, TaskletTimes};
pub use system::SystemContext;
pub use trace::{Span, SpanKind, Trace, Track};
pub use uthread::{Budget, StackKind, StackStrategy};
