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
//! Errors come in three kinds, all [`ScenarioError`]: the file cannot be read; it does
//! not parse or a value is impossible (a negative speed, zero ships: checked while
//! parsing, so these carry the line and column too); or the parts do not fit together (an
//! unknown ship class, a fleet outside the arena), which names the offending entry.

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// A skirmish: the arena, the ship classes and the two fleets.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A title for reports.
    pub name: String,
    /// Seed of every random choice in the battle (the `--seed` flag overrides it).
    pub seed: u64,
    /// The battlefield.
    pub arena: Arena,
    /// Game seconds per frame (default 0.05: twenty frames per game second).
    #[serde(default = "default_time_step", deserialize_with = "time_step")]
    pub time_step: f64,
    /// How many frames the battle runs unless `--frames` says otherwise (default 2400).
    #[serde(default = "default_frames", deserialize_with = "at_least_one")]
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
    /// The fleet's name (unique in the scenario).
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
    /// How many (at least 1).
    #[serde(deserialize_with = "at_least_one")]
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

// Value checks that run while parsing, so a bad value is reported at its line and column.

fn number<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = f64::deserialize(d)?;
    if value.is_finite() {
        Ok(value)
    } else {
        Err(de::Error::custom(format!(
            "expected a finite number, found {value}"
        )))
    }
}

fn finite<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    number(d)
}

fn positive<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = number(d)?;
    if value > 0.0 {
        Ok(value)
    } else {
        Err(de::Error::custom(format!(
            "expected a number greater than 0, found {value}"
        )))
    }
}

fn non_negative<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = number(d)?;
    if value >= 0.0 {
        Ok(value)
    } else {
        Err(de::Error::custom(format!(
            "expected a number of at least 0, found {value}"
        )))
    }
}

fn fraction<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = number(d)?;
    if (0.0..1.0).contains(&value) {
        Ok(value)
    } else {
        Err(de::Error::custom(format!(
            "expected a fraction from 0 up to (not including) 1, found {value}"
        )))
    }
}

fn time_step<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = positive(d)?;
    // A step below a nanosecond is a zero `Duration`: the game clock would never move
    // (found by the fuzz test; the battle hung).
    if value < 1e-9 {
        Err(de::Error::custom(format!(
            "expected at least 0.000000001 seconds (1 ns) per frame, found {value}"
        )))
    } else if value <= 1.0 {
        Ok(value)
    } else {
        Err(de::Error::custom(format!(
            "expected at most 1 second per frame, found {value}"
        )))
    }
}

fn at_least_one<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    // Read as a signed number so that a negative count gets this message too.
    let value = i64::deserialize(d)?;
    match u32::try_from(value) {
        Ok(n) if n >= 1 => Ok(n),
        _ if value < 1 => Err(de::Error::custom(format!(
            "expected a whole number of at least 1, found {value}"
        ))),
        _ => Err(de::Error::custom(format!(
            "expected a whole number of at most {}, found {value}",
            u32::MAX
        ))),
    }
}

/// Reads `{ "Name": (...), ... }` into classes in file order, refusing a name given twice.
fn class_map<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ShipClass>, D::Error> {
    struct ClassMap;

    impl<'de> Visitor<'de> for ClassMap {
        type Value = Vec<ShipClass>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map from class names to ship classes")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut classes: Vec<ShipClass> = Vec::new();
            while let Some(name) = map.next_key::<String>()? {
                if name.trim().is_empty() {
                    return Err(de::Error::custom("a ship class needs a non-empty name"));
                }
                if classes.iter().any(|c| c.name == name) {
                    return Err(de::Error::custom(format!(
                        "ship class \"{name}\" is defined twice"
                    )));
                }
                let mut class: ShipClass = map.next_value()?;
                class.name = name;
                classes.push(class);
            }
            Ok(classes)
        }
    }

    d.deserialize_map(ClassMap)
}

/// A line and column in a scenario file, both counted from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// Line, from 1.
    pub line: usize,
    /// Column (in characters), from 1.
    pub column: usize,
}

