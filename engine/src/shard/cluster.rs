//! The host's side: configure a cluster of shards, start it on its threads, hear from
//! it while it runs, stop it and read its report.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::clock::{ClockMode, FrameClock, Rendezvous};
use super::failure::{ShardFailure, Stage};
use super::host::Shard;
use super::id::ShardId;
use super::report::{ClusterReport, ShardObserver, ShardReport, StartError, ThreadReport, Update};
use super::thread::{self, Common, Gate, Outcome, Plan, SetupError};
use crate::driver::FrameDriverBuilder;

/// Configures a [`Cluster`]: its shards, its threads, its clock.
#[derive(Clone, Debug)]
#[must_use = "call start() to run the cluster"]
pub struct ClusterBuilder {
    names: Vec<String>,
    threads: Option<usize>,
    mode: ClockMode,
    frames: Option<u64>,
    dt: Duration,
    seed: u64,
    driver: FrameDriverBuilder,
}

impl Default for ClusterBuilder {
    fn default() -> Self {
        ClusterBuilder {
            names: Vec::new(),
            threads: None,
            mode: ClockMode::default(),
            frames: None,
            dt: Duration::from_millis(16),
            seed: 0,
            driver: FrameDriverBuilder::default(),
        }
    }
}

impl ClusterBuilder {
    /// The shards, by name, in id order (the first is shard 0).
    pub fn shards<N: Into<String>>(mut self, names: impl IntoIterator<Item = N>) -> ClusterBuilder {
        self.names = names.into_iter().map(Into::into).collect();
        self
    }

    /// How many threads run the shards (default: the machine's cores; at most one per
    /// shard, at least one). Shards are dealt out in order, in contiguous runs: with 4
    /// shards on 2 threads, thread 0 runs shards 0 and 1.
    pub fn threads(mut self, threads: usize) -> ClusterBuilder {
        self.threads = Some(threads);
        self
    }

    /// How the shards keep time (default: [`ClockMode::FREE_RUNNING`]).
    pub fn mode(mut self, mode: ClockMode) -> ClusterBuilder {
        self.mode = mode;
        self
    }

    /// Shorthand for `mode(ClockMode::Lockstep)`.
    pub fn lockstep(self) -> ClusterBuilder {
        self.mode(ClockMode::Lockstep)
    }

    /// Stops after this many frames (default: runs until [`Cluster::stop`]).
    pub fn frames(mut self, frames: u64) -> ClusterBuilder {
        self.frames = Some(frames);
        self
    }

    /// Game time per frame, the same on every shard (default 16 ms).
    pub fn dt(mut self, dt: Duration) -> ClusterBuilder {
        self.dt = dt;
        self
    }

    /// The seed each shard's driver seed is derived from (with the shard's id, so the
    /// same on any thread).
    pub fn seed(mut self, seed: u64) -> ClusterBuilder {
        self.seed = seed;
        self
    }

    /// How every shard's driver is built: budget, stack size, crash policy, watchdog.
    /// Its seed is replaced by one derived from [`ClusterBuilder::seed`].
    pub fn driver(mut self, driver: FrameDriverBuilder) -> ClusterBuilder {
        self.driver = driver;
        self
    }

    /// Starts the cluster: makes each shard on its thread and calls `setup` on it
    /// there (to fill its world, add systems and actors, register mailboxes and arrival
    /// handlers, take outboxes), then, once every shard is set up, starts the frames.
    /// `setup` returns the shard's [`ShardObserver`].
    ///
    /// # Errors
    ///
    /// [`StartError::Setup`] naming every shard whose set-up returned an error or
    /// panicked (then no frame runs and every shard is torn down),
    /// [`StartError::NoShards`], [`StartError::Thread`].
    pub fn start<O, F>(self, setup: F) -> Result<Cluster<O>, StartError>
    where
        O: ShardObserver,
        F: Fn(&mut Shard) -> Result<O, SetupError> + Send + Sync + 'static,
    {
        let count = self.names.len();
        if count == 0 {
            return Err(StartError::NoShards);
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = self.threads.unwrap_or(cores).clamp(1, count);
        let names: Vec<Arc<str>> = self.names.iter().map(|n| Arc::from(n.as_str())).collect();
        let clock = Arc::new(FrameClock::new(self.mode, self.frames, threads));
        let common = Arc::new(Common {
            setup,
            clock: clock.clone(),
            driver: self.driver,
            dt: self.dt,
            seed: self.seed,
            directory: Mutex::new(vec![None; count]),
            published: Rendezvous::new(threads),
            gate: Gate::default(),
        });
        let (ready, ready_rx) = mpsc::channel();
        let (updates, updates_rx) = mpsc::channel();
        let mut handles = Vec::with_capacity(threads);
        for index in 0..threads {
            let shards = (0..count)
                .filter(|&i| i * threads / count == index)
                .map(|i| (ShardId::new(i as u32), names[i].clone()))
                .collect();
            let plan = Plan {
                index,
                shards,
                common: common.clone(),
                ready: ready.clone(),
                updates: updates.clone(),
            };
            let spawned = std::thread::Builder::new()
                .name(format!("shards-{index}"))
                .spawn(move || thread::run::<O, F>(plan));
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(e) => {
                    // The threads already started wait for the others: release them.
                    common.published.break_up();
                    common.gate.abort();
                    join_all(handles);
                    return Err(StartError::Thread(e));
                }
            }
        }
        drop((ready, updates));

        let mut failures = Vec::new();
        for _ in 0..threads {
            match ready_rx.recv() {
                Ok(failed) => failures.extend(failed),
                // A thread died in set-up; its panic is reported by join.
                Err(_) => break,
            }
        }
        let all_ready = failures.is_empty() && !handles.iter().any(JoinHandle::is_finished);
        if !all_ready {
            common.gate.abort();
            let outcomes = join_all(handles);
            if failures.is_empty() {
                failures = outcomes
                    .into_iter()
                    .filter_map(Result::err)
                    .map(|message| ShardFailure {
                        shard: ShardId::new(0),
                        name: String::new(),
                        frame: 0,
                        stage: Stage::Setup,
                        system: None,
                        message,
                    })
                    .collect();
            }
            failures.sort_by_key(|f| f.shard);
            return Err(StartError::Setup(failures));
        }
        let started = Instant::now();
        common.gate.open(started);
        Ok(Cluster {
            handles,
            updates: updates_rx,
            clock,
            names: self.names,
            started,
            _observer: PhantomData,
        })
    }
}

