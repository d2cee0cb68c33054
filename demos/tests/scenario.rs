//! Scenario files: the shipped ones load, and every kind of bad input is reported with
//! the file, the place and what was expected.

use std::path::{Path, PathBuf};

use demos::scenario::{Location, Scenario, ScenarioError, UnknownClass};

/// A small valid scenario; each test breaks one thing in it.
const BASE: &str = r#"// a test scenario
Scenario(
    name: "Test",
    seed: 5,
    arena: (width: 10000, height: 8000),
    classes: {
        "Frigate": (
            hit_points: 400,
            speed: 300,
            weapon_range: 1500,
            damage: 20,
            cycle_time: 2.0,
            lock_time: 1.0,
        ),
        "Cruiser": (
            hit_points: 1500,
            speed: 180,
            weapon_range: 4000,
            damage: 70,
            cycle_time: 3.0,
            lock_time: 3.0,
            repair_rate: 10,
            retreat_below: 0.3,
            align_time: 5,
            size: 70,
        ),
    },
    fleets: [
        (
            name: "Red",
            position: (x: 2000, y: 4000),
            ships: [(class: "Frigate", count: 6), (class: "Cruiser", count: 2)],
        ),
        (
            name: "Blue",
            position: (x: 8000, y: 4000),
            spread: 800,
            warp_out_below: 0.2,
            ships: [(class: "Cruiser", count: 3)],
        ),
    ],
)
"#;

fn path() -> &'static Path {
    Path::new("test.ron")
}

/// `BASE` with `from` (which must occur exactly once) replaced by `to`.
fn broken(from: &str, to: &str) -> String {
    assert_eq!(
        BASE.matches(from).count(),
        1,
        "{from:?} must occur once in BASE"
    );
    BASE.replace(from, to)
}

/// The 1-based line of the only line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    let lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(lines.len(), 1, "{needle:?} must be on exactly one line");
    lines[0]
}

