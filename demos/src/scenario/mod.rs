//! The skirmish's scenario files: ship classes, two fleets, the arena and the seed, read
//! from RON and checked before a battle starts.
//!
//! RON rather than TOML: a scenario is nested data (a fleet holds squadrons, a class holds
//! a dozen numbers), and RON writes nesting the way Rust reads it, `(class: "Frigate",
//! count: 8)`, where TOML needs `[[fleets.ships]]` tables whose nesting the reader must
//! reconstruct. RON also allows comments and trailing commas, and its parse errors carry
//! the line and column, which every error here reports. The format is documented in
//! `assets/README.md`.
//!
//! Errors come in four kinds, all [`ScenarioError`]: the file cannot be read; it is not
//! UTF-8 (the error names the byte); it does not parse or a value is impossible (a
//! negative speed, zero ships, a string where a number goes: checked while parsing, so
//! these carry the line, the column and the field's path, and say what was found); or
//! the parts do not fit together (an unknown ship class, a fleet outside the arena),
//! which names the offending entry.

mod diagnose;
mod error;
mod quote;
mod values;

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;

pub use error::{Excerpt, Location, ScenarioError, UnknownClass};
pub(crate) use values::number;
use values::{
    class_map, finite, fraction, frame_count, name, non_negative, positive, seed, ship_count,
    time_step, title,
};
pub use values::{MAX_FRAMES, MAX_NAME, MAX_SHIPS, MAX_TITLE};

/// Largest scenario file, in bytes (1 MiB; the shipped ones have about 3 KB). A larger
/// file, or one that never ends (`/dev/zero`), is refused before it is parsed.
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// A skirmish: the arena, the ship classes and the two fleets.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A title for reports (at most [`MAX_TITLE`] characters).
    #[serde(deserialize_with = "title")]
    pub name: String,
    /// Seed of every random choice in the battle (the `--seed` flag overrides it).
    #[serde(deserialize_with = "seed")]
    pub seed: u64,
    /// The battlefield.
    pub arena: Arena,
    /// Game seconds per frame (default 0.05: twenty frames per game second).
    #[serde(default = "default_time_step", deserialize_with = "time_step")]
    pub time_step: f64,
    /// How many frames the battle runs unless `--frames` says otherwise (default 2400, at
    /// most [`MAX_FRAMES`]).
    #[serde(default = "default_frames", deserialize_with = "frame_count")]
    pub frames: u32,
    /// The ship classes, by name, in the order the file gives them.
    #[serde(deserialize_with = "class_map")]
    pub classes: Vec<ShipClass>,
    /// The two fleets.
    pub fleets: Vec<Fleet>,
}

/// The battlefield: a rectangle from (0, 0) to (width, height), in metres.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arena {
    /// Extent along x, in metres.
    #[serde(deserialize_with = "positive")]
    pub width: f64,
    /// Extent along y, in metres.
    #[serde(deserialize_with = "positive")]
    pub height: f64,
}

impl Arena {
    /// Whether `point` lies inside the arena (edges included).
    pub fn contains(&self, point: Point) -> bool {
        (0.0..=self.width).contains(&point.x) && (0.0..=self.height).contains(&point.y)
    }
}

/// A position in the arena, in metres.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Point {
    /// Metres from the left edge.
    #[serde(deserialize_with = "finite")]
    pub x: f64,
    /// Metres from the bottom edge.
    #[serde(deserialize_with = "finite")]
    pub y: f64,
}

