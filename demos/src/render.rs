//! Animated GIFs of a battle seen from above: ships as small arrowheads coloured by
//! fleet, weapon fire as lines, explosions as expanding rings.
//!
//! The renderer takes plain [`Snapshot`]s (positions in metres, fleet indices, shots,
//! explosions), so it depends on nothing but the `gif` encoder: the skirmish fills one
//! per recorded frame. The pictures come from a small software rasterizer with a fixed
//! palette; each GIF frame after the first stores only the rectangle that changed. Text
//! is drawn in GNU Unifont, so fleet names in most scripts show as written.

mod canvas;
mod text;

use std::borrow::Cow;
use std::fmt;
use std::io::Write;
use std::time::Duration;

use canvas::Canvas;

/// A ship as drawn: where it is, where it points, whose it is.
#[derive(Clone, Debug, PartialEq)]
pub struct ShipMark {
    /// Position in metres.
    pub position: (f64, f64),
    /// Direction it points, radians counter-clockwise from +x.
    pub heading: f64,
    /// Its fleet: 0 or 1 (others are drawn grey).
    pub fleet: usize,
    /// Hull radius in metres (bigger ships are drawn bigger).
    pub size: f64,
    /// Hit points left, as a fraction of the full amount (below one half it is drawn
    /// darker).
    pub health: f64,
}

/// A weapon firing this frame: a line from the shooter to its target.
#[derive(Clone, Debug, PartialEq)]
pub struct Shot {
    /// The shooter's position, metres.
    pub from: (f64, f64),
    /// The target's position, metres.
    pub to: (f64, f64),
    /// The shooter's fleet.
    pub fleet: usize,
}

/// An explosion: a ring that grows and cools as it ages.
#[derive(Clone, Debug, PartialEq)]
pub struct Explosion {
    /// Centre in metres.
    pub position: (f64, f64),
    /// Current radius in metres.
    pub radius: f64,
    /// How far through its life it is, from 0 (new) to 1 (gone).
    pub age: f64,
}

/// Everything one GIF frame shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// The ships still in the battle.
    pub ships: Vec<ShipMark>,
    /// Shots fired this frame.
    pub shots: Vec<Shot>,
    /// Explosions under way.
    pub explosions: Vec<Explosion>,
    /// A line of text for the top-left corner (any script Unifont covers; a character it
    /// lacks shows as a box, and a caption too wide for the picture is cut with `…`).
    pub caption: String,
}

/// A fixed feature of the map, drawn under every frame (see
/// [`GifRenderer::with_landmarks`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Landmark {
    /// A ring (a stargate): centre and radius in metres.
    Ring {
        /// Centre, metres.
        position: (f64, f64),
        /// Radius, metres (drawn at least a few pixels wide).
        radius: f64,
    },
    /// A line (a border between regions), metres.
    Line {
        /// One end.
        from: (f64, f64),
        /// The other end.
        to: (f64, f64),
    },
    /// A label whose top-left corner is at `position` (metres); the caption's letters.
    Label {
        /// Top-left corner, metres.
        position: (f64, f64),
        /// The text.
        text: String,
    },
}

/// The tallest picture drawn, in pixels. A tall arena (a corridor 100 times as long as it
/// is wide) would otherwise give a picture tens of thousands of pixels high: slow to draw
/// and useless on a screen.
pub const MAX_HEIGHT: u16 = 4096;

/// How the GIF looks.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderOptions {
    /// Width of the picture in pixels; the height follows the arena's shape. An arena so
    /// tall that the picture would be more than [`MAX_HEIGHT`] pixels high is drawn
    /// [`MAX_HEIGHT`] high and narrower instead.
    pub width: u16,
    /// How long each frame shows (GIF counts in hundredths of a second).
    pub frame_delay: Duration,
    /// Fleet names for the legend, by fleet index; the legend shows each with its
    /// colour and the number of its ships in the frame.
    pub fleet_names: Vec<String>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            width: 640,
            frame_delay: Duration::from_millis(50),
            fleet_names: Vec::new(),
        }
    }
}

