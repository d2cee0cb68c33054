//! What the host hears from a cluster: updates while it runs, and the report when it
//! has stopped.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use super::clock::ClockMode;
use super::counts::{Dropped, HandOffCounts, MessageCounts};
use super::failure::ShardFailure;
use super::host::Shard;
use super::id::ShardId;

/// What a shard tells its host: a report after some frames, and one at the end.
///
/// The set-up closure returns one per shard; it lives on the shard's thread, so it may
/// hold `Rc`s into the shard's state. Reports cross to the host, so they are `Send`.
/// `()` observes nothing.
pub trait ShardObserver: 'static {
    /// What the host gets after a frame, through [`Cluster::updates`](super::Cluster::updates).
    type Frame: Send + 'static;
    /// What the host gets when the shard stops, in its [`ShardReport`].
    type End: Send + 'static;

    /// Called after each frame the shard ran; `Some` is sent to the host. The default
    /// sends nothing.
    fn after_frame(&mut self, shard: &Shard) -> Option<Self::Frame> {
        let _ = shard;
        None
    }

    /// Called once when the cluster has stopped (also for a failed shard), after what
    /// was still in transit to the shard has been dropped.
    fn at_end(&mut self, shard: &mut Shard) -> Self::End;
}

impl ShardObserver for () {
    type Frame = ();
    type End = ();

    fn at_end(&mut self, _shard: &mut Shard) {}
}

/// Something a running cluster tells its host.
#[derive(Clone, Debug, PartialEq)]
pub enum Update<F> {
    /// A shard's report after a frame.
    Frame {
        /// The shard.
        shard: ShardId,
        /// The frame it ran.
        frame: u64,
        /// Its observer's report.
        report: F,
    },
    /// A shard failed (the others carry on).
    Failed(ShardFailure),
}

/// One shard's part of a [`ClusterReport`].
#[derive(Clone, Debug, PartialEq)]
pub struct ShardReport<E> {
    /// The shard.
    pub id: ShardId,
    /// Its name.
    pub name: String,
    /// The thread (by index) that ran it.
    pub thread: usize,
    /// Frames it ran (up to its failure, if it failed).
    pub frames: u64,
    /// Its books of messages.
    pub messages: MessageCounts,
    /// Its books of hand-offs.
    pub hand_offs: HandOffCounts,
    /// The messages it dropped (the first 256; all are counted).
    pub dropped: Vec<Dropped>,
    /// Wall time of its driver's tasklet phases, summed.
    pub tasklet_time: Duration,
    /// Wall time of its frames (delivery, tick, hand-offs), summed.
    pub busy_time: Duration,
    /// Why it stopped early, if it failed.
    pub failure: Option<ShardFailure>,
    /// Its observer's last report (`None` if the observer panicked, or the thread died).
    pub end: Option<E>,
}

/// One thread's part of a [`ClusterReport`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadReport {
    /// The thread's index.
    pub index: usize,
    /// The shards it ran.
    pub shards: Vec<ShardId>,
    /// Frames it ran.
    pub frames: u64,
    /// Wall time running its shards' frames (the rest of each frame it waited for the
    /// other threads, in lockstep, or for the pace).
    pub busy: Duration,
    /// Wall time of each frame (the most recent 65,536): from the start of its shards'
    /// work to the end of the frame for the whole cluster.
    pub frame_times: Vec<Duration>,
    /// Wall time of each frame's work on its shards (the same frames as
    /// `frame_times`); the rest of the frame it waited.
    pub busy_times: Vec<Duration>,
}

impl ThreadReport {
    /// Wall time of all its frames.
    pub fn total(&self) -> Duration {
        self.frame_times.iter().sum()
    }

    /// Wall time it spent waiting (in lockstep, at the barrier for the slowest
    /// thread).
    pub fn waiting(&self) -> Duration {
        self.total().saturating_sub(self.busy)
    }
}

/// Everything a cluster did, once it has stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterReport<E> {
    /// How its shards kept time.
    pub mode: ClockMode,
    /// Per shard, by id.
    pub shards: Vec<ShardReport<E>>,
    /// Per thread, by index.
    pub threads: Vec<ThreadReport>,
    /// Wall time from the first frame's start to the last frame's end (set-up and
    /// teardown excluded).
    pub run_time: Duration,
}

