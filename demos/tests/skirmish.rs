//! The skirmish as a library: replays are exact, battles end, and the ships' scripts do
//! what they say (fire, retreat and repair, warp out).

use std::path::Path;

use demos::scenario::Scenario;
use demos::skirmish::{Hull, Outcome, Ship, Skirmish};
use engine::Budget;

fn default_scenario() -> Scenario {
    Scenario::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/skirmish.ron")).unwrap()
}

/// A scenario of one class per fleet: `a` ships against `b`, `gap` metres apart.
fn duel(a: u32, b: u32, gap: f64, warp_out_below: f64) -> Scenario {
    let text = format!(
        r#"Scenario(
            name: "duel", seed: 3, arena: (width: 40000, height: 10000),
            classes: {{
                "Gunboat": (hit_points: 500, speed: 200, weapon_range: 3000, damage: 50,
                            cycle_time: 1.0, lock_time: 0.5, repair_rate: 50,
                            retreat_below: 0.3, align_time: 1.0),
            }},
            fleets: [
                (name: "A", position: (x: 5000, y: 5000), spread: 300,
                 warp_out_below: {warp_out_below}, ships: [(class: "Gunboat", count: {a})]),
                (name: "B", position: (x: {bx}, y: 5000), spread: 300,
                 warp_out_below: 0, ships: [(class: "Gunboat", count: {b})]),
            ],
        )"#,
        bx = 5000.0 + gap,
    );
    Scenario::parse(&text, Path::new("duel.ron")).unwrap()
}

fn run(scenario: Scenario, seed: u64, budget: Budget, frames: usize) -> Skirmish {
    let mut battle = Skirmish::new(scenario, seed, budget).unwrap();
    while battle.frames() < frames && !battle.is_over() {
        battle.step();
        battle.drain_log();
    }
    battle
}

#[test]
fn the_same_seed_and_resume_budget_replay_exactly() {
    // A budget of 5 resumes a frame carries most tasklets over: the order still replays.
    let a = run(default_scenario(), 11, Budget::Resumes(5), 400);
    let b = run(default_scenario(), 11, Budget::Resumes(5), 400);
    assert!(a.budget_spent_frames() > 0, "the budget should bind");
    assert_eq!(a.world_hash(), b.world_hash());
    assert_eq!(a.on_field(), b.on_field());
    let c = run(default_scenario(), 12, Budget::Resumes(5), 400);
    assert_ne!(
        a.world_hash(),
        c.world_hash(),
        "another seed, another battle"
    );
}

#[test]
fn the_world_hash_follows_the_battle() {
    let mut battle = Skirmish::new(default_scenario(), 1, Budget::Resumes(1000)).unwrap();
    let start = battle.world_hash();
    battle.step();
    battle.step();
    assert_ne!(battle.world_hash(), start, "ships moved");
}

#[test]
fn a_lopsided_battle_ends_with_a_winner_and_the_books_balance() {
    let battle = run(duel(8, 2, 4000.0, 0.0), 1, Budget::Unlimited, 4000);
    assert!(
        battle.is_over(),
        "still fighting after {} frames",
        battle.frames()
    );
    let summary = battle.summary();
    assert_eq!(summary.winner.as_deref(), Some("A"));
    assert_eq!(summary.ships_alive[1], 0);
    for fleet in 0..2 {
        assert_eq!(
            summary.ships_start[fleet],
            summary.ships_alive[fleet] + summary.destroyed[fleet] + summary.warped_out[fleet],
            "fleet {fleet}"
        );
    }
    assert!(summary.shots[0] > 0 && summary.hits[0] > 0);
    // Damage went through the inboxes: B's two ships took at least their hit points.
    let log = battle.battle.log.borrow();
    assert!(log.damage_dealt[0] >= 2.0 * 500.0, "{:?}", log.damage_dealt);
}

#[test]
fn a_fleet_that_cannot_win_warps_out() {
    // One ship against ten, told to leave when under 90% of the enemy's strength.
    let battle = run(duel(1, 10, 6000.0, 0.9), 1, Budget::Unlimited, 400);
    let summary = battle.summary();
    assert_eq!(summary.warped_out[0], 1, "{summary}");
    assert_eq!(summary.destroyed[0], 0);
    assert_eq!(summary.winner.as_deref(), Some("B"));
}