/// Palette indices. The palette is fixed so that every frame shares one global table.
mod colour {
    pub(super) const BACKGROUND: u8 = 0;
    pub(super) const GRID: u8 = 1;
    pub(super) const BORDER: u8 = 2;
    pub(super) const FLEET: [u8; 2] = [3, 6];
    pub(super) const FLEET_DIM: [u8; 2] = [4, 7];
    pub(super) const FLEET_SHOT: [u8; 2] = [5, 8];
    pub(super) const NEUTRAL: u8 = 9;
    pub(super) const FIRE_HOT: u8 = 10;
    pub(super) const FIRE_WARM: u8 = 11;
    pub(super) const FIRE_COOL: u8 = 12;
    pub(super) const TEXT: u8 = 13;
    /// Marks unchanged pixels in a frame that only updates part of the picture.
    pub(super) const UNCHANGED: u8 = 15;
}

/// The fixed palette, as RGB triples in index order.
pub const PALETTE: [[u8; 3]; 16] = [
    [8, 10, 22],     // background
    [22, 28, 48],    // grid
    [70, 80, 115],   // arena border
    [235, 64, 52],   // fleet 0
    [130, 40, 36],   // fleet 0, damaged
    [255, 180, 120], // fleet 0 fire
    [60, 150, 255],  // fleet 1
    [34, 78, 140],   // fleet 1, damaged
    [150, 225, 255], // fleet 1 fire
    [150, 150, 150], // other fleets
    [255, 250, 200], // explosion, hot
    [255, 165, 40],  // explosion, warm
    [190, 60, 25],   // explosion, cool
    [225, 228, 235], // text
    [0, 0, 0],       // (unused)
    [255, 0, 255],   // unchanged-pixel marker (never visible)
];

/// The colour fleet `fleet` is drawn in.
pub fn fleet_colour(fleet: usize) -> [u8; 3] {
    PALETTE[usize::from(colour::FLEET.get(fleet).copied().unwrap_or(colour::NEUTRAL))]
}

/// Largest ship mark, in pixels (explosions up to four times this).
const MAX_MARK_PX: f64 = 64.0;

/// Why a GIF could not be written.
#[derive(Debug)]
pub enum RenderError {
    /// The arena's shape gives a picture too big or too small for a GIF.
    Size {
        /// Width asked for, pixels.
        width: u16,
        /// Height that the arena's shape gives, pixels.
        height: f64,
    },
    /// The encoder or the writer under it failed.
    Encoding(gif::EncodingError),
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::Size { width, height } if *height > f64::from(MAX_HEIGHT) => write!(
                f,
                "cannot draw the arena: {width} pixels wide it would be {} pixels tall, and \
                 {MAX_HEIGHT} pixels tall (the most drawn) it would be under a pixel wide",
                crate::scenario::number(height.round())
            ),
            RenderError::Size { width, height } => write!(
                f,
                "cannot draw the arena {width} pixels wide: it would be {} pixels tall \
                 (a GIF takes 1 to 65535)",
                crate::scenario::number(height.round())
            ),
            RenderError::Encoding(e) => write!(f, "cannot write the GIF: {e}"),
        }
    }
}

impl std::error::Error for RenderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RenderError::Encoding(e) => Some(e),
            RenderError::Size { .. } => None,
        }
    }
}

impl From<gif::EncodingError> for RenderError {
    fn from(e: gif::EncodingError) -> Self {
        RenderError::Encoding(e)
    }
}

