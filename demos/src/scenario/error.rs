//! Why a scenario could not be used, said so that a person can fix the file: where (line,
//! column, the field's path), what was expected and what was found, and a short excerpt
//! of the line with the value underlined. Everything quoted from the file is bounded, so
//! a hostile file (one 50 MB line, a name a million characters long) gives a message of
//! a few lines.

use std::fmt;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use super::quote::quoted;
use super::values::MAX_NAME;

/// Characters of a line shown on each side of the offending column.
const EXCERPT_SIDE: usize = 60;
/// Ship classes listed in an unknown-class message.
const KNOWN_LISTED: usize = 10;

/// A line and column in a scenario file, both counted from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// Line, from 1.
    pub line: usize,
    /// Column (in characters), from 1.
    pub column: usize,
}

/// A bounded piece of one line of a scenario, with the part an error is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Excerpt {
    /// The line's number, from 1.
    pub line: usize,
    /// At most about 120 characters of the line around the error, with `...` where the
    /// line was cut.
    pub text: String,
    /// The byte range of `text` that the error is about.
    pub highlight: Range<usize>,
}

impl Excerpt {
    /// The excerpt of `source` around byte `at`, highlighting `len` bytes there (at least
    /// one character while there is one). `at` is clamped to the text.
    pub(super) fn at(source: &str, at: usize, len: usize) -> Excerpt {
        let at = floor_boundary(source, at.min(source.len()));
        let line_start = source[..at].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[at..].find('\n').map_or(source.len(), |i| at + i);
        let line = source[..line_start].matches('\n').count() + 1;
        let mut end = floor_boundary(source, (at + len).min(line_end));
        if end == at {
            end = source[at..line_end]
                .chars()
                .next()
                .map_or(at, |c| at + c.len_utf8());
        }
        let text = &source[line_start..line_end];
        let (at, end) = (at - line_start, end - line_start);
        // Up to EXCERPT_SIDE characters before the highlight, and the highlight plus the
        // rest up to EXCERPT_SIDE characters after its start.
        let from = text[..at]
            .char_indices()
            .rev()
            .nth(EXCERPT_SIDE - 1)
            .map_or(0, |(i, _)| i);
        let to = text[at..]
            .char_indices()
            .nth(EXCERPT_SIDE)
            .map_or(text.len(), |(i, _)| at + i);
        let end = end.min(to);
        let trimmed = |s: &str| s.trim_end_matches('\r').to_owned();
        let (before, mark, after) = (&text[from..at], &text[at..end], &text[end..to]);
        let mut out = String::new();
        if from > 0 {
            out.push_str("...");
        }
        out.push_str(before);
        let start = out.len();
        out.push_str(mark);
        let stop = out.len();
        out.push_str(&trimmed(after));
        if to < text.len() {
            out.push_str("...");
        }
        Excerpt {
            line,
            text: out,
            highlight: start..stop.max(start),
        }
    }

    /// Draws the excerpt under a message, as rustc does: the line, numbered, and the
    /// highlighted part underlined.
    fn show(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.text.trim().is_empty() {
            return Ok(());
        }
        let report = &[Group::with_level(Level::ERROR).element(
            Snippet::source(self.text.as_str())
                .line_start(self.line)
                .annotation(AnnotationKind::Primary.span(self.highlight.clone())),
        )];
        // Wide enough never to cut the (already bounded) excerpt again.
        let shown = Renderer::plain().term_width(400).render(report);
        write!(f, "\n{}", shown.trim_end())
    }
}

/// The largest char boundary of `text` at or below `at`.
fn floor_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
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
    /// The file is larger than [`MAX_FILE_BYTES`](super::MAX_FILE_BYTES) (or, like
    /// `/dev/zero`, never ends): it is refused before it is parsed.
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size in bytes, when the system knows it (a regular file).
        size: Option<u64>,
    },
    /// The file is not UTF-8 text.
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// The first byte that does not belong to valid UTF-8, counted from 0.
        offset: usize,
        /// Where that byte is.
        location: Location,
        /// The line around it (invalid bytes shown as U+FFFD).
        excerpt: Box<Excerpt>,
    },
    /// The file is not valid RON for a scenario, or a value is impossible (negative
    /// speed, zero ships, an unknown field...).
    Parse {
        /// The file.
        path: PathBuf,
        /// Where the parser stopped: the value it could not use.
        location: Location,
        /// The field the value belongs to, as a path (`classes.Frigate.speed`,
        /// `fleets[0].ships[1].count`), when the parser was inside one.
        field: Option<String>,
        /// What was expected and what was found, or what is wrong with the value.
        message: String,
        /// The line around the location, to show under the message.
        excerpt: Box<Excerpt>,
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
    /// The line around it, when the location is known.
    pub excerpt: Option<Excerpt>,
}

