//! Hostile scenario files: whatever the file holds (nothing, the wrong thing, a value
//! out of any sensible range, 50 MB, `/dev/zero`), loading it gives a scenario or an
//! error that names the file, the place or the field, and what was expected; the limits
//! are said in the message. `tests/scenario.rs` covers the ordinary mistakes.

use std::fs;
use std::path::{Path, PathBuf};

use demos::scenario::{Scenario, ScenarioError, MAX_FILE_BYTES};

/// The shipped default battle, as text.
fn base() -> String {
    fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/skirmish.ron"
    ))
    .unwrap()
}

/// `base()` with `from` (which must occur there exactly once) replaced by `to`.
fn base_with(from: &str, to: &str) -> String {
    let text = base();
    assert_eq!(text.matches(from).count(), 1, "{from:?} must occur once");
    text.replace(from, to)
}

/// A file in the target's scratch directory, unique to this test process.
fn scratch(name: &str, contents: &[u8]) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("hostile-{}-{name}", std::process::id()));
    fs::write(&path, contents).unwrap();
    path
}

/// The error `text` gives, as shown to a user (the path is `h.ron`).
fn refused(text: &str) -> String {
    match Scenario::parse(text, Path::new("h.ron")) {
        Ok(s) => panic!("accepted: {s:?}"),
        Err(e) => {
            let shown = e.to_string();
            assert!(shown.starts_with("h.ron"), "{shown}");
            assert!(shown.lines().count() <= 4, "{shown}");
            shown
        }
    }
}

#[test]
fn a_file_larger_than_the_limit_is_refused_before_it_is_parsed() {
    // 50 MB: a valid scenario followed by comments.
    let mut big = base().into_bytes();
    let comment = format!("// {}\n", "x".repeat(97));
    while big.len() < 50_000_000 {
        big.extend_from_slice(comment.as_bytes());
    }
    let path = scratch("big.ron", &big);
    let err = Scenario::load(&path).unwrap_err();
    let shown = err.to_string();
    assert!(matches!(err, ScenarioError::TooLarge { size: Some(n), .. } if n == big.len() as u64));
    assert_eq!(
        shown,
        format!(
            "{}: the file has {} bytes; a scenario file has at most 1048576 bytes (1 MiB): \
             is it the right file?",
            path.display(),
            big.len()
        )
    );
    fs::remove_file(path).unwrap();
    // Exactly at the limit is read (and parsed).
    let mut full = base().into_bytes();
    full.resize(MAX_FILE_BYTES, b' ');
    let path = scratch("full.ron", &full);
    assert!(Scenario::load(&path).is_ok());
    fs::remove_file(path).unwrap();
}

#[test]
fn a_device_that_never_ends_is_refused_not_read_for_ever() {
    let err = Scenario::load("/dev/zero").unwrap_err();
    assert!(matches!(err, ScenarioError::TooLarge { size: None, .. }));
    assert_eq!(
        err.to_string(),
        "/dev/zero: the file goes on past 1048576 bytes; a scenario file has at most \
         1048576 bytes (1 MiB): is it the right file?"
    );
}

#[test]
fn a_directory_or_a_missing_file_is_a_read_error_naming_it() {
    let dir = env!("CARGO_TARGET_TMPDIR");
    let err = Scenario::load(dir).unwrap_err();
    assert!(matches!(err, ScenarioError::Read { .. }));
    assert_eq!(
        err.to_string(),
        format!("cannot read scenario file {dir}: Is a directory (os error 21)")
    );
    let err = Scenario::load("/no/such/dir/x.ron").unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read scenario file /no/such/dir/x.ron: No such file or directory (os error 2)"
    );
    // An empty device is an empty file.
    let err = Scenario::load("/dev/null").unwrap_err();
    assert!(
        err.to_string().starts_with(
            "/dev/null:1:1: expected a structure in (parentheses), found the end of the file"
        ),
        "{err}"
    );
}