/// Writes [`Snapshot`]s as the frames of an animated, looping GIF.
///
/// # Examples
///
/// ```
/// use demos::render::{GifRenderer, RenderOptions, ShipMark, Snapshot};
///
/// let mut gif = GifRenderer::new(Vec::new(), (1000.0, 500.0), RenderOptions::default()).unwrap();
/// let ship = ShipMark { position: (500.0, 250.0), heading: 0.0, fleet: 0, size: 40.0, health: 1.0 };
/// gif.add(&Snapshot { ships: vec![ship], ..Snapshot::default() }).unwrap();
/// let bytes = gif.finish().unwrap();
/// assert!(bytes.starts_with(b"GIF89a"));
/// ```
pub struct GifRenderer<W: Write> {
    encoder: gif::Encoder<W>,
    canvas: Canvas,
    /// The last picture written, to find what changed.
    previous: Option<Vec<u8>>,
    /// Pixels per metre.
    scale: f64,
    arena: (f64, f64),
    delay: u16,
    fleet_names: Vec<String>,
    landmarks: Vec<Landmark>,
    frames: usize,
}

impl<W: Write> fmt::Debug for GifRenderer<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GifRenderer")
            .field("width", &self.canvas.width)
            .field("height", &self.canvas.height)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl<W: Write> GifRenderer<W> {
    /// A renderer for an arena of `arena` = (width, height) metres, writing to `writer`.
    ///
    /// # Errors
    ///
    /// [`RenderError::Size`] if the arena's shape gives an impossible picture;
    /// [`RenderError::Encoding`] if the header cannot be written.
    pub fn new(
        writer: W,
        arena: (f64, f64),
        options: RenderOptions,
    ) -> Result<GifRenderer<W>, RenderError> {
        let asked = options.width.max(16);
        let (mut width, mut scale) = (f64::from(asked), f64::from(asked) / arena.0);
        let mut height = (arena.1 * scale).round();
        if height > f64::from(MAX_HEIGHT) {
            // Too tall: as tall as is drawn, and as narrow as the shape says.
            scale = f64::from(MAX_HEIGHT) / arena.1;
            width = (arena.0 * scale).round();
            if width < 1.0 {
                return Err(RenderError::Size {
                    width: asked,
                    height,
                });
            }
            height = f64::from(MAX_HEIGHT);
        }
        if !(1.0..=65535.0).contains(&height) || !scale.is_finite() || scale <= 0.0 {
            return Err(RenderError::Size {
                width: asked,
                height,
            });
        }
        let (width, height) = (width as u16, height as u16);
        let palette: Vec<u8> = PALETTE.iter().flatten().copied().collect();
        let mut encoder = gif::Encoder::new(writer, width, height, &palette)?;
        encoder.set_repeat(gif::Repeat::Infinite)?;
        let delay = (options.frame_delay.as_millis() / 10).clamp(1, u128::from(u16::MAX)) as u16;
        Ok(GifRenderer {
            encoder,
            canvas: Canvas::new(usize::from(width), usize::from(height)),
            previous: None,
            scale,
            arena,
            delay,
            fleet_names: options.fleet_names,
            landmarks: Vec::new(),
            frames: 0,
        })
    }

    /// Draws `landmarks` (gates, borders, labels) under every frame from now on.
    pub fn with_landmarks(mut self, landmarks: Vec<Landmark>) -> GifRenderer<W> {
        self.landmarks = landmarks;
        self
    }

    /// Frames written so far.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// The picture's size in pixels.
    pub fn size(&self) -> (usize, usize) {
        (self.canvas.width, self.canvas.height)
    }

    /// Draws `snapshot` and writes it as the next frame.
    ///
    /// # Errors
    ///
    /// [`RenderError::Encoding`] if the writer fails.
    pub fn add(&mut self, snapshot: &Snapshot) -> Result<(), RenderError> {
        self.draw(snapshot);
        let (width, height) = (self.canvas.width, self.canvas.height);
        let mut frame = gif::Frame {
            delay: self.delay,
            dispose: gif::DisposalMethod::Keep,
            ..gif::Frame::default()
        };
        match &self.previous {
            None => {
                frame.width = width as u16;
                frame.height = height as u16;
                frame.buffer = Cow::Borrowed(&self.canvas.pixels);
                self.encoder.write_frame(&frame)?;
            }
            Some(previous) => {
                // Only the rectangle that changed, with unchanged pixels marked
                // transparent so they compress to almost nothing.
                let (x0, y0, x1, y1) =
                    changed_rect(previous, &self.canvas.pixels, width).unwrap_or((0, 0, 0, 0));
                let mut patch = Vec::with_capacity((x1 - x0 + 1) * (y1 - y0 + 1));
                for y in y0..=y1 {
                    let row = y * width;
                    for x in x0..=x1 {
                        let now = self.canvas.pixels[row + x];
                        patch.push(if now == previous[row + x] {
                            colour::UNCHANGED
                        } else {
                            now
                        });
                    }
                }
                frame.left = x0 as u16;
                frame.top = y0 as u16;
                frame.width = (x1 - x0 + 1) as u16;
                frame.height = (y1 - y0 + 1) as u16;
                frame.transparent = Some(colour::UNCHANGED);
                frame.buffer = Cow::Owned(patch);
                self.encoder.write_frame(&frame)?;
            }
        }
        match &mut self.previous {
            Some(previous) => previous.copy_from_slice(&self.canvas.pixels),
            None => self.previous = Some(self.canvas.pixels.clone()),
        }
        self.frames += 1;
        Ok(())
    }

    /// Ends the GIF and gives the writer back.
    ///
    /// # Errors
    ///
    /// [`RenderError::Encoding`] if the trailer cannot be written.
    pub fn finish(self) -> Result<W, RenderError> {
        Ok(self.encoder.into_inner()?)
    }

    /// World metres to pixel coordinates (y grows downwards on screen).
    fn to_px(&self, p: (f64, f64)) -> (f64, f64) {
        (p.0 * self.scale, (self.arena.1 - p.1) * self.scale)
    }

    fn draw(&mut self, snapshot: &Snapshot) {
        self.canvas.clear(colour::BACKGROUND);
        self.draw_grid();
        self.draw_landmarks();
        for shot in &snapshot.shots {
            let (from, to) = (self.to_px(shot.from), self.to_px(shot.to));
            let c = colour::FLEET_SHOT
                .get(shot.fleet)
                .copied()
                .unwrap_or(colour::NEUTRAL);
            // Two pixels wide, so that fire shows even in a small picture.
            let (dx, dy) = (to.0 - from.0, to.1 - from.1);
            let (ox, oy) = if dx.abs() > dy.abs() {
                (0.0, 1.0)
            } else {
                (1.0, 0.0)
            };
            self.canvas.line(from, to, c);
            self.canvas
                .line((from.0 + ox, from.1 + oy), (to.0 + ox, to.1 + oy), c);
            self.canvas.disc(to, 1.5, colour::FIRE_HOT);
        }
        for boom in &snapshot.explosions {
            let centre = self.to_px(boom.position);
            // Capped: an explosion bigger than the picture would fill it every frame.
            let r = (boom.radius * self.scale).clamp(1.0, MAX_MARK_PX * 4.0);
            let (ring, core) = match boom.age {
                a if a < 0.35 => (colour::FIRE_WARM, Some(colour::FIRE_HOT)),
                a if a < 0.7 => (colour::FIRE_WARM, Some(colour::FIRE_COOL)),
                _ => (colour::FIRE_COOL, None),
            };
            if let Some(core) = core {
                self.canvas.disc(centre, r * (1.0 - boom.age) * 0.6, core);
            }
            self.canvas.circle(centre, r, ring);
        }
        for ship in &snapshot.ships {
            self.draw_ship(ship);
        }
        let caption = text::fit(&snapshot.caption, self.canvas.width as i64 - 2 * MARGIN);
        self.canvas.text(MARGIN, MARGIN, &caption, colour::TEXT);
        self.draw_legend(snapshot);
    }

    /// A faint kilometre grid (coarser when the picture is small) and the arena's edge.
    fn draw_grid(&mut self) {
        let mut step = 1000.0;
        while step * self.scale < 24.0 {
            step *= 2.0;
        }
        let (w, h) = self.arena;
        let mut x = step;
        while x < w {
            let (a, b) = (self.to_px((x, 0.0)), self.to_px((x, h)));
            self.canvas.line(a, b, colour::GRID);
            x += step;
        }
        let mut y = step;
        while y < h {
            let (a, b) = (self.to_px((0.0, y)), self.to_px((w, y)));
            self.canvas.line(a, b, colour::GRID);
            y += step;
        }
        let (cw, ch) = (
            self.canvas.width as f64 - 1.0,
            self.canvas.height as f64 - 1.0,
        );
        for (a, b) in [
            ((0.0, 0.0), (cw, 0.0)),
            ((cw, 0.0), (cw, ch)),
            ((cw, ch), (0.0, ch)),
            ((0.0, ch), (0.0, 0.0)),
        ] {
            self.canvas.line(a, b, colour::BORDER);
        }
    }

    fn draw_landmarks(&mut self) {
        for landmark in &self.landmarks {
            match landmark {
                Landmark::Ring { position, radius } => {
                    let r = (radius * self.scale).max(3.0);
                    let centre = self.to_px(*position);
                    self.canvas.circle(centre, r, colour::TEXT);
                }
                Landmark::Line { from, to } => {
                    let (a, b) = (self.to_px(*from), self.to_px(*to));
                    self.canvas.line(a, b, colour::BORDER);
                }
                Landmark::Label { position, text } => {
                    let (x, y) = self.to_px(*position);
                    self.canvas.text(x as i64, y as i64, text, colour::TEXT);
                }
            }
        }
    }

    /// An arrowhead pointing along the heading, at least a few pixels long.
    fn draw_ship(&mut self, ship: &ShipMark) {
        let centre = self.to_px(ship.position);
        // Capped: a hull of 1e308 m would fill the picture for every ship in every frame.
        let r = (2.5 + ship.size * self.scale * 1.2).min(MAX_MARK_PX);
        // Screen y points down, so the heading's y component flips.
        let (dx, dy) = (ship.heading.cos(), -ship.heading.sin());
        let (px, py) = (-dy, dx);
        let at = |forward: f64, side: f64| {
            (
                centre.0 + (dx * forward + px * side) * r,
                centre.1 + (dy * forward + py * side) * r,
            )
        };
        // An arrowhead: a nose, two tail corners and a notch between them.
        let (nose, notch) = (at(1.1, 0.0), at(-0.35, 0.0));
        let (left, right) = (at(-0.8, 0.65), at(-0.8, -0.65));
        let colours = if ship.health < 0.5 {
            colour::FLEET_DIM
        } else {
            colour::FLEET
        };
        let c = colours.get(ship.fleet).copied().unwrap_or(colour::NEUTRAL);
        self.canvas.triangle([nose, left, notch], c);
        self.canvas.triangle([nose, notch, right], c);
        // A pixel at the centre keeps even the smallest ship visible.
        self.canvas.set(centre.0 as i64, centre.1 as i64, c);
    }

    /// Bottom-left: each fleet's colour, name and ships in the frame, kept inside the
    /// picture (long names are cut with `…`).
    fn draw_legend(&mut self, snapshot: &Snapshot) {
        let fleets = self.fleet_names.len().max(
            snapshot
                .ships
                .iter()
                .map(|s| s.fleet + 1)
                .max()
                .unwrap_or(0),
        );
        let entries: Vec<(String, usize)> = (0..fleets)
            .map(|fleet| {
                let name = self.fleet_names.get(fleet).map_or("", String::as_str);
                let count = snapshot.ships.iter().filter(|s| s.fleet == fleet).count();
                (name.to_owned(), count)
            })
            .collect();
        let y = self.canvas.height as i64 - MARGIN - text::LINE_HEIGHT;
        for (fleet, (x, label)) in legend_layout(&entries, self.canvas.width as i64)
            .into_iter()
            .enumerate()
        {
            let c = colour::FLEET.get(fleet).copied().unwrap_or(colour::NEUTRAL);
            self.canvas.rect(x, y + 3, SWATCH, SWATCH, c);
            self.canvas.text(x + SWATCH + 4, y, &label, colour::TEXT);
        }
    }
}

