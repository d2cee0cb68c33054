//! The panels over the battle: the HUD (fleets, frame time, the tasklet budget as a bar
//! and a graph, the frame's tasklet counts), the ship inspector, the key help and the
//! banners.

use std::time::Duration;

use demos::skirmish::Skirmish;
use engine::{Budget, FrameStats};
use macroquad::color::Color;
use macroquad::math::Rect;
use macroquad::shapes::{draw_line, draw_rectangle, draw_rectangle_lines};
use macroquad::text::{draw_text, measure_text};
use uthread::TaskletState;

use crate::colours::{self, faded};
use crate::controls::Controls;
use crate::history::{ms, BudgetUse, FrameHistory};
use crate::inspect::{ShipReport, Target};
use crate::scene::health_colour;
use crate::view::Layout;

/// Body text size, pixels.
const BODY: f32 = 16.0;
/// Line spacing of body text, pixels.
const LINE: f32 = 19.0;
/// Inner padding of panels, pixels.
const PAD: f32 = 12.0;
/// Where values start, from a panel's left edge, pixels.
const VALUE_X: f32 = 96.0;

/// What the HUD shows besides the battle itself.
#[derive(Debug)]
pub struct HudFigures<'a> {
    /// The last frame's stats, from the frame driver.
    pub stats: &'a FrameStats,
    /// The budget that frame ran with.
    pub budget: Budget,
    /// The host's frame time.
    pub frame_time: Duration,
    /// The budget graph's frames.
    pub history: &'a FrameHistory,
    /// Pause, speed and budget settings.
    pub controls: &'a Controls,
}

/// The HUD, top left.
pub fn draw_hud(skirmish: &Skirmish, figures: &HudFigures<'_>, layout: &Layout) {
    let area = layout.hud;
    panel(area);
    let (x, right) = (area.x + PAD, area.right() - PAD);
    let mut y = area.y + PAD + 14.0;

    let scenario = &skirmish.battle.scenario;
    text(&scenario.name.to_uppercase(), x, y, 20.0, colours::TEXT);
    let clock = format!("T+{:.1} s", skirmish.driver.now().as_secs_f64());
    text_right(&clock, right, y, 20.0, colours::TEXT);
    y += LINE;
    let speed = format!(
        "frame {}   game clock x{}",
        skirmish.driver.frame(),
        speed_text(figures.controls.speed())
    );
    text(&speed, x, y, BODY, colours::DIM);
    if figures.controls.is_paused() {
        text_right("PAUSED", right, y, BODY, colours::WARN);
    }
    y += LINE + 4.0;

    // The fleets: ships left of those that started.
    let on_field = skirmish.on_field();
    for (i, fleet) in scenario.fleets.iter().enumerate() {
        let start = skirmish.ships_start()[i].max(1);
        let left = on_field[i];
        let colour = colours::fleet(i);
        text(&fleet.name, x, y, BODY, colour);
        let bar = Rect::new(x + VALUE_X, y - 10.0, 150.0, 10.0);
        meter(bar, f64::from(left) / f64::from(start), colour);
        text_right(&format!("{left} / {start}"), right, y, BODY, colours::TEXT);
        y += LINE;
    }
    y += 4.0;
    rule(x, right, y - 12.0);
    y += 4.0;

    // The host's frame and the engine's tick.
    let frame_ms = figures.frame_time.as_secs_f64() * 1000.0;
    let fps = if frame_ms > 0.0 {
        1000.0 / frame_ms
    } else {
        0.0
    };
    label_value("frame", &format!("{frame_ms:.1} ms  ({fps:.0} fps)"), x, y);
    text_right(
        &format!("tick {} ms", ms(figures.stats.time.total)),
        right,
        y,
        BODY,
        colours::DIM,
    );
    y += LINE;

    // The budget: used versus allowed, as a bar.
    let used = BudgetUse::of(figures.stats, figures.budget);
    label_value("budget", &used.text, x, y);
    y += 6.0;
    let bar = Rect::new(x, y, right - x, 12.0);
    meter(bar, used.fraction, budget_colour(&used));
    y += 12.0 + LINE;

    let stats = figures.stats;
    let deferred = if stats.deferred > 0 {
        colours::BAD
    } else {
        colours::TEXT
    };
    counts(
        &[
            ("resumed", stats.resumed.to_string(), colours::TEXT),
            ("deferred", stats.deferred.to_string(), deferred),
            ("actors", stats.actors.to_string(), colours::TEXT),
        ],
        x,
        y,
    );
    y += LINE;
    counts(
        &[
            ("sleeping", stats.sleeping.to_string(), colours::TEXT),
            ("blocked", stats.blocked.to_string(), colours::TEXT),
            (
                "be_nice",
                stats.waiting_next_frame.to_string(),
                colours::TEXT,
            ),
        ],
        x,
        y,
    );
    y += 10.0;

    // The last frames: budget used per frame, red where it ran out.
    let graph = Rect::new(x, y, right - x, area.bottom() - PAD - 18.0 - y);
    budget_graph(graph, figures.history);
    let history = figures.history;
    // A script that stalled a frame (the scheduler's live stall report): named here, as
    // the watchdog thread saw it.
    let note = match skirmish.driver.scheduler().last_stall() {
        Some(stall) => (
            format!(
                "stalled: {} ({:.0} ms{})",
                stall.name.as_deref().unwrap_or("a script"),
                stall.running_for.as_secs_f64() * 1000.0,
                if stall.ended { "" } else { ", running" }
            ),
            colours::BAD,
        ),
        None => (
            format!(
                "budget ran out in {} of the last {} frames",
                history.spent_frames(),
                history.samples().len()
            ),
            colours::DIM,
        ),
    };
    text(&note.0, x, area.bottom() - PAD, 14.0, note.1);
}

