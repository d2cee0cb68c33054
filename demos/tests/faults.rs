//! Fault injection and soak runs of the skirmish: ship scripts that panic at random
//! points are each reported with their entity and tasklet, the battle goes on, every ship
//! is accounted for and every stack comes back; a soak with constant spawning and dying
//! levels off. Through the library and through the binary.

use std::path::Path;
use std::process::Command;

use demos::scenario::Scenario;
use demos::skirmish::soak::{self, SoakOptions};
use demos::skirmish::{Battle, PanicReport, Ship, Skirmish, INJECTED_FAULT};
use engine::Budget;

fn default_scenario() -> Scenario {
    Scenario::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/skirmish.ron")).unwrap()
}

/// Runs a battle with panics injected at `rate` until it ends (or `frames`), checking
/// each report as it comes; returns the battle and every report.
fn faulty_battle(rate: f64, ships: u32, seed: u64, frames: usize) -> (Skirmish, Vec<PanicReport>) {
    let scenario = default_scenario().with_ships_per_fleet(ships);
    let battle = Battle::new(scenario).with_injected_panics(rate);
    let mut skirmish = Skirmish::with_battle(battle, seed, Budget::Resumes(200)).unwrap();
    assert_eq!(skirmish.stacks_in_use_start(), 2 * ships as usize);
    let mut reports = Vec::new();
    while skirmish.frames() < frames && !skirmish.is_over() {
        let names: Vec<(hecs::Entity, String)> = skirmish
            .world
            .query::<(hecs::Entity, &Ship)>()
            .iter()
            .filter_map(|(e, _)| Some((e, skirmish.driver.tasklet_of(e)?.name()?.to_string())))
            .collect();
        skirmish.step();
        skirmish.drain_log();
        for report in skirmish.drain_panic_reports() {
            let entity = report.entity.expect("every panic names its entity");
            assert!(report.tasklet.is_some(), "and its tasklet: {report}");
            let name = &names.iter().find(|(e, _)| *e == entity).unwrap().1;
            assert_eq!(&report.name, name, "the tasklet is the ship's");
            assert!(report.message.starts_with(INJECTED_FAULT), "{report}");
            assert!(
                !skirmish.world.contains(entity),
                "the crashed ship is despawned"
            );
            reports.push(report);
        }
        assert_eq!(
            skirmish.stacks_in_use(),
            skirmish.driver.actor_count(),
            "frame {}: one stack per live ship script",
            skirmish.frames()
        );
    }
    (skirmish, reports)
}

#[test]
fn injected_panics_are_all_reported_and_every_stack_comes_back() {
    // Where faults strike depends on how each battle goes; two seeds between them
    // exercise several fault points.
    let mut places: Vec<String> = Vec::new();
    for seed in [2, 3] {
        let (mut skirmish, reports) = faulty_battle(0.002, 60, seed, 3000);
        let summary = skirmish.summary();
        assert!(summary.panics_injected >= 10, "{summary}");
        assert_eq!(summary.panics_reported, summary.panics_injected);
        assert_eq!(reports.len() as u64, summary.panics_injected);
        assert_eq!(
            summary.crashed.iter().sum::<u32>() as u64,
            summary.panics_injected
        );
        assert!(summary.books_balance(), "{summary}");
        places.extend(
            reports
                .iter()
                .filter_map(|r| r.message.split(" while ").nth(1))
                .map(|m| m.split(" (frame").next().unwrap().to_owned()),
        );
        assert_eq!(skirmish.teardown(), 0, "the pool is back to its baseline");
        assert_eq!(skirmish.driver.actor_count(), 0);
    }
    // Faults struck at several points of the script, one inside a component update.
    places.sort_unstable();
    places.dedup();
    assert!(places.len() >= 3, "{places:?}");
}

#[test]
fn injected_panics_replay_exactly() {
    let (a, ra) = faulty_battle(0.003, 20, 9, 600);
    let (b, rb) = faulty_battle(0.003, 20, 9, 600);
    assert!(!ra.is_empty());
    assert_eq!(ra, rb, "the same seed panics at the same points");
    assert_eq!(a.world_hash(), b.world_hash());
}

