//! Hand-offs between shards: an entity's cargo leaves shard A at the end of frame F and
//! arrives on B at the start of F + 1 with a fresh behaviour; nothing is lost or
//! duplicated when the entity is despawned or killed in the frame it asked to leave, or
//! when a behaviour panics; refusals and returns are told and counted.

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::shards::{
    frames_by_shard, idle, land_idle, lockstep, traveller, Picky, StartedIn, Tag, Tags, Traveller,
};
use common::Drops;
use engine::shard::{self, HandOffError, Refusal, Shard, ShardId, ShardObserver};
use engine::{Actor, Budget, Crashed, FrameDriver, WatchdogPolicy};

const A: ShardId = ShardId::new(0);
const B: ShardId = ShardId::new(1);

#[test]
fn components_leave_at_the_end_of_a_frame_and_arrive_at_the_start_of_the_next() {
    // A's observer also reports how many of the traveller's tokens were dropped: its
    // stack unwound, exactly once, when it left.
    struct Watch(Drops);
    impl ShardObserver for Watch {
        type Frame = (Vec<(Tag, u64)>, u32);
        type End = ();
        fn after_frame(&mut self, shard: &Shard) -> Option<Self::Frame> {
            Some((Tags::of(shard), self.0.count()))
        }
        fn at_end(&mut self, _: &mut Shard) {}
    }
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let seen = arrivals.clone();
    let cluster = lockstep(&["A", "B"], 2, 4)
        .start(move |shard| {
            let drops = Drops::new();
            let seen = seen.clone();
            shard.on_arrival(move |arrival, Traveller(tag)| {
                let note = (arrival.from(), arrival.departed_in(), arrival.came_back());
                seen.lock().unwrap().push(note);
                arrival.spawn((tag, StartedIn(0)), idle())
            });
            if shard.id() == A {
                let actor = traveller(2, B, Some(drops.clone()));
                shard
                    .driver
                    .spawn(&mut shard.world, (Tag(7), StartedIn(0)), actor)?;
            }
            Ok(Watch(drops))
        })
        .unwrap();
    let frames = frames_by_shard(cluster.updates(), 2);
    let report = cluster.join();

    let on_a: Vec<_> = frames[0]
        .iter()
        .map(|(f, (tags, drops))| (*f, tags.len(), *drops))
        .collect();
    // Frame 1: here. Frame 2: asked to leave, gone by the frame's end, its stack unwound.
    assert_eq!(on_a, [(1, 1, 0), (2, 0, 1), (3, 0, 1), (4, 0, 1)]);
    let on_b: Vec<_> = frames[1]
        .iter()
        .map(|(f, (tags, _))| (*f, tags.clone()))
        .collect();
    // Arrived at the start of frame 3; its fresh behaviour first ran in frame 3.
    assert_eq!(
        on_b,
        [
            (1, vec![]),
            (2, vec![]),
            (3, vec![(Tag(7), 3)]),
            (4, vec![(Tag(7), 3)])
        ]
    );
    assert_eq!(*arrivals.lock().unwrap(), [(A, 2, false)]);
    let hand_offs = report.hand_offs();
    assert_eq!((hand_offs.departed, hand_offs.arrived), (1, 1));
    assert_eq!(report.shards[0].hand_offs.departed, 1);
    assert_eq!(report.shards[1].hand_offs.arrived, 1);
    let messages = report.messages();
    assert_eq!((messages.sent, messages.delivered), (1, 1));
    assert!(messages.balanced());
}

#[test]
fn despawned_in_the_frame_it_asked_to_leave_it_goes_nowhere() {
    let cluster = lockstep(&["A", "B"], 2, 4)
        .start(|shard| {
            land_idle(shard);
            if shard.id() == A {
                let ship = shard.driver.spawn(
                    &mut shard.world,
                    (Tag(1), StartedIn(0)),
                    traveller(2, B, None),
                )?;
                // Destroyed by another actor in the same tasklet phase.
                let killer = Actor::new(move |ctx| {
                    while ctx.frame() < 2 {
                        ctx.be_nice().unwrap();
                    }
                    ctx.despawn(ship);
                });
                shard.driver.spawn(&mut shard.world, (), killer)?;
            }
            Ok(Tags)
        })
        .unwrap();
    let report = cluster.join();
    assert_eq!(report.shards[0].end, Some(vec![]));
    assert_eq!(report.shards[1].end, Some(vec![]));
    let hand_offs = report.hand_offs();
    assert_eq!(
        (hand_offs.cancelled, hand_offs.departed, hand_offs.arrived),
        (1, 0, 0)
    );
    assert_eq!(report.messages().sent, 0);
    assert!(report.messages().balanced());
}