impl ScenarioError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ScenarioError::Read { path, .. }
            | ScenarioError::TooLarge { path, .. }
            | ScenarioError::NotUtf8 { path, .. }
            | ScenarioError::Parse { path, .. }
            | ScenarioError::Invalid { path, .. } => path,
            ScenarioError::UnknownClass(unknown) => &unknown.path,
        }
    }

    /// Where in the file, when known.
    pub fn location(&self) -> Option<Location> {
        match self {
            ScenarioError::Parse { location, .. } | ScenarioError::NotUtf8 { location, .. } => {
                Some(*location)
            }
            ScenarioError::UnknownClass(unknown) => unknown.location,
            ScenarioError::Read { .. }
            | ScenarioError::TooLarge { .. }
            | ScenarioError::Invalid { .. } => None,
        }
    }

    /// The error for bytes that are not UTF-8 from `offset` on.
    pub(super) fn not_utf8(path: &Path, bytes: &[u8], offset: usize) -> ScenarioError {
        let line_start = bytes[..offset]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line = bytes[..line_start].iter().filter(|&&b| b == b'\n').count() + 1;
        // Everything before `offset` is valid UTF-8, so the column counts characters.
        let column = String::from_utf8_lossy(&bytes[line_start..offset])
            .chars()
            .count()
            + 1;
        // A window of the line, made valid, with the bad byte (now U+FFFD) marked.
        let window_start = offset.saturating_sub(4 * EXCERPT_SIDE).max(line_start);
        let window_end = bytes[offset..]
            .iter()
            .take(4 * EXCERPT_SIDE)
            .position(|&b| b == b'\n')
            .map_or((offset + 4 * EXCERPT_SIDE).min(bytes.len()), |i| offset + i);
        let before = String::from_utf8_lossy(&bytes[window_start..offset]);
        let text = String::from_utf8_lossy(&bytes[window_start..window_end]);
        let mut excerpt = Excerpt::at(&text, before.len(), 1);
        excerpt.line = line;
        ScenarioError::NotUtf8 {
            path: path.to_owned(),
            offset,
            location: Location { line, column },
            excerpt: Box::new(excerpt),
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
            ScenarioError::TooLarge { size, .. } => {
                let limit = super::MAX_FILE_BYTES;
                match size {
                    Some(size) => write!(f, "{path}: the file has {size} bytes")?,
                    None => write!(f, "{path}: the file goes on past {limit} bytes")?,
                }
                write!(
                    f,
                    "; a scenario file has at most {limit} bytes (1 MiB): is it the right file?"
                )
            }
            ScenarioError::NotUtf8 {
                offset,
                location,
                excerpt,
                ..
            } => {
                write!(
                    f,
                    "{path}:{}:{}: the file is not UTF-8 text: byte {offset} (counting from 0) \
                     does not belong to a valid UTF-8 character",
                    location.line, location.column
                )?;
                excerpt.show(f)
            }
            ScenarioError::Parse {
                location,
                field,
                message,
                excerpt,
                ..
            } => {
                write!(f, "{path}:{}:{}: ", location.line, location.column)?;
                if let Some(field) = field {
                    write!(f, "{field}: ")?;
                }
                f.write_str(message)?;
                excerpt.show(f)
            }
            ScenarioError::UnknownClass(unknown) => {
                let UnknownClass {
                    fleet,
                    entry,
                    class,
                    known,
                    location,
                    excerpt,
                    ..
                } = &**unknown;
                match location {
                    Some(l) => write!(f, "{path}:{}:{}: ", l.line, l.column)?,
                    None => write!(f, "{path}: ")?,
                }
                write!(
                    f,
                    "fleet {}, ships[{entry}]: unknown ship class {}",
                    quoted(fleet),
                    quoted(class)
                )?;
                if let Some(close) = closest(class, known) {
                    write!(f, " (did you mean {}?)", quoted(close))?;
                }
                let listed: Vec<String> =
                    known.iter().take(KNOWN_LISTED).map(|k| quoted(k)).collect();
                write!(f, "; the scenario defines {}", listed.join(", "))?;
                if known.len() > KNOWN_LISTED {
                    write!(f, " and {} more", known.len() - KNOWN_LISTED)?;
                }
                match excerpt {
                    Some(excerpt) => excerpt.show(f),
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

/// The known name nearest to `name` (by edit distance, ignoring case), if it is a
/// plausible typo. Names much longer than any known one are not typos of them.
pub(super) fn closest<'a>(name: &str, known: &'a [String]) -> Option<&'a str> {
    if name.chars().count() > 2 * MAX_NAME {
        return None;
    }
    let lower = name.to_lowercase();
    known
        .iter()
        .map(|k| (strsim::levenshtein(&lower, &k.to_lowercase()), k))
        .filter(|(d, k)| *d <= 2.max(k.chars().count() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_only_suggests_plausible_typos() {
        let known = vec!["Frigate".to_owned(), "Battleship".to_owned()];
        assert_eq!(closest("frigat", &known), Some("Frigate"));
        assert_eq!(closest("Dreadnought", &known), None);
        assert_eq!(closest(&"x".repeat(100_000), &known), None);
    }

    #[test]
    fn a_long_line_is_cut_to_about_120_characters_around_the_column() {
        let line = format!("{}speed: \"fast\"{}", "a".repeat(5000), "b".repeat(5000));
        let at = line.find('"').unwrap();
        let excerpt = Excerpt::at(&line, at, 6);
        assert!(excerpt.text.starts_with("...a") && excerpt.text.ends_with("b..."));
        assert!(excerpt.text.chars().count() <= 2 * EXCERPT_SIDE + 6);
        assert_eq!(&excerpt.text[excerpt.highlight.clone()], "\"fast\"");
    }

    #[test]
    fn a_short_line_is_shown_whole_and_wide_characters_are_safe() {
        let text = "one\n  name: \"艦隊\", speed: x\nthree";
        let at = text.find('x').unwrap();
        let excerpt = Excerpt::at(text, at, 1);
        assert_eq!(excerpt.line, 2);
        assert_eq!(excerpt.text, "  name: \"艦隊\", speed: x");
        assert_eq!(&excerpt.text[excerpt.highlight.clone()], "x");
        // In the middle of a character, or past the end: clamped, never a panic.
        let excerpt = Excerpt::at(text, text.find('艦').unwrap() + 1, 1);
        assert_eq!(excerpt.line, 2);
        let excerpt = Excerpt::at(text, 10_000, 1);
        assert_eq!(excerpt.line, 3);
    }
}
