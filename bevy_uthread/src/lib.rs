//! Stackless-style scripts for Bevy entities: each entity with a [`Script`] owns a
//! tasklet (a stackful microthread from `uthread`) running plain sequential code that
//! can wait anywhere — for the next frame, for virtual time, for a message — and
//! [`UthreadPlugin`] resumes the ready ones once per frame within a budget, carrying
//! the rest over to the next frame in order, as CCP Games drove EVE Online's entities
//! with Stackless Python.
//!
//! The budgeted pump, the frame stats, the slice watchdog and the world loan are the
//! same code as the hecs engine's (`frame_core`); this crate is the Bevy host.
//!
//! # Examples
//!
//! A guard walks between two posts, waiting half a second of virtual time at each:
//!
//! ```
//! use std::time::Duration;
//! use bevy_app::App;
//! use bevy_ecs::prelude::*;
//! use bevy_time::{TimePlugin, TimeUpdateStrategy};
//! use bevy_uthread::{Budget, Script, ScriptStats, UthreadPlugin};
//!
//! #[derive(Component, Clone)]
//! struct Pos(i32);
//!
//! let mut app = App::new();
//! app.add_plugins((TimePlugin, UthreadPlugin::default().budget(Budget::Resumes(100))))
//!     .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(100)));
//! let guard = app.world_mut().spawn((Pos(0), Script::new(|ctx| loop {
//!     for target in [3, 0] {
//!         // "Walk to the post": one step a frame.
//!         while let Some(step) = ctx.get::<Pos>().map(|p| (target - p.0).signum()) {
//!             if step == 0 { break }
//!             ctx.update(|p: &mut Pos| p.0 += step);
//!             ctx.next_frame().unwrap();
//!         }
//!         ctx.sleep(Duration::from_millis(500)).unwrap(); // "look around"
//!     }
//! }).name("guard"))).id();
//!
//! let mut path = Vec::new();
//! for _ in 0..16 {
//!     app.update();
//!     path.push(app.world().get::<Pos>(guard).unwrap().0);
//! }
//! assert_eq!(path, [1, 2, 3, 3, 3, 3, 3, 3, 2, 1, 0, 0, 0, 0, 0, 0]);
//! assert_eq!(app.world().resource::<ScriptStats>().sleeping, 1);
//! ```
#![doc(html_no_source)]

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod access;
mod context;
mod error;
mod frame;
mod hub;
mod plugin;
mod route;
mod runtime;
mod script;

pub use access::ScriptWorld;
pub use context::ScriptContext;
pub use error::SendError;
pub use frame::run_scripts;
pub use frame_core::{
    Budget, CrashPolicy, FrameStats, Incident, IncidentKind, OnReturn, SliceOverrun, SliceSummary,
    StableHasher, WatchdogPolicy,
};
pub use plugin::{ScriptSystems, UthreadPlugin};
pub use route::ScriptAppExt;
pub use runtime::{ScriptRuntime, ScriptStats};
pub use script::{Script, ScriptCrashed};

/// A script's inbox for messages of type `M` (the shared [`frame_core::Inbox`], for
/// Bevy entities): get one with [`ScriptContext::inbox`].
pub type Inbox<M> = frame_core::Inbox<M, bevy_ecs::entity::Entity>;