#[test]
fn empty_or_comment_only_or_wrong_top_level_files_say_what_they_hold() {
    for (text, found) in [
        (
            "",
            "1:1: expected a structure in (parentheses), found the end of the file",
        ),
        (
            "// only a comment\n/* and a block */\n",
            "3:1: expected a structure in (parentheses), found the end of the file",
        ),
        (
            "  \n\t\n",
            "3:1: expected a structure in (parentheses), found the end of the file",
        ),
        (
            "[1, 2]",
            "1:1: expected a structure in (parentheses), found a list in [brackets]",
        ),
        (
            "42",
            "1:1: expected a structure in (parentheses), found the number 42",
        ),
        (
            "\"x\"",
            "1:1: expected a structure in (parentheses), found the string \"x\"",
        ),
        ("()", "1:2: the field `name` is missing"),
    ] {
        let shown = refused(text);
        assert!(
            shown.starts_with(&format!("h.ron:{found}")),
            "{text:?}: {shown}"
        );
    }
}

#[test]
fn a_byte_order_mark_and_windows_line_ends_are_read_as_text() {
    let plain = Scenario::parse(&base(), Path::new("h.ron")).unwrap();
    let marked = format!("\u{feff}{}", base());
    assert_eq!(Scenario::parse(&marked, Path::new("h.ron")).unwrap(), plain);
    let crlf = base().replace('\n', "\r\n");
    assert_eq!(Scenario::parse(&crlf, Path::new("h.ron")).unwrap(), plain);
    // Errors in such files are placed as an editor shows them: the mark takes no column,
    // and the excerpt carries no carriage return.
    let bad = format!("\u{feff}{}", base_with("seed: 4,", "seed: x4,")).replace('\n', "\r\n");
    let shown = refused(&bad);
    assert!(
        shown.starts_with(
            "h.ron:6:11: seed: expected a whole number from 0 to 18446744073709551615, found the \
             word x4"
        ),
        "{shown}"
    );
    assert!(
        !shown.contains('\r') && !shown.contains('\u{feff}'),
        "{shown:?}"
    );
    let first_line = "\u{feff}Scenario(nme: \"x\")";
    let shown = refused(first_line);
    assert!(
        shown.starts_with("h.ron:1:10: unknown field \"nme\" (did you mean `name`?)"),
        "{shown}"
    );
}

#[test]
fn ship_counts_beyond_the_limit_are_refused_with_it() {
    // 10^12 ships in one squadron: refused where it is, never attempted.
    let shown = refused(&base_with("count: 12", "count: 1000000000000"));
    assert!(
        shown.starts_with(
            "h.ron:69:43: fleets[0].ships[0].count: expected a whole number of at most 200000 \
             (the most ships a scenario may have), found 1000000000000"
        ),
        "{shown}"
    );
    for huge in ["4294967296", "99999999999999999999999999"] {
        let shown = refused(&base_with("count: 12", &format!("count: {huge}")));
        assert!(shown.contains("at most 200000"), "{shown}");
    }
    // Each count fits, the sum does not: the fleets are named with their totals.
    let text = base_with("count: 12", "count: 150000").replace("count: 6", "count: 60000");
    let shown = refused(&text);
    assert_eq!(
        shown,
        "h.ron: fleets: 210022 ships in all (\"Crimson\" 150012, \"Azure\" 60010); a scenario \
         has at most 200000"
    );
    // The limit itself is fine.
    let text = base_with("count: 12", "count: 199972");
    let scenario = Scenario::parse(&text, Path::new("h.ron")).unwrap();
    assert_eq!(scenario.ship_count(), 200_000);
}

