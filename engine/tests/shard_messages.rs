//! Messages between shards: mailboxes that wake a tasklet, delivered at frame
//! boundaries in a fixed order; events into actors' inboxes; what cannot be delivered
//! comes back or is dropped; what is in flight when the cluster stops is dropped; and
//! the books always balance.

mod common;

use std::sync::{Arc, Mutex};

use common::shards::{lockstep, read_mail, DT};
use engine::shard::{
    Address, Cluster, Destination, DropReason, PostError, ReturnReason, Returned, Shard, ShardId,
    ShardObserver, Update,
};
use engine::{Actor, Budget, FrameDriver};

const A: ShardId = ShardId::new(0);
const B: ShardId = ShardId::new(1);
const C: ShardId = ShardId::new(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ping(u64);

/// What a shard's receiving tasklet wrote down, reported at the end.
struct Heard(Arc<Mutex<Vec<String>>>);

impl ShardObserver for Heard {
    type Frame = ();
    type End = Vec<String>;
    fn at_end(&mut self, _: &mut Shard) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

#[test]
fn mail_sent_in_one_frame_wakes_its_reader_in_the_next_in_a_fixed_order() {
    let cluster = lockstep(&["A", "B", "C"], 3, 5)
        .start(|shard| {
            let heard = Arc::new(Mutex::new(Vec::new()));
            if shard.id() == B {
                let mail = shard.mailbox::<Ping>();
                let log = heard.clone();
                let reader = Actor::new(move |ctx| {
                    while let Ok(letter) = ctx.blocking(|| mail.recv()) {
                        let line = format!(
                            "frame {}: {} sent {:?} in frame {}",
                            ctx.frame(),
                            letter.from,
                            letter.message,
                            letter.frame
                        );
                        log.lock().unwrap().push(line);
                    }
                });
                shard.driver.spawn(&mut shard.world, (), reader)?;
            } else {
                // A sends two pings a frame, C one, from a system.
                let outbox = shard.outbox();
                let pings = if shard.id() == A { 2 } else { 1 };
                shard.driver.add_system("pinger", move |sys| {
                    for i in 0..pings {
                        outbox.send(B, Ping(sys.frame() * 10 + i)).unwrap();
                    }
                });
            }
            Ok(Heard(heard))
        })
        .unwrap();
    let report = cluster.join();
    let heard = report.shards[1].end.clone().unwrap();
    let mut expected = Vec::new();
    for frame in 1..=4u64 {
        for (from, i) in [(A, 0), (A, 1), (C, 0)] {
            expected.push(format!(
                "frame {}: {from} sent Ping({}) in frame {frame}",
                frame + 1,
                frame * 10 + i
            ));
        }
    }
    assert_eq!(heard, expected);
    // The pings of frame 5 were in flight when the cluster stopped.
    let messages = report.messages();
    assert_eq!(
        (messages.sent, messages.delivered, messages.dropped),
        (15, 12, 3)
    );
    assert!(messages.balanced());
    let dropped = &report.shards[1].dropped;
    assert_eq!(dropped.len(), 3);
    assert!(dropped
        .iter()
        .all(|d| d.reason == DropReason::Stopped && d.frame == 5 && d.destination == B));
}

#[derive(Debug)]
struct Poke(u64);

#[test]
fn events_reach_actors_on_other_shards_and_come_back_when_they_are_gone() {
    let listener = Arc::new(Mutex::new(None));
    let address = listener.clone();
    let cluster = lockstep(&["A", "B"], 2, 7)
        .start(move |shard| {
            let heard = Arc::new(Mutex::new(Vec::new()));
            let log = heard.clone();
            if shard.id() == B {
                // Takes two pokes, then leaves (and is despawned).
                let actor = Actor::new(move |ctx| {
                    for _ in 0..2 {
                        let Poke(n) = ctx.recv::<Poke>().unwrap();
                        log.lock()
                            .unwrap()
                            .push(format!("poked {n} in frame {}", ctx.frame()));
                    }
                })
                .despawn_on_return();
                let entity = shard.driver.spawn(&mut shard.world, (), actor)?;
                *address.lock().unwrap() = Some(entity);
            } else {
                // Pokes B's listener every frame; what comes back lands here.
                let outbox = shard.outbox();
                let address = address.clone();
                shard.driver.add_system("poker", move |sys| {
                    let entity = address.lock().unwrap().expect("B is set up before frame 1");
                    let to = Address { shard: B, entity };
                    outbox.send_to(to, Poke(sys.frame())).unwrap();
                });
                let returns = shard.mailbox::<Returned<Poke>>();
                let collector = Actor::new(move |ctx| {
                    while let Ok(letter) = ctx.blocking(|| returns.recv()) {
                        let Returned {
                            to,
                            reason,
                            frame,
                            message,
                        } = letter.message;
                        assert!(matches!(to, Destination::Actor(a) if a.shard == B));
                        assert!(matches!(reason, ReturnReason::NoActor(_)));
                        assert_eq!(frame, message.0);
                        log.lock().unwrap().push(format!(
                            "{message:?} back from {} in frame {}",
                            letter.from,
                            ctx.frame()
                        ));
                    }
                });
                shard.driver.spawn(&mut shard.world, (), collector)?;
            }
            Ok(Heard(heard))
        })
        .unwrap();
    let report = cluster.join();
    assert_eq!(
        report.shards[1].end.clone().unwrap(),
        ["poked 1 in frame 2", "poked 2 in frame 3"]
    );
    // Poke 3 reached B in frame 4, after the listener left: back on A in frame 5.
    assert_eq!(
        report.shards[0].end.clone().unwrap(),
        [
            "Poke(3) back from shard 1 in frame 5",
            "Poke(4) back from shard 1 in frame 6",
            "Poke(5) back from shard 1 in frame 7",
        ]
    );
    let messages = report.messages();
    assert_eq!(
        (
            messages.sent,
            messages.delivered,
            messages.returned,
            messages.dropped
        ),
        (7, 2, 3, 2)
    );
    assert!(messages.balanced());
}

struct Unknown;
struct Known;

#[test]
fn undeliverable_mail_goes_back_and_is_dropped_only_if_the_sender_cannot_take_it() {
    let cluster = lockstep(&["A", "B", "C"], 2, 4)
        .start(|shard| {
            if shard.id() == A {
                // Neither B nor C has a mailbox for these; A takes back only `Known`.
                read_mail::<Returned<Known>>(shard);
                let outbox = shard.outbox();
                outbox.send(B, Unknown)?;
                outbox.send(C, Known)?;
            }
            Ok(())
        })
        .unwrap();
    let report = cluster.join();
    let a = &report.shards[0];
    assert_eq!(
        (a.messages.sent, a.messages.returned, a.messages.dropped),
        (2, 1, 1)
    );
    let dropped = &a.dropped;
    assert_eq!(dropped.len(), 1);
    assert!(dropped[0].message_type.ends_with("Unknown"));
    assert_eq!(
        dropped[0].reason,
        DropReason::Unreturnable(ReturnReason::NoMailbox)
    );
    assert!(report.messages().balanced());
}

#[test]
fn mail_to_a_shard_that_does_not_exist_is_given_back_at_once() {
    let cluster = lockstep(&["A"], 1, 1)
        .start(|shard| {
            match shard.outbox().send(ShardId::new(5), Ping(1)) {
                Err(PostError::NoSuchShard { to, message }) => {
                    assert_eq!((to, message), (ShardId::new(5), Ping(1)));
                }
                other => panic!("sent to nowhere: {other:?}"),
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(cluster.join().messages().sent, 0);
}

/// Every frame each shard sends ten pings to the other: reports its frame.
fn chatter(shard: &mut Shard) -> Result<Frames, engine::shard::SetupError> {
    let other = ShardId::new(1 - shard.id().index() as u32);
    read_mail::<Ping>(shard);
    let outbox = shard.outbox();
    shard.driver.add_system("chatter", move |sys| {
        for i in 0..10 {
            outbox.send(other, Ping(sys.frame() * 100 + i)).unwrap();
        }
    });
    Ok(Frames)
}

struct Frames;

impl ShardObserver for Frames {
    type Frame = u64;
    type End = ();
    fn after_frame(&mut self, shard: &Shard) -> Option<u64> {
        Some(shard.frame())
    }
    fn at_end(&mut self, _: &mut Shard) {}
}

#[test]
fn stopping_a_free_running_cluster_drops_what_is_in_flight_and_the_books_balance() {
    let cluster = Cluster::builder()
        .shards(["A", "B"])
        .threads(2)
        .dt(DT)
        .driver(FrameDriver::builder().budget(Budget::Resumes(100)))
        .start(chatter)
        .unwrap();
    // Let it run a while, then stop it from the host.
    let mut seen = 0;
    for update in cluster.updates().iter() {
        if let Update::Frame { .. } = update {
            seen += 1;
        }
        if seen == 40 {
            cluster.stop();
            break;
        }
    }
    let report = cluster.join();
    let messages = report.messages();
    assert!(messages.balanced(), "{messages:?}");
    // What the shard whose last frame started last sent in it reached nobody.
    assert!(messages.dropped >= 10, "{messages:?}");
    assert!(report
        .shards
        .iter()
        .flat_map(|s| &s.dropped)
        .all(|d| d.reason == DropReason::Stopped));
    assert!(report.frames() >= 20);
}

#[test]
fn stopping_a_lockstep_cluster_stops_every_shard_after_the_same_frame() {
    let cluster = lockstep(&["A", "B"], 2, 1_000_000).start(chatter).unwrap();
    for update in cluster.updates().iter() {
        if let Update::Frame { frame: 10, .. } = update {
            cluster.stop();
            break;
        }
    }
    let report = cluster.join();
    let frames: Vec<u64> = report.threads.iter().map(|t| t.frames).collect();
    assert_eq!(frames[0], frames[1], "one last frame for all");
    let messages = report.messages();
    assert!(messages.balanced(), "{messages:?}");
    // Exactly the last frame's pings, both ways, were in flight.
    assert_eq!(messages.dropped, 20);
    assert_eq!(messages.sent, 20 * frames[0]);
}

#[test]
fn a_free_running_thread_runs_at_most_its_lead_ahead_of_the_slowest() {
    use std::sync::atomic::{AtomicU64, Ordering};
    // Shard A is slow (a system that takes 2 ms a frame), B is quick; each notes its
    // frame, and B the most frames it ever was ahead of A.
    let frames: Arc<[AtomicU64; 2]> = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let ahead = Arc::new(AtomicU64::new(0));
    let (seen, most) = (frames.clone(), ahead.clone());
    let cluster = Cluster::builder()
        .shards(["A", "B"])
        .threads(2)
        .mode(engine::shard::ClockMode::FreeRunning {
            pace: None,
            lead: 2,
        })
        .frames(30)
        .start(move |shard| {
            let me = shard.id().index();
            let (seen, most) = (seen.clone(), most.clone());
            shard.driver.add_system("progress", move |sys| {
                seen[me].store(sys.frame(), Ordering::SeqCst);
                if me == 0 {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                } else {
                    let lead = sys.frame() - seen[0].load(Ordering::SeqCst);
                    most.fetch_max(lead, Ordering::SeqCst);
                }
            });
            Ok(())
        })
        .unwrap();
    let report = cluster.join();
    assert_eq!(report.frames(), 30);
    // B starts frame F once A has finished F - 2: B ran ahead, but never more than that
    // (without the lead, B would finish its 30 frames while A is in its first few).
    let ahead = ahead.load(Ordering::SeqCst);
    assert!((1..=2).contains(&ahead), "B was {ahead} frames ahead");
    assert_eq!(frames[1].load(Ordering::SeqCst), 30);
}
