//! Checks a screenshot shows a battle: ships of both fleets on the field, not a blank
//! or one-coloured frame. CI's test runs it on the picture `--screenshot` saved.

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, BufWriter};
use std::path::Path;

use crate::view::Layout;

/// How far (summed over red, green and blue, 0 to 765) a pixel may be from a fleet's
/// colour and still count as that fleet's: ship edges are blended with the background.
const FLEET_TOLERANCE: u32 = 60;

/// Fewest pixels of each fleet's colour a battle shows (a small frigate alone covers
/// about thirty).
pub const MIN_FLEET_PIXELS: usize = 60;

/// Fewest different colours a drawn frame has (a blank frame has one).
pub const MIN_COLOURS: usize = 16;

/// What a screenshot shows, counted.
#[derive(Clone, Debug, PartialEq)]
pub struct Tally {
    /// Width and height, pixels.
    pub size: (u32, u32),
    /// Pixels of each fleet's colour on the field (not under a panel), by fleet.
    pub fleet_pixels: Vec<usize>,
    /// Different colours in the whole picture.
    pub colours: usize,
    /// The share of the picture taken by its commonest colour.
    pub commonest_share: f64,
}

/// Why a screenshot does not show a battle.
#[derive(Clone, Debug, PartialEq)]
pub enum NotABattle {
    /// The bytes are not `width` x `height` RGBA pixels.
    BadSize {
        /// Bytes given.
        bytes: usize,
        /// Width and height claimed.
        size: (u32, u32),
    },
    /// (Nearly) one colour: nothing was drawn.
    Blank(Tally),
    /// A fleet has (almost) no ships on the field.
    FleetMissing {
        /// The fleet, by index.
        fleet: usize,
        /// What was counted.
        tally: Tally,
    },
}

impl fmt::Display for NotABattle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotABattle::BadSize { bytes, size } => write!(
                f,
                "{bytes} bytes are not a {} x {} RGBA picture",
                size.0, size.1
            ),
            NotABattle::Blank(t) => write!(
                f,
                "the picture is blank: {} colour(s), the commonest covers {:.1}%",
                t.colours,
                t.commonest_share * 100.0
            ),
            NotABattle::FleetMissing { fleet, tally } => write!(
                f,
                "fleet {fleet} is not on the field: {} pixel(s) of its colour (at least \
                 {MIN_FLEET_PIXELS} wanted; per fleet: {:?})",
                tally.fleet_pixels[*fleet], tally.fleet_pixels
            ),
        }
    }
}

impl std::error::Error for NotABattle {}

/// Counts what the `width` x `height` RGBA picture `rgba` (rows top to bottom) shows of
/// `fleets` fleets, skipping the panels a window of its size has.
///
/// # Errors
///
/// [`NotABattle::BadSize`] when `rgba` is not that many pixels.
pub fn tally(rgba: &[u8], width: u32, height: u32, fleets: usize) -> Result<Tally, NotABattle> {
    let size = (width, height);
    if rgba.len() != width as usize * height as usize * 4 {
        return Err(NotABattle::BadSize {
            bytes: rgba.len(),
            size,
        });
    }
    let layout = Layout::new(width as f32, height as f32);
    let wanted: Vec<[u8; 3]> = (0..fleets).map(demos::render::fleet_colour).collect();
    let mut fleet_pixels = vec![0; fleets];
    let mut counts = std::collections::HashMap::new();
    for (i, px) in rgba.chunks_exact(4).enumerate() {
        let rgb = [px[0], px[1], px[2]];
        *counts.entry(rgb).or_insert(0usize) += 1;
        let (x, y) = ((i % width as usize) as f32, (i / width as usize) as f32);
        if layout.under_a_panel(x, y) {
            continue;
        }
        if let Some(fleet) = wanted
            .iter()
            .position(|c| distance(*c, rgb) <= FLEET_TOLERANCE)
        {
            fleet_pixels[fleet] += 1;
        }
    }
    let pixels = (width as usize * height as usize).max(1);
    let commonest = counts.values().copied().max().unwrap_or(0);
    Ok(Tally {
        size,
        fleet_pixels,
        colours: counts.len(),
        commonest_share: commonest as f64 / pixels as f64,
    })
}

/// Checks the picture shows a battle between `fleets` fleets: many colours, and each
/// fleet's colour on the field.
///
/// # Errors
///
/// [`NotABattle`], saying what is wrong.
///
/// # Examples
///
/// ```
/// use demos_live::screenshot::{check, NotABattle};
///
/// let black = vec![0u8; 64 * 48 * 4];
/// assert!(matches!(check(&black, 64, 48, 2), Err(NotABattle::Blank(_))));
/// ```
pub fn check(rgba: &[u8], width: u32, height: u32, fleets: usize) -> Result<Tally, NotABattle> {
    let tally = tally(rgba, width, height, fleets)?;
    if tally.colours < MIN_COLOURS || tally.commonest_share > 0.98 {
        return Err(NotABattle::Blank(tally));
    }
    if let Some(fleet) = tally
        .fleet_pixels
        .iter()
        .position(|n| *n < MIN_FLEET_PIXELS)
    {
        return Err(NotABattle::FleetMissing { fleet, tally });
    }
    Ok(tally)
}