fn speed_text(speed: f64) -> String {
    if speed >= 1.0 {
        format!("{speed:.0}")
    } else {
        format!("{speed}")
    }
}

fn budget_colour(used: &BudgetUse) -> Color {
    if used.spent {
        colours::BAD
    } else if used.fraction > 0.75 {
        colours::WARN
    } else {
        colours::OK
    }
}

/// One bar per frame, its height the share of the budget used on a log scale from
/// 0.1% to 100% (the dashed lines are 1%, 10% and all of it), red when the budget ran
/// out.
fn budget_graph(area: Rect, history: &FrameHistory) {
    draw_rectangle(
        area.x,
        area.y,
        area.w,
        area.h,
        faded(colours::BACKGROUND, 0.7),
    );
    let full = area.h - 13.0;
    let height = |fraction: f64| {
        let decades = (fraction.max(0.0) * 1000.0).max(1.0).log10() / 3.0;
        decades.min(1.06) as f32 * full
    };
    let step = area.w / history.capacity() as f32;
    let start = area.right() - step * history.samples().len() as f32;
    for (i, sample) in history.samples().enumerate() {
        let h = height(sample.fraction);
        let colour = if sample.spent {
            colours::BAD
        } else {
            faded(colours::OK, 0.7)
        };
        let bx = start + i as f32 * step;
        draw_rectangle(bx, area.bottom() - h, step.max(1.0), h, colour);
    }
    for (share, label) in [(0.01, "1%"), (0.1, "10%"), (1.0, "budget")] {
        let y = (area.bottom() - height(share)).round() + 0.5;
        let mut x = area.x;
        while x < area.right() {
            draw_line(
                x,
                y,
                (x + 4.0).min(area.right()),
                y,
                1.0,
                faded(colours::TEXT, 0.45),
            );
            x += 8.0;
        }
        let w = measure(label, 12.0);
        let lx = area.x + 3.0;
        draw_rectangle(
            lx - 2.0,
            y - 10.0,
            w + 4.0,
            10.0,
            faded(colours::BACKGROUND, 0.8),
        );
        text(label, lx, y - 1.0, 12.0, colours::DIM);
    }
    draw_rectangle_lines(area.x, area.y, area.w, area.h, 1.0, colours::PANEL_EDGE);
}