impl<E> ClusterReport<E> {
    /// The message books of every shard, summed: balanced (see
    /// [`MessageCounts::balanced`]) unless a thread died.
    pub fn messages(&self) -> MessageCounts {
        self.shards.iter().map(|s| s.messages).sum()
    }

    /// The hand-off books of every shard, summed.
    pub fn hand_offs(&self) -> HandOffCounts {
        self.shards.iter().map(|s| s.hand_offs).sum()
    }

    /// The most frames any thread ran.
    pub fn frames(&self) -> u64 {
        self.threads.iter().map(|t| t.frames).max().unwrap_or(0)
    }

    /// The cluster's frame times: in lockstep, frame by frame, the longest any thread
    /// saw; free-running, every thread's frames.
    pub fn frame_times(&self) -> Vec<Duration> {
        match self.mode {
            ClockMode::Lockstep => {
                let frames = self
                    .threads
                    .iter()
                    .map(|t| t.frame_times.len())
                    .max()
                    .unwrap_or(0);
                (0..frames)
                    .map(|i| {
                        self.threads
                            .iter()
                            .filter_map(|t| t.frame_times.get(i))
                            .copied()
                            .max()
                            .unwrap_or_default()
                    })
                    .collect()
            }
            ClockMode::FreeRunning { .. } => self
                .threads
                .iter()
                .flat_map(|t| t.frame_times.iter().copied())
                .collect(),
        }
    }

    /// In lockstep, the wall time lost to uneven work: summed over frames, how much
    /// longer the busiest thread worked than the threads' average. What the threads
    /// waited beyond this is the barrier's own cost (waking, and being descheduled).
    /// Zero when free-running.
    pub fn imbalance(&self) -> Duration {
        if self.mode != ClockMode::Lockstep || self.threads.is_empty() {
            return Duration::ZERO;
        }
        let frames = self
            .threads
            .iter()
            .map(|t| t.busy_times.len())
            .min()
            .unwrap_or(0);
        let count = self.threads.len() as u32;
        (0..frames)
            .map(|i| {
                let busy = self.threads.iter().map(|t| t.busy_times[i]);
                let most = busy.clone().max().unwrap_or_default();
                most.saturating_sub(busy.sum::<Duration>() / count)
            })
            .sum()
    }

    /// The shards that failed.
    pub fn failures(&self) -> impl Iterator<Item = &ShardFailure> {
        self.shards.iter().filter_map(|s| s.failure.as_ref())
    }
}

/// Why a cluster could not start. Whatever was set up is torn down.
#[derive(Debug)]
pub enum StartError {
    /// The builder named no shards.
    NoShards,
    /// One or more shards' set-up failed (returned an error or panicked).
    Setup(Vec<ShardFailure>),
    /// A thread could not be started.
    Thread(std::io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::NoShards => f.write_str("a cluster needs at least one shard"),
            StartError::Setup(failures) => {
                f.write_str("shard set-up failed")?;
                for failure in failures {
                    write!(f, "; {failure}")?;
                }
                Ok(())
            }
            StartError::Thread(e) => write!(f, "cannot start a shard thread: {e}"),
        }
    }
}

impl StdError for StartError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            StartError::Thread(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread(index: usize, busy_us: &[u64]) -> ThreadReport {
        let busy_times: Vec<Duration> = busy_us
            .iter()
            .map(|&us| Duration::from_micros(us))
            .collect();
        ThreadReport {
            index,
            shards: Vec::new(),
            frames: busy_times.len() as u64,
            busy: busy_times.iter().sum(),
            frame_times: vec![Duration::from_micros(300); busy_times.len()],
            busy_times,
        }
    }

    #[test]
    fn imbalance_is_what_the_busiest_thread_worked_beyond_the_average_frame_by_frame() {
        let mut report: ClusterReport<()> = ClusterReport {
            mode: ClockMode::Lockstep,
            shards: Vec::new(),
            threads: vec![thread(0, &[100, 300]), thread(1, &[200, 100])],
            run_time: Duration::ZERO,
        };
        // Frame 1: 200 against an average of 150; frame 2: 300 against 200.
        assert_eq!(report.imbalance(), Duration::from_micros(150));
        assert_eq!(report.threads[0].waiting(), Duration::from_micros(200));
        assert_eq!(report.frame_times(), [Duration::from_micros(300); 2]);
        report.mode = ClockMode::FREE_RUNNING;
        assert_eq!(report.imbalance(), Duration::ZERO);
        assert_eq!(report.frame_times().len(), 4);
    }
}