#[test]
fn no_injection_draws_nothing_and_changes_nothing() {
    let run = |battle: Battle| {
        let mut s = Skirmish::with_battle(battle, 4, Budget::Resumes(50)).unwrap();
        for _ in 0..300 {
            s.step();
        }
        s.world_hash()
    };
    let plain = run(Battle::new(default_scenario()));
    let off = run(Battle::new(default_scenario()).with_injected_panics(0.0));
    assert_eq!(plain, off);
}

#[test]
fn a_short_soak_levels_off_with_faults_and_reinforcements() {
    let scenario = default_scenario().with_ships_per_fleet(60);
    let battle = Battle::new(scenario).with_injected_panics(0.0005);
    let mut skirmish = Skirmish::with_battle(battle, 2, Budget::Resumes(500)).unwrap();
    let mut options = SoakOptions::new(3000);
    options.samples = 30;
    let mut reported = 0;
    let report = soak::run(
        &mut skirmish,
        options,
        |s| reported += s.drain_panic_reports().len() as u64,
        |_| (),
    )
    .unwrap();
    assert!(report.passed(), "{report}");
    assert!(report.reinforcements > 50, "{report}");
    assert_eq!(report.samples.len(), 31);
    let summary = skirmish.summary();
    assert!(summary.panics_injected > 0);
    assert_eq!(reported, summary.panics_injected);
    assert!(summary.books_balance(), "{summary}");
    // The pool never outgrows the fleets' starting strength (no stack leaked).
    assert!(
        report.samples.iter().all(|s| s.pool_stacks <= 120),
        "{report}"
    );
    assert_eq!(skirmish.teardown(), 0);
}

// ---- through the binary ------------------------------------------------------------

const SKIRMISH: &str = env!("CARGO_BIN_EXE_skirmish");

fn json_of(stdout: &[u8]) -> serde_json::Value {
    let text = String::from_utf8_lossy(stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn the_binary_reports_every_injected_panic_and_checks_the_pool() {
    let out = Command::new(SKIRMISH)
        .args(["--inject-panics", "0.004", "--ships", "30", "--json"])
        .args(["--budget-resumes", "100", "--seed", "8"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let json = json_of(&out.stdout);
    let injected = json["panics_injected"].as_u64().unwrap();
    assert!(injected > 0, "{json}");
    assert_eq!(json["panics_reported"].as_u64(), Some(injected));
    assert_eq!(json["stacks_in_use_start"].as_u64(), Some(60));
    assert_eq!(json["stacks_in_use_end"], json["actors_end"]);
    assert_eq!(json["stacks_in_use_after_teardown"].as_u64(), Some(0));
    assert_eq!(json["books_balance"], true);
    // Each panic is reported on stderr (stdout carries the JSON) with entity and name,
    // and the default panic hook stays quiet about injected faults.
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("panic: "))
        .collect();
    assert_eq!(lines.len() as u64, injected, "{stderr}");
    assert!(lines
        .iter()
        .all(|l| l.contains("entity ") && l.contains("tasklet #") && l.contains(INJECTED_FAULT)));
    assert!(!stderr.contains("panicked at"), "{stderr}");
}

#[test]
fn the_binary_soaks_and_says_so_in_its_json() {
    let out = Command::new(SKIRMISH)
        .args([
            "--soak",
            "1200",
            "--ships",
            "20",
            "--json",
            "--inject-panics",
            "0.001",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = json_of(&out.stdout);
    assert_eq!(json["frames"].as_u64(), Some(1200));
    assert_eq!(json["soak"]["passed"], true, "{json}");
    assert!(json["soak"]["samples"].as_array().unwrap().len() > 50);
    assert!(json["soak"]["reinforcements"].as_u64().unwrap() > 0);
    assert_eq!(json["panics_reported"], json["panics_injected"]);
}

#[test]
fn the_binary_refuses_a_rate_that_is_not_a_probability() {
    for rate in ["1.5", "-0.1", "NaN"] {
        let out = Command::new(SKIRMISH)
            .arg(format!("--inject-panics={rate}"))
            .args(["--frames", "10"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{rate}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--inject-panics"),
            "{rate}"
        );
    }
}