/// What the inspector shows about a ship that is gone.
#[derive(Clone, Debug, PartialEq)]
pub struct Departed {
    /// Its tasklet's name.
    pub name: String,
    /// Its fleet.
    pub fleet: usize,
    /// Destroyed, or warped out.
    pub destroyed: bool,
    /// Game time it left, seconds.
    pub at: f64,
}

/// The inspector, top right: the selected ship's entity, tasklet, state and hull.
pub fn draw_inspector(
    skirmish: &Skirmish,
    report: Result<&ShipReport, &Departed>,
    layout: &Layout,
) {
    let area = layout.inspector;
    panel(area);
    let (x, right) = (area.x + PAD, area.right() - PAD);
    let mut y = area.y + PAD + 14.0;
    let fleets = &skirmish.battle.scenario.fleets;
    let report = match report {
        Ok(report) => report,
        Err(gone) => {
            text(&gone.name, x, y, 20.0, colours::fleet(gone.fleet));
            y += LINE + 6.0;
            let fate = if gone.destroyed {
                "destroyed"
            } else {
                "warped out"
            };
            let line = format!("{fate} at T+{:.1} s; its tasklet has finished", gone.at);
            text(&line, x, y, BODY, colours::DIM);
            text(
                "click another ship, or Esc",
                x,
                area.bottom() - PAD,
                14.0,
                colours::DIM,
            );
            return;
        }
    };
    text(&report.name, x, y, 20.0, colours::fleet(report.fleet));
    text_right("Esc", right, y, 14.0, colours::DIM);
    y += LINE;
    let fleet_name = fleets.get(report.fleet).map_or("", |f| f.name.as_str());
    text(
        &format!("{} of {fleet_name}", report.class),
        x,
        y,
        BODY,
        colours::DIM,
    );
    y += LINE + 6.0;

    let tasklet = report
        .tasklet
        .map_or_else(|| "none".to_owned(), |id| format!("{id:?}"));
    label_value(
        "entity",
        &format!("{:?}    tasklet {tasklet}", report.entity),
        x,
        y,
    );
    y += LINE;
    text("state", x, y, BODY, colours::DIM);
    text(
        &report.state_text,
        x + VALUE_X,
        y,
        BODY,
        state_colour(report.state),
    );
    y += LINE;
    text("hull", x, y, BODY, colours::DIM);
    let health = report.hit_points / report.max_hit_points.max(1.0);
    let bar = Rect::new(x + VALUE_X, y - 10.0, 110.0, 10.0);
    meter(bar, health, health_colour(health as f32));
    text_right(
        &format!("{:.0} / {:.0} hp", report.hit_points, report.max_hit_points),
        right,
        y,
        BODY,
        colours::TEXT,
    );
    y += LINE;
    let target = match &report.target {
        Some(Target {
            name,
            distance: Some(d),
            ..
        }) => format!("{name}, {:.1} km", d / 1000.0),
        Some(Target { name, .. }) => format!("{name}, gone"),
        None => "none".to_owned(),
    };
    label_value("target", &target, x, y);
    y += LINE;
    label_value("helm", &report.helm, x, y);
    y += LINE;
    label_value("speed", &format!("{:.0} m/s", report.speed), x, y);
    y += LINE;
    if let Some((run, resumes)) = report.script_time {
        label_value(
            "script",
            &format!("{} ms over {resumes} resumes", ms(run)),
            x,
            y,
        );
    }
}

fn state_colour(state: TaskletState) -> Color {
    match state {
        TaskletState::Running => colours::OK,
        TaskletState::Scheduled => colours::WARN,
        TaskletState::Blocked => colours::fire(1),
        TaskletState::Paused | TaskletState::Dead => colours::DIM,
    }
}

