//! The palette: the GIF renderer's fleet colours (so both pictures agree) on a dark
//! field, and the colours of the panels.

use macroquad::color::Color;

/// Deep space.
pub const BACKGROUND: Color = rgb(7, 9, 20);
/// The kilometre grid.
pub const GRID: Color = rgb(20, 26, 46);
/// The arena's edge.
pub const BORDER: Color = rgb(62, 72, 108);
/// Panels, translucent.
pub const PANEL: Color = Color::new(0.04, 0.05, 0.11, 0.86);
/// Panel edges.
pub const PANEL_EDGE: Color = rgb(52, 62, 98);
/// Text.
pub const TEXT: Color = rgb(225, 228, 235);
/// Labels and quieter text.
pub const DIM: Color = rgb(128, 136, 160);
/// Good news: budget to spare.
pub const OK: Color = rgb(96, 214, 128);
/// The budget nearly spent.
pub const WARN: Color = rgb(250, 196, 64);
/// The budget spent, tasklets deferred.
pub const BAD: Color = rgb(255, 92, 72);
/// An explosion's core.
pub const EXPLOSION_HOT: Color = rgb(255, 250, 200);
/// An explosion's body.
pub const EXPLOSION_WARM: Color = rgb(255, 165, 40);
/// An explosion's cooling rim.
pub const EXPLOSION_COOL: Color = rgb(190, 60, 25);
/// A warp-out's flash.
pub const WARP: Color = rgb(200, 230, 255);
/// The selection ring.
pub const SELECTION: Color = rgb(255, 255, 255);

/// The colour fleet `fleet` is drawn in: the GIF renderer's.
pub fn fleet(fleet: usize) -> Color {
    let [r, g, b] = demos::render::fleet_colour(fleet);
    rgb(r, g, b)
}

/// The colour of fleet `fleet`'s weapon fire: its colour, lightened.
pub fn fire(fleet_index: usize) -> Color {
    mix(fleet(fleet_index), rgb(255, 255, 255), 0.55)
}

/// `a` moved `t` (0 to 1) of the way to `b`.
pub fn mix(a: Color, b: Color, t: f32) -> Color {
    Color::new(
        a.r + (b.r - a.r) * t,
        a.g + (b.g - a.g) * t,
        a.b + (b.b - a.b) * t,
        a.a + (b.a - a.a) * t,
    )
}

/// `c` with opacity `alpha`.
pub fn faded(c: Color, alpha: f32) -> Color {
    Color::new(c.r, c.g, c.b, alpha.clamp(0.0, 1.0))
}

const fn rgb(r: u8, g: u8, b: u8) -> Color {
    Color::from_rgba(r, g, b, 255)
}
