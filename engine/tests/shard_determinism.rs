//! Lockstep shards with a resume budget and a seed: every shard's world hash, frame by
//! frame, is the same run after run and whatever the number of threads, while entities
//! hop between shards and mail crosses between them every frame.

mod common;

use common::shards::{lockstep, DT};
use engine::shard::{self, Cargo, Cluster, Shard, ShardId, ShardObserver};
use engine::{Actor, Budget, FrameDriver, WorldHasher};

const SHARDS: usize = 4;
const FRAMES: u64 = 80;

#[derive(Clone, Copy, Debug, Hash, PartialEq)]
struct Pos(i32, i32);
#[derive(Clone, Copy, Debug, Hash, PartialEq)]
struct Tag(u32);
#[derive(Clone, Copy, Debug, Hash, PartialEq)]
struct Ledger(u64);

/// A census figure one shard mails to another.
struct Census(u64);

/// A drifter's cargo: where it was, and who it is.
struct Drifter(Pos, Tag);

impl Cargo for Drifter {
    fn pack(entity: hecs::EntityRef<'_>) -> Option<Drifter> {
        Some(Drifter(*entity.get::<&Pos>()?, *entity.get::<&Tag>()?))
    }
}

/// Wanders by random steps, waits in various ways, and now and then jumps to a random
/// other shard. Everything random comes from its own generator.
fn drifter() -> Actor {
    Actor::new(|ctx| loop {
        let (dx, dy) = (ctx.rng().range(-3..4) as i32, ctx.rng().range(-3..4) as i32);
        ctx.update(|p: &mut Pos| *p = Pos(p.0 + dx, p.1 + dy));
        if ctx.rng().chance(0.06) {
            let to = ShardId::new(ctx.rng().below(SHARDS as u64) as u32);
            let error = shard::hand_off::<Drifter>(ctx, to);
            // Jumping to where it is is allowed too; nothing is refused here.
            panic!("the drifter did not leave: {error}");
        }
        match ctx.rng().below(3) {
            0 => ctx.be_nice().unwrap(),
            1 => ctx.sleep(DT * 2).unwrap(),
            _ => {
                ctx.yield_now().unwrap();
                ctx.be_nice().unwrap();
            }
        }
    })
}

/// Reports the shard's world hash after every frame.
struct Hashes(WorldHasher);

impl ShardObserver for Hashes {
    type Frame = u64;
    type End = (u64, usize);
    fn after_frame(&mut self, shard: &Shard) -> Option<u64> {
        Some(self.0.hash(&shard.world))
    }
    fn at_end(&mut self, shard: &mut Shard) -> (u64, usize) {
        (
            self.0.hash(&shard.world),
            shard.world.query::<&Tag>().iter().count(),
        )
    }
}

fn setup(shard: &mut Shard) -> Result<Hashes, engine::shard::SetupError> {
    let me = shard.id().index() as u32;
    shard.on_arrival(|arrival, Drifter(pos, tag)| {
        // Lands near where it left, off by a draw from the shard's own generator.
        let jitter = arrival.driver().rng().range(-5..6) as i32;
        arrival.spawn((Pos(pos.0 + jitter, pos.1), tag), drifter())
    });
    for i in 0..12 {
        let components = (Pos(i, me as i32), Tag(me * 1000 + i as u32));
        shard
            .driver
            .spawn(&mut shard.world, components, drifter())?;
    }
    // The clerk folds every census it receives into the ledger: the order matters.
    let census = shard.mailbox::<Census>();
    let clerk = Actor::new(move |ctx| {
        while let Ok(letter) = ctx.blocking(|| census.recv()) {
            let from = letter.from.index() as u64;
            ctx.update(|l: &mut Ledger| {
                l.0 =
                    l.0.wrapping_mul(31)
                        .wrapping_add(from * 7 + letter.message.0)
            });
        }
    });
    shard.driver.spawn(&mut shard.world, (Ledger(1),), clerk)?;
    // Every frame: a census to the next shard, and one to a random shard.
    let outbox = shard.outbox();
    shard.driver.add_system("census", move |sys| {
        let count = sys.world().query::<&Tag>().iter().count() as u64;
        let next = ShardId::new((me + 1) % SHARDS as u32);
        let random = ShardId::new(sys.rng().below(SHARDS as u64) as u32);
        outbox.send(next, Census(count * sys.frame())).unwrap();
        outbox.send(random, Census(count)).unwrap();
    });
    let hasher = WorldHasher::new()
        .component::<Pos>()
        .component::<Tag>()
        .component::<Ledger>();
    Ok(Hashes(hasher))
}

/// Each shard's hash after every frame, and the cluster's report.
fn run(threads: usize) -> (Vec<Vec<u64>>, engine::shard::ClusterReport<(u64, usize)>) {
    let names: Vec<String> = (0..SHARDS).map(|i| format!("S{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let cluster = lockstep(&names, threads, FRAMES)
        .seed(42)
        .driver(
            FrameDriver::builder()
                .budget(Budget::Resumes(9))
                .timing(false),
        )
        .start(setup)
        .unwrap();
    let frames = common::shards::frames_by_shard(cluster.updates(), SHARDS);
    let hashes = frames
        .into_iter()
        .map(|f| {
            assert_eq!(f.len() as u64, FRAMES);
            f.into_iter().map(|(_, hash)| hash).collect()
        })
        .collect();
    (hashes, cluster.join())
}

#[test]
fn every_shards_hash_is_the_same_frame_for_frame_on_one_two_or_four_threads() {
    let (one, report) = run(1);
    let hand_offs = report.hand_offs();
    assert!(hand_offs.departed > 20, "{hand_offs:?}");
    assert!(report.messages().balanced());
    let distinct: std::collections::HashSet<_> = one[0].iter().collect();
    assert!(distinct.len() > 40, "the worlds change every frame");
    // 48 drifters: in a world, or in transit at the end.
    let alive: usize = report.shards.iter().map(|s| s.end.unwrap().1).sum();
    assert_eq!(alive as u64 + hand_offs.lost, 48);

    for threads in [2, 4, 2] {
        let (again, other) = run(threads);
        for shard in 0..SHARDS {
            if let Some(frame) = (0..FRAMES as usize).find(|&f| one[shard][f] != again[shard][f]) {
                panic!(
                    "on {threads} threads, shard {shard} first differs after frame {}",
                    frame + 1
                );
            }
        }
        assert_eq!(other.hand_offs(), hand_offs);
        assert_eq!(other.messages(), report.messages());
    }
}

#[test]
fn the_same_cluster_free_running_also_balances_its_books() {
    let names = ["S0", "S1", "S2", "S3"];
    let cluster = Cluster::builder()
        .shards(names)
        .threads(2)
        .frames(FRAMES)
        .dt(DT)
        .seed(42)
        .driver(FrameDriver::builder().budget(Budget::Resumes(9)))
        .start(setup)
        .unwrap();
    let report = cluster.join();
    assert!(report.messages().balanced(), "{:?}", report.messages());
    let alive: usize = report.shards.iter().map(|s| s.end.unwrap().1).sum();
    assert_eq!(alive as u64 + report.hand_offs().lost, 48);
    assert_eq!(report.frames(), FRAMES);
}