/// Parses `text`, expecting a parse error on the line holding `needle`; returns the
/// message as shown to the user.
fn parse_error_at(text: &str, needle: &str) -> String {
    let err = Scenario::parse(text, path()).unwrap_err();
    let shown = err.to_string();
    match &err {
        ScenarioError::Parse {
            path,
            location,
            excerpt,
            ..
        } => {
            assert_eq!(path, Path::new("test.ron"));
            assert_eq!(location.line, line_of(text, needle), "{shown}");
            assert_eq!(excerpt.line, location.line, "{shown}");
            assert!(excerpt.text.contains(needle), "{shown}");
            assert!(
                shown.starts_with(&format!("test.ron:{}:{}: ", location.line, location.column)),
                "{shown}"
            );
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    shown
}

fn invalid(text: &str) -> (String, String) {
    match Scenario::parse(text, path()).unwrap_err() {
        ScenarioError::Invalid {
            entry,
            message,
            path,
        } => {
            assert_eq!(path, Path::new("test.ron"));
            (entry, message)
        }
        other => panic!("expected an invalid-scenario error, got {other:?}"),
    }
}

#[test]
fn the_base_scenario_is_valid_and_defaults_apply() {
    let s = Scenario::parse(BASE, path()).unwrap();
    assert_eq!(s.classes.len(), 2);
    assert_eq!(s.classes[0].name, "Frigate");
    assert_eq!(s.classes[0].repair_rate, 0.0);
    assert_eq!(s.classes[0].retreat_below, 0.25);
    assert_eq!(s.classes[1].size, 70.0);
    assert_eq!(s.fleets[0].spread, 1000.0);
    assert_eq!(s.fleets[1].warp_out_below, 0.2);
    assert_eq!(s.time_step, 0.05);
    assert_eq!(s.frames, 2400);
    assert_eq!(s.ship_count(), 11);
    assert_eq!(s.class("Cruiser").unwrap().damage_per_second(), 70.0 / 3.0);
}

#[test]
fn every_shipped_scenario_loads() {
    let assets = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../assets");
    let mut loaded = 0;
    for entry in std::fs::read_dir(&assets).unwrap() {
        let file = entry.unwrap().path();
        if file.extension().is_some_and(|e| e == "ron") {
            let s = Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(s.fleets.len(), 2);
            loaded += 1;
        }
    }
    assert!(loaded >= 1, "no scenario in {}", assets.display());
    let default = Scenario::load(assets.join("skirmish.ron")).unwrap();
    assert!((3..=5).contains(&default.classes.len()));
    assert!(
        (24..=80).contains(&default.ship_count()),
        "a few dozen ships"
    );
}

#[test]
fn a_missing_file_names_the_file() {
    let err = Scenario::load("no/such/scenario.ron").unwrap_err();
    assert!(matches!(err, ScenarioError::Read { .. }));
    assert_eq!(err.path(), Path::new("no/such/scenario.ron"));
    assert!(err.to_string().contains("no/such/scenario.ron"), "{err}");
}

#[test]
fn a_syntax_error_names_line_and_column() {
    let text = broken("            damage: 20,", "            damage: 20");
    let shown = parse_error_at(&text, "cycle_time: 2.0");
    // The parser stops at `cycle_time`, which follows a missing comma.
    assert!(
        shown.contains("cycle_time") || shown.contains("Expected"),
        "{shown}"
    );
    // The offending line is quoted with the value underlined.
    assert!(shown.contains("|             cycle_time: 2.0"), "{shown}");
    assert!(
        shown.lines().last().unwrap().trim_end().ends_with('^'),
        "{shown}"
    );
}

#[test]
fn an_unclosed_file_is_a_parse_error() {
    let text = BASE.trim_end().trim_end_matches(')');
    match Scenario::parse(text, path()).unwrap_err() {
        ScenarioError::Parse { location, .. } => assert!(location.line >= 40),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn a_wrong_type_names_the_field_and_what_was_found() {
    let text = broken("speed: 300,", "speed: \"fast\",");
    let shown = parse_error_at(&text, "speed: \"fast\"");
    assert!(
        shown.contains(": classes.Frigate.speed: expected a number, found the string \"fast\""),
        "{shown}"
    );
    // The value itself is underlined.
    assert!(shown.lines().last().unwrap().ends_with("^^^^^^"), "{shown}");
    for (from, to, says) in [
        (
            "speed: 300,",
            "speed: fast,",
            "speed: expected a number, found the word fast",
        ),
        (
            "speed: 300,",
            "speed: [300],",
            "speed: expected a number, found a sequence",
        ),
        (
            "(class: \"Cruiser\", count: 3)",
            "(class: \"Cruiser\", count: 2.5)",
            "fleets[1].ships[0].count: expected a whole number from 1 to 200000, found the \
             floating point number `2.5`",
        ),
        (
            "(class: \"Cruiser\", count: 3)",
            "(class: \"Cruiser\", count: \"three\")",
            "count: expected a whole number from 1 to 200000, found the string \"three\"",
        ),
        (
            "seed: 5,",
            "seed: \"five\",",
            "seed: expected a whole number from 0 to 18446744073709551615, found the string \"five\"",
        ),
        (
            "name: \"Red\",",
            "name: 7,",
            "fleets[0].name: expected a string in double quotes, found the number 7",
        ),
        (
            "width: 10000",
            "width: true",
            "arena.width: expected a number, found the boolean `true`",
        ),
    ] {
        let text = broken(from, to);
        let err = Scenario::parse(&text, path()).unwrap_err();
        assert!(err.to_string().contains(says), "{says:?} not in:\n{err}");
    }
}

#[test]
fn an_error_on_a_huge_line_shows_a_bounded_excerpt() {
    // The whole scenario on one line, behind 5 MB of padding in a block comment.
    let one_line = broken("speed: 300,", "speed: \"fast\",")
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join(" ");
    let text = format!("/*{}*/ {one_line}", "x".repeat(5_000_000));
    let err = Scenario::parse(&text, path()).unwrap_err();
    let shown = err.to_string();
    assert!(shown.len() < 600, "{} bytes on stderr", shown.len());
    assert!(
        shown.contains("expected a number, found the string \"fast\""),
        "{shown}"
    );
    let quoted = shown.lines().find(|l| l.starts_with("1 |")).unwrap();
    assert!(
        quoted.contains("...") && quoted.chars().count() < 160,
        "{quoted}"
    );
}

#[test]
fn a_file_that_is_not_utf8_names_the_byte() {
    let file = std::env::temp_dir().join(format!("uthread-not-utf8-{}.ron", std::process::id()));
    let mut bytes = BASE.as_bytes().to_vec();
    let at = BASE.find("Red").unwrap();
    bytes[at + 1] = 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let err = Scenario::load(&file).unwrap_err();
    std::fs::remove_file(&file).unwrap();
    match &err {
        ScenarioError::NotUtf8 {
            offset, location, ..
        } => {
            assert_eq!(*offset, at + 1);
            assert_eq!(location.line, line_of(BASE, "\"Red\""));
        }
        other => panic!("expected a UTF-8 error, got {other:?}"),
    }
    let shown = err.to_string();
    assert!(shown.contains(&format!("byte {}", at + 1)), "{shown}");
    assert!(shown.contains("not UTF-8"), "{shown}");
}

#[test]
fn huge_names_are_refused_and_never_quoted_whole() {
    let name = "N".repeat(100_000);
    let text = broken("name: \"Red\",", &format!("name: \"{name}\","));
    let shown = parse_error_at(&text, "name: \"NNN");
    assert!(shown.contains("at most 64 characters"), "{shown}");
    assert!(shown.len() < 800, "{} bytes", shown.len());
}

#[test]
fn an_unknown_field_suggests_the_known_one() {
    let text = broken("lock_time: 1.0,", "lok_time: 1.0,");
    let shown = parse_error_at(&text, "lok_time");
    assert!(
        shown.contains("classes.Frigate: unknown field \"lok_time\" (did you mean `lock_time`?)"),
        "{shown}"
    );
}

#[test]
fn an_unknown_field_is_named() {
    let text = broken("lock_time: 1.0,", "lok_time: 1.0,");
    let shown = parse_error_at(&text, "lok_time");
    assert!(shown.contains("lok_time"), "{shown}");
}

#[test]
fn a_missing_field_is_named() {
    let text = broken("            lock_time: 1.0,\n", "");
    let err = Scenario::parse(&text, path()).unwrap_err();
    assert!(matches!(err, ScenarioError::Parse { .. }));
    assert!(err.to_string().contains("lock_time"), "{err}");
}

#[test]
fn a_negative_speed_is_refused_where_it_is() {
    let text = broken("speed: 300,", "speed: -300,");
    let shown = parse_error_at(&text, "speed: -300");
    assert!(
        shown.contains("greater than 0") && shown.contains("-300"),
        "{shown}"
    );
}

#[test]
fn zero_or_negative_ships_are_refused_where_they_are() {
    let text = broken(
        "(class: \"Cruiser\", count: 3)",
        "(class: \"Cruiser\", count: 0)",
    );
    let shown = parse_error_at(&text, "count: 0");
    assert!(
        shown.contains("at least 1") && shown.contains("found 0"),
        "{shown}"
    );
    let text = broken(
        "(class: \"Cruiser\", count: 3)",
        "(class: \"Cruiser\", count: -2)",
    );
    parse_error_at(&text, "count: -2");
}

#[test]
fn impossible_numbers_are_refused() {
    for (from, to) in [
        ("hit_points: 400,", "hit_points: 0,"),
        ("weapon_range: 1500,", "weapon_range: -1,"),
        ("cycle_time: 2.0,", "cycle_time: 0.0,"),
        ("lock_time: 1.0,", "lock_time: -0.5,"),
        ("repair_rate: 10,", "repair_rate: -10,"),
        ("retreat_below: 0.3,", "retreat_below: 1.5,"),
        ("warp_out_below: 0.2,", "warp_out_below: -0.2,"),
        ("spread: 800,", "spread: -800,"),
        ("width: 10000", "width: -10000"),
        ("speed: 300,", "speed: inf,"),
        ("seed: 5,", "seed: -5,"),
    ] {
        let text = broken(from, to);
        parse_error_at(&text, to.trim_end_matches(','));
    }
    let text = broken("seed: 5,", "seed: 5, time_step: 2.0,");
    let shown = parse_error_at(&text, "time_step: 2.0");
    assert!(shown.contains("at most 1 second"), "{shown}");
}

#[test]
fn a_class_defined_twice_is_refused() {
    let text = broken("\"Cruiser\": (", "\"Frigate\": (");
    let err = Scenario::parse(&text, path()).unwrap_err();
    assert!(matches!(err, ScenarioError::Parse { .. }), "{err:?}");
    assert!(
        err.to_string().contains("\"Frigate\" is defined twice"),
        "{err}"
    );
}

#[test]
fn an_unknown_class_names_the_fleet_and_the_entry_and_suggests_a_fix() {
    let text = broken(
        "(class: \"Cruiser\", count: 2)",
        "(class: \"Crusier\", count: 2)",
    );
    let err = Scenario::parse(&text, path()).unwrap_err();
    match &err {
        ScenarioError::UnknownClass(unknown) => {
            let UnknownClass {
                fleet,
                entry,
                class,
                known,
                location,
                ..
            } = &**unknown;
            assert_eq!(
                (fleet.as_str(), *entry, class.as_str()),
                ("Red", 1, "Crusier")
            );
            assert_eq!(known, &["Frigate", "Cruiser"]);
            let line = line_of(&text, "Crusier");
            let column = text
                .lines()
                .nth(line - 1)
                .unwrap()
                .find("\"Crusier\"")
                .unwrap()
                + 1;
            assert_eq!(*location, Some(Location { line, column }));
        }
        other => panic!("expected an unknown class, got {other:?}"),
    }
    let shown = err.to_string();
    assert!(shown.starts_with("test.ron:"), "{shown}");
    assert!(shown.contains("fleet \"Red\", ships[1]"), "{shown}");
    assert!(shown.contains("did you mean \"Cruiser\"?"), "{shown}");
}

#[test]
fn a_skirmish_needs_exactly_two_fleets() {
    let one = broken(
        r#"        (
            name: "Blue",
            position: (x: 8000, y: 4000),
            spread: 800,
            warp_out_below: 0.2,
            ships: [(class: "Cruiser", count: 3)],
        ),
"#,
        "",
    );
    let (entry, message) = invalid(&one);
    assert_eq!(entry, "fleets");
    assert!(message.contains("exactly 2 fleets, found 1"), "{message}");
}

#[test]
fn a_fleet_without_ships_is_refused() {
    let text = broken("ships: [(class: \"Cruiser\", count: 3)],", "ships: [],");
    let (entry, message) = invalid(&text);
    assert_eq!(entry, "fleet \"Blue\"");
    assert!(message.contains("no ships"), "{message}");
}

#[test]
fn a_fleet_outside_the_arena_is_refused() {
    let text = broken(
        "position: (x: 8000, y: 4000)",
        "position: (x: 12000, y: 4000)",
    );
    let (entry, message) = invalid(&text);
    assert_eq!(entry, "fleet \"Blue\"");
    assert!(message.contains("outside the arena"), "{message}");
}

#[test]
fn fleet_names_must_differ() {
    let text = broken("name: \"Blue\"", "name: \"Red\"");
    let (entry, message) = invalid(&text);
    assert_eq!(entry, "fleet \"Red\"");
    assert!(message.contains("two fleets"), "{message}");
}

#[test]
fn scaling_keeps_the_mix() {
    let s = Scenario::parse(BASE, path())
        .unwrap()
        .with_ships_per_fleet(100);
    let red: Vec<u32> = s.fleets[0].ships.iter().map(|q| q.count).collect();
    assert_eq!(red, [75, 25]);
    assert_eq!(s.fleets[1].ship_count(), 100);
    // Scaling down drops what rounds to nothing but keeps the total.
    let s = Scenario::parse(BASE, path())
        .unwrap()
        .with_ships_per_fleet(1);
    assert_eq!(s.fleets[0].ship_count(), 1);
    assert_eq!(s.fleets[0].ships.len(), 1);
    assert_eq!(s.fleets[0].ships[0].class, "Frigate");
    // Zero is taken as one.
    let s = Scenario::parse(BASE, path())
        .unwrap()
        .with_ships_per_fleet(0);
    assert_eq!(s.fleets[1].ship_count(), 1);
}