/// Why a scenario could not be used.
#[derive(Debug)]
pub enum ScenarioError {
    /// The file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file is not valid RON for a scenario, or a value is impossible (negative
    /// speed, zero ships, an unknown field...).
    Parse {
        /// The file.
        path: PathBuf,
        /// Where the parser stopped.
        location: Location,
        /// What was expected, or what is wrong with the value.
        message: String,
        /// The text of that line, to show under the message.
        line_text: String,
    },
    /// A fleet names a ship class that the scenario does not define.
    UnknownClass(Box<UnknownClass>),
    /// The parts do not fit together (wrong number of fleets, a fleet outside the arena,
    /// no ship classes...).
    Invalid {
        /// The file.
        path: PathBuf,
        /// The offending entry, e.g. `fleet "Crimson"`.
        entry: String,
        /// What is wrong with it.
        message: String,
    },
}

/// The details of [`ScenarioError::UnknownClass`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownClass {
    /// The file.
    pub path: PathBuf,
    /// The fleet.
    pub fleet: String,
    /// The entry in the fleet's `ships`, from 0.
    pub entry: usize,
    /// The class it names.
    pub class: String,
    /// The classes that exist.
    pub known: Vec<String>,
    /// Where the name appears, when it appears exactly once in the file.
    pub location: Option<Location>,
    /// The text of that line (empty without a location).
    pub line_text: String,
}

impl ScenarioError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ScenarioError::Read { path, .. }
            | ScenarioError::Parse { path, .. }
            | ScenarioError::Invalid { path, .. } => path,
            ScenarioError::UnknownClass(unknown) => &unknown.path,
        }
    }

    /// Where in the file, when known.
    pub fn location(&self) -> Option<Location> {
        match self {
            ScenarioError::Parse { location, .. } => Some(*location),
            ScenarioError::UnknownClass(unknown) => unknown.location,
            ScenarioError::Read { .. } | ScenarioError::Invalid { .. } => None,
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path().display();
        match self {
            ScenarioError::Read { source, .. } => {
                write!(f, "cannot read scenario file {path}: {source}")
            }
            ScenarioError::Parse {
                location,
                message,
                line_text,
                ..
            } => {
                write!(f, "{path}:{}:{}: {message}", location.line, location.column)?;
                show_line(f, *location, line_text)
            }
            ScenarioError::UnknownClass(unknown) => {
                let UnknownClass {
                    fleet,
                    entry,
                    class,
                    known,
                    location,
                    line_text,
                    ..
                } = &**unknown;
                match location {
                    Some(l) => write!(f, "{path}:{}:{}: ", l.line, l.column)?,
                    None => write!(f, "{path}: ")?,
                }
                write!(
                    f,
                    "fleet \"{fleet}\", ships[{entry}]: unknown ship class \"{class}\""
                )?;
                if let Some(close) = closest(class, known) {
                    write!(f, " (did you mean \"{close}\"?)")?;
                }
                let known: Vec<String> = known.iter().map(|k| format!("\"{k}\"")).collect();
                write!(f, "; the scenario defines {}", known.join(", "))?;
                match location {
                    Some(at) => show_line(f, *at, line_text),
                    None => Ok(()),
                }
            }
            ScenarioError::Invalid { entry, message, .. } => {
                write!(f, "{path}: {entry}: {message}")
            }
        }
    }
}

