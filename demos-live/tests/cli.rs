//! The command line: bad scenarios and flags are refused before any window opens, with
//! exit status 2 and a message that says what is wrong.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skirmish-live"))
        .args(args)
        // No display: had a window been opened, the run would fail differently.
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("the binary runs")
}

fn refused(args: &[&str]) -> String {
    let out = run(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_missing_scenario_is_named() {
    let err = refused(&["--scenario", "no/such/battle.ron"]);
    assert!(err.contains("no/such/battle.ron"), "{err}");
}

#[test]
fn an_unknown_ship_to_select_lists_real_names() {
    let err = refused(&["--select", "Nobody 1"]);
    assert!(err.contains("\"Nobody 1\""), "{err}");
    assert!(err.contains("\"Crimson Frigate 1\""), "{err}");
    assert!(err.contains("\"Azure Battleship"), "{err}");
}

#[test]
fn budgets_and_speeds_must_be_positive() {
    let err = refused(&["--budget-ms", "0"]);
    assert!(err.contains("--budget-ms"), "{err}");
    let err = refused(&["--speed", "100"]);
    assert!(err.contains("--speed"), "{err}");
}

#[test]
fn help_names_the_screenshot_flags() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in ["--screenshot", "--frames", "--budget-ms", "--select"] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}
