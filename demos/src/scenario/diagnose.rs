//! Turns RON's parse errors into messages for people: the field's path, what was
//! expected, and what the file has there (`speed: expected a number, found the string
//! "fast"` rather than `Expected float`).

use std::path::Path;

use ron::error::{Error as RonError, Position, SpannedError};
use serde_path_to_error::Segment;

use super::error::{Excerpt, Location, ScenarioError};
use super::quote::{bounded, quoted};

/// Longest message taken from a deserializer (ours are short; this bounds anything that
/// quotes the file).
const MESSAGE_MOST: usize = 300;

/// The parse error for `error`, which RON's deserializer raised on `text`, inside the
/// field at `field` (when it was inside one).
pub(super) fn parse_error(
    path: &Path,
    text: &str,
    error: SpannedError,
    field: Option<&serde_path_to_error::Path>,
) -> ScenarioError {
    let at = value_start(text, offset_of(text, error.span.start), &error.code);
    let found = Token::at(&text[at..]);
    let mut field = field.and_then(field_path);
    let message = match &error.code {
        RonError::ExpectedFloat => expected("a number", &found),
        RonError::ExpectedInteger => expected("a whole number", &found),
        RonError::ExpectedString => expected("a string in double quotes", &found),
        RonError::ExpectedBoolean => expected("true or false", &found),
        RonError::ExpectedChar => expected("a character in single quotes", &found),
        RonError::ExpectedArray => expected("a list in [brackets]", &found),
        RonError::ExpectedArrayEnd => expected("`]` or a comma", &found),
        RonError::ExpectedMap => expected("a map in {braces}", &found),
        RonError::ExpectedMapEnd => expected("`}` or a comma", &found),
        RonError::ExpectedMapColon => expected("a colon", &found),
        RonError::ExpectedStructLike | RonError::ExpectedNamedStructLike(_) => {
            expected("a structure in (parentheses)", &found)
        }
        RonError::ExpectedStructLikeEnd | RonError::ExpectedOptionEnd => {
            expected("`)` or a comma", &found)
        }
        RonError::ExpectedComma => expected("a comma", &found),
        RonError::ExpectedIdentifier => expected("a field name", &found),
        RonError::ExpectedOption => expected("Some(...) or None", &found),
        RonError::ExpectedUnit => expected("()", &found),
        RonError::ExpectedStringEnd => "this string has no closing double quote".to_owned(),
        RonError::IntegerOutOfBounds => format!("{} is out of range here", found.description),
        RonError::Eof => {
            "the file ends in the middle of the scenario (an unclosed bracket or string?)"
                .to_owned()
        }
        RonError::TrailingCharacters => format!(
            "the scenario has ended, but the file goes on with {}",
            found.description
        ),
        RonError::ExceededRecursionLimit => {
            "the values are nested too deeply (more than 128 levels)".to_owned()
        }
        // RON reads a bare word as a unit value; the word itself says more.
        RonError::InvalidValueForType {
            expected,
            found: unit,
        } if unit == "a unit value" => {
            format!("expected {expected}, found {}", found.description)
        }
        RonError::InvalidValueForType { expected, found } => {
            format!("expected {expected}, found {}", bounded(found, 2 * 40))
        }
        RonError::NoSuchStructField {
            expected, found, ..
        } => {
            // The path ends with the unknown field itself: name its parent.
            field = field.and_then(|f| parent(&f));
            unknown_field(found, expected)
        }
        RonError::MissingStructField { field: missing, .. } => {
            format!("the field `{missing}` is missing")
        }
        RonError::DuplicateStructField { field: twice, .. } => {
            format!("the field `{twice}` is given twice")
        }
        RonError::ExpectedDifferentStructName { expected, found } => {
            format!("expected a {expected}, found {}", quoted(found))
        }
        RonError::Message(message) => bounded(message, MESSAGE_MOST),
        other => lowercase_first(&bounded(&other.to_string(), MESSAGE_MOST)),
    };
    let location = location_of(text, at);
    ScenarioError::Parse {
        path: path.to_owned(),
        location,
        field,
        message,
        excerpt: Box::new(Excerpt::at(text, at, found.len)),
    }
}