#[test]
fn killed_in_the_frame_it_asked_to_leave_it_stays_where_it_is() {
    // The watchdog kills any slice over 100 ms (room for valgrind's slowdown); the
    // traveller's last slice takes 150 ms.
    let builder = lockstep(&["A", "B"], 2, 4).driver(
        FrameDriver::builder()
            .budget(Budget::Resumes(1_000))
            .watchdog(Duration::from_millis(100), WatchdogPolicy::Kill),
    );
    let cluster = builder
        .start(|shard| {
            land_idle(shard);
            if shard.id() == A {
                let slow = Actor::new(|ctx| {
                    ctx.be_nice().unwrap();
                    common::spin(Duration::from_millis(150));
                    let error = shard::hand_off::<Traveller>(ctx, B);
                    panic!("did not leave: {error}");
                });
                shard
                    .driver
                    .spawn(&mut shard.world, (Tag(2), StartedIn(0)), slow)?;
            }
            Ok(Tags)
        })
        .unwrap();
    let report = cluster.join();
    // Still on A, exactly once (crashed), and not on B.
    assert_eq!(report.shards[0].end, Some(vec![(Tag(2), 0)]));
    assert_eq!(report.shards[1].end, Some(vec![]));
    let hand_offs = report.hand_offs();
    assert_eq!((hand_offs.cancelled, hand_offs.departed), (1, 0));
    assert!(report.messages().balanced());
}

#[test]
fn a_fresh_behaviour_that_panics_on_arrival_crashes_there_and_nothing_is_lost() {
    let cluster = lockstep(&["A", "B"], 2, 4)
        .start(|shard| {
            shard.on_arrival(|arrival, Traveller(tag)| {
                let doomed = Actor::new(|_| panic!("arrival sickness")).name("doomed");
                arrival.spawn((tag,), doomed)
            });
            if shard.id() == A {
                let actor = traveller(1, B, None);
                shard.driver.spawn(&mut shard.world, (Tag(3),), actor)?;
            }
            Ok(Crashes)
        })
        .unwrap();
    struct Crashes;
    impl ShardObserver for Crashes {
        type Frame = ();
        type End = Vec<(Tag, Option<String>)>;
        fn at_end(&mut self, shard: &mut Shard) -> Self::End {
            shard
                .world
                .query::<(&Tag, Option<&Crashed>)>()
                .iter()
                .map(|(t, c)| (*t, c.map(|c| c.reason.clone())))
                .collect()
        }
    }
    let report = cluster.join();
    assert_eq!(report.shards[0].end, Some(vec![]));
    let on_b = report.shards[1].end.clone().unwrap();
    assert_eq!(on_b.len(), 1, "{on_b:?}");
    assert_eq!(on_b[0].0, Tag(3));
    assert!(on_b[0].1.as_deref().unwrap().contains("arrival sickness"));
    assert!(
        report.shards[1].failure.is_none(),
        "a behaviour's panic does not fail the shard"
    );
    assert_eq!(report.hand_offs().arrived, 1);
    assert!(report.messages().balanced());
}

#[test]
fn refused_hand_offs_are_told_to_the_behaviour_which_carries_on() {
    let errors = Arc::new(Mutex::new(Vec::new()));
    let log = errors.clone();
    let cluster = lockstep(&["A", "B"], 1, 3)
        .start(move |shard| {
            land_idle(shard);
            if shard.id() == A {
                let log = log.clone();
                let actor = Actor::new(move |ctx| {
                    for error in [
                        shard::hand_off::<Traveller>(ctx, ShardId::new(9)),
                        shard::hand_off::<Picky>(ctx, B),
                    ] {
                        let refusal = match error {
                            HandOffError::Refused(why) => why,
                            other => panic!("not a refusal: {other}"),
                        };
                        log.lock().unwrap().push(refusal);
                    }
                    while ctx.be_nice().is_ok() {}
                });
                shard
                    .driver
                    .spawn(&mut shard.world, (Tag(4), StartedIn(0)), actor)?;
            }
            Ok(Tags)
        })
        .unwrap();
    let report = cluster.join();
    let refusals = errors.lock().unwrap().clone();
    assert_eq!(refusals.len(), 2);
    assert_eq!(refusals[0], Refusal::NoSuchShard(ShardId::new(9)));
    assert!(matches!(refusals[1], Refusal::CannotPack { cargo } if cargo.ends_with("Picky")));
    assert_eq!(report.shards[0].end, Some(vec![(Tag(4), 0)]));
    assert_eq!(report.hand_offs().refused, 2);
    assert_eq!(report.messages().sent, 0);
}

