//! Fuzzing the scenario parser with proptest (cargo-fuzz needs a nightly toolchain):
//! random mutations of the shipped scenarios and of the saved corpus must give either a
//! scenario or a typed error, never a panic; a parse error's line and column point into
//! the text; a scenario that parses must fight a few frames without panicking.
//!
//! The corpus in `tests/corpus/scenarios/` is replayed on every run: files named `ok-*`
//! must parse and fight, `err-*` must fail with a located error. Failing cases proptest
//! finds are saved to `tests/corpus/scenario_fuzz.proptest-regressions` and replayed
//! first on every later run. `PROPTEST_CASES` sets the number of random cases (256 by
//! default here).

use std::fs;
use std::path::{Path, PathBuf};

use demos::scenario::{Scenario, ScenarioError};
use demos::skirmish::Skirmish;
use engine::Budget;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The texts mutations start from: the shipped scenarios and the corpus.
fn seeds() -> Vec<(PathBuf, String)> {
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in [
        manifest().join("../assets"),
        manifest().join("tests/corpus/scenarios"),
    ] {
        let mut here: Vec<PathBuf> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "ron"))
            .collect();
        here.sort();
        files.extend(here);
    }
    files
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

/// Checks what `Scenario::parse` made of `text`: a scenario that fights, or an error
/// that points into the text.
fn check(text: &str) -> Result<(), String> {
    let path = Path::new("fuzz.ron");
    let lines = text.lines().count().max(1);
    match Scenario::parse(text, path) {
        Ok(scenario) => fight(scenario),
        Err(e) => {
            let shown = e.to_string();
            if !shown.starts_with("fuzz.ron") {
                return Err(format!("the error does not name the file: {shown}"));
            }
            if let Some(at) = e.location() {
                // A parser may stop just past the last line (an unclosed bracket).
                if at.line == 0 || at.line > lines + 1 || at.column == 0 {
                    return Err(format!("{at:?} is outside the {lines} lines: {shown}"));
                }
                if !shown.starts_with(&format!("fuzz.ron:{}:{}", at.line, at.column)) {
                    return Err(format!("the message does not lead with {at:?}: {shown}"));
                }
            } else if matches!(e, ScenarioError::Parse { .. }) {
                return Err(format!("a parse error without a location: {shown}"));
            }
            Ok(())
        }
    }
}

/// A scenario that parsed must make a battle that runs: two ships a side, 40 frames.
fn fight(scenario: Scenario) -> Result<(), String> {
    let scenario = scenario.with_ships_per_fleet(2);
    let mut battle = Skirmish::new(scenario, 1, Budget::Resumes(100))
        .map_err(|e| format!("a valid scenario could not spawn its ships: {e}"))?;
    for _ in 0..40 {
        battle.step();
        battle.drain_log();
    }
    let summary = battle.summary();
    if !summary.books_balance() {
        return Err(format!("the ships do not add up: {summary}"));
    }
    Ok(())
}

/// One edit of a scenario's text.
#[derive(Clone, Debug)]
enum Mutation {
    /// Delete `len` characters at a position (a fraction of the text's length).
    Delete(f64, usize),
    /// Insert a token at a position.
    Insert(f64, &'static str),
    /// Replace the n-th number in the text (modulo their count) with another.
    Number(usize, &'static str),
    /// Repeat `len` characters at a position.
    Duplicate(f64, usize),
    /// Replace one character at a position.
    Replace(f64, char),
    /// Cut the text at a position.
    Truncate(f64),
    /// Swap two lines (modulo the line count).
    SwapLines(usize, usize),
}

const TOKENS: &[&str] = &[
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "'",
    "-",
    ".",
    "0",
    "//",
    "/*",
    "*/",
    "\n",
    "Scenario",
    "name",
    "count: 0",
    "\"Frigate\"",
    "fleets: [],",
    "classes: {},",
    "é",
    "\u{0}",
    "\u{feff}",
    "r#\"",
    "#",
    "Some(",
    "None",
    "true",
    "1e308",
    "speed: -1,",
    "x: 1e400",
];

const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "0.0",
    "1e308",
    "1e309",
    "-1e309",
    "NaN",
    "inf",
    "-inf",
    "4294967295",
    "4294967296",
    "18446744073709551616",
    "9999999999999999999999",
    "1e-320",
    "0.9999999999",
    "1.0",
    "2",
    "0x10",
    "1_000",
    "+5",
    ".5",
    "5.",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0.0..1.0f64, 1usize..40).prop_map(|(p, n)| Mutation::Delete(p, n)),
        (0.0..1.0f64, prop::sample::select(TOKENS)).prop_map(|(p, t)| Mutation::Insert(p, t)),
        (0usize..200, prop::sample::select(NUMBERS)).prop_map(|(i, n)| Mutation::Number(i, n)),
        (0.0..1.0f64, 1usize..200).prop_map(|(p, n)| Mutation::Duplicate(p, n)),
        (0.0..1.0f64, any::<char>()).prop_map(|(p, c)| Mutation::Replace(p, c)),
        (0.0..1.0f64).prop_map(Mutation::Truncate),
        (0usize..200, 0usize..200).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
    ]
}