/// Where the value that `code` is about starts, from `start`, where RON's span starts.
/// RON's cursor is often just before the value (after the colon: skip the blanks), just
/// inside it (after a string's opening quote or a number's sign: step back), or just
/// after a bare word it took for a unit value (step back over the word).
fn value_start(text: &str, start: usize, code: &RonError) -> usize {
    let before = &text[..start];
    let inside = match code {
        RonError::InvalidValueForType { .. } => before.ends_with('"'),
        // Our own checks (`Message`) fail on a number after RON has read its sign.
        RonError::IntegerOutOfBounds | RonError::Message(_) => before.ends_with(['-', '+']),
        _ => false,
    };
    if inside {
        return start - 1;
    }
    // `Some(4)` where a number goes: RON stops inside it, after `Some(`.
    if matches!(code, RonError::InvalidValueForType { found, .. } if found == "an optional value") {
        if let Some(some) = before.trim_end().strip_suffix('(') {
            if let Some(word) = some.trim_end().strip_suffix("Some") {
                return word.len();
            }
        }
    }
    if matches!(code, RonError::InvalidValueForType { found, .. } if found == "a unit value") {
        let word = before.len()
            - before
                .trim_end_matches(|c: char| c.is_alphanumeric() || c == '_')
                .len();
        if word > 0 {
            return start - word;
        }
    }
    start + text[start..].len() - text[start..].trim_start().len()
}

/// `expected WHAT, found WHAT THE FILE HAS`.
fn expected(what: &str, found: &Token) -> String {
    format!("expected {what}, found {}", found.description)
}

/// An unknown field, with the nearest known one when it looks like a typo.
fn unknown_field(found: &str, fields: &[&str]) -> String {
    let known: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
    let mut message = format!("unknown field {}", quoted(found));
    if let Some(close) = super::error::closest(found, &known) {
        message.push_str(&format!(" (did you mean `{close}`?)"));
    }
    let list: Vec<String> = fields.iter().map(|f| format!("`{f}`")).collect();
    message.push_str(&format!("; the fields here are {}", list.join(", ")));
    message
}

/// `classes.Frigate.speed`, `fleets[0].ships[1].count`: the path serde was at, with
/// long or odd map keys quoted and bounded. `None` at the top level.
fn field_path(path: &serde_path_to_error::Path) -> Option<String> {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                let plain = !key.is_empty()
                    && key.chars().count() <= 40
                    && key.chars().all(|c| c.is_alphanumeric() || c == '_');
                if plain {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(key);
                } else {
                    out.push_str(&format!("[{}]", quoted(key)));
                }
            }
            // Past a part serde cannot name, the path so far is all we know.
            Segment::Unknown => break,
        }
    }
    Some(out).filter(|o| !o.is_empty())
}