type Handle<E> = JoinHandle<Outcome<E>>;

/// Joins threads; a thread that panicked gives its panic message.
fn join_all<E>(handles: Vec<Handle<E>>) -> Vec<Result<Outcome<E>, String>> {
    handles
        .into_iter()
        .map(|h| h.join().map_err(|p| super::failure::panic_message(&*p)))
        .collect()
}

/// A running cluster of shards: N worlds, each with its own frame driver, on T threads,
/// ticking on one frame clock and exchanging messages and entities. Made by
/// [`ClusterBuilder::start`]; see the [module's docs](super) for the whole picture.
///
/// Dropping it stops the shards and waits for their threads.
#[must_use = "dropping the cluster stops it at once"]
pub struct Cluster<O: ShardObserver> {
    handles: Vec<Handle<O::End>>,
    updates: Receiver<Update<O::Frame>>,
    clock: Arc<FrameClock>,
    names: Vec<String>,
    started: Instant,
    _observer: PhantomData<fn() -> O>,
}

impl<O: ShardObserver> fmt::Debug for Cluster<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("shards", &self.names)
            .field("threads", &self.threads())
            .field("mode", &self.clock.mode)
            .finish_non_exhaustive()
    }
}

impl Cluster<()> {
    /// Configures a cluster.
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder::default()
    }
}

impl<O: ShardObserver> Cluster<O> {
    /// What the shards report while they run: their observers' frame reports and their
    /// failures, as they happen.
    pub fn updates(&self) -> &Receiver<Update<O::Frame>> {
        &self.updates
    }

    /// Asks every shard to stop after its current frame (in lockstep, all after the
    /// same frame). Messages still in transit then are dropped, and counted.
    pub fn stop(&self) {
        self.clock.stop.store(true, Ordering::Release);
    }

    /// Whether every shard thread has ended.
    pub fn is_finished(&self) -> bool {
        self.handles.iter().all(JoinHandle::is_finished)
    }

    /// The shards' names, by id.
    pub fn shard_names(&self) -> &[String] {
        &self.names
    }

    /// How many threads run the shards.
    pub fn threads(&self) -> usize {
        self.handles.len()
    }

    /// Waits for the shards to stop (after the frames the builder asked for, or after
    /// [`Cluster::stop`]) and returns what they did.
    pub fn join(mut self) -> ClusterReport<O::End> {
        let handles = std::mem::take(&mut self.handles);
        let threads = handles.len();
        let count = self.names.len();
        let mut report = ClusterReport {
            mode: self.clock.mode,
            shards: Vec::with_capacity(count),
            threads: Vec::with_capacity(threads),
            run_time: Duration::ZERO,
        };
        for (index, outcome) in join_all(handles).into_iter().enumerate() {
            match outcome {
                Ok(outcome) => {
                    if let Some(finished) = outcome.finished {
                        report.run_time = report.run_time.max(finished - self.started);
                    }
                    report.threads.push(outcome.thread);
                    report.shards.extend(outcome.shards);
                }
                Err(message) => {
                    // A bug in the runtime, not in a shard: report its shards as failed.
                    let shards: Vec<ShardId> = (0..count)
                        .filter(|&i| i * threads / count == index)
                        .map(|i| ShardId::new(i as u32))
                        .collect();
                    for &id in &shards {
                        report.shards.push(lost_shard(
                            id,
                            &self.names[id.index()],
                            index,
                            &message,
                        ));
                    }
                    report.threads.push(ThreadReport {
                        index,
                        shards,
                        frames: 0,
                        busy: Duration::ZERO,
                        frame_times: Vec::new(),
                        busy_times: Vec::new(),
                    });
                }
            }
        }
        report.shards.sort_by_key(|s| s.id);
        report
    }
}

impl<O: ShardObserver> Drop for Cluster<O> {
    fn drop(&mut self) {
        self.stop();
        join_all(std::mem::take(&mut self.handles));
    }
}

/// The report of a shard whose thread died.
fn lost_shard<E>(id: ShardId, name: &str, thread: usize, message: &str) -> ShardReport<E> {
    ShardReport {
        id,
        name: name.to_owned(),
        thread,
        frames: 0,
        messages: Default::default(),
        hand_offs: Default::default(),
        dropped: Vec::new(),
        tasklet_time: Duration::ZERO,
        busy_time: Duration::ZERO,
        failure: Some(ShardFailure {
            shard: id,
            name: name.to_owned(),
            frame: 0,
            stage: Stage::Tick,
            system: None,
            message: format!("its thread panicked: {message}"),
        }),
        end: None,
    }
}