/// A kind of ship: how tough, fast and dangerous it is, and how it behaves.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipClass {
    /// The class's name (the key it has in the scenario's `classes` map).
    #[serde(skip)]
    pub name: String,
    /// Damage it takes before it is destroyed.
    #[serde(deserialize_with = "positive")]
    pub hit_points: f64,
    /// Top speed, metres per second.
    #[serde(deserialize_with = "positive")]
    pub speed: f64,
    /// Weapon range, metres; it orbits its target at about this distance.
    #[serde(deserialize_with = "positive")]
    pub weapon_range: f64,
    /// Damage per shot; 0 for a ship without weapons (a hauler, a scout), which still
    /// closes in and "fires" but hurts nobody.
    #[serde(deserialize_with = "non_negative")]
    pub damage: f64,
    /// Seconds between shots.
    #[serde(deserialize_with = "positive")]
    pub cycle_time: f64,
    /// Seconds to lock a target before the first shot.
    #[serde(deserialize_with = "non_negative")]
    pub lock_time: f64,
    /// Hit points repaired per second while it retreats (default 0: no repairs).
    #[serde(default, deserialize_with = "non_negative")]
    pub repair_rate: f64,
    /// It breaks off and retreats to repair when its hit points fall below this fraction
    /// of the full amount (default 0.25; 0 never retreats).
    #[serde(default = "default_retreat_below", deserialize_with = "fraction")]
    pub retreat_below: f64,
    /// Seconds to align and warp out once it decides to leave (default 4).
    #[serde(default = "default_align_time", deserialize_with = "non_negative")]
    pub align_time: f64,
    /// Hull radius in metres, for drawing and spacing (default 50).
    #[serde(default = "default_size", deserialize_with = "positive")]
    pub size: f64,
}

impl ShipClass {
    /// Damage per second while it fires.
    pub fn damage_per_second(&self) -> f64 {
        self.damage / self.cycle_time
    }
}

/// One side of the battle.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fleet {
    /// The fleet's name (unique in the scenario; at most [`MAX_NAME`] characters).
    #[serde(deserialize_with = "name")]
    pub name: String,
    /// Centre of the starting formation.
    pub position: Point,
    /// Ships start within this many metres of `position` (default 1000).
    #[serde(default = "default_spread", deserialize_with = "non_negative")]
    pub spread: f64,
    /// Its ships warp out when the fleet's strength (its hit points, summed, times its
    /// damage per second, summed: Lanchester's square law) falls below this fraction of
    /// the hostile fleet's (default 0.25; 0 fights to the last ship).
    #[serde(default = "default_warp_out_below", deserialize_with = "fraction")]
    pub warp_out_below: f64,
    /// What the fleet is made of.
    pub ships: Vec<Squadron>,
}

impl Fleet {
    /// Ships in the fleet (a checked scenario's total fits; saturates otherwise).
    pub fn ship_count(&self) -> u32 {
        self.ships
            .iter()
            .fold(0u32, |sum, s| sum.saturating_add(s.count))
    }
}

/// Some ships of one class in a fleet.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Squadron {
    /// The name of a class in the scenario's `classes`.
    pub class: String,
    /// How many (at least 1; all squadrons together at most [`MAX_SHIPS`]).
    #[serde(deserialize_with = "ship_count")]
    pub count: u32,
}

fn default_time_step() -> f64 {
    0.05
}
fn default_frames() -> u32 {
    2400
}
fn default_retreat_below() -> f64 {
    0.25
}
fn default_align_time() -> f64 {
    4.0
}
fn default_size() -> f64 {
    50.0
}
fn default_spread() -> f64 {
    1000.0
}
fn default_warp_out_below() -> f64 {
    0.25
}

/// The byte offset of `needle` in `text`, if it occurs exactly once.
fn locate_unique(text: &str, needle: &str) -> Option<usize> {
    let mut found = text.match_indices(needle);
    let (offset, _) = found.next()?;
    if found.next().is_some() {
        return None;
    }
    Some(offset)
}