/// The path without its last part (`classes.Frigate` for `classes.Frigate.lok_time`).
fn parent(path: &str) -> Option<String> {
    let cut = path.rfind(['.', '['])?;
    Some(path[..cut].to_owned()).filter(|p| !p.is_empty())
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The byte offset of RON's `position` (line, and column in characters, from 1) in
/// `text`, clamped to the text.
fn offset_of(text: &str, position: Position) -> usize {
    let line_start = if position.line <= 1 {
        0
    } else {
        match text.match_indices('\n').nth(position.line - 2) {
            Some((i, _)) => i + 1,
            None => return text.len(),
        }
    };
    let line = &text[line_start..];
    let line = &line[..line.find('\n').unwrap_or(line.len())];
    line_start
        + line
            .char_indices()
            .nth(position.col.saturating_sub(1))
            .map_or(line.len(), |(i, _)| i)
}

/// The line and column (from 1, in characters) of byte `at` of `text`.
pub(super) fn location_of(text: &str, at: usize) -> Location {
    let before = &text[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Location {
        line: before.matches('\n').count() + 1,
        column: before[line_start..].chars().count() + 1,
    }
}

/// The token that starts a piece of text, as a message names it.
struct Token {
    /// `the string "fast"`, `the number 1.5`, `the word fast`...
    description: String,
    /// Its length in bytes (bounded), for the underline.
    len: usize,
}

impl Token {
    fn at(rest: &str) -> Token {
        let Some(first) = rest.chars().next() else {
            return Token {
                description: "the end of the file".to_owned(),
                len: 0,
            };
        };
        let run = |ok: &dyn Fn(char) -> bool| {
            rest.char_indices()
                .find(|&(_, c)| !ok(c))
                .map_or(rest.len(), |(i, _)| i)
        };
        let (description, len) = match first {
            '"' => {
                let end = string_end(rest);
                let closed = end >= 2 && rest[..end].ends_with('"');
                let inner = &rest[1..if closed { end - 1 } else { end }];
                (format!("the string {}", quoted(inner)), end)
            }
            '0'..='9' | '+' | '-' | '.' => {
                let len = run(&|c: char| c.is_alphanumeric() || "+-._".contains(c));
                (format!("the number {}", bounded(&rest[..len], 40)), len)
            }
            c if c.is_alphabetic() || c == '_' => {
                let len = run(&|c: char| c.is_alphanumeric() || c == '_');
                let word = &rest[..len];
                let description = match word {
                    "true" | "false" => format!("the boolean {word}"),
                    "inf" | "NaN" => format!("the number {word}"),
                    _ => format!(
                        "the word {} (text goes in double quotes)",
                        bounded(word, 40)
                    ),
                };
                (description, len)
            }
            '(' => ("a structure in (parentheses)".to_owned(), 1),
            '[' => ("a list in [brackets]".to_owned(), 1),
            '{' => ("a map in {braces}".to_owned(), 1),
            ')' | ']' | '}' | ',' | ':' => (format!("`{first}`"), 1),
            other => (format!("the character {other:?}"), other.len_utf8()),
        };
        Token {
            description,
            len: len.min(200),
        }
    }
}

/// The length of the string literal that opens `rest` (to its closing quote, or to the
/// end of the line when it has none).
fn string_end(rest: &str) -> usize {
    let mut escaped = false;
    for (i, c) in rest.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return i + 1,
            '\n' => return i,
            _ => {}
        }
    }
    rest.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_named_for_people() {
        assert_eq!(Token::at("\"fast\", x").description, "the string \"fast\"");
        assert_eq!(Token::at("\"fast\", x").len, 6);
        assert_eq!(Token::at("1.5)").description, "the number 1.5");
        assert_eq!(Token::at("true,").description, "the boolean true");
        assert_eq!(
            Token::at("fast,").description,
            "the word fast (text goes in double quotes)"
        );
        assert_eq!(
            Token::at("(x: 1)").description,
            "a structure in (parentheses)"
        );
        assert_eq!(Token::at("").description, "the end of the file");
        let huge = format!("\"{}\"", "z".repeat(1_000_000));
        assert!(Token::at(&huge).description.len() < 100);
        // Unclosed, ending in a wide character.
        assert_eq!(Token::at("\"abÈ").description, "the string \"abÈ\"");
    }

    #[test]
    fn positions_map_to_offsets_and_back() {
        let text = "ab\nçd\n";
        let at = offset_of(text, Position { line: 2, col: 2 });
        assert_eq!(&text[at..at + 1], "d");
        assert_eq!(location_of(text, at), Location { line: 2, column: 2 });
        assert_eq!(offset_of(text, Position { line: 9, col: 1 }), text.len());
        assert_eq!(offset_of(text, Position { line: 1, col: 99 }), 2);
    }

    #[test]
    fn paths_name_fields_and_parents() {
        assert_eq!(
            parent("classes.Frigate.lok_time").as_deref(),
            Some("classes.Frigate")
        );
        assert_eq!(parent("fleets[0]").as_deref(), Some("fleets"));
        assert_eq!(parent("name"), None);
    }
}
