//! Where things go on screen: the arena fitted into the window, the panels laid over
//! it, and which ship a click lands on.

use hecs::Entity;
use macroquad::math::{Rect, Vec2};

/// Gap between the window's edge and the panels, pixels.
const MARGIN: f32 = 12.0;
/// Width of the HUD, pixels.
pub const PANEL_WIDTH: f32 = 340.0;
/// Width of the ship inspector, pixels.
pub const INSPECTOR_WIDTH: f32 = 400.0;
/// Height of the HUD (top left), pixels.
pub const HUD_HEIGHT: f32 = 292.0;
/// Height of the ship inspector (top right), pixels.
pub const INSPECTOR_HEIGHT: f32 = 236.0;
/// Height of the key help bar along the bottom, pixels.
pub const HELP_HEIGHT: f32 = 28.0;

/// The panels laid over a window of a given size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Layout {
    /// The whole window.
    pub screen: Rect,
    /// The battle's figures and the budget, top left.
    pub hud: Rect,
    /// The selected ship, top right (drawn only while a ship is selected).
    pub inspector: Rect,
    /// The keys, along the bottom.
    pub help: Rect,
    /// Where the arena is drawn: the window above the help bar, less a margin.
    pub field: Rect,
}

impl Layout {
    /// The layout of a `width` x `height` window.
    pub fn new(width: f32, height: f32) -> Layout {
        let screen = Rect::new(0.0, 0.0, width, height);
        let help = Rect::new(0.0, height - HELP_HEIGHT, width, HELP_HEIGHT);
        Layout {
            screen,
            hud: Rect::new(MARGIN, MARGIN, PANEL_WIDTH, HUD_HEIGHT),
            inspector: Rect::new(
                width - MARGIN - INSPECTOR_WIDTH,
                MARGIN,
                INSPECTOR_WIDTH,
                INSPECTOR_HEIGHT,
            ),
            help,
            field: Rect::new(
                MARGIN,
                MARGIN,
                (width - 2.0 * MARGIN).max(1.0),
                (help.y - 2.0 * MARGIN).max(1.0),
            ),
        }
    }

    /// Whether a pixel is under one of the panels (the HUD, the inspector's place, the
    /// help bar), where the picture is not the battle's.
    pub fn under_a_panel(&self, x: f32, y: f32) -> bool {
        let p = Vec2::new(x, y);
        [self.hud, self.inspector, self.help]
            .iter()
            .any(|r| r.contains(p))
    }
}

/// The arena, in metres with y up, fitted into a screen rectangle with y down.
///
/// # Examples
///
/// ```
/// use demos_live::View;
/// use macroquad::math::{Rect, Vec2};
///
/// let view = View::new((16_000.0, 10_000.0), Rect::new(0.0, 0.0, 1600.0, 1000.0));
/// assert_eq!(view.scale(), 0.1); // pixels per metre
/// assert_eq!(view.to_screen(0.0, 0.0), Vec2::new(0.0, 1000.0)); // bottom left
/// assert_eq!(view.to_arena(Vec2::new(800.0, 500.0)), (8000.0, 5000.0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    /// The arena's size, metres.
    arena: (f64, f64),
    /// The arena's bottom-left corner on screen.
    origin: Vec2,
    /// Pixels per metre.
    scale: f32,
}

impl View {
    /// The arena of `arena` metres (width, height), as large as fits in `area` and
    /// centred in it.
    pub fn new(arena: (f64, f64), area: Rect) -> View {
        let (w, h) = (arena.0.max(1.0) as f32, arena.1.max(1.0) as f32);
        let scale = (area.w / w).min(area.h / h);
        let (drawn_w, drawn_h) = (w * scale, h * scale);
        let left = area.x + (area.w - drawn_w) / 2.0;
        let bottom = area.y + (area.h + drawn_h) / 2.0;
        View {
            arena,
            origin: Vec2::new(left, bottom),
            scale,
        }
    }

    /// Pixels per metre.
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// Where the arena is drawn.
    pub fn arena_rect(&self) -> Rect {
        let w = self.arena.0 as f32 * self.scale;
        let h = self.arena.1 as f32 * self.scale;
        Rect::new(self.origin.x, self.origin.y - h, w, h)
    }

    /// The screen point of the arena point (`x`, `y`) metres.
    pub fn to_screen(&self, x: f64, y: f64) -> Vec2 {
        Vec2::new(
            self.origin.x + x as f32 * self.scale,
            self.origin.y - y as f32 * self.scale,
        )
    }

    /// The arena point, metres, under screen point `p`.
    pub fn to_arena(&self, p: Vec2) -> (f64, f64) {
        (
            f64::from((p.x - self.origin.x) / self.scale),
            f64::from((self.origin.y - p.y) / self.scale),
        )
    }

    /// The screen direction of a heading (radians counter-clockwise from +x).
    pub fn direction(heading: f64) -> Vec2 {
        Vec2::new(heading.cos() as f32, -heading.sin() as f32)
    }

    /// The ship nearest to screen point `click` among `ships` (entity and arena position,
    /// metres), if one is within `reach` pixels.
    pub fn pick(
        &self,
        click: Vec2,
        reach: f32,
        ships: impl IntoIterator<Item = (Entity, (f64, f64))>,
    ) -> Option<Entity> {
        ships
            .into_iter()
            .map(|(entity, (x, y))| (entity, self.to_screen(x, y).distance(click)))
            .filter(|(_, d)| *d <= reach)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(entity, _)| entity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wide_arena_is_centred_vertically_and_round_trips() {
        let view = View::new((20_000.0, 10_000.0), Rect::new(10.0, 10.0, 1000.0, 800.0));
        assert_eq!(view.scale(), 0.05);
        let drawn = view.arena_rect();
        assert_eq!(drawn, Rect::new(10.0, 160.0, 1000.0, 500.0));
        let p = view.to_screen(12_345.0, 6_789.0);
        let (x, y) = view.to_arena(p);
        assert!(
            (x - 12_345.0).abs() < 0.5 && (y - 6_789.0).abs() < 0.5,
            "{x} {y}"
        );
        // North is up, east is right.
        assert_eq!(View::direction(std::f64::consts::FRAC_PI_2).y, -1.0);
        assert_eq!(View::direction(0.0), Vec2::new(1.0, -0.0));
    }

    #[test]
    fn a_click_picks_the_nearest_ship_in_reach() {
        let view = View::new((1000.0, 1000.0), Rect::new(0.0, 0.0, 1000.0, 1000.0));
        let mut world = hecs::World::new();
        let (a, b) = (world.spawn(()), world.spawn(()));
        let ships = [(a, (100.0, 900.0)), (b, (130.0, 900.0))];
        assert_eq!(view.pick(Vec2::new(112.0, 100.0), 20.0, ships), Some(a));
        assert_eq!(view.pick(Vec2::new(125.0, 100.0), 20.0, ships), Some(b));
        assert_eq!(view.pick(Vec2::new(500.0, 500.0), 20.0, ships), None);
    }

    #[test]
    fn the_panels_cover_the_corners_and_the_bottom() {
        let layout = Layout::new(1280.0, 800.0);
        assert!(layout.under_a_panel(20.0, 20.0));
        assert!(layout.under_a_panel(1260.0, 20.0));
        assert!(layout.under_a_panel(640.0, 790.0));
        assert!(!layout.under_a_panel(640.0, 400.0));
        assert!(layout.field.bottom() <= layout.help.top());
    }
}
