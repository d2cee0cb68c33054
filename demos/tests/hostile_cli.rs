//! Hostile command lines: every demo refuses a value past its limits as a usage error
//! (exit status 2, the flag and the range named) instead of panicking, aborting or
//! running for hours; a bad scenario path exits with status 2 and names the file.

use std::process::{Command, Output};

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"))
}

/// Runs `bin args`, which must exit with status 2 and say `says` on stderr.
fn usage_error(bin: &str, args: &[&str], says: &str) {
    let out = run(bin, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{bin} {args:?}: {err}");
    assert!(err.contains(says), "{bin} {args:?}: {says:?} not in {err}");
    assert!(!err.contains("panicked"), "{err}");
}

const SKIRMISH: &str = env!("CARGO_BIN_EXE_skirmish");
const SWARM: &str = env!("CARGO_BIN_EXE_swarm");
const GALAXY: &str = env!("CARGO_BIN_EXE_galaxy");
const HACKYSACK: &str = env!("CARGO_BIN_EXE_hackysack");
const CLASSICS: &str = env!("CARGO_BIN_EXE_classics");

#[test]
fn a_huge_budget_is_refused_not_a_panic() {
    for bin in [SKIRMISH, SWARM, GALAXY] {
        usage_error(
            bin,
            &["--budget-ms", "1e308"],
            "invalid value '1e308' for '--budget-ms <BUDGET_MS>': expected milliseconds above 0 \
             and at most 60000, found \"1e308\"",
        );
    }
}

#[test]
fn counts_and_frames_past_the_limits_are_usage_errors() {
    for (bin, args, says) in [
        (
            SKIRMISH,
            &["--frames", "1000001"][..],
            "1000001 is not in 1..=1000000",
        ),
        (SKIRMISH, &["--frames", "0"], "0 is not in 1..=1000000"),
        (
            SKIRMISH,
            &["--frames", "abc"],
            "invalid digit found in string",
        ),
        (
            SKIRMISH,
            &["--ships", "4294967295"],
            "4294967295 is not in 1..=100000",
        ),
        (
            SKIRMISH,
            &["--soak", "4294967295"],
            "4294967295 is not in 8..=1000000",
        ),
        (
            SKIRMISH,
            &["--trace-frames", "18446744073709551615"],
            "is not in 1..=10000",
        ),
        (
            SKIRMISH,
            &["--seed", "18446744073709551616"],
            "number too large",
        ),
        (
            SWARM,
            &["--entities", "50000000"],
            "50000000 is not in 1..=2000000",
        ),
        (
            SWARM,
            &["--frames", "4294967295"],
            "4294967295 is not in 1..=1000000",
        ),
        (
            GALAXY,
            &["--frames", "18446744073709551615"],
            "is not in 1..=1000000",
        ),
        (GALAXY, &["--threads", "0"], "0 is not in 1..=64"),
        (
            GALAXY,
            &["--systems", "64", "--ships", "100000"],
            "galaxy: --systems 64 times --ships 100000 is 6400000 ships; a galaxy has at most \
             200000",
        ),
        (
            HACKYSACK,
            &["--players", "1000000000000"],
            "is not in 2..=2000000",
        ),
        (
            HACKYSACK,
            &["--turns", "18446744073709551615"],
            "is not in 1..=100000000",
        ),
        (
            CLASSICS,
            &["philosophers", "--philosophers", "4294967295"],
            "is not in 2..=10000",
        ),
        (
            CLASSICS,
            &["pingpong", "--rounds", "18446744073709551615"],
            "is not in 0..=10000000",
        ),
        (
            CLASSICS,
            &["sieve", "--primes", "4294967295"],
            "is not in 1..=10000",
        ),
        (
            CLASSICS,
            &["runaway", "--spin-ms", "18446744073709551615"],
            "is not in 0..=60000",
        ),
    ] {
        usage_error(bin, args, says);
    }
}

#[test]
fn a_bad_scenario_path_exits_with_status_2_naming_it() {
    for bin in [SKIRMISH, GALAXY] {
        let flag = "--scenario";
        usage_error(
            bin,
            &[flag, "/dev/zero"],
            "/dev/zero: the file goes on past 1048576 bytes; a scenario file has at most \
             1048576 bytes (1 MiB)",
        );
        usage_error(
            bin,
            &[flag, "/no/such.ron"],
            "cannot read scenario file /no/such.ron: No such file or directory",
        );
    }
}

/// A reader that stops reading (`skirmish | head -1`): the demo stops quietly with the
/// status a shell gives a program stopped by SIGPIPE, not a panic and a backtrace.
#[test]
fn a_reader_that_stops_reading_stops_the_demo_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let runs: [(&str, &[&str]); 3] = [
        (SKIRMISH, &["--frames", "100000", "--progress", "1"]),
        (CLASSICS, &["all"]),
        (
            HACKYSACK,
            &["--players", "200", "--turns", "2000", "--verbose"],
        ),
    ];
    for (bin, args) in runs {
        let mut child = Command::new(bin)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(!first.is_empty(), "{bin} {args:?} printed nothing");
        // The reader is gone: dropped with the BufReader above.
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(demos::cli::BROKEN_PIPE_EXIT),
            "{bin} {args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{bin} {args:?}: {err}");
    }
}
