//! A tiny software rasterizer over palette indices: lines, filled triangles, circles,
//! rectangles (text is in `text.rs`). Everything is clipped to the canvas.

/// A picture as one palette index per pixel, rows top to bottom.
#[derive(Clone, Debug)]
pub(crate) struct Canvas {
    pub(crate) width: usize,
    pub(crate) height: usize,
    pub(crate) pixels: Vec<u8>,
}

impl Canvas {
    pub(crate) fn new(width: usize, height: usize) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![0; width * height],
        }
    }

    pub(crate) fn clear(&mut self, colour: u8) {
        self.pixels.fill(colour);
    }

    pub(crate) fn set(&mut self, x: i64, y: i64, colour: u8) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            self.pixels[y as usize * self.width + x as usize] = colour;
        }
    }

    /// A one-pixel line (Bresenham) between two points, ends included.
    pub(crate) fn line(&mut self, from: (f64, f64), to: (f64, f64), colour: u8) {
        // Clip far-away ends first so a stray coordinate cannot make the loop huge.
        let Some((from, to)) = self.clip(from, to) else {
            return;
        };
        let (mut x, mut y) = (from.0.round() as i64, from.1.round() as i64);
        let (x1, y1) = (to.0.round() as i64, to.1.round() as i64);
        let dx = (x1 - x).abs();
        let dy = -(y1 - y).abs();
        let (sx, sy) = ((x1 - x).signum(), (y1 - y).signum());
        let mut err = dx + dy;
        loop {
            self.set(x, y, colour);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// Liang-Barsky clipping of a segment to the canvas (with a pixel of margin).
    fn clip(&self, a: (f64, f64), b: (f64, f64)) -> Option<((f64, f64), (f64, f64))> {
        let (min_x, min_y) = (-1.0, -1.0);
        let (max_x, max_y) = (self.width as f64, self.height as f64);
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for (p, q) in [
            (-dx, a.0 - min_x),
            (dx, max_x - a.0),
            (-dy, a.1 - min_y),
            (dy, max_y - a.1),
        ] {
            if p == 0.0 {
                if q < 0.0 {
                    return None;
                }
            } else {
                let t = q / p;
                if p < 0.0 {
                    t0 = t0.max(t);
                } else {
                    t1 = t1.min(t);
                }
                if t0 > t1 {
                    return None;
                }
            }
        }
        Some((
            (a.0 + t0 * dx, a.1 + t0 * dy),
            (a.0 + t1 * dx, a.1 + t1 * dy),
        ))
    }

    /// A filled triangle: every pixel whose centre lies inside it.
    pub(crate) fn triangle(&mut self, p: [(f64, f64); 3], colour: u8) {
        let min_x = p
            .iter()
            .map(|q| q.0)
            .fold(f64::INFINITY, f64::min)
            .floor()
            .max(0.0);
        let max_x = p
            .iter()
            .map(|q| q.0)
            .fold(f64::NEG_INFINITY, f64::max)
            .ceil()
            .min(self.width as f64 - 1.0);
        let min_y = p
            .iter()
            .map(|q| q.1)
            .fold(f64::INFINITY, f64::min)
            .floor()
            .max(0.0);
        let max_y = p
            .iter()
            .map(|q| q.1)
            .fold(f64::NEG_INFINITY, f64::max)
            .ceil()
            .min(self.height as f64 - 1.0);
        if min_x > max_x || min_y > max_y {
            return;
        }
        let edge = |a: (f64, f64), b: (f64, f64), c: (f64, f64)| {
            (b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0)
        };
        let area = edge(p[0], p[1], p[2]);
        if area == 0.0 {
            return;
        }
        for y in min_y as i64..=max_y as i64 {
            for x in min_x as i64..=max_x as i64 {
                let c = (x as f64 + 0.5, y as f64 + 0.5);
                let w0 = edge(p[1], p[2], c) * area.signum();
                let w1 = edge(p[2], p[0], c) * area.signum();
                let w2 = edge(p[0], p[1], c) * area.signum();
                if w0 >= 0.0 && w1 >= 0.0 && w2 >= 0.0 {
                    self.set(x, y, colour);
                }
            }
        }
    }

    /// A circle outline of radius `r` pixels (midpoint algorithm).
    pub(crate) fn circle(&mut self, centre: (f64, f64), r: f64, colour: u8) {
        // A circle that misses the canvas (wholly outside it, or around it) draws nothing;
        // a huge one would otherwise take a step per pixel of its radius (a hang).
        let (w, h) = (self.width as f64, self.height as f64);
        let near_x = centre.0.clamp(0.0, w) - centre.0;
        let near_y = centre.1.clamp(0.0, h) - centre.1;
        let far_x = (centre.0 - w / 2.0).abs() + w / 2.0;
        let far_y = (centre.1 - h / 2.0).abs() + h / 2.0;
        if !(r.is_finite() && r + 1.0 >= near_x.hypot(near_y) && r - 1.0 <= far_x.hypot(far_y))
            || r > 1e6
        {
            return;
        }
        let (cx, cy) = (centre.0.round() as i64, centre.1.round() as i64);
        let r = r.round() as i64;
        if r <= 0 {
            self.set(cx, cy, colour);
            return;
        }
        let (mut x, mut y, mut err) = (r, 0i64, 1 - r);
        while x >= y {
            for (px, py) in [
                (x, y),
                (y, x),
                (-y, x),
                (-x, y),
                (-x, -y),
                (-y, -x),
                (y, -x),
                (x, -y),
            ] {
                self.set(cx + px, cy + py, colour);
            }
            y += 1;
            if err < 0 {
                err += 2 * y + 1;
            } else {
                x -= 1;
                err += 2 * (y - x) + 1;
            }
        }
    }

    /// A filled disc of radius `r` pixels.
    pub(crate) fn disc(&mut self, centre: (f64, f64), r: f64, colour: u8) {
        let (cx, cy) = centre;
        let r2 = r * r;
        // Clipped to the canvas: a huge disc costs the canvas, not its radius.
        let (w, h) = (self.width as i64, self.height as i64);
        let (y0, y1) = (
            ((cy - r).floor() as i64).max(0),
            ((cy + r).ceil() as i64).min(h - 1),
        );
        let (x0, x1) = (
            ((cx - r).floor() as i64).max(0),
            ((cx + r).ceil() as i64).min(w - 1),
        );
        for y in y0..=y1 {
            for x in x0..=x1 {
                let (dx, dy) = (x as f64 + 0.5 - cx, y as f64 + 0.5 - cy);
                if dx * dx + dy * dy <= r2 {
                    self.set(x, y, colour);
                }
            }
        }
    }

    /// A filled axis-aligned rectangle.
    pub(crate) fn rect(&mut self, x: i64, y: i64, w: i64, h: i64, colour: u8) {
        for py in y..y + h {
            for px in x..x + w {
                self.set(px, py, colour);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(canvas: &Canvas, colour: u8) -> usize {
        canvas.pixels.iter().filter(|&&p| p == colour).count()
    }

    #[test]
    fn a_line_touches_both_ends_and_is_connected() {
        let mut c = Canvas::new(20, 10);
        c.line((1.0, 1.0), (18.0, 7.0), 3);
        assert_eq!(c.pixels[c.width + 1], 3);
        assert_eq!(c.pixels[7 * c.width + 18], 3);
        // Bresenham sets exactly one pixel per step along the longer axis.
        assert_eq!(count(&c, 3), 18);
    }

    #[test]
    fn lines_far_outside_are_clipped_cheaply() {
        let mut c = Canvas::new(10, 10);
        c.line((-1e12, 5.0), (1e12, 5.0), 1);
        assert_eq!(count(&c, 1), 10);
        c.line((-50.0, -50.0), (-10.0, -20.0), 2);
        assert_eq!(count(&c, 2), 0);
    }

    #[test]
    fn a_triangle_fills_about_its_area_whatever_the_winding() {
        for pts in [
            [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)],
            [(0.0, 0.0), (0.0, 10.0), (10.0, 0.0)],
        ] {
            let mut c = Canvas::new(12, 12);
            c.triangle(pts, 5);
            let n = count(&c, 5);
            assert!((40..=60).contains(&n), "{n} pixels for an area of 50");
        }
    }

    #[test]
    fn huge_circles_and_discs_are_clipped_cheaply() {
        let mut c = Canvas::new(10, 10);
        c.disc((5.0, 5.0), 1e300, 1);
        assert_eq!(count(&c, 1), 100);
        c.circle((5.0, 5.0), 1e300, 2);
        c.circle((1e300, 5.0), 3.0, 2);
        c.circle((5.0, 5.0), f64::INFINITY, 2);
        assert_eq!(count(&c, 2), 0);
        c.disc((-1e300, 1e300), 4.0, 3);
        assert_eq!(count(&c, 3), 0);
    }

    #[test]
    fn circles_and_discs_stay_within_their_radius() {
        let mut c = Canvas::new(21, 21);
        c.disc((10.5, 10.5), 4.0, 7);
        c.circle((10.0, 10.0), 8.0, 8);
        for y in 0..21 {
            for x in 0..21 {
                let p = c.pixels[y * 21 + x];
                let d = ((x as f64 + 0.5 - 10.5).powi(2) + (y as f64 + 0.5 - 10.5).powi(2)).sqrt();
                if p == 7 {
                    assert!(d <= 4.0);
                }
                if p == 8 {
                    assert!((6.5..=9.5).contains(&d), "outline pixel at distance {d}");
                }
            }
        }
        assert!(count(&c, 7) >= 45 && count(&c, 8) >= 40);
    }
}
