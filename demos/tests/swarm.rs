//! The swarm: replays are exact under a resume budget, animals behave as their script
//! says (rest mostly, flee when startled), and the binary's JSON holds sane figures.

use std::process::Command;
use std::time::Duration;

use demos::swarm::{copying_stacks, Activity, Encounter, Position, Swarm, SwarmConfig, Vec2};
use engine::{Budget, StackStrategy};

const SWARM: &str = env!("CARGO_BIN_EXE_swarm");

fn run(entities: usize, seed: u64, budget: Budget, frames: usize) -> Swarm {
    let config = SwarmConfig {
        budget,
        ..SwarmConfig::new(entities, seed)
    };
    let mut swarm = Swarm::new(config).unwrap();
    while swarm.frames() < frames {
        swarm.step();
    }
    swarm
}

#[test]
fn the_same_seed_and_resume_budget_replay_exactly() {
    // 8 resumes a frame for 600 animals: the budget binds in busy frames, so
    // carried-over tasklets must replay in the same order.
    let a = run(600, 3, Budget::Resumes(8), 400);
    let b = run(600, 3, Budget::Resumes(8), 400);
    assert!(a.budget_spent_frames() > 0, "the budget should bind");
    assert!(a.field.encounters.get() > 0, "animals should meet");
    assert_eq!(a.world_hash(), b.world_hash());
    assert_eq!(a.field.census.get(), b.field.census.get());
    assert_eq!(a.field.encounters.get(), b.field.encounters.get());
    let c = run(600, 4, Budget::Resumes(8), 400);
    assert_ne!(
        a.world_hash(),
        c.world_hash(),
        "another seed, another swarm"
    );
    // Both stack strategies run the same script to the same world.
    let copying = {
        let config = SwarmConfig {
            budget: Budget::Resumes(8),
            stacks: copying_stacks(),
            ..SwarmConfig::new(600, 3)
        };
        let mut swarm = Swarm::new(config).unwrap();
        while swarm.frames() < 400 {
            swarm.step();
        }
        swarm
    };
    assert_eq!(a.config().stacks, StackStrategy::dedicated());
    assert_eq!(a.world_hash(), copying.world_hash());
}

#[test]
fn most_animals_rest_and_the_rest_wander_and_flee() {
    // Ten game seconds: past the staggered first rests, into the steady state.
    let swarm = run(2000, 5, Budget::Unlimited, 600);
    let summary = swarm.summary();
    assert_eq!(summary.tasklets_live, 2000, "every animal lives on");
    assert_eq!(summary.resting + summary.wandering + summary.fleeing, 2000);
    assert!(
        summary.resting > summary.wandering + summary.fleeing,
        "most should be lying down: {summary}"
    );
    assert!(summary.wandering > 0 && summary.encounters > 0, "{summary}");
    // Few resumes per frame: the sleepers cost nothing.
    assert!(
        summary.resumes_per_frame < 2000.0 * 0.2,
        "{} resumes per frame",
        summary.resumes_per_frame
    );
    // Every animal is still on the field.
    let side = swarm.field.side;
    for position in swarm.world.query::<&Position>().iter() {
        let p = position.0;
        assert!(
            (0.0..=side).contains(&p.x) && (0.0..=side).contains(&p.y),
            "{p:?}"
        );
    }
}

#[test]
fn a_startled_animal_runs_away_then_rests_again() {
    let mut swarm = run(50, 9, Budget::Unlimited, 1);
    // The first animal that is resting (all are, this early): a stranger appears 1 m
    // to its east.
    let (animal, start) = swarm
        .world
        .query::<(hecs::Entity, &Position, &Activity)>()
        .iter()
        .find(|(_, _, a)| **a == Activity::Resting)
        .map(|(e, p, _)| (e, p.0))
        .unwrap();
    let threat = Vec2::new(start.x + 1.0, start.y);
    swarm.driver.send(animal, Encounter { threat }).unwrap();
    swarm.step();
    assert_eq!(
        *swarm.world.get::<&Activity>(animal).unwrap(),
        Activity::Fleeing
    );
    for _ in 0..20 {
        swarm.step();
    }
    let fled_to = swarm.world.get::<&Position>(animal).unwrap().0;
    assert!(
        fled_to.x < start.x - 1.0 || start.x < 2.0,
        "it should run west, away from the stranger: {start:?} -> {fled_to:?}"
    );
    // A flight lasts at most a second, then it catches its breath lying down.
    let mut frames = 0;
    while *swarm.world.get::<&Activity>(animal).unwrap() == Activity::Fleeing {
        swarm.step();
        frames += 1;
        assert!(frames < 120, "still running after two more seconds");
    }
    assert_eq!(
        *swarm.world.get::<&Activity>(animal).unwrap(),
        Activity::Resting
    );
    assert!(swarm.driver.now() < Duration::from_secs(3));
}

