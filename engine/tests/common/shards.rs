//! What the shard tests share: a tagged entity that can travel, actors that idle, and
//! an observer that lists the tags on a shard.

use std::time::Duration;

use engine::shard::{self, Cargo, ClusterBuilder, Shard, ShardId, ShardObserver};

use super::Drops;
use engine::{Actor, Budget, FrameDriver};

/// Game time per frame in the shard tests.
pub const DT: Duration = Duration::from_millis(20);

/// Names an entity across shards.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tag(pub u32);

/// Set by a fresh behaviour when it first runs: the frame it started in.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct StartedIn(pub u64);

/// What travels: the tag.
pub struct Traveller(pub Tag);

impl Cargo for Traveller {
    fn pack(entity: hecs::EntityRef<'_>) -> Option<Traveller> {
        Some(Traveller(*entity.get::<&Tag>()?))
    }
}

/// Cargo that cannot be packed from a tagged entity (it needs a `u8` too).
pub struct Picky;

impl Cargo for Picky {
    fn pack(entity: hecs::EntityRef<'_>) -> Option<Picky> {
        entity.get::<&u8>().map(|_| Picky)
    }
}

/// A behaviour that notes the frame it starts in, then idles.
pub fn idle() -> Actor {
    Actor::new(|ctx| {
        let frame = ctx.frame();
        ctx.update(|s: &mut StartedIn| s.0 = frame);
        while ctx.be_nice().is_ok() {}
    })
    .name("idle")
}

/// Lands travellers on `shard` with an idle behaviour.
pub fn land_idle(shard: &mut Shard) {
    shard.on_arrival(|arrival, Traveller(tag)| arrival.spawn((tag, StartedIn(0)), idle()));
}

/// A lockstep cluster of `names` on `threads` threads, deterministic budgets.
pub fn lockstep(names: &[&str], threads: usize, frames: u64) -> ClusterBuilder {
    engine::shard::Cluster::builder()
        .shards(names.iter().copied())
        .threads(threads)
        .lockstep()
        .frames(frames)
        .dt(DT)
        .driver(
            FrameDriver::builder()
                .budget(Budget::Resumes(1_000))
                .timing(false),
        )
}

/// Reports, after each frame and at the end, every tagged entity on the shard: its tag
/// and the frame its behaviour started in (sorted by tag).
pub struct Tags;

impl Tags {
    pub fn of(shard: &Shard) -> Vec<(Tag, u64)> {
        let mut tags: Vec<(Tag, u64)> = shard
            .world
            .query::<(&Tag, Option<&StartedIn>)>()
            .iter()
            .map(|(t, s)| (*t, s.map_or(0, |s| s.0)))
            .collect();
        tags.sort();
        tags
    }
}

impl ShardObserver for Tags {
    type Frame = Vec<(Tag, u64)>;
    type End = Vec<(Tag, u64)>;

    fn after_frame(&mut self, shard: &Shard) -> Option<Self::Frame> {
        Some(Tags::of(shard))
    }

    fn at_end(&mut self, shard: &mut Shard) -> Self::End {
        Tags::of(shard)
    }
}

/// The frame reports of each shard, by shard index: waits until every shard thread has
/// ended (the cluster must have a frame limit).
pub fn frames_by_shard<F>(
    updates: &std::sync::mpsc::Receiver<engine::shard::Update<F>>,
    shards: usize,
) -> Vec<Vec<(u64, F)>> {
    let mut by_shard: Vec<Vec<(u64, F)>> = (0..shards).map(|_| Vec::new()).collect();
    for update in updates.iter() {
        if let engine::shard::Update::Frame {
            shard,
            frame,
            report,
        } = update
        {
            by_shard[shard.index()].push((frame, report));
        }
    }
    by_shard
}

/// An actor that asks, in frame `frame`, to go to `to` (holding a token of `drops`, if
/// given, whose drop shows that its stack unwound).
pub fn traveller(frame: u64, to: ShardId, drops: Option<Drops>) -> Actor {
    Actor::new(move |ctx| {
        let _token = drops.as_ref().map(Drops::token);
        while ctx.frame() < frame {
            ctx.be_nice().unwrap();
        }
        let error = shard::hand_off::<Traveller>(ctx, to);
        panic!("did not leave: {error}");
    })
    .name("traveller")
}

/// Registers the shard's mailbox for `T` and starts a tasklet that reads it.
pub fn read_mail<T: Send + 'static>(shard: &mut Shard) {
    let mail = shard.mailbox::<T>();
    let reader = Actor::new(move |ctx| while ctx.blocking(|| mail.recv()).is_ok() {});
    shard.driver.spawn(&mut shard.world, (), reader).unwrap();
}