impl std::error::Error for ScenarioError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ScenarioError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Shows the offending line with a caret under the column, as compilers do.
fn show_line(f: &mut fmt::Formatter<'_>, at: Location, text: &str) -> fmt::Result {
    if text.trim().is_empty() {
        return Ok(());
    }
    let number = at.line.to_string();
    let pad = " ".repeat(number.len());
    let caret_pad: String = text
        .chars()
        .take(at.column.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    write!(f, "\n{pad} |\n{number} | {text}\n{pad} | {caret_pad}^")
}

/// The known name nearest to `name` (by edit distance), if it is a plausible typo.
fn closest<'a>(name: &str, known: &'a [String]) -> Option<&'a str> {
    let lower = name.to_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&lower, &k.to_lowercase()), k))
        .filter(|(d, k)| *d <= 2.max(k.chars().count() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Line `number` (from 1) of `text`, or nothing past the end.
fn line(text: &str, number: usize) -> String {
    text.lines()
        .nth(number.saturating_sub(1))
        .unwrap_or("")
        .to_owned()
}

/// Where `needle` occurs in `text`, if it occurs exactly once.
fn locate_unique(text: &str, needle: &str) -> Option<Location> {
    let mut found = text.match_indices(needle);
    let (offset, _) = found.next()?;
    if found.next().is_some() {
        return None;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Some(Location {
        line,
        column: before[line_start..].chars().count() + 1,
    })
}

impl Scenario {
    /// Reads and checks the scenario in the file at `path`.
    ///
    /// # Errors
    ///
    /// [`ScenarioError::Read`] if the file cannot be read, otherwise as
    /// [`Scenario::parse`].
    pub fn load(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_owned(),
            source,
        })?;
        Scenario::parse(&text, path)
    }

    /// Parses and checks a scenario; `path` is only used in error messages.
    ///
    /// # Errors
    ///
    /// [`ScenarioError::Parse`] (with line and column) for text that is not a scenario
    /// or holds an impossible value; [`ScenarioError::UnknownClass`] and
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
        let scenario: Scenario = ron::from_str(text).map_err(|e| {
            let location = Location {
                line: e.span.start.line,
                column: e.span.start.col,
            };
            ScenarioError::Parse {
                path: path.to_owned(),
                location,
                message: e.code.to_string(),
                line_text: line(text, location.line),
            }
        })?;
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
        // Counts are checked one by one while parsing; their sums must fit too (the
        // fuzz corpus found a fleet of 4294967295 + 1 ships overflowing them).
        let total: u64 = self
            .fleets
            .iter()
            .flat_map(|f| &f.ships)
            .map(|s| u64::from(s.count))
            .sum();
        if total > u64::from(u32::MAX) {
            return Err(invalid(
                "fleets".into(),
                format!("{total} ships in all; at most {} fit in a battle", u32::MAX),
            ));
        }
        let mut names = BTreeSet::new();
        for fleet in &self.fleets {
            let entry = format!("fleet \"{}\"", fleet.name);
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
                        fleet.position.x, fleet.position.y, self.arena.width, self.arena.height
                    ),
                ));
            }
            for (index, squadron) in fleet.ships.iter().enumerate() {
                if self.class(&squadron.class).is_none() {
                    let location = locate_unique(text, &format!("\"{}\"", squadron.class));
                    return Err(ScenarioError::UnknownClass(Box::new(UnknownClass {
                        path: path.to_owned(),
                        fleet: fleet.name.clone(),
                        entry: index,
                        class: squadron.class.clone(),
                        known: self.classes.iter().map(|c| c.name.clone()).collect(),
                        location,
                        line_text: location.map_or_else(String::new, |at| line(text, at.line)),
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
    fn edit_distance_counts_single_changes() {
        assert_eq!(edit_distance("frigate", "frigate"), 0);
        assert_eq!(edit_distance("frigat", "frigate"), 1);
        assert_eq!(edit_distance("destroyr", "destroyer"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn closest_only_suggests_plausible_typos() {
        let known = vec!["Frigate".to_owned(), "Battleship".to_owned()];
        assert_eq!(closest("frigat", &known), Some("Frigate"));
        assert_eq!(closest("Dreadnought", &known), None);
    }

    #[test]
    fn locate_unique_finds_one_occurrence_only() {
        let text = "a\n  \"x\" b\n";
        assert_eq!(
            locate_unique(text, "\"x\""),
            Some(Location { line: 2, column: 3 })
        );
        assert_eq!(locate_unique("\"x\" \"x\"", "\"x\""), None);
        assert_eq!(locate_unique("abc", "\"x\""), None);
    }
}