#[test]
fn frames_beyond_the_limit_are_refused_with_it() {
    for (frames, says) in [
        ("0", "expected a whole number of at least 1, found 0"),
        ("-5", "expected a whole number of at least 1, found -5"),
        (
            "4294967295",
            "expected a whole number of at most 1000000 (the most frames a battle may run), \
             found 4294967295",
        ),
        (
            "1.5",
            "expected a whole number from 1 to 1000000, found the floating point number `1.5`",
        ),
        (
            "\"many\"",
            "expected a whole number from 1 to 1000000, found the string \"many\"",
        ),
    ] {
        let shown = refused(&base_with("frames: 3000", &format!("frames: {frames}")));
        assert!(
            shown.starts_with(&format!("h.ron:9:13: frames: {says}")),
            "{shown}"
        );
    }
    let text = base_with("frames: 3000", "frames: 1000000");
    assert_eq!(
        Scenario::parse(&text, Path::new("h.ron")).unwrap().frames,
        1_000_000
    );
}

#[test]
fn extreme_numbers_are_quoted_short_in_messages() {
    let shown = refused(&base_with("speed: 360", "speed: -1e300"));
    assert!(
        shown.starts_with(
            "h.ron:14:20: classes.Frigate.speed: expected a number greater than 0, found -1e300"
        ),
        "{shown}"
    );
    let shown = refused(&base_with("repair_rate: 10,", "repair_rate: -1e-300,"));
    assert!(
        shown.contains("repair_rate: expected a number of at least 0, found -1e-300"),
        "{shown}"
    );
    let text = base_with(
        "arena: (width: 16000, height: 10000)",
        "arena: (width: 1e-300, height: 1e300)",
    );
    assert_eq!(
        refused(&text),
        "h.ron: fleet \"Crimson\": position (3500, 5000) lies outside the arena (0..1e-300, \
         0..1e300)"
    );
}

#[test]
fn every_numeric_field_refuses_nan_infinity_and_out_of_range_values() {
    // (the field as written in the default battle, its path, what it accepts)
    let fields = [
        ("width: 16000", "arena.width", "greater than 0"),
        ("time_step: 0.05", "time_step", "greater than 0"),
        (
            "hit_points: 400",
            "classes.Frigate.hit_points",
            "greater than 0",
        ),
        ("speed: 360", "classes.Frigate.speed", "greater than 0"),
        (
            "weapon_range: 2000",
            "classes.Frigate.weapon_range",
            "greater than 0",
        ),
        ("damage: 36", "classes.Frigate.damage", "at least 0"),
        (
            "cycle_time: 1.2",
            "classes.Frigate.cycle_time",
            "greater than 0",
        ),
        ("lock_time: 1.5", "classes.Frigate.lock_time", "at least 0"),
        (
            "repair_rate: 10,",
            "classes.Frigate.repair_rate",
            "at least 0",
        ),
        (
            "retreat_below: 0.3,\n            align_time: 2.0",
            "classes.Frigate.retreat_below",
            "fraction",
        ),
        (
            "align_time: 2.0",
            "classes.Frigate.align_time",
            "at least 0",
        ),
        ("size: 30", "classes.Frigate.size", "greater than 0"),
        ("x: 3500", "fleets[0].position.x", "finite"),
        ("spread: 1500", "fleets[0].spread", "at least 0"),
    ];
    for (field, path, accepts) in fields {
        let (name, rest) = field.split_once(':').unwrap();
        let rest = rest.split_once('\n').map_or("", |(_, r)| r);
        for bad in ["NaN", "inf", "-inf", "-1", "-0.5e3"] {
            if accepts == "finite" && bad.starts_with("-") && bad != "-inf" {
                continue; // a negative position is outside the arena (tests/scenario.rs)
            }
            let replaced = if rest.is_empty() {
                format!("{name}: {bad}")
            } else {
                format!("{name}: {bad},\n{rest}")
            };
            let shown = refused(&base_with(field, &replaced));
            let expected = if ["NaN", "inf", "-inf"].contains(&bad) {
                "expected a finite number".to_owned()
            } else {
                accepts.to_owned()
            };
            assert!(
                shown.contains(&format!("{path}: expected")) && shown.contains(&expected),
                "{field} = {bad}: {shown}"
            );
        }
        let shown = refused(&base_with(field, &field.replacen(':', ": \"12\" //", 1)));
        assert!(
            shown.contains(&format!(
                "{path}: expected a number, found the string \"12\""
            )),
            "{shown}"
        );
    }
    // Zero where only more will do, and numbers past their limit.
    for (field, bad, says) in [
        (
            "speed: 360",
            "speed: 0",
            "speed: expected a number greater than 0, found 0",
        ),
        (
            "time_step: 0.05",
            "time_step: 2",
            "time_step: expected at most 1 second per frame, found 2",
        ),
        (
            "time_step: 0.05",
            "time_step: 1e-12",
            "expected at least 0.000000001 seconds (1 ns) per frame, found 0.000000000001",
        ),
        (
            "spread: 1500,\n            warp_out_below: 0.3",
            "spread: 1500,\n            warp_out_below: 1",
            "fleets[0].warp_out_below: expected a fraction from 0 up to (not including) 1, found 1",
        ),
        (
            "x: 3500",
            "x: 1e400",
            "fleets[0].position.x: expected a finite number, found inf",
        ),
    ] {
        let shown = refused(&base_with(field, bad));
        assert!(shown.contains(says), "{bad}: {shown}");
    }
}