impl Scenario {
    /// Reads and checks the scenario in the file at `path`.
    ///
    /// # Errors
    ///
    /// [`ScenarioError::Read`] if the file cannot be read (a directory, a missing
    /// file), [`ScenarioError::TooLarge`] if it has more than [`MAX_FILE_BYTES`] (only
    /// that much is read: `/dev/zero` is refused too), [`ScenarioError::NotUtf8`]
    /// (naming the first bad byte) if it is not UTF-8 text, otherwise as
    /// [`Scenario::parse`].
    pub fn load(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        use std::io::Read;

        let path = path.as_ref();
        let read_error = |source| ScenarioError::Read {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_error)?;
        let size = file
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        if bytes.len() > MAX_FILE_BYTES {
            return Err(ScenarioError::TooLarge {
                path: path.to_owned(),
                size,
            });
        }
        let text = std::str::from_utf8(&bytes)
            .map_err(|e| ScenarioError::not_utf8(path, &bytes, e.valid_up_to()))?;
        Scenario::parse(text, path)
    }

    /// Parses and checks a scenario; `path` is only used in error messages.
    ///
    /// # Errors
    ///
    /// [`ScenarioError::Parse`] (with line, column and the field's path) for text that
    /// is not a scenario or holds an impossible value; [`ScenarioError::UnknownClass`] and
    /// [`ScenarioError::Invalid`] for parts that do not fit together.
    ///
    /// # Examples
    ///
    /// ```
    /// use demos::scenario::{Scenario, ScenarioError};
    ///
    /// let text = r#"Scenario(name: "x", seed: 1, arena: (width: 100, height: 100),
    ///     classes: {}, fleets: [])"#;
    /// let err = Scenario::parse(text, "x.ron".as_ref()).unwrap_err();
    /// assert!(matches!(err, ScenarioError::Invalid { .. }));
    /// assert!(err.to_string().contains("no ship classes"));
    /// ```
    pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        // Editors on Windows may start a UTF-8 file with a byte order mark; RON does not
        // skip it. Positions are then counted after it, as the editor shows them.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut deserializer = ron::Deserializer::from_str(text)
            .map_err(|e| diagnose::parse_error(path, text, e, None))?;
        let scenario: Scenario =
            serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
                let field = e.path().clone();
                let spanned = deserializer.span_error(e.into_inner());
                diagnose::parse_error(path, text, spanned, Some(&field))
            })?;
        deserializer
            .end()
            .map_err(|e| diagnose::parse_error(path, text, deserializer.span_error(e), None))?;
        scenario.check(text, path)?;
        Ok(scenario)
    }

    /// The checks that need the whole scenario (each parsed value is checked already).
    fn check(&self, text: &str, path: &Path) -> Result<(), ScenarioError> {
        let invalid = |entry: String, message: String| ScenarioError::Invalid {
            path: path.to_owned(),
            entry,
            message,
        };
        if self.classes.is_empty() {
            return Err(invalid(
                "classes".into(),
                "the scenario defines no ship classes".into(),
            ));
        }
        if self.fleets.len() != 2 {
            return Err(invalid(
                "fleets".into(),
                format!(
                    "a skirmish needs exactly 2 fleets, found {}",
                    self.fleets.len()
                ),
            ));
        }
        // Counts are checked one by one while parsing; their sum must fit too (the fuzz
        // corpus found a fleet of 4294967295 + 1 ships overflowing it; a battle of
        // billions of ships ran out of memory setting up).
        let total: u64 = self
            .fleets
            .iter()
            .flat_map(|f| &f.ships)
            .map(|s| u64::from(s.count))
            .sum();
        if total > u64::from(MAX_SHIPS) {
            let per_fleet: Vec<String> = self
                .fleets
                .iter()
                .map(|f| format!("{} {}", quote::quoted(&f.name), f.ship_count()))
                .collect();
            return Err(invalid(
                "fleets".into(),
                format!(
                    "{total} ships in all ({}); a scenario has at most {MAX_SHIPS}",
                    per_fleet.join(", ")
                ),
            ));
        }
        let mut names = BTreeSet::new();
        for fleet in &self.fleets {
            let entry = format!("fleet {}", quote::quoted(&fleet.name));
            if fleet.name.trim().is_empty() {
                return Err(invalid("fleets".into(), "a fleet needs a name".into()));
            }
            if !names.insert(fleet.name.as_str()) {
                return Err(invalid(entry, "two fleets have this name".into()));
            }
            if fleet.ships.is_empty() {
                return Err(invalid(entry, "the fleet has no ships".into()));
            }
            if !self.arena.contains(fleet.position) {
                return Err(invalid(
                    entry,
                    format!(
                        "position ({}, {}) lies outside the arena (0..{}, 0..{})",
                        number(fleet.position.x),
                        number(fleet.position.y),
                        number(self.arena.width),
                        number(self.arena.height)
                    ),
                ));
            }
            for (index, squadron) in fleet.ships.iter().enumerate() {
                if self.class(&squadron.class).is_none() {
                    let quoted = format!("\"{}\"", squadron.class);
                    let at = locate_unique(text, &quoted);
                    return Err(ScenarioError::UnknownClass(Box::new(UnknownClass {
                        path: path.to_owned(),
                        fleet: fleet.name.clone(),
                        entry: index,
                        class: squadron.class.clone(),
                        known: self.classes.iter().map(|c| c.name.clone()).collect(),
                        location: at.map(|at| diagnose::location_of(text, at)),
                        excerpt: at.map(|at| Excerpt::at(text, at, quoted.len())),
                    })));
                }
            }
        }
        Ok(())
    }

    /// The class with this name.
    pub fn class(&self, name: &str) -> Option<&ShipClass> {
        self.classes.iter().find(|c| c.name == name)
    }

    /// Ships in both fleets (a checked scenario's total fits; saturates otherwise).
    pub fn ship_count(&self) -> u32 {
        self.fleets
            .iter()
            .fold(0u32, |sum, f| sum.saturating_add(f.ship_count()))
    }

    /// The same battle with `ships` ships in each fleet: every fleet keeps its mix of
    /// classes in proportion (largest remainders get the rounding), so a fleet of 4
    /// frigates and 2 cruisers scaled to 9 has 6 and 3. Squadrons scaled to nothing are
    /// dropped; `ships` is at least 1.
    ///
    /// # Examples
    ///
    /// ```
    /// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/skirmish.ron");
    /// let big = demos::scenario::Scenario::load(path).unwrap().with_ships_per_fleet(500);
    /// assert!(big.fleets.iter().all(|fleet| fleet.ship_count() == 500));
    /// ```
    pub fn with_ships_per_fleet(mut self, ships: u32) -> Scenario {
        let ships = ships.max(1);
        for fleet in &mut self.fleets {
            let total = u64::from(fleet.ship_count().max(1));
            let mut shares: Vec<(u32, u64)> = fleet
                .ships
                .iter()
                .map(|s| {
                    let exact = u64::from(s.count) * u64::from(ships);
                    ((exact / total) as u32, exact % total)
                })
                .collect();
            let given: u32 = shares.iter().map(|(n, _)| n).sum();
            // Hand out what rounding down left over, largest remainder first (ties: the
            // earlier squadron).
            let mut order: Vec<usize> = (0..shares.len()).collect();
            order.sort_by_key(|&i| std::cmp::Reverse(shares[i].1));
            for &i in order.iter().take((ships - given) as usize) {
                shares[i].0 += 1;
            }
            for (squadron, (count, _)) in fleet.ships.iter_mut().zip(&shares) {
                squadron.count = *count;
            }
            fleet.ships.retain(|s| s.count > 0);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_unique_finds_one_occurrence_only() {
        let text = "a\n  \"x\" b\n";
        assert_eq!(locate_unique(text, "\"x\""), Some(4));
        assert_eq!(locate_unique("\"x\" \"x\"", "\"x\""), None);
        assert_eq!(locate_unique("abc", "\"x\""), None);
    }
}
