//! A shard that fails (a panicking system, arrival handler or observer) is contained
//! and reported with its name; the other shards carry on; what is sent to it afterwards
//! comes back; the books balance. Set-up failures stop the cluster from starting.

mod common;

use common::shards::{
    idle, land_idle, lockstep, read_mail, traveller, StartedIn, Tag, Tags, Traveller,
};
use engine::shard::{DropReason, Shard, ShardId, ShardObserver, Stage, StartError, Update};

const AMARR: ShardId = ShardId::new(0);
const JITA: ShardId = ShardId::new(1);

struct Ping;

#[test]
fn a_panicking_system_fails_its_shard_alone_and_names_it() {
    let cluster = lockstep(&["Amarr", "Jita", "Dodixie"], 3, 12)
        .start(|shard| {
            land_idle(shard);
            if shard.id() == JITA {
                read_mail::<Ping>(shard);
                shard.driver.add_system("unstable", |sys| {
                    if sys.frame() == 5 {
                        panic!("reactor breach");
                    }
                });
            } else if shard.id() == AMARR {
                read_mail::<engine::shard::Returned<Ping>>(shard);
                // A ping a frame, and a traveller leaving in each of frames 1 to 8.
                let outbox = shard.outbox();
                shard.driver.add_system("pinger", move |sys| {
                    let _ = sys;
                    outbox.send(JITA, Ping).unwrap();
                });
                for k in 1..=8 {
                    let components = (Tag(k as u32), StartedIn(0));
                    shard
                        .driver
                        .spawn(&mut shard.world, components, traveller(k, JITA, None))?;
                }
            }
            Ok(Tags)
        })
        .unwrap();
    let mut failures = Vec::new();
    for update in cluster.updates().iter() {
        if let Update::Failed(failure) = update {
            failures.push(failure);
        }
    }
    let report = cluster.join();

    assert_eq!(failures.len(), 1);
    let failure = &failures[0];
    assert_eq!((failure.shard, failure.name.as_str()), (JITA, "Jita"));
    assert_eq!((failure.stage, failure.frame), (Stage::Tick, 5));
    assert_eq!(failure.system.as_deref(), Some("unstable"));
    assert_eq!(failure.message, "reactor breach");
    let said = failure.to_string();
    assert!(
        said.contains("Jita") && said.contains("unstable") && said.contains("reactor breach"),
        "{said}"
    );
    assert_eq!(report.shards[1].failure.as_ref(), Some(failure));

    // The others ran every frame; Jita ran four.
    let frames: Vec<u64> = report.shards.iter().map(|s| s.frames).collect();
    assert_eq!(frames, [12, 4, 12]);
    // Travellers 1-4 reached Jita before it failed; 5-8 came back to Amarr.
    let tags = |i: usize| -> Vec<u32> {
        report.shards[i]
            .end
            .clone()
            .unwrap()
            .iter()
            .map(|(t, _)| t.0)
            .collect()
    };
    assert_eq!(tags(1), [1, 2, 3, 4]);
    assert_eq!(tags(0), [5, 6, 7, 8]);
    let hand_offs = report.hand_offs();
    assert_eq!(
        (hand_offs.departed, hand_offs.arrived, hand_offs.came_back),
        (8, 4, 4)
    );
    // Pings 1-4 were read; 5-10 came back; 11 and 12 were in transit at the end.
    let messages = report.messages();
    assert_eq!(
        (
            messages.sent,
            messages.delivered,
            messages.returned,
            messages.dropped
        ),
        (20, 8, 10, 2)
    );
    assert!(messages.balanced());
}

#[test]
fn a_panicking_arrival_handler_fails_the_shard_and_its_cargo_is_counted_lost() {
    let cluster = lockstep(&["Amarr", "Jita"], 2, 6)
        .start(|shard| {
            if shard.id() == JITA {
                shard.on_arrival(
                    |_, Traveller(tag)| -> Result<hecs::Entity, engine::SpawnError> {
                        panic!("no docking rights for {tag:?}")
                    },
                );
            } else {
                land_idle(shard);
                for k in 1..=3 {
                    shard.driver.spawn(
                        &mut shard.world,
                        (Tag(k), StartedIn(0)),
                        traveller(u64::from(k), JITA, None),
                    )?;
                }
            }
            Ok(Tags)
        })
        .unwrap();
    let report = cluster.join();
    let failure = report.shards[1].failure.clone().unwrap();
    assert_eq!((failure.stage, failure.frame), (Stage::Delivery, 2));
    assert!(failure.message.contains("no docking rights"));
    // Traveller 1 was lost in the panicking handler; 2 and 3 came back.
    let lost = &report.shards[1].dropped;
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].reason, DropReason::HandlerPanicked);
    assert!(lost[0].hand_off);
    let hand_offs = report.hand_offs();
    assert_eq!(
        (hand_offs.departed, hand_offs.lost, hand_offs.came_back),
        (3, 1, 2)
    );
    assert_eq!(
        report.shards[0]
            .end
            .clone()
            .unwrap()
            .iter()
            .map(|(t, _)| t.0)
            .collect::<Vec<_>>(),
        [2, 3]
    );
    assert!(report.messages().balanced());
}

#[test]
fn a_panicking_observer_fails_its_shard() {
    struct Fragile;
    impl ShardObserver for Fragile {
        type Frame = ();
        type End = ();
        fn after_frame(&mut self, shard: &Shard) -> Option<()> {
            assert!(shard.frame() < 3, "the observer gave up");
            None
        }
        fn at_end(&mut self, _: &mut Shard) {}
    }
    let cluster = lockstep(&["Amarr", "Jita"], 2, 5)
        .start(|shard| {
            shard.driver.spawn(&mut shard.world, (), idle())?;
            Ok(Fragile)
        })
        .unwrap();
    let report = cluster.join();
    for shard in &report.shards {
        let failure = shard.failure.as_ref().unwrap();
        assert_eq!((failure.stage, failure.frame), (Stage::Observer, 3));
    }
}

#[test]
fn set_up_failures_are_all_named_and_no_frame_runs() {
    let started = lockstep(&["Amarr", "Jita", "Dodixie"], 2, 5).start(|shard| match shard.name() {
        "Jita" => Err("no stations".into()),
        "Dodixie" => panic!("bad star chart"),
        _ => Ok(()),
    });
    let Err(StartError::Setup(failures)) = started else {
        panic!("the cluster started");
    };
    let named: Vec<(&str, Stage, &str)> = failures
        .iter()
        .map(|f| (f.name.as_str(), f.stage, f.message.as_str()))
        .collect();
    assert_eq!(
        named,
        [
            ("Jita", Stage::Setup, "no stations"),
            ("Dodixie", Stage::Setup, "panicked: bad star chart"),
        ]
    );
    let message = StartError::Setup(failures).to_string();
    assert!(
        message.contains("Jita") && message.contains("Dodixie"),
        "{message}"
    );
}

#[test]
fn a_cluster_needs_a_shard() {
    let started = engine::shard::Cluster::builder().start(|_| Ok(()));
    assert!(matches!(started, Err(StartError::NoShards)));
}