/// Space between the picture's edge and its text, pixels.
const MARGIN: i64 = 6;
/// Side of a legend entry's colour square, pixels.
const SWATCH: i64 = 10;
/// Space between legend entries, pixels.
const ENTRY_GAP: i64 = 14;

/// Where each legend entry goes in a picture `width` pixels wide, and its label: the
/// fleet's name and ship count, the names cut with `…` so that every entry ends inside
/// the picture (each entry gets an equal share of the room the counts leave). In a
/// picture too narrow for even that, the labels are just the counts, then nothing.
fn legend_layout(entries: &[(String, usize)], width: i64) -> Vec<(i64, String)> {
    let room = width - 2 * MARGIN;
    let fixed = |label: &str| SWATCH + 4 + text::width(label);
    let gaps = ENTRY_GAP * (entries.len() as i64 - 1).max(0);
    let whole: Vec<String> = entries
        .iter()
        .map(|(name, count)| format!("{name} {count}").trim_start().to_owned())
        .collect();
    let labels: Vec<String> = if whole.iter().map(|l| fixed(l)).sum::<i64>() + gaps <= room {
        whole
    } else {
        let counts: Vec<String> = entries.iter().map(|(_, n)| format!(" {n}")).collect();
        let for_names = room - gaps - counts.iter().map(|c| fixed(c)).sum::<i64>();
        let share = for_names / entries.len().max(1) as i64;
        let cut: Vec<String> = entries
            .iter()
            .zip(&counts)
            .map(|((name, _), count)| {
                format!("{}{count}", text::fit(name, share))
                    .trim_start()
                    .to_owned()
            })
            .collect();
        if cut.iter().map(|l| fixed(l)).sum::<i64>() + gaps <= room {
            cut
        } else {
            counts.iter().map(|c| c.trim_start().to_owned()).collect()
        }
    };
    let mut x = MARGIN;
    let mut placed = Vec::new();
    for label in labels {
        let end = x + fixed(&label);
        if end > width - MARGIN {
            break;
        }
        placed.push((x, label));
        x = end + ENTRY_GAP;
    }
    placed
}

