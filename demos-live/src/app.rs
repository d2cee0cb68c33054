//! The live skirmish between two host frames: the battle, the player's controls, what
//! is on screen, and the input that changes them. The host loop (`src/main.rs`) ticks
//! the battle's frame driver; this is everything around that call.

use std::time::Duration;

use demos::scenario::Scenario;
use demos::skirmish::{Motion, Outcome, Ship, Skirmish};
use engine::{Budget, FrameStats};
use hecs::Entity;
use macroquad::input::{
    is_key_pressed, is_mouse_button_pressed, mouse_position, KeyCode, MouseButton,
};
use macroquad::math::Vec2;

use crate::colours;
use crate::controls::Controls;
use crate::effects::Effects;
use crate::history::{BudgetUse, FrameHistory, Sample};
use crate::hud::{self, Departed, HudFigures};
use crate::inspect::ShipReport;
use crate::scene::{self, Starfield};
use crate::view::{Layout, View};

/// How many frames the budget graph shows.
const GRAPH_FRAMES: usize = 240;
/// How far from a ship a click may land and still select it, pixels.
const CLICK_REACH: f32 = 18.0;

/// What the player asked the host loop to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Carry on.
    Continue,
    /// Close the window.
    Quit,
}

/// The ship the inspector shows.
#[derive(Clone, Debug, PartialEq)]
struct Selection {
    entity: Entity,
    /// Its tasklet's name, kept for after it has gone.
    name: String,
    /// Set once it has left the battle.
    gone: Option<Departed>,
}

/// A battle on screen.
#[derive(Debug)]
pub struct Live {
    /// The battle: its world, its frame driver and what they share.
    pub skirmish: Skirmish,
    /// Pause, speed and budget, as the player set them.
    pub controls: Controls,
    scenario: Scenario,
    seed: u64,
    effects: Effects,
    history: FrameHistory,
    /// The stats of the last frame ticked, and the budget it had.
    last: (FrameStats, Budget),
    selected: Option<Selection>,
    stars: Starfield,
}

impl Live {
    /// Sets `scenario` up with `seed`, to be played with `controls`.
    ///
    /// # Errors
    ///
    /// The engine's spawn error when a ship's tasklet cannot be made.
    pub fn new(
        scenario: Scenario,
        seed: u64,
        controls: Controls,
    ) -> Result<Live, engine::SpawnError> {
        let skirmish = Skirmish::new(scenario.clone(), seed, controls.budget())?;
        Ok(Live {
            skirmish,
            last: (FrameStats::default(), controls.budget()),
            controls,
            scenario,
            seed,
            effects: Effects::new(),
            history: FrameHistory::new(GRAPH_FRAMES),
            selected: None,
            stars: Starfield::new(420, seed ^ 0x5eed_57a2),
        })
    }

    /// The same battle again from the start (the controls stay as they are).
    ///
    /// # Errors
    ///
    /// As [`Live::new`].
    pub fn restart(&mut self) -> Result<(), engine::SpawnError> {
        let budget = self.controls.budget();
        self.skirmish = Skirmish::new(self.scenario.clone(), self.seed, budget)?;
        self.effects.clear();
        self.history.clear();
        self.last = (FrameStats::default(), budget);
        self.selected = None;
        Ok(())
    }

    /// Selects the ship whose tasklet is called `name`; whether there is one.
    pub fn select_by_name(&mut self, name: &str) -> bool {
        let found = self.ships().into_iter().find(|(e, _)| {
            self.skirmish
                .driver
                .tasklet_of(*e)
                .and_then(|t| t.name())
                .is_some_and(|n| n == name)
        });
        self.selected = found.map(|(entity, _)| self.selection(entity));
        self.selected.is_some()
    }

    fn selection(&self, entity: Entity) -> Selection {
        let name = self
            .skirmish
            .driver
            .tasklet_of(entity)
            .and_then(|t| t.name())
            .unwrap_or_else(|| format!("{entity:?}"));
        Selection {
            entity,
            name,
            gone: None,
        }
    }

    /// The ships on the field with their positions, metres, in entity order.
    fn ships(&self) -> Vec<(Entity, (f64, f64))> {
        let mut ships: Vec<(Entity, (f64, f64))> = self
            .skirmish
            .world
            .query::<(Entity, &Ship, &Motion)>()
            .iter()
            .map(|(e, _, m)| (e, (m.position.x, m.position.y)))
            .collect();
        ships.sort_by_key(|(e, _)| *e);
        ships
    }

    /// The view of the arena in a window laid out as `layout`.
    pub fn view(&self, layout: &Layout) -> View {
        let arena = self.skirmish.battle.scenario.arena;
        View::new((arena.width, arena.height), layout.field)
    }