/// Writes a `width` x `height` RGBA picture (rows top to bottom) as an opaque PNG.
///
/// # Errors
///
/// The file cannot be created or written, or `rgba` is not that many pixels.
pub fn save_png(path: &Path, width: u32, height: u32, rgba: &[u8]) -> io::Result<()> {
    let mut opaque = rgba.to_vec();
    for px in opaque.chunks_exact_mut(4) {
        px[3] = 255;
    }
    let file = BufWriter::new(File::create(path)?);
    let mut encoder = png::Encoder::new(file, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Best);
    let mut writer = encoder.write_header().map_err(io::Error::other)?;
    writer.write_image_data(&opaque).map_err(io::Error::other)?;
    writer.finish().map_err(io::Error::other)
}

/// Reads an 8-bit RGB or RGBA PNG: its width, height and RGBA pixels (rows top to
/// bottom).
///
/// # Errors
///
/// The file cannot be read or is not such a PNG.
pub fn load_png(path: &Path) -> io::Result<(u32, u32, Vec<u8>)> {
    let decoder = png::Decoder::new(BufReader::new(File::open(path)?));
    let mut reader = decoder.read_info().map_err(io::Error::other)?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).map_err(io::Error::other)?;
    buf.truncate(info.buffer_size());
    if info.bit_depth != png::BitDepth::Eight {
        return Err(io::Error::other(format!(
            "{}: {:?}-bit samples, not 8-bit",
            path.display(),
            info.bit_depth
        )));
    }
    let rgba = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::Rgb => buf
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        other => {
            return Err(io::Error::other(format!(
                "{}: {other:?} pixels, not RGB or RGBA",
                path.display()
            )))
        }
    };
    Ok((info.width, info.height, rgba))
}

fn distance(a: [u8; 3], b: [u8; 3]) -> u32 {
    a.iter().zip(b).map(|(x, y)| u32::from(x.abs_diff(y))).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dark picture with some noise (many colours) and `blobs` squares of colour.
    fn picture(w: u32, h: u32, blobs: &[([u8; 3], (u32, u32), u32)]) -> Vec<u8> {
        let mut rgba = Vec::with_capacity((w * h * 4) as usize);
        for y in 0..h {
            for x in 0..w {
                let n = ((x * 7 + y * 13) % 32) as u8;
                rgba.extend_from_slice(&[n, n / 2, n + 10, 255]);
            }
        }
        for &(colour, (x0, y0), side) in blobs {
            for y in y0..y0 + side {
                for x in x0..x0 + side {
                    let i = ((y * w + x) * 4) as usize;
                    rgba[i..i + 3].copy_from_slice(&colour);
                }
            }
        }
        rgba
    }

    const W: u32 = 1280;
    const H: u32 = 800;

    #[test]
    fn both_fleets_on_the_field_pass() {
        let red = demos::render::fleet_colour(0);
        let blue = demos::render::fleet_colour(1);
        let rgba = picture(W, H, &[(red, (500, 400), 10), (blue, (800, 400), 10)]);
        let tally = check(&rgba, W, H, 2).unwrap();
        assert_eq!(tally.fleet_pixels, [100, 100]);
    }

    #[test]
    fn one_fleet_alone_fails() {
        let blue = demos::render::fleet_colour(1);
        let rgba = picture(W, H, &[(blue, (800, 400), 10)]);
        let err = check(&rgba, W, H, 2).unwrap_err();
        assert!(
            matches!(err, NotABattle::FleetMissing { fleet: 0, .. }),
            "{err}"
        );
    }

    #[test]
    fn a_fleet_colour_only_under_the_panels_does_not_count() {
        let red = demos::render::fleet_colour(0);
        let blue = demos::render::fleet_colour(1);
        // In the HUD (top left) and the help bar (bottom).
        let rgba = picture(W, H, &[(red, (40, 40), 10), (blue, (600, 780), 10)]);
        let tally = check(&rgba, W, H, 2).unwrap_err();
        assert!(matches!(tally, NotABattle::FleetMissing { fleet: 0, .. }));
    }

    #[test]
    fn pictures_survive_a_round_trip_through_png() {
        let red = demos::render::fleet_colour(0);
        let rgba = picture(64, 48, &[(red, (3, 4), 5)]);
        let path = std::env::temp_dir().join(format!("demos-live-{}.png", std::process::id()));
        save_png(&path, 64, 48, &rgba).unwrap();
        let back = load_png(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(back.unwrap(), (64, 48, rgba));
    }

    #[test]
    fn one_colour_fails_and_so_do_wrong_sizes() {
        let grey = [90u8, 90, 90, 255].repeat((W * H) as usize);
        assert!(matches!(check(&grey, W, H, 2), Err(NotABattle::Blank(_))));
        assert!(matches!(
            check(&grey, W, H + 1, 2),
            Err(NotABattle::BadSize { .. })
        ));
    }
}