#[test]
fn an_entity_the_destination_cannot_take_comes_back_through_its_own_gate() {
    let cluster = lockstep(&["A", "B"], 2, 5)
        .start(|shard| {
            if shard.id() == A {
                // Only A knows how to land a traveller; B has no arrival handler.
                shard.on_arrival(|arrival, Traveller(tag)| {
                    assert!(arrival.came_back());
                    arrival.spawn((tag, StartedIn(0)), idle())
                });
                let actor = traveller(1, B, None);
                shard
                    .driver
                    .spawn(&mut shard.world, (Tag(5), StartedIn(0)), actor)?;
            }
            Ok(Tags)
        })
        .unwrap();
    let report = cluster.join();
    // Left A in frame 1, refused by B in frame 2, back on A at the start of frame 3.
    assert_eq!(report.shards[0].end, Some(vec![(Tag(5), 3)]));
    assert_eq!(report.shards[1].end, Some(vec![]));
    let hand_offs = report.hand_offs();
    assert_eq!(
        (hand_offs.departed, hand_offs.came_back, hand_offs.arrived),
        (1, 1, 0)
    );
    let messages = report.messages();
    assert_eq!(
        (messages.sent, messages.returned, messages.delivered),
        (1, 1, 0)
    );
    assert!(messages.balanced());
}

#[test]
fn outside_a_cluster_a_hand_off_is_not_taken() {
    let mut world = hecs::World::new();
    let mut driver = FrameDriver::new();
    let result = Rc::new(RefCell::new(None));
    let out = result.clone();
    driver
        .spawn(
            &mut world,
            (Tag(6),),
            Actor::new(move |ctx| {
                let error = shard::hand_off::<Traveller>(ctx, B);
                *out.borrow_mut() = Some(error.to_string());
            }),
        )
        .unwrap();
    for _ in 0..3 {
        driver.tick(&mut world, common::DT);
    }
    let said = result.borrow().clone().unwrap();
    assert!(said.contains("not taken"), "{said}");
}

#[test]
fn many_travellers_criss_crossing_are_all_accounted_for() {
    // 3 shards, 30 travellers each, every one jumping to the next shard every few
    // frames: at the end every tag is in exactly one world or lost in transit.
    let cluster = lockstep(&["A", "B", "C"], 3, 40)
        .start(|shard| {
            let next = ShardId::new(((shard.id().index() + 1) % 3) as u32);
            shard.on_arrival(move |arrival, Traveller(tag)| arrival.spawn((tag,), hopper(next)));
            for i in 0..30 {
                let tag = Tag(shard.id().index() as u32 * 100 + i);
                shard.driver.spawn(&mut shard.world, (tag,), hopper(next))?;
            }
            Ok(Tags)
        })
        .unwrap();
    fn hopper(next: ShardId) -> Actor {
        Actor::new(move |ctx| {
            let wait = 1 + ctx.rng().below(4);
            for _ in 0..wait {
                ctx.be_nice().unwrap();
            }
            let error = shard::hand_off::<Traveller>(ctx, next);
            panic!("did not leave: {error}");
        })
    }
    let report = cluster.join();
    let mut tags: Vec<u32> = report
        .shards
        .iter()
        .flat_map(|s| s.end.clone().unwrap())
        .map(|(t, _)| t.0)
        .collect();
    let hand_offs = report.hand_offs();
    assert!(hand_offs.departed > 90, "{hand_offs:?}");
    assert_eq!(hand_offs.departed, hand_offs.arrived + hand_offs.lost);
    let messages = report.messages();
    assert!(messages.balanced(), "{messages:?}");
    assert_eq!(messages.dropped, hand_offs.lost);
    // Those in transit at the stop are described, with their cargo type.
    let dropped: Vec<_> = report
        .shards
        .iter()
        .flat_map(|s| s.dropped.clone())
        .collect();
    assert_eq!(dropped.len() as u64, hand_offs.lost);
    assert!(dropped
        .iter()
        .all(|d| d.hand_off && d.message_type.ends_with("Traveller")));
    let alive = tags.len() as u64;
    tags.sort_unstable();
    tags.dedup();
    assert_eq!(tags.len() as u64, alive, "no entity is in two worlds");
    assert_eq!(alive + hand_offs.lost, 90);
}
