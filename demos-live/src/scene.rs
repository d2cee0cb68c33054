//! Draws the battlefield: stars, the kilometre grid, ships by fleet colour with their
//! hull bars, weapon fire, explosions, warp-outs and the selection.

use demos::skirmish::{Helm, Hull, Motion, Ship, Skirmish};
use demos::Rng;
use hecs::Entity;
use macroquad::color::Color;
use macroquad::math::Vec2;
use macroquad::shapes::{draw_line, draw_poly, draw_poly_lines, draw_rectangle, draw_triangle};

use crate::colours::{self, faded, mix};
use crate::effects::Effects;
use crate::view::View;

/// Background stars, placed once in window-relative coordinates.
#[derive(Clone, Debug)]
pub struct Starfield {
    /// Position (0 to 1 across and down the window), brightness (0 to 1) and size.
    stars: Vec<(Vec2, f32, f32)>,
}

impl Starfield {
    /// `count` stars placed from `seed`.
    pub fn new(count: usize, seed: u64) -> Starfield {
        let mut rng = Rng::new(seed);
        let stars = (0..count)
            .map(|_| {
                let at = Vec2::new(rng.next_f64() as f32, rng.next_f64() as f32);
                let brightness = (rng.next_f64() as f32).powi(3) * 0.8 + 0.12;
                let size = if rng.next_f64() < 0.08 { 2.0 } else { 1.0 };
                (at, brightness, size)
            })
            .collect();
        Starfield { stars }
    }
}

/// The on-screen radius of a ship whose hull is `size` metres across: big enough to see
/// a frigate, with battleships clearly larger.
pub fn ship_radius(size: f64) -> f32 {
    4.0 + 0.1 * size as f32
}

/// Sides for a circle of radius `r` pixels: smooth at any size, cheap when small.
fn sides(r: f32) -> u8 {
    (r * 0.8).clamp(16.0, 128.0) as u8
}

/// A filled circle.
fn disc(x: f32, y: f32, r: f32, colour: Color) {
    draw_poly(x, y, sides(r), r, 0.0, colour);
}

/// A circle's outline.
fn ring(x: f32, y: f32, r: f32, thickness: f32, colour: Color) {
    draw_poly_lines(x, y, sides(r), r, 0.0, thickness, colour);
}

/// Space, stars, the kilometre grid and the arena's edge.
pub fn draw_field(view: &View, stars: &Starfield, screen: (f32, f32)) {
    macroquad::window::clear_background(colours::BACKGROUND);
    for (at, brightness, size) in &stars.stars {
        let c = mix(colours::BACKGROUND, colours::TEXT, *brightness);
        draw_rectangle(at.x * screen.0, at.y * screen.1, *size, *size, c);
    }
    let arena = view.arena_rect();
    let metres = view.to_arena(Vec2::new(arena.right(), arena.top()));
    let (width, height) = (metres.0.round() as i64, metres.1.round() as i64);
    for km in (1000..width).step_by(1000) {
        let x = view.to_screen(km as f64, 0.0).x;
        let c = grid_colour(km);
        draw_line(x, arena.top(), x, arena.bottom(), 1.0, c);
    }
    for km in (1000..height).step_by(1000) {
        let y = view.to_screen(0.0, km as f64).y;
        let c = grid_colour(km);
        draw_line(arena.left(), y, arena.right(), y, 1.0, c);
    }
    macroquad::shapes::draw_rectangle_lines(
        arena.x,
        arena.y,
        arena.w,
        arena.h,
        2.0,
        colours::BORDER,
    );
}

/// Every fifth kilometre line a little brighter.
fn grid_colour(metres: i64) -> Color {
    if metres % 5000 == 0 {
        mix(colours::GRID, colours::BORDER, 0.35)
    } else {
        colours::GRID
    }
}