/// The character index at fraction `p` of `chars`.
fn at(chars: &[char], p: f64) -> usize {
    ((chars.len() as f64) * p) as usize
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    match *m {
        Mutation::Delete(p, n) => {
            let i = at(&chars, p);
            let end = (i + n).min(chars.len());
            chars.drain(i..end);
        }
        Mutation::Insert(p, token) => {
            let i = at(&chars, p);
            chars.splice(i..i, token.chars());
        }
        Mutation::Number(k, with) => {
            let numbers = number_spans(&chars);
            if !numbers.is_empty() {
                let (start, end) = numbers[k % numbers.len()];
                chars.splice(start..end, with.chars());
            }
        }
        Mutation::Duplicate(p, n) => {
            let i = at(&chars, p);
            let end = (i + n).min(chars.len());
            let copy: Vec<char> = chars[i..end].to_vec();
            chars.splice(end..end, copy);
        }
        Mutation::Replace(p, c) => {
            let i = at(&chars, p);
            if i < chars.len() {
                chars[i] = c;
            }
        }
        Mutation::Truncate(p) => chars.truncate(at(&chars, p)),
        Mutation::SwapLines(a, b) => {
            let text: String = chars.iter().collect();
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let (a, b) = (a % lines.len(), b % lines.len());
                lines.swap(a, b);
            }
            return lines.join("\n");
        }
    }
    chars.into_iter().collect()
}

/// Where the numbers are: runs of digits, with a sign, point and exponent.
fn number_spans(chars: &[char]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i].is_ascii_digit()
            && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_'));
        if starts {
            let start = if i > 0 && chars[i - 1] == '-' {
                i - 1
            } else {
                i
            };
            let mut end = i;
            while end < chars.len() && (chars[end].is_ascii_digit() || ".eE".contains(chars[end])) {
                end += 1;
            }
            spans.push((start, end));
            i = end;
        } else {
            i += 1;
        }
    }
    spans
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/corpus/scenario_fuzz.proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mutated_scenarios_parse_or_fail_with_a_located_error(
        seed in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let seeds = seeds();
        let (_, text) = &seeds[seed.index(seeds.len())];
        let mut text = text.clone();
        for m in &mutations {
            text = apply(&text, m);
        }
        let outcome = std::panic::catch_unwind(|| check(&text))
            .map_err(|_| "panicked".to_owned())
            .and_then(|r| r);
        prop_assert!(outcome.is_ok(), "{:?} on:\n{}", outcome, text);
    }

    #[test]
    fn arbitrary_text_never_panics_the_parser(text in "\\PC{0,300}") {
        prop_assert!(check(&text).is_ok(), "{:?}", check(&text));
    }
}

#[test]
fn the_saved_corpus_replays() {
    let dir = manifest().join("tests/corpus/scenarios");
    let mut seen = (0, 0);
    for (path, text) in seeds().into_iter().filter(|(p, _)| p.starts_with(&dir)) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let parsed = Scenario::parse(&text, Path::new(&name));
        if name.starts_with("ok-") {
            let scenario = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
            fight(scenario).unwrap_or_else(|e| panic!("{name}: {e}"));
            seen.0 += 1;
        } else if name.starts_with("err-") {
            let e = parsed.err().unwrap_or_else(|| panic!("{name} parsed"));
            check(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                e.to_string().starts_with(&name),
                "{name}: the error names the file: {e}"
            );
            seen.1 += 1;
        } else {
            panic!("{name}: corpus files are named ok-* or err-*");
        }
    }
    assert!(seen.0 >= 3 && seen.1 >= 5, "the corpus is there: {seen:?}");
}

#[test]
fn the_mutations_do_what_they_say() {
    let text = "a: 12, b: -3.5e2,\nc: x1";
    assert_eq!(
        number_spans(&text.chars().collect::<Vec<_>>()),
        vec![(3, 5), (10, 16)]
    );
    assert_eq!(
        apply(text, &Mutation::Number(1, "NaN")),
        "a: 12, b: NaN,\nc: x1"
    );
    assert_eq!(apply(text, &Mutation::Truncate(0.0)), "");
    assert_eq!(
        apply(text, &Mutation::SwapLines(0, 1)),
        "c: x1\na: 12, b: -3.5e2,"
    );
    assert_eq!(apply("abc", &Mutation::Insert(1.0, "(")), "abc(");
}
