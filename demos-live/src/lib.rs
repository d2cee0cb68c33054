//! The skirmish live in a window: [macroquad] owns the game loop, and once per frame it
//! calls the engine's `FrameDriver::tick` with its frame time and the tasklet budget the
//! player set, just as a game would. The battle is the headless skirmish's (the same
//! scenario files, behaviours, systems and engine, from the `demos` crate); this crate
//! adds the picture, the HUD, the ship inspector and the keys. The loop itself is in
//! the `skirmish-live` binary (`src/main.rs`).
//!
//! # Examples
//!
//! The controls turn the host's frame time into the game time of the next tick:
//!
//! ```
//! use std::time::Duration;
//! use demos_live::{ClockMode, Controls};
//! use engine::Budget;
//!
//! let step = Duration::from_millis(50);
//! let mut controls =
//!     Controls::new(Budget::Resumes(100), 1.0, ClockMode::FrameTime, step);
//! controls.faster();
//! assert_eq!(controls.game_dt(Duration::from_millis(16)), Some(Duration::from_millis(32)));
//! ```

mod app;
pub mod colours;
mod controls;
mod effects;
mod history;
mod hud;
mod inspect;
mod scene;
pub mod screenshot;
mod view;

pub use app::{Live, Request};
pub use controls::{ClockMode, Controls, LONGEST_FRAME, RESUME_BUDGETS, SPEEDS, TIME_BUDGETS_MS};
pub use effects::{Effects, EXPLOSION_LIFE, SHOT_LIFE, WARP_LIFE};
pub use history::{ms, BudgetUse, FrameHistory, Sample};
pub use hud::{draw_banner, draw_help, draw_hud, draw_inspector, Departed, HudFigures};
pub use inspect::{describe, ShipReport, Target};
pub use scene::{
    draw_explosions, draw_field, draw_selection, draw_ships, draw_shots, draw_warp_outs,
    health_colour, ship_radius, Starfield,
};
pub use view::{
    Layout, View, HELP_HEIGHT, HUD_HEIGHT, INSPECTOR_HEIGHT, INSPECTOR_WIDTH, PANEL_WIDTH,
};