/// Weapon fire: a bright line from shooter to target that fades, and a flash where it
/// lands.
pub fn draw_shots(effects: &Effects, now: f64, view: &View) {
    for (shot, age) in effects.shots(now) {
        let life = 1.0 - age;
        let from = view.to_screen(shot.from.x, shot.from.y);
        let to = view.to_screen(shot.to.x, shot.to.y);
        let c = colours::fire(shot.fleet);
        draw_line(
            from.x,
            from.y,
            to.x,
            to.y,
            3.5 * life,
            faded(c, 0.18 * life),
        );
        draw_line(
            from.x,
            from.y,
            to.x,
            to.y,
            0.6 + 1.2 * life,
            faded(c, life.powf(1.5)),
        );
        disc(
            to.x,
            to.y,
            1.5 + 3.0 * life,
            faded(colours::EXPLOSION_HOT, 0.8 * life),
        );
    }
}

/// Explosions: a hot core, a glow, a ring and sparks, growing and cooling.
pub fn draw_explosions(effects: &Effects, now: f64, view: &View) {
    for (boom, age) in effects.explosions(now) {
        let life = 1.0 - age;
        let p = view.to_screen(boom.position.x, boom.position.y);
        let r = (boom.size as f32 * (2.0 + 10.0 * age) * view.scale()).max(4.0 + 30.0 * age);
        let warm = mix(colours::EXPLOSION_WARM, colours::EXPLOSION_COOL, age);
        disc(p.x, p.y, r, faded(warm, 0.22 * life));
        disc(
            p.x,
            p.y,
            r * 0.55 * life + 1.0,
            faded(mix(colours::EXPLOSION_HOT, warm, age), life),
        );
        ring(p.x, p.y, r, 1.0 + 2.0 * life, faded(warm, life));
        // Sparks, the same for the same ship.
        let mut rng = Rng::new(boom.entity.to_bits().get());
        for _ in 0..10 {
            let dir = View::direction(rng.uniform(0.0..std::f64::consts::TAU));
            let reach = r * (0.8 + rng.next_f64() as f32 * 0.7);
            let a = p + dir * reach * 0.5;
            let b = p + dir * reach;
            draw_line(
                a.x,
                a.y,
                b.x,
                b.y,
                1.5,
                faded(colours::EXPLOSION_WARM, life),
            );
        }
    }
}

/// Warp-outs: a flash that collapses to a point, in the fleet's colour.
pub fn draw_warp_outs(effects: &Effects, now: f64, view: &View) {
    for (ship, age) in effects.warp_outs(now) {
        let life = 1.0 - age;
        let p = view.to_screen(ship.position.x, ship.position.y);
        let c = mix(colours::fleet(ship.fleet), colours::WARP, 0.6);
        ring(p.x, p.y, 2.0 + 22.0 * life, 1.5, faded(c, life));
        draw_line(
            p.x - 30.0 * life,
            p.y,
            p.x + 30.0 * life,
            p.y,
            1.0,
            faded(c, life),
        );
        disc(p.x, p.y, 2.0 + 3.0 * life, faded(colours::WARP, life));
    }
}

