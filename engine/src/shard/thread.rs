//! The life of one shard thread: make its shards' drivers and channels, set the shards
//! up, wait for the go, run frames on the shared clock, then count what is left in
//! transit and report.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use uthread::RemoteSender;

use super::clock::{ClockMode, FrameClock, Rendezvous};
use super::failure::{panic_message, ShardFailure, Stage};
use super::host::Shard;
use super::id::ShardId;
use super::outbox::Outbox;
use super::parcel::Parcel;
use super::report::{ShardObserver, ShardReport, ThreadReport, Update};
use crate::driver::FrameDriverBuilder;
use crate::rng::Rng;

/// What a shard's set-up closure may fail with.
pub type SetupError = Box<dyn std::error::Error + Send + Sync>;

/// Frame times a thread keeps (a long run keeps the most recent ones).
const FRAME_TIMES_KEPT: usize = 1 << 16;

/// The host's go (or abort) to the threads once every shard is set up.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    state: Mutex<Option<Option<Instant>>>,
    cond: Condvar,
}

impl Gate {
    fn lock(&self) -> MutexGuard<'_, Option<Option<Instant>>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens the gate: the first frame starts at `start`.
    pub(crate) fn open(&self, start: Instant) {
        *self.lock() = Some(Some(start));
        self.cond.notify_all();
    }

    /// Tells every thread to tear its shards down without running a frame.
    pub(crate) fn abort(&self) {
        *self.lock() = Some(None);
        self.cond.notify_all();
    }

    /// Waits for the host: the start time, or `None` to abort.
    fn wait(&self) -> Option<Instant> {
        let mut state = self.lock();
        loop {
            if let Some(verdict) = *state {
                return verdict;
            }
            state = self.cond.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// What every thread of a cluster shares.
pub(crate) struct Common<F> {
    pub(crate) setup: F,
    pub(crate) clock: Arc<FrameClock>,
    pub(crate) driver: FrameDriverBuilder,
    pub(crate) dt: Duration,
    pub(crate) seed: u64,
    /// Every shard's channel, by shard index, filled as the threads make them.
    pub(crate) directory: Mutex<Vec<Option<RemoteSender<Parcel>>>>,
    /// Where threads wait until every channel is in the directory.
    pub(crate) published: Rendezvous,
    pub(crate) gate: Gate,
}

/// One thread's part: which shards, and where to report.
pub(crate) struct Plan<F, U> {
    pub(crate) index: usize,
    pub(crate) shards: Vec<(ShardId, Arc<str>)>,
    pub(crate) common: Arc<Common<F>>,
    pub(crate) ready: Sender<Vec<ShardFailure>>,
    pub(crate) updates: Sender<Update<U>>,
}

/// What a thread hands back when it ends.
pub(crate) struct Outcome<E> {
    pub(crate) thread: ThreadReport,
    pub(crate) shards: Vec<ShardReport<E>>,
    /// When its last frame ended.
    pub(crate) finished: Option<Instant>,
}

struct Slot<O> {
    shard: Shard,
    observer: O,
    failure_sent: bool,
}

/// Breaks every meeting if the thread unwinds, so the others do not wait for it.
struct Breaker<'a, F>(&'a Common<F>);

impl<F> Drop for Breaker<'_, F> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.clock.break_up();
            self.0.published.break_up();
        }
    }
}

/// The seed of shard `id`'s driver: derived from the cluster's, the same whichever
/// thread runs it.
fn shard_seed(seed: u64, id: ShardId) -> u64 {
    Rng::stream(seed, id.index() as u64).next_u64()
}