#[test]
fn a_badly_damaged_ship_retreats_and_repairs_out_of_reach() {
    // Fleets 30 km apart: nobody is in reach for a long while.
    let mut battle = Skirmish::new(duel(1, 1, 30_000.0, 0.0), 1, Budget::Unlimited).unwrap();
    let victim = battle
        .world
        .query::<(hecs::Entity, &Ship)>()
        .iter()
        .find(|(_, ship)| ship.fleet == 0)
        .map(|(e, _)| e)
        .unwrap();
    battle.world.get::<&mut Hull>(victim).unwrap().hit_points = 50.0; // 10%
    for _ in 0..200 {
        battle.step(); // ten game seconds
    }
    let hull = *battle.world.get::<&Hull>(victim).unwrap();
    assert!(hull.fraction() >= 0.9, "repaired to {:.2}", hull.fraction());
    assert_eq!(battle.on_field(), vec![1, 1]);
}

/// Two identical ships, placed exactly (spread 0) at the same distance from each other,
/// each killing the other with its first shot.
fn mirror_duel(damage: f64) -> Scenario {
    let text = format!(
        r#"Scenario(
            name: "mirror", seed: 1, arena: (width: 4000, height: 2000),
            classes: {{
                "Lancer": (hit_points: 100, speed: 100, weapon_range: 1500, damage: {damage},
                           cycle_time: 1.0, lock_time: 1.0, retreat_below: 0),
            }},
            fleets: [
                (name: "A", position: (x: 1000, y: 1000), spread: 0, warp_out_below: 0,
                 ships: [(class: "Lancer", count: 1)]),
                (name: "B", position: (x: 3000, y: 1000), spread: 0, warp_out_below: 0,
                 ships: [(class: "Lancer", count: 1)]),
            ],
        )"#
    );
    Scenario::parse(&text, Path::new("mirror.ron")).unwrap()
}

#[test]
fn fleets_that_die_together_end_in_a_draw_not_an_undecided_battle() {
    let battle = run(mirror_duel(100.0), 1, Budget::Unlimited, 2000);
    assert!(
        battle.is_over(),
        "still on after {} frames",
        battle.frames()
    );
    let summary = battle.summary();
    assert_eq!(summary.ships_alive, vec![0, 0], "{summary}");
    assert_eq!(summary.destroyed, vec![1, 1], "{summary}");
    assert_eq!(summary.outcome, Outcome::Draw);
    assert_eq!(summary.winner, None);
    let json = summary.to_json();
    assert_eq!(json["outcome"], "draw");
    assert_eq!(json["winner"], serde_json::Value::Null);
    assert!(summary.to_string().contains("outcome: a draw"), "{summary}");
}

#[test]
fn ships_without_weapons_fly_until_the_frame_limit_and_the_battle_is_undecided() {
    // `damage: 0` is a non-combat ship (a hauler, a scout): allowed, and harmless.
    let battle = run(mirror_duel(0.0), 1, Budget::Unlimited, 300);
    assert!(!battle.is_over());
    assert_eq!(battle.frames(), 300);
    let summary = battle.summary();
    assert_eq!(summary.ships_alive, vec![1, 1], "{summary}");
    assert_eq!(summary.outcome, Outcome::Undecided);
    assert_eq!(summary.to_json()["outcome"], "undecided");
    assert!(
        summary.shots[0] > 0,
        "it still goes through the motions: {summary}"
    );
    assert!(
        summary.to_string().contains("outcome: undecided"),
        "{summary}"
    );
}

#[test]
fn a_decided_battle_names_its_winner_in_the_json() {
    let battle = run(duel(8, 2, 4000.0, 0.0), 1, Budget::Unlimited, 4000);
    let json = battle.summary().to_json();
    assert_eq!(json["outcome"], "winner");
    assert_eq!(json["winner"], "A");
}