/// Every ship: an arrowhead in its fleet's colour pointing where it flies, an engine
/// glow, and a hull bar once it is damaged.
pub fn draw_ships(skirmish: &Skirmish, view: &View) {
    let classes = &skirmish.battle.scenario.classes;
    for (ship, motion, hull) in skirmish.world.query::<(&Ship, &Motion, &Hull)>().iter() {
        let p = view.to_screen(motion.position.x, motion.position.y);
        let r = ship_radius(classes[ship.class].size);
        let dir = View::direction(motion.heading);
        let side = Vec2::new(-dir.y, dir.x);
        let colour = colours::fleet(ship.fleet);
        let speed = motion.velocity.length() / classes[ship.class].speed.max(1.0);
        if speed > 0.05 {
            // An engine trail, longer the faster it flies.
            let tail = p - dir * r * 0.5;
            let end = tail - dir * r * 2.2 * speed as f32;
            let mid = tail + (end - tail) * 0.45;
            let trail = colours::fire(ship.fleet);
            draw_line(tail.x, tail.y, mid.x, mid.y, 2.0, faded(trail, 0.55));
            draw_line(mid.x, mid.y, end.x, end.y, 1.5, faded(trail, 0.2));
        }
        let nose = p + dir * r * 1.25;
        let left = p - dir * r * 0.8 + side * r * 0.8;
        let right = p - dir * r * 0.8 - side * r * 0.8;
        let notch = p - dir * r * 0.35;
        draw_triangle(nose, left, notch, colour);
        draw_triangle(nose, notch, right, colour);
        let edge = mix(colour, colours::TEXT, 0.45);
        for (a, b) in [(nose, left), (left, notch), (notch, right), (right, nose)] {
            draw_line(a.x, a.y, b.x, b.y, 1.0, edge);
        }
        let health = hull.fraction().clamp(0.0, 1.0) as f32;
        if health < 0.999 {
            let w = r * 2.0 + 2.0;
            let (x, y) = (p.x - w / 2.0, p.y - r * 1.25 - 6.0);
            draw_rectangle(x, y, w, 3.0, faded(colours::BACKGROUND, 0.9));
            draw_rectangle(x, y, w * health, 3.0, health_colour(health));
        }
    }
}

/// Green when whole, through amber, to red when nearly gone.
pub fn health_colour(health: f32) -> Color {
    if health > 0.5 {
        mix(colours::WARN, colours::OK, (health - 0.5) * 2.0)
    } else {
        mix(colours::BAD, colours::WARN, health * 2.0)
    }
}

/// The selected ship: a pulsing ring, and a dashed line to the ship its helm is set
/// on, bracketed.
pub fn draw_selection(skirmish: &Skirmish, selected: Entity, view: &View, wall_time: f64) {
    let world = &skirmish.world;
    let (Ok(motion), Ok(ship)) = (world.get::<&Motion>(selected), world.get::<&Ship>(selected))
    else {
        return;
    };
    let p = view.to_screen(motion.position.x, motion.position.y);
    let r = ship_radius(skirmish.battle.scenario.classes[ship.class].size);
    let pulse = (wall_time * 4.0).sin() as f32 * 0.5 + 0.5;
    ring(p.x, p.y, r + 7.0 + 2.0 * pulse, 1.5, colours::SELECTION);
    let range = skirmish.battle.scenario.classes[ship.class].weapon_range;
    ring(
        p.x,
        p.y,
        range as f32 * view.scale(),
        1.0,
        faded(colours::fleet(ship.fleet), 0.35),
    );
    let target = match world.get::<&Helm>(selected).map(|h| *h) {
        Ok(Helm::Approach { target, .. } | Helm::Orbit { target, .. }) => target,
        _ => return,
    };
    let Ok(aim) = world.get::<&Motion>(target) else {
        return;
    };
    let t = view.to_screen(aim.position.x, aim.position.y);
    dashed_line(p, t, faded(colours::SELECTION, 0.55));
    let corner = 9.0;
    for (sx, sy) in [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)] {
        let c = t + Vec2::new(sx * corner, sy * corner);
        draw_line(c.x, c.y, c.x - sx * 4.0, c.y, 1.5, colours::BAD);
        draw_line(c.x, c.y, c.x, c.y - sy * 4.0, 1.5, colours::BAD);
    }
}

fn dashed_line(a: Vec2, b: Vec2, colour: Color) {
    let length = a.distance(b);
    if length < 1.0 {
        return;
    }
    let dir = (b - a) / length;
    let mut s = 0.0;
    while s < length {
        let from = a + dir * s;
        let to = a + dir * (s + 6.0).min(length);
        draw_line(from.x, from.y, to.x, to.y, 1.0, colour);
        s += 10.0;
    }
}