/// The smallest rectangle (x0, y0, x1, y1; inclusive) holding every changed pixel.
fn changed_rect(before: &[u8], after: &[u8], width: usize) -> Option<(usize, usize, usize, usize)> {
    let mut rect: Option<(usize, usize, usize, usize)> = None;
    for (y, (a, b)) in before.chunks(width).zip(after.chunks(width)).enumerate() {
        if a == b {
            continue;
        }
        let first = a.iter().zip(b).position(|(p, q)| p != q).unwrap_or(0);
        let last = width
            - 1
            - a.iter()
                .rev()
                .zip(b.iter().rev())
                .position(|(p, q)| p != q)
                .unwrap_or(0);
        rect = Some(match rect {
            None => (first, y, last, y),
            Some((x0, y0, x1, _)) => (x0.min(first), y0, x1.max(last), y),
        });
    }
    rect
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_rect_bounds_exactly_the_changes() {
        let before = vec![0u8; 5 * 4];
        let mut after = before.clone();
        assert_eq!(changed_rect(&before, &after, 5), None);
        after[5 + 1] = 1; // (1, 1)
        after[2 * 5 + 3] = 1; // (3, 2)
        assert_eq!(changed_rect(&before, &after, 5), Some((1, 1, 3, 2)));
    }

    #[test]
    fn the_legend_stays_inside_the_picture_and_cuts_long_names_visibly() {
        let fits = |entries: &[(String, usize)], width: i64| {
            let placed = legend_layout(entries, width);
            for (x, label) in &placed {
                assert!(
                    *x >= MARGIN && x + SWATCH + 4 + text::width(label) <= width - MARGIN,
                    "{label:?} at {x} leaves a {width} px picture"
                );
            }
            placed
        };
        let short = [("Red".to_owned(), 12), ("Blue".to_owned(), 9)];
        let placed = fits(&short, 640);
        assert_eq!(
            placed.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>(),
            ["Red 12", "Blue 9"]
        );
        let long = [
            (
                "The Grand Imperial Armada of the Eastern Reaches".to_owned(),
                1200,
            ),
            ("Западный флот 西方舰队 Ünïcödé".to_owned(), 800),
        ];
        let placed = fits(&long, 640);
        assert_eq!(placed.len(), 2);
        // Each name gets an equal share: the long one is cut, the shorter one fits.
        assert!(placed[0].1.ends_with("… 1200"), "{placed:?}");
        assert_eq!(placed[1].1, "Западный флот 西方舰队 Ünïcödé 800");
        let placed = fits(&long, 400);
        assert!(placed.iter().all(|(_, l)| l.contains('…')), "{placed:?}");
        // Too narrow for names: just the counts; narrower still: what fits.
        let placed = fits(&long, 120);
        assert_eq!(
            placed.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>(),
            ["1200", "800"]
        );
        assert!(fits(&long, 64).len() <= 1);
    }

    #[test]
    fn an_arena_of_impossible_shape_is_an_error() {
        let too_tall = GifRenderer::new(Vec::new(), (10.0, 1e7), RenderOptions::default());
        let err = too_tall.unwrap_err();
        assert!(matches!(err, RenderError::Size { .. }));
        assert!(err.to_string().contains("under a pixel wide"), "{err}");
        let too_flat = GifRenderer::new(Vec::new(), (1e7, 1.0), RenderOptions::default());
        let err = too_flat.unwrap_err();
        assert!(
            err.to_string().contains("(a GIF takes 1 to 65535)"),
            "{err}"
        );
    }

    #[test]
    fn a_tall_arena_is_drawn_at_most_max_height_pixels_high_and_narrower() {
        // A corridor 100 times as long as it is wide: 640 x 64,000 pixels before the cap.
        let mut gif =
            GifRenderer::new(Vec::new(), (160.0, 16_000.0), RenderOptions::default()).unwrap();
        assert_eq!(gif.size(), (41, usize::from(MAX_HEIGHT)));
        // Ships at both ends and one off the picture all draw without trouble.
        let ships = [(80.0, 10.0), (80.0, 15_990.0), (1e9, -1e9)].map(|position| ShipMark {
            position,
            heading: 1.0,
            fleet: 1,
            size: 40.0,
            health: 0.5,
        });
        gif.add(&Snapshot {
            ships: ships.to_vec(),
            ..Snapshot::default()
        })
        .unwrap();
        assert!(gif.finish().unwrap().starts_with(b"GIF89a"));
        // As narrow as a single pixel still draws, legend and all.
        let names = RenderOptions {
            fleet_names: vec!["Crimson".into(), "Azure".into()],
            ..RenderOptions::default()
        };
        let mut gif = GifRenderer::new(Vec::new(), (1.5, 5_000.0), names).unwrap();
        assert_eq!(gif.size(), (1, usize::from(MAX_HEIGHT)));
        gif.add(&Snapshot {
            ships: ships.to_vec(),
            ..Snapshot::default()
        })
        .unwrap();
        assert!(gif.finish().unwrap().starts_with(b"GIF89a"));
        // A picture no taller than the cap keeps the width asked for.
        let gif = GifRenderer::new(Vec::new(), (1000.0, 6000.0), RenderOptions::default()).unwrap();
        assert_eq!(gif.size(), (640, 3840));
    }
}