/// The keys, along the bottom.
pub fn draw_help(layout: &Layout) {
    let area = layout.help;
    draw_rectangle(area.x, area.y, area.w, area.h, colours::PANEL);
    draw_line(
        area.x,
        area.y,
        area.right(),
        area.y,
        1.0,
        colours::PANEL_EDGE,
    );
    let keys = [
        ("Space", "pause"),
        ("N", "one frame"),
        ("+ -", "game speed"),
        ("[ ]", "budget"),
        ("B", "time / resume budget"),
        ("click", "inspect ship"),
        ("Tab", "next ship"),
        ("R", "restart"),
        ("Q", "quit"),
    ];
    let y = area.y + area.h / 2.0 + 5.0;
    let mut x = area.x + PAD;
    for (key, what) in keys {
        text(key, x, y, BODY, colours::TEXT);
        x += measure(key, BODY) + 6.0;
        text(what, x, y, BODY, colours::DIM);
        x += measure(what, BODY) + 20.0;
    }
}

/// A line across the top middle: paused, or who holds the field.
pub fn draw_banner(line: &str, sub: &str, colour: Color, layout: &Layout) {
    let size = 30.0;
    let w = measure(line, size).max(measure(sub, BODY)) + 2.0 * 24.0;
    let area = Rect::new(
        layout.screen.w / 2.0 - w / 2.0,
        layout.screen.y + 18.0,
        w,
        66.0,
    );
    panel(area);
    let centre = area.x + area.w / 2.0;
    text(
        line,
        centre - measure(line, size) / 2.0,
        area.y + 32.0,
        size,
        colour,
    );
    text(
        sub,
        centre - measure(sub, BODY) / 2.0,
        area.y + 54.0,
        BODY,
        colours::DIM,
    );
}

// ---- drawing helpers ---------------------------------------------------------------------

fn panel(area: Rect) {
    draw_rectangle(area.x, area.y, area.w, area.h, colours::PANEL);
    draw_rectangle_lines(area.x, area.y, area.w, area.h, 1.0, colours::PANEL_EDGE);
}

fn rule(x0: f32, x1: f32, y: f32) {
    draw_line(x0, y, x1, y, 1.0, colours::PANEL_EDGE);
}

/// A bar filled `fraction` (clamped to 0 to 1) of the way.
fn meter(area: Rect, fraction: f64, colour: Color) {
    draw_rectangle(
        area.x,
        area.y,
        area.w,
        area.h,
        faded(colours::BACKGROUND, 0.9),
    );
    let filled = area.w * (fraction.clamp(0.0, 1.0) as f32);
    draw_rectangle(area.x, area.y, filled, area.h, colour);
    draw_rectangle_lines(area.x, area.y, area.w, area.h, 1.0, colours::PANEL_EDGE);
}

fn label_value(label: &str, value: &str, x: f32, y: f32) {
    text(label, x, y, BODY, colours::DIM);
    text(value, x + VALUE_X, y, BODY, colours::TEXT);
}

/// Labelled counts in three columns.
fn counts(items: &[(&str, String, Color)], x: f32, y: f32) {
    let column = (crate::view::PANEL_WIDTH - 2.0 * PAD) / items.len() as f32;
    for (i, (label, value, colour)) in items.iter().enumerate() {
        let cx = x + i as f32 * column;
        text(label, cx, y, BODY, colours::DIM);
        text(value, cx + measure(label, BODY) + 6.0, y, BODY, *colour);
    }
}

fn text(s: &str, x: f32, y: f32, size: f32, colour: Color) {
    draw_text(s, x.round(), y.round(), size, colour);
}

fn text_right(s: &str, right: f32, y: f32, size: f32, colour: Color) {
    text(s, right - measure(s, size), y, size, colour);
}

fn measure(s: &str, size: f32) -> f32 {
    measure_text(s, None, size as u16, 1.0).width
}