#[test]
fn a_seed_must_be_a_whole_number_that_fits() {
    let max = "18446744073709551615";
    for (bad, says) in [
        ("4.5", "seed: expected a whole number from 0 to 18446744073709551615, found the floating point number `4.5`".to_owned()),
        ("-1", format!("seed: expected a whole number from 0 to {max}, found -1")),
        ("18446744073709551616", format!("seed: expected a whole number from 0 to {max}, found 1.8446744073709552e19")),
        ("1e30", format!("seed: expected a whole number from 0 to {max}, found 1e30")),
        ("\"4\"", format!("seed: expected a whole number from 0 to {max}, found the string \"4\"")),
        ("Some(4)", format!("seed: expected a whole number from 0 to {max}, found an optional value")),
    ] {
        let shown = refused(&base_with("seed: 4", &format!("seed: {bad}")));
        assert!(shown.starts_with(&format!("h.ron:6:11: {says}")), "{bad}: {shown}");
    }
    for good in ["0", max, "0x10"] {
        let text = base_with("seed: 4", &format!("seed: {good}"));
        assert!(Scenario::parse(&text, Path::new("h.ron")).is_ok(), "{good}");
    }
}

#[test]
fn names_with_control_characters_are_refused() {
    let shown = refused(&base_with("\"Crimson\"", "\"Crim\\u{1b}[2Json\""));
    // (The column is where RON stops, after the string; the excerpt shows the line.)
    assert!(shown.starts_with("h.ron:64:"), "{shown}");
    assert!(
        shown.contains(
            "fleets[0].name: a name cannot hold control characters, this one has '\\u{1b}': \
             \"Crim\\u{1b}[2Json\""
        ),
        "{shown}"
    );
    let shown = refused(&base_with("\"Border skirmish\"", "\"Border\\nskirmish\""));
    assert!(
        shown.contains("name: a name cannot hold control characters, this one has '\\n'"),
        "{shown}"
    );
    let shown = refused(&base_with("\"Frigate\": (", "\"Fri\\u{0}gate\": ("));
    assert!(
        shown.contains("a ship class's name: a name cannot hold control characters"),
        "{shown}"
    );
    // A right-to-left override (the "trojan source" trick) or isolate is refused too,
    // written raw in the file or as an escape.
    for (written, shown_as) in [("\u{202e}", "'\\u{202e}'"), ("\\u{2067}", "'\\u{2067}'")] {
        let shown = refused(&base_with("\"Crimson\"", &format!("\"Crim{written}son\"")));
        assert!(
            shown.contains(&format!(
                "fleets[0].name: a name cannot hold text-direction controls, this one has {shown_as}"
            )),
            "{shown}"
        );
    }
    // Letters of any script, emoji and right-to-left text are names.
    let text = base_with("\"Crimson\"", "\"東 West 🚀 עברית\"");
    assert!(Scenario::parse(&text, Path::new("h.ron")).is_ok());
}
