//! The galaxy: the same lockstep galaxy gives the same hashes on one thread and on two;
//! ships jump; every ship and every message is accounted for; the binary's JSON line
//! has what it promises.

use std::process::Command;

use demos::galaxy::{Galaxy, GalaxyConfig, GalaxySummary, Pictures};
use demos::scenario::Scenario;
use engine::shard::Update;
use engine::Budget;

fn base() -> Scenario {
    Scenario::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/skirmish.ron"
    ))
    .unwrap()
}

fn run(config: GalaxyConfig) -> GalaxySummary {
    Galaxy::start(&base(), config).unwrap().finish()
}

fn small(threads: usize) -> GalaxyConfig {
    GalaxyConfig {
        systems: 4,
        ships: 40,
        threads,
        frames: 300,
        seed: 11,
        budget: Budget::Resumes(25),
        lockstep: true,
        render_every: None,
    }
}

#[test]
fn lockstep_gives_the_same_galaxy_on_one_thread_and_on_two() {
    let one = run(small(1));
    let two = run(small(2));
    assert_eq!((one.threads, two.threads), (1, 2));
    assert_eq!(one.world_hash, two.world_hash);
    let hashes = |s: &GalaxySummary| s.per_system.iter().map(|p| p.hash).collect::<Vec<_>>();
    assert_eq!(hashes(&one), hashes(&two));
    assert_eq!(one.hand_offs, two.hand_offs);
    assert_eq!(one.messages, two.messages);
    // Ships jumped, and everything is accounted for.
    assert!(one.hand_offs.departed > 0, "{:?}", one.hand_offs);
    assert!(one.books_balance(), "{one}");
    assert!(one.messages.balanced(), "{:?}", one.messages);
    assert_eq!(
        one.messages.sent,
        one.messages.delivered + one.messages.dropped
    );
    assert!(one.failures().is_empty());
    // Another seed is another galaxy.
    let other = run(GalaxyConfig {
        seed: 12,
        ..small(2)
    });
    assert_ne!(other.world_hash, one.world_hash);
}

#[test]
fn a_free_running_galaxy_also_keeps_its_books() {
    let summary = run(GalaxyConfig {
        lockstep: false,
        budget: Budget::Time(std::time::Duration::from_millis(4)),
        ..small(2)
    });
    assert_eq!(summary.frames, 300);
    assert!(summary.books_balance(), "{summary}");
    assert!(summary.messages.balanced(), "{:?}", summary.messages);
}

#[test]
fn a_galaxy_of_one_system_has_no_gates_so_the_beaten_warp_out() {
    let summary = run(GalaxyConfig {
        systems: 1,
        frames: 400,
        ..small(1)
    });
    assert_eq!(summary.hand_offs.departed, 0);
    assert_eq!(summary.messages.sent, 0);
    assert!(summary.warped_out.iter().sum::<u32>() > 0, "{summary}");
    assert!(summary.books_balance(), "{summary}");
}

#[test]
fn pictures_come_for_every_system_and_assemble_side_by_side() {
    let galaxy = Galaxy::start(
        &base(),
        GalaxyConfig {
            systems: 3,
            frames: 20,
            render_every: Some(5),
            ..small(2)
        },
    )
    .unwrap();
    let mut pictures = Pictures::new(galaxy.map());
    let mut snapshots = Vec::new();
    for update in galaxy.updates().iter() {
        if let Update::Frame {
            shard,
            frame,
            report,
        } = update
        {
            assert_eq!(frame % 5, 1);
            pictures.add(shard.index(), frame, report);
            snapshots.extend(pictures.complete());
        }
    }
    let summary = galaxy.finish();
    assert_eq!(snapshots.len(), 4, "frames 1, 6, 11 and 16");
    assert!(pictures.rest().is_empty());
    let (width, _) = pictures.size();
    let ships = summary.ships_alive_total() as usize;
    let last = snapshots.last().unwrap();
    assert_eq!(last.ships.len(), ships);
    // The third system's ships are drawn in the last third of the picture.
    assert!(last.ships.iter().any(|s| s.position.0 > width * 2.0 / 3.0));
    assert!(pictures.landmarks().len() >= 3 * 4);
}

fn galaxy_json(threads: &str) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_galaxy"))
        .args([
            "--systems",
            "4",
            "--ships",
            "30",
            "--threads",
            threads,
            "--budget-resumes",
            "40",
            "--frames",
            "120",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_json_line_has_every_promised_field_and_the_hash_ignores_the_thread_count() {
    let one = galaxy_json("1");
    for field in [
        "systems",
        "threads",
        "frames",
        "jumps",
        "ships_alive",
        "frame_ms_p50",
        "frame_ms_p99",
        "messages_sent",
        "messages_delivered",
        "messages_dropped",
        "world_hash",
        "per_system",
    ] {
        assert!(one.get(field).is_some(), "no {field} in {one}");
    }
    let system = &one["per_system"][0];
    for field in ["name", "ships", "hash", "tasklet_ms"] {
        assert!(
            system.get(field).is_some(),
            "no per_system {field} in {system}"
        );
    }
    let two = galaxy_json("2");
    assert_eq!(
        (one["threads"].as_u64(), two["threads"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(one["world_hash"], two["world_hash"]);
    let sent = one["messages_sent"].as_u64().unwrap();
    let accounted = one["messages_delivered"].as_u64().unwrap()
        + one["messages_returned"].as_u64().unwrap()
        + one["messages_dropped"].as_u64().unwrap();
    assert_eq!(sent, accounted);
}