#[test]
fn swarms_of_any_size_default_to_dedicated_stacks() {
    for entities in [10, 100_000, 1_000_000] {
        assert_eq!(
            SwarmConfig::new(entities, 1).stacks,
            StackStrategy::dedicated()
        );
    }
}

fn json_of(args: &[&str]) -> serde_json::Value {
    let out = Command::new(SWARM).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "swarm {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "--json prints one line: {text}");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn the_json_line_holds_sane_figures() {
    for stacks in ["dedicated", "copying"] {
        let json = json_of(&[
            "--entities",
            "2000",
            "--frames",
            "120",
            "--stacks",
            stacks,
            "--json",
        ]);
        let number = |field: &str| {
            json[field]
                .as_f64()
                .unwrap_or_else(|| panic!("{field} is not a number: {json}"))
        };
        assert_eq!(json["entities"], 2000);
        assert_eq!(json["tasklets_live"], 2000);
        assert_eq!(json["frames"], 120);
        assert_eq!(json["stacks"], stacks);
        let (p50, p99, max) = (
            number("frame_ms_p50"),
            number("frame_ms_p99"),
            number("frame_ms_max"),
        );
        assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{json}");
        assert!(number("resumes_per_frame") > 1.0, "{json}");
        let ns = number("ns_per_resume");
        assert!(ns > 1.0 && ns < 1e6, "{json}");
        // A tasklet costs at least a few hundred bytes, and no more than its stack.
        let rss = number("rss_bytes_per_tasklet");
        assert!(rss > 200.0 && rss < 64.0 * 1024.0, "{json}");
        assert!(number("budget_ms") > 0.0 && json["budget_resumes"].is_null());
        assert!(
            number("setup_ms") > 0.0 && number("startup_ms") > 0.0,
            "{json}"
        );
        let census = number("resting") + number("wandering") + number("fleeing");
        assert_eq!(census, 2000.0, "{json}");
    }
}

#[test]
fn the_binary_replays_under_a_resume_budget() {
    let args = [
        "--entities",
        "1000",
        "--frames",
        "200",
        "--budget-resumes",
        "50",
        "--seed",
        "12",
        "--json",
    ];
    let (a, b) = (json_of(&args), json_of(&args));
    assert_eq!(a["world_hash"], b["world_hash"]);
    assert_eq!(a["budget_resumes"], 50);
    assert!(a["budget_ms"].is_null());
}

#[test]
fn the_command_line_explains_itself_and_rejects_nonsense() {
    let help = Command::new(SWARM).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--entities",
        "--frames",
        "--seed",
        "--budget-ms",
        "--budget-resumes",
        "--stacks",
        "--stack-size",
        "--json",
    ] {
        assert!(
            text.contains(flag),
            "--help does not mention {flag}: {text}"
        );
    }
    for bad in [
        &["--stack-size", "4k"][..],
        &["--entities", "0"],
        &["--stacks", "shared"],
        &["--budget-ms", "-1"],
        &["--budget-ms", "2", "--budget-resumes", "10"],
    ] {
        let out = Command::new(SWARM).args(bad).output().unwrap();
        assert!(!out.status.success(), "swarm {bad:?} should fail");
        assert!(!out.stderr.is_empty(), "swarm {bad:?} should say why");
    }
}

#[test]
fn progress_lines_and_a_summary_without_json() {
    let out = Command::new(SWARM)
        .args(["--entities", "500", "--frames", "120", "--progress", "60"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("resumes/frame").count(), 2, "{text}");
    assert!(text.contains("frame time: p50"), "{text}");
    assert!(text.contains("bytes per tasklet"), "{text}");
}