pub(crate) fn run<O, F>(plan: Plan<F, O::Frame>) -> Outcome<O::End>
where
    O: ShardObserver,
    F: Fn(&mut Shard) -> Result<O, SetupError>,
{
    let common = &*plan.common;
    let _breaker = Breaker(common);
    let mut thread = ThreadReport {
        index: plan.index,
        shards: plan.shards.iter().map(|(id, _)| *id).collect(),
        frames: 0,
        busy: Duration::ZERO,
        frame_times: Vec::new(),
        busy_times: Vec::new(),
    };
    let lockstep = common.clock.mode == ClockMode::Lockstep;

    // 1: a driver and an inbound channel per shard, the senders in the directory.
    let mut made = Vec::new();
    for (id, name) in &plan.shards {
        let driver = common
            .driver
            .clone()
            .seed(shard_seed(common.seed, *id))
            .build();
        let (sender, receiver) = driver.scheduler().remote_channel::<Parcel>();
        lock(&common.directory)[id.index()] = Some(sender);
        made.push((*id, name.clone(), driver, receiver));
    }
    let empty = |thread| Outcome {
        thread,
        shards: Vec::new(),
        finished: None,
    };
    if common.published.meet(|| true).is_none() {
        return empty(thread);
    }
    let senders: Vec<RemoteSender<Parcel>> = lock(&common.directory)
        .iter()
        .map(|s| {
            s.clone()
                .expect("every thread published its shards' channels")
        })
        .collect();

    // 2: set-up.
    let mut slots = Vec::new();
    let mut failures = Vec::new();
    for (id, name, driver, receiver) in made {
        let outbox = Outbox::new(id, senders.clone());
        let mut shard = Shard::new(id, name.clone(), lockstep, driver, receiver, outbox);
        let failure = |message| ShardFailure {
            shard: id,
            name: name.to_string(),
            frame: 0,
            stage: Stage::Setup,
            system: None,
            message,
        };
        match catch_unwind(AssertUnwindSafe(|| (common.setup)(&mut shard))) {
            Ok(Ok(observer)) => slots.push(Slot {
                shard,
                observer,
                failure_sent: false,
            }),
            Ok(Err(e)) => failures.push(failure(e.to_string())),
            Err(payload) => {
                failures.push(failure(format!("panicked: {}", panic_message(&*payload))))
            }
        }
    }
    drop(senders);
    let _ = plan.ready.send(failures);
    let Some(start) = common.gate.wait() else {
        return empty(thread);
    };

    // 3: frames.
    let dt = common.dt;
    let mut frame = 0;
    let mut running = common.clock.frames != Some(0);
    while running {
        frame += 1;
        let frame_start = Instant::now();
        for slot in &mut slots {
            step(slot, frame, dt, &plan.updates);
        }
        let busy = frame_start.elapsed();
        thread.busy += busy;
        running = common.clock.end_frame(plan.index, frame, start);
        if thread.frame_times.len() == FRAME_TIMES_KEPT {
            thread.frame_times.drain(..FRAME_TIMES_KEPT / 2);
            thread.busy_times.drain(..FRAME_TIMES_KEPT / 2);
        }
        thread.frame_times.push(frame_start.elapsed());
        thread.busy_times.push(busy);
        thread.frames = frame;
    }
    let finished = Instant::now();
    common.clock.leave(plan.index);

    // 4: once nobody sends any more, what is left in transit is dropped; then reports.
    common.clock.meet_at_shutdown();
    let shards = slots
        .iter_mut()
        .map(|slot| {
            let thread = plan.index;
            finish(slot, thread)
        })
        .collect();
    // The shards (and every tasklet left) are torn down here, on their own thread.
    drop(slots);
    Outcome {
        thread,
        shards,
        finished: Some(finished),
    }
}

fn step<O: ShardObserver>(
    slot: &mut Slot<O>,
    frame: u64,
    dt: Duration,
    updates: &Sender<Update<O::Frame>>,
) {
    slot.shard.step(frame, dt);
    if slot.shard.failure().is_none() {
        let observed = catch_unwind(AssertUnwindSafe(|| slot.observer.after_frame(&slot.shard)));
        match observed {
            Ok(Some(report)) => {
                let shard = slot.shard.id();
                let _ = updates.send(Update::Frame {
                    shard,
                    frame,
                    report,
                });
            }
            Ok(None) => {}
            Err(payload) => slot.shard.fail(Stage::Observer, None, &*payload),
        }
    }
    if !slot.failure_sent {
        if let Some(failure) = slot.shard.failure() {
            let _ = updates.send(Update::Failed(failure.clone()));
            slot.failure_sent = true;
        }
    }
}

fn finish<O: ShardObserver>(slot: &mut Slot<O>, thread: usize) -> ShardReport<O::End> {
    slot.shard.drop_in_transit();
    let end = catch_unwind(AssertUnwindSafe(|| slot.observer.at_end(&mut slot.shard))).ok();
    let shard = &slot.shard;
    ShardReport {
        id: shard.id(),
        name: shard.name().to_owned(),
        thread,
        frames: shard.frames_run(),
        messages: shard.messages(),
        hand_offs: shard.hand_offs(),
        dropped: shard.dropped(),
        tasklet_time: shard.tasklet_time(),
        busy_time: shard.busy_time(),
        failure: shard.failure().cloned(),
        end,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
