//! The live skirmish, run headless under Xvfb with software rendering, draws a battle:
//! ships of both fleets on the field, not a blank or one-coloured frame.
//!
//! With `SKIRMISH_LIVE_SCREENSHOT=path.png` the test checks that picture (CI takes it
//! with the release binary first); otherwise it takes one itself with `xvfb-run`. With
//! no `xvfb-run` it skips, unless `CI=true` or `SKIRMISH_LIVE_REQUIRE_XVFB=1`, when that
//! is a failure.

use std::path::PathBuf;
use std::process::Command;

use demos_live::screenshot::{check, load_png};

/// A screenshot to check instead of taking one.
const SCREENSHOT_VAR: &str = "SKIRMISH_LIVE_SCREENSHOT";
/// Makes a missing `xvfb-run` a failure.
const REQUIRE_VAR: &str = "SKIRMISH_LIVE_REQUIRE_XVFB";

#[test]
fn the_live_skirmish_draws_both_fleets() {
    let path = match std::env::var_os(SCREENSHOT_VAR) {
        Some(path) => PathBuf::from(path),
        None => match take_screenshot() {
            Some(path) => path,
            None => return,
        },
    };
    let (width, height, rgba) =
        load_png(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let tally = check(&rgba, width, height, 2)
        .unwrap_or_else(|e| panic!("{} does not show a battle: {e}", path.display()));
    eprintln!(
        "{}: {width} x {height}, {} colours, fleet pixels on the field {:?}",
        path.display(),
        tally.colours,
        tally.fleet_pixels
    );
}

/// Runs the binary for 300 frames under `xvfb-run`, saving the last frame; `None` (the
/// test skips) when there is no `xvfb-run` and nothing says it is required.
fn take_screenshot() -> Option<PathBuf> {
    let have_xvfb = Command::new("sh")
        .args(["-c", "command -v xvfb-run"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_xvfb {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        let required = std::env::var(REQUIRE_VAR).is_ok_and(|v| !v.is_empty() && v != "0");
        assert!(
            !(ci || required),
            "xvfb-run is not installed (apt-get install -y xvfb), and {} says the screenshot \
             must be checked",
            if required { REQUIRE_VAR } else { "CI=true" }
        );
        eprintln!(
            "skipped: no xvfb-run to run skirmish-live headless (apt-get install -y xvfb); \
             set {REQUIRE_VAR}=1 to make this a failure"
        );
        return None;
    }
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("skirmish-live-test-{}.png", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let output = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x800x24"])
        .arg(env!("CARGO_BIN_EXE_skirmish-live"))
        .args(["--frames", "300", "--msaa", "1", "--screenshot"])
        .arg(&path)
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .output()
        .expect("xvfb-run runs");
    assert!(
        output.status.success(),
        "skirmish-live under xvfb-run failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Some(path)
}