    /// Reads this frame's keys and clicks.
    pub fn handle_input(&mut self, layout: &Layout) -> Request {
        let pressed = |keys: &[KeyCode]| keys.iter().any(|k| is_key_pressed(*k));
        if pressed(&[KeyCode::Space, KeyCode::P]) {
            self.controls.toggle_pause();
        }
        if pressed(&[KeyCode::N, KeyCode::Period, KeyCode::Right]) {
            self.controls.request_step();
        }
        if pressed(&[KeyCode::Equal, KeyCode::KpAdd, KeyCode::Up]) {
            self.controls.faster();
        }
        if pressed(&[KeyCode::Minus, KeyCode::KpSubtract, KeyCode::Down]) {
            self.controls.slower();
        }
        if pressed(&[KeyCode::LeftBracket]) {
            self.controls.tighter_budget();
        }
        if pressed(&[KeyCode::RightBracket]) {
            self.controls.looser_budget();
        }
        if pressed(&[KeyCode::B]) {
            self.controls.switch_budget_kind();
        }
        if pressed(&[KeyCode::Tab]) {
            self.select_next();
        }
        if pressed(&[KeyCode::R]) {
            if let Err(e) = self.restart() {
                eprintln!("skirmish-live: cannot restart: {e}");
                return Request::Quit;
            }
        }
        if pressed(&[KeyCode::Q]) {
            return Request::Quit;
        }
        if pressed(&[KeyCode::Escape]) {
            if self.selected.is_none() {
                return Request::Quit;
            }
            self.selected = None;
        }
        if is_mouse_button_pressed(MouseButton::Left) {
            let (x, y) = mouse_position();
            let on_inspector =
                self.selected.is_some() && layout.inspector.contains(Vec2::new(x, y));
            if !layout.hud.contains(Vec2::new(x, y)) && !on_inspector {
                let picked = self
                    .view(layout)
                    .pick(Vec2::new(x, y), CLICK_REACH, self.ships());
                self.selected = picked.map(|entity| self.selection(entity));
            }
        }
        Request::Continue
    }

    /// Selects the ship after the selected one (in entity order), or the first.
    fn select_next(&mut self) {
        let ships = self.ships();
        let current = self.selected.as_ref().map(|s| s.entity);
        let next = ships
            .iter()
            .map(|(e, _)| *e)
            .find(|e| current.is_some_and(|c| *e > c))
            .or_else(|| ships.first().map(|(e, _)| *e));
        self.selected = next.map(|entity| self.selection(entity));
    }

    /// Takes in the frame the host just ticked: its stats, its shots and departures.
    pub fn ticked(&mut self) {
        let budget = self.skirmish.driver.budget();
        let stats = self.skirmish.driver.stats().clone();
        let used = BudgetUse::of(&stats, budget);
        self.history.push(Sample {
            fraction: used.fraction,
            spent: used.spent,
            deferred: stats.deferred,
        });
        self.last = (stats, budget);
        let now = self.skirmish.driver.now().as_secs_f64();
        let (shots, departures) = self.skirmish.drain_log();
        if let Some(selected) = &mut self.selected {
            if let Some(d) = departures.iter().find(|d| d.entity == selected.entity) {
                selected.gone = Some(Departed {
                    name: selected.name.clone(),
                    fleet: d.fleet,
                    destroyed: d.destroyed,
                    at: now,
                });
            }
        }
        self.effects.add(now, shots, departures);
        self.effects.forget_faded(now);
    }

    /// Draws the battle and the panels for a host frame that took `frame_time`;
    /// `wall_time` (seconds) animates the selection ring.
    pub fn draw(&mut self, layout: &Layout, frame_time: Duration, wall_time: f64) {
        let view = self.view(layout);
        let now = self.skirmish.driver.now().as_secs_f64();
        scene::draw_field(&view, &self.stars, (layout.screen.w, layout.screen.h));
        scene::draw_shots(&self.effects, now, &view);
        scene::draw_warp_outs(&self.effects, now, &view);
        scene::draw_ships(&self.skirmish, &view);
        scene::draw_explosions(&self.effects, now, &view);

        // The selection: a ship still flying has a report; one that left, its fate.
        let mut report = None;
        if let Some(selected) = &mut self.selected {
            report = ShipReport::of(&self.skirmish, selected.entity);
            if report.is_none() && selected.gone.is_none() {
                // Despawned without a departure record (stopped): nothing to show.
                self.selected = None;
            }
        }
        if let Some(selected) = &self.selected {
            scene::draw_selection(&self.skirmish, selected.entity, &view, wall_time);
            match (&report, &selected.gone) {
                (Some(r), _) => hud::draw_inspector(&self.skirmish, Ok(r), layout),
                (None, Some(gone)) => hud::draw_inspector(&self.skirmish, Err(gone), layout),
                (None, None) => {}
            }
        }

        let (stats, budget) = &self.last;
        let figures = HudFigures {
            stats,
            budget: *budget,
            frame_time,
            history: &self.history,
            controls: &self.controls,
        };
        hud::draw_hud(&self.skirmish, &figures, layout);
        hud::draw_help(layout);
        let outcome = self.skirmish.outcome();
        if let Outcome::Winner(winner) = outcome {
            let name = &self.skirmish.battle.scenario.fleets[winner].name;
            hud::draw_banner(
                &format!("{name} holds the field"),
                "R: fight it again",
                colours::fleet(winner),
                layout,
            );
        } else if outcome == Outcome::Draw {
            hud::draw_banner(
                "A draw: no fleet holds the field",
                "R: fight it again",
                colours::WARN,
                layout,
            );
        } else if self.controls.is_paused() {
            hud::draw_banner(
                "PAUSED",
                "Space: resume   N: one frame",
                colours::WARN,
                layout,
            );
        }
    }
}
