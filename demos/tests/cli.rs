//! The demo binaries as a user meets them: `--help`, the JSON they print, the exit
//! status for bad flags, and the reports they promise.

use std::process::{Command, Output};

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const HACKYSACK: &str = env!("CARGO_BIN_EXE_hackysack");
const CLASSICS: &str = env!("CARGO_BIN_EXE_classics");
const SKIRMISH: &str = env!("CARGO_BIN_EXE_skirmish");

/// A scratch file path for this test binary.
/// A file in the target's scratch directory, unique to this test process (two test runs
/// at once must not write each other's files).
fn scratch(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{}-{name}", std::process::id()))
}

#[test]
fn every_demo_has_help() {
    for (bin, word) in [
        (HACKYSACK, "--players"),
        (CLASSICS, "philosophers-deadlock"),
        (SKIRMISH, "--budget-resumes"),
    ] {
        let out = run(bin, &["--help"]);
        assert!(out.status.success(), "{bin} --help failed");
        assert!(
            stdout(&out).contains(word),
            "{bin} --help: {}",
            stdout(&out)
        );
    }
}

#[test]
fn hackysack_prints_its_json_line() {
    for stacks in ["copying", "dedicated"] {
        let out = run(
            HACKYSACK,
            &[
                "--players",
                "300",
                "--turns",
                "50",
                "--json",
                "--stacks",
                stacks,
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        assert_eq!(text.lines().count(), 1, "{text}");
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["players"], 300);
        assert_eq!(json["turns"], 50);
        assert_eq!(json["stacks"], stacks);
        let seconds = json["seconds"].as_f64().unwrap();
        assert!(seconds > 0.0 && seconds < 60.0, "{seconds}");
    }
}

#[test]
fn bad_flags_get_the_parsers_error() {
    for args in [
        &["--players", "1"][..],
        &["--turns", "0"],
        &["--players", "lots"],
        &["--stacks", "borrowed"],
        &["--no-such-flag"],
    ] {
        let out = run(HACKYSACK, args);
        assert_eq!(out.status.code(), Some(2), "hackysack {args:?}");
        assert!(stderr(&out).contains("error:"), "{}", stderr(&out));
    }
    let out = run(CLASSICS, &["tea-party"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn running_out_of_dedicated_stacks_is_a_clear_error_not_a_panic() {
    let limit: u64 = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65_530);
    if limit > 200_000 {
        eprintln!("vm.max_map_count is {limit}: too many stacks to exhaust in a test");
        return;
    }
    // With mprotect guard pages (kernels before 6.13; forced here) every guarded stack
    // costs two mappings: this many players cannot all get one.
    let players = (limit / 2 + 1000).to_string();
    let args = [
        "--players",
        &players,
        "--turns",
        "1",
        "--stacks",
        "dedicated",
    ];
    let out = Command::new(HACKYSACK)
        .args(args)
        .env("UTHREAD_GUARD_PAGES", "mprotect")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("could not create player"), "{err}");
    assert!(err.contains("sysctl -w vm.max_map_count="), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // With guard regions (Linux 6.13+), the same game fits.
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut version = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok());
    if (version.next(), version.next()) >= (Some(6), Some(13)) {
        let out = run(HACKYSACK, &args);
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

#[test]
fn the_deadlocking_philosophers_report_who_waits_on_what() {
    let out = run(CLASSICS, &["philosophers-deadlock", "--philosophers", "4"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("deadlock detected: 4 tasklet(s) blocked"),
        "{text}"
    );
    for i in 0..4 {
        let waits = format!("'philosopher {i}': acquiring lock 'fork {}'", (i + 1) % 4);
        assert!(text.contains(&waits), "{waits} missing from:\n{text}");
    }
}

#[test]
fn every_classic_runs_to_the_end() {
    let out = run(CLASSICS, &["all"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for part in [
        "game over after 5 rounds",
        "all 12 item(s) made it through",
        "the first 20 primes: 2 3 5 7 11 13 17 19 23 29 31 37 41 43 47 53 59 61 67 71",
        "no deadlock",
        "deadlock detected",
    ] {
        assert!(text.contains(part), "{part:?} missing from:\n{text}");
    }
}

#[test]
fn the_skirmish_json_has_every_field() {
    let out = run(SKIRMISH, &["--frames", "120", "--json", "--ships", "6"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    for field in [
        "frames",
        "ships_start",
        "ships_alive",
        "outcome",
        "winner",
        "frame_ms_p50",
        "frame_ms_p99",
        "frame_ms_max",
        "budget_ms",
        "overruns",
        "world_hash",
    ] {
        assert!(json.get(field).is_some(), "{field} missing from {json}");
    }
    assert_eq!(json["frames"], 120);
    assert_eq!(json["ships_start"]["Crimson"], 6);
    assert_eq!(json["ships_start"]["Azure"], 6);
    assert_eq!(json["budget_ms"], 4.0);
}

#[test]
fn the_skirmish_replays_with_a_resume_budget() {
    let args = [
        "--frames",
        "300",
        "--json",
        "--budget-resumes",
        "9",
        "--seed",
        "5",
    ];
    let hashes: Vec<serde_json::Value> = (0..2)
        .map(|_| {
            let out = run(SKIRMISH, &args);
            assert!(out.status.success(), "{}", stderr(&out));
            let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
            assert_eq!(json["budget_ms"], serde_json::Value::Null);
            json["world_hash"].clone()
        })
        .collect();
    assert!(hashes[0].is_string());
    assert_eq!(hashes[0], hashes[1]);
}

#[test]
fn bad_scenarios_exit_with_status_2_and_say_where() {
    let good = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/skirmish.ron"),
    )
    .unwrap();
    // The line (from 1) of the first line of `text` containing `needle`, as `:N:`.
    let line_of = |text: &str, needle: &str| {
        let index = text.lines().position(|l| l.contains(needle)).unwrap();
        format!(":{}:", index + 1)
    };
    let negative = good.replacen("speed: 360,", "speed: -360,", 1);
    let negative_at = line_of(&negative, "speed: -360");
    let syntax = good.replacen("damage: 36,", "damage: 36", 1);
    // The parser notices the missing comma at the next field, a line further down.
    let syntax_at = line_of(&syntax, "cycle_time: 1.2");
    let cases = [
        ("negative-speed.ron", negative, negative_at.as_str()),
        ("syntax.ron", syntax, syntax_at.as_str()),
        (
            "unknown-class.ron",
            good.replacen(
                "(class: \"Cruiser\", count: 3)",
                "(class: \"Crusier\", count: 3)",
                1,
            ),
            "unknown ship class \"Crusier\"",
        ),
        (
            "zero-ships.ron",
            good.replacen("count: 12)", "count: 0)", 1),
            "at least 1",
        ),
    ];
    for (name, text, expected) in cases {
        assert_ne!(text, good, "{name}: the replacement did not apply");
        let path = scratch(name);
        std::fs::write(&path, text).unwrap();
        let out = run(
            SKIRMISH,
            &["--scenario", path.to_str().unwrap(), "--frames", "1"],
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(name), "{name}: the file is not named: {err}");
        assert!(
            err.contains(expected),
            "{name}: {expected:?} missing from: {err}"
        );
    }
    let out = run(SKIRMISH, &["--scenario", "no/such/file.ron"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no/such/file.ron"));
    // Bad flags are the parser's business: its usual error and status.
    let out = run(SKIRMISH, &["--budget-ms", "2", "--budget-resumes", "5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot be used with"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_skirmish_renders_a_gif_and_writes_a_trace() {
    let (gif_path, trace_path) = (scratch("battle.gif"), scratch("trace.json"));
    let out = run(
        SKIRMISH,
        &[
            "--frames",
            "200",
            "--render",
            gif_path.to_str().unwrap(),
            "--trace",
            trace_path.to_str().unwrap(),
            "--trace-frames",
            "20",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let bytes = std::fs::read(&gif_path).unwrap();
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    let mut decoder = options.read_info(bytes.as_slice()).unwrap();
    let mut frames = 0;
    let mut seen = [false; 2];
    while let Some(frame) = decoder.read_next_frame().unwrap() {
        frames += 1;
        for px in frame.buffer.chunks(4) {
            for (fleet, seen) in seen.iter_mut().enumerate() {
                *seen |= px[3] != 0 && px[..3] == demos::render::fleet_colour(fleet);
            }
        }
    }
    assert!(frames >= 50, "{frames} frames");
    assert_eq!(seen, [true, true], "both fleets' colours");
    let trace: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&trace_path).unwrap()).unwrap();
    assert!(trace.is_object() || trace.is_array());
}

const SWARM: &str = env!("CARGO_BIN_EXE_swarm");

#[test]
fn every_demo_says_what_it_is_in_its_own_words() {
    let abouts: Vec<String> = [SKIRMISH, SWARM, HACKYSACK, CLASSICS]
        .iter()
        .map(|bin| {
            let out = run(bin, &["--help"]);
            stdout(&out).lines().next().unwrap_or_default().to_owned()
        })
        .collect();
    for (i, about) in abouts.iter().enumerate() {
        assert!(!about.is_empty());
        assert!(
            !abouts[..i].contains(about),
            "two demos share the about line {about:?}"
        );
    }
    assert!(abouts[0].contains("skirmish"), "{abouts:?}");
    assert!(abouts[2].contains("Hackysack"), "{abouts:?}");
}

#[test]
fn usage_errors_exit_with_status_2_everywhere() {
    for (bin, args) in [
        (SKIRMISH, &["--budget-ms=-1"][..]),
        (SKIRMISH, &["--budget-ms", "nan"]),
        (SKIRMISH, &["--inject-panics", "2"]),
        (SKIRMISH, &["--stacks", "borrowed"]),
        (SKIRMISH, &["a.ron", "--scenario", "b.ron"]),
        (SWARM, &["--budget-ms", "0"]),
        (SWARM, &["--stack-size", "8k"]),
        (HACKYSACK, &["--players", "1"]),
    ] {
        let out = run(bin, args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{bin} {args:?}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).starts_with("error:"), "{}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    }
}

#[test]
fn the_scenario_can_be_given_as_an_argument_and_the_stacks_chosen() {
    let wolfpack = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/wolfpack.ron");
    let out = run(
        SKIRMISH,
        &[
            wolfpack,
            "--frames",
            "20",
            "--progress",
            "0",
            "--stacks",
            "copying",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("Wolfpack:"), "{text}");
    assert!(text.contains("copying stacks"), "{text}");
    let out = run(
        SKIRMISH,
        &["--scenario", wolfpack, "--frames", "20", "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("\"scenario\":\"Wolfpack"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_bad_scenario_on_one_huge_line_gives_a_short_message() {
    let base = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/skirmish.ron"
    ))
    .unwrap();
    let one_line: Vec<&str> = base
        .lines()
        .map(|l| l.split("//").next().unwrap())
        .collect();
    let text = format!(
        "/*{}*/ {}",
        "x".repeat(1_000_000), // under the 1 MiB limit on a scenario file
        one_line
            .join(" ")
            .replacen("speed: 360,", "speed: \"fast\",", 1)
    );
    let file = scratch("huge-line.ron");
    std::fs::write(&file, text).unwrap();
    let out = run(SKIRMISH, &[file.to_str().unwrap()]);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.len() < 1000, "{} bytes on stderr", err.len());
    assert!(
        err.contains("expected a number, found the string \"fast\""),
        "{err}"
    );
}

#[test]
fn progress_bars_show_on_a_terminal_only_and_never_in_the_json() {
    let args = ["--entities", "5000", "--frames", "30", "--json"];
    // Piped, as here: not a byte of progress anywhere.
    let out = run(SWARM, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 1, "{}", stdout(&out));
    // On a terminal (`script` runs the demo on a pseudo-terminal, stdout to a file):
    // bars on the terminal, and still only the JSON line in the file.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("no `script` here (util-linux): the terminal half is skipped");
        return;
    }
    let json = scratch("swarm-tty.json");
    let command = format!("{SWARM} {} > {}", args.join(" "), json.display());
    let tty = run("script", &["-qec", &command, "/dev/null"]);
    assert!(tty.status.success(), "{}", stderr(&tty));
    let screen = stdout(&tty);
    assert!(screen.contains("spawning animals"), "{screen}");
    assert!(screen.contains("frames"), "{screen}");
    let written = std::fs::read_to_string(&json).unwrap();
    std::fs::remove_file(&json).unwrap();
    assert_eq!(written.lines().count(), 1, "{written}");
    let parsed: serde_json::Value = serde_json::from_str(&written).unwrap();
    assert_eq!(parsed["entities"], 5000);
}
