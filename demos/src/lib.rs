//! The demos' shared code: the skirmish and its scenario format, the galaxy, the swarm, the
//! GIF renderer, the hackysack game, and the pieces they share (a 2-D vector, percentiles
//! and memory readings, the engine's seeded random number generator). Each demo is a
//! binary in `src/bin/`; this library holds what they share and what the tests exercise.
//!
//! # Examples
//!
//! ```
//! // Load the default skirmish scenario and look at its fleets.
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/skirmish.ron");
//! let scenario = demos::scenario::Scenario::load(path).unwrap();
//! assert_eq!(scenario.fleets.len(), 2);
//! assert!(scenario.fleets.iter().all(|fleet| fleet.ship_count() > 0));
//! ```

pub mod cli;
pub mod galaxy;
pub mod hackysack;
pub mod measure;
pub mod progress;
pub mod render;
pub mod scenario;
pub mod skirmish;
pub mod swarm;
mod vec2;

/// The seeded generator every demo draws from: the engine's, so that a battle, its
/// actors and its set-up share one algorithm.
pub use engine::Rng;
pub use vec2::Vec2;
