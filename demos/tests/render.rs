//! The GIF renderer writes a GIF that decodes back, frame for frame, showing both fleets.

use demos::render::{
    fleet_colour, Explosion, GifRenderer, RenderOptions, ShipMark, Shot, Snapshot,
};

/// A little battle: two lines of ships closing in, firing, one of them blowing up.
fn snapshot(frame: usize) -> Snapshot {
    let t = frame as f64;
    let mut ships = Vec::new();
    for i in 0..6 {
        let y = 1000.0 + 800.0 * i as f64;
        ships.push(ShipMark {
            position: (1000.0 + 300.0 * t, y),
            heading: 0.0,
            fleet: 0,
            size: 40.0 + 10.0 * i as f64,
            health: 1.0,
        });
        ships.push(ShipMark {
            position: (9000.0 - 300.0 * t, y),
            heading: std::f64::consts::PI,
            fleet: 1,
            size: 60.0,
            health: if i == 0 { 0.3 } else { 1.0 },
        });
    }
    let shots = if frame % 2 == 0 {
        vec![Shot {
            from: ships[0].position,
            to: ships[1].position,
            fleet: 0,
        }]
    } else {
        Vec::new()
    };
    Snapshot {
        ships,
        shots,
        explosions: vec![Explosion {
            position: (5000.0, 3000.0),
            radius: 100.0 + 50.0 * t,
            age: t / 10.0,
        }],
        caption: format!("T+{frame}S"),
    }
}

/// Decodes `bytes`, compositing each frame onto the last; returns the full pictures.
fn decode(bytes: &[u8]) -> (usize, usize, Vec<Vec<u8>>) {
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    let mut decoder = options.read_info(bytes).unwrap();
    let (width, height) = (usize::from(decoder.width()), usize::from(decoder.height()));
    let mut picture = vec![0u8; width * height * 4];
    let mut pictures = Vec::new();
    while let Some(frame) = decoder.read_next_frame().unwrap() {
        let (left, top) = (usize::from(frame.left), usize::from(frame.top));
        let w = usize::from(frame.width);
        for (i, px) in frame.buffer.chunks(4).enumerate() {
            if px[3] == 0 {
                continue; // transparent: the pixel stays as it was
            }
            let (x, y) = (left + i % w, top + i / w);
            let at = (y * width + x) * 4;
            picture[at..at + 4].copy_from_slice(px);
        }
        pictures.push(picture.clone());
    }
    (width, height, pictures)
}

fn has_colour(picture: &[u8], rgb: [u8; 3]) -> bool {
    picture.chunks(4).any(|px| px[..3] == rgb)
}

#[test]
fn the_gif_decodes_with_every_frame_and_both_fleets() {
    let options = RenderOptions {
        width: 320,
        fleet_names: vec!["Red".into(), "Blue".into()],
        ..RenderOptions::default()
    };
    let mut gif = GifRenderer::new(Vec::new(), (10000.0, 6000.0), options).unwrap();
    assert_eq!(gif.size(), (320, 192));
    for frame in 0..10 {
        gif.add(&snapshot(frame)).unwrap();
    }
    assert_eq!(gif.frames(), 10);
    let bytes = gif.finish().unwrap();

    let (width, height, pictures) = decode(&bytes);
    assert_eq!((width, height), (320, 192));
    assert_eq!(pictures.len(), 10);
    for (i, picture) in pictures.iter().enumerate() {
        assert!(
            has_colour(picture, fleet_colour(0)),
            "fleet 0 missing in frame {i}"
        );
        assert!(
            has_colour(picture, fleet_colour(1)),
            "fleet 1 missing in frame {i}"
        );
    }
    // Frames differ: the ships move.
    assert_ne!(pictures[0], pictures[5]);
    // Weapon fire shows on even frames only.
    let fire = demos::render::PALETTE[5];
    assert!(has_colour(&pictures[0], fire));
    assert!(!has_colour(&pictures[1], fire));
}

#[test]
fn frames_after_the_first_are_stored_as_changes() {
    let mut gif =
        GifRenderer::new(Vec::new(), (10000.0, 6000.0), RenderOptions::default()).unwrap();
    let still = snapshot(0);
    for _ in 0..20 {
        gif.add(&still).unwrap();
    }
    let bytes = gif.finish().unwrap();
    let (_, _, pictures) = decode(&bytes);
    assert_eq!(pictures.len(), 20);
    assert!(pictures.iter().all(|p| p == &pictures[0]));
    // Nineteen unchanged frames cost a few bytes each, not a picture each.
    let mut one =
        GifRenderer::new(Vec::new(), (10000.0, 6000.0), RenderOptions::default()).unwrap();
    one.add(&still).unwrap();
    let single = one.finish().unwrap().len();
    assert!(
        bytes.len() < single + 20 * 64,
        "{} vs {single}",
        bytes.len()
    );
}
