//! The cluster's shared frame clock: how shards on different threads agree on frames.
//! In lockstep every thread meets the others after each frame; free-running threads
//! only share the clock's start and pace.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How the shards of a cluster keep time together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClockMode {
    /// Every thread finishes frame F before any starts F + 1, and each shard takes in,
    /// at the start of F + 1, exactly the messages sent in F, in a fixed order. With a
    /// resume-count budget and a seed, every shard's world is then the same frame for
    /// frame, run after run, **whatever the number of threads**. A frame lasts as long
    /// as the slowest thread's.
    Lockstep,
    /// No barrier: each thread runs its shards' frames at its own pace, and a shard
    /// takes in whatever has arrived when its frame starts (a message from a faster
    /// thread can be a frame early, one from a slower thread late). The default: games
    /// that prefer latency to replayability.
    FreeRunning {
        /// Wall time per frame: frame `n` starts no sooner than `n * pace` after the
        /// cluster started (a thread that falls behind runs its frames back to back).
        /// `None` runs flat out.
        pace: Option<Duration>,
        /// How far ahead of the slowest thread a thread may run: it starts frame F only
        /// once every thread has finished frame F - `lead` (1 at least). The clock's
        /// slack: a thread descheduled for a moment does not hold the others up, and
        /// none drifts off with frames the others will never see.
        lead: u64,
    },
}

impl ClockMode {
    /// Free-running, flat out, up to two frames ahead of the slowest thread.
    pub const FREE_RUNNING: ClockMode = ClockMode::FreeRunning {
        pace: None,
        lead: 2,
    };
}

impl Default for ClockMode {
    /// [`ClockMode::FREE_RUNNING`].
    fn default() -> Self {
        ClockMode::FREE_RUNNING
    }
}

/// How long a thread watches for the others before sleeping on the condition variable.
/// Sleeping and being woken costs about 23 us a frame on this project's 2-core VM (an
/// empty lockstep frame on two threads: 23 us that way, 0.3 us watching), and the threads
/// of an even cluster usually finish within that of each other. The watch spins first,
/// then yields the core between looks, in case another process wants it.
const WATCH: Duration = Duration::from_micros(300);
/// Spins before the watch starts yielding.
const SPINS: u32 = 200;

#[derive(Debug, Default)]
struct Meeting {
    arrived: usize,
    /// The verdict of the last meeting that ended.
    verdict: bool,
    /// A thread died: nobody waits any more.
    broken: bool,
}

/// Where a fixed number of threads meet: each waits for the others, and the last to
/// arrive decides, for all of them, whether they go on (one decision, so that threads
/// never disagree on which frame is the last).
#[derive(Debug)]
pub(crate) struct Rendezvous {
    parties: usize,
    meeting: Mutex<Meeting>,
    /// Meetings ended so far; read while spinning.
    generation: AtomicU64,
    cond: Condvar,
}

impl Rendezvous {
    pub(crate) fn new(parties: usize) -> Rendezvous {
        Rendezvous {
            parties,
            meeting: Mutex::new(Meeting::default()),
            generation: AtomicU64::new(0),
            cond: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Meeting> {
        // Only counters live under the lock; a panic cannot leave them torn.
        self.meeting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for every party; the last to arrive calls `decide`, and every party gets
    /// its verdict. `None` if the rendezvous is broken (a party died).
    pub(crate) fn meet(&self, decide: impl FnOnce() -> bool) -> Option<bool> {
        let mut meeting = self.lock();
        if meeting.broken {
            return None;
        }
        let generation = self.generation.load(Ordering::Acquire);
        meeting.arrived += 1;
        if meeting.arrived == self.parties {
            meeting.arrived = 0;
            meeting.verdict = decide();
            self.generation.store(generation + 1, Ordering::Release);
            self.cond.notify_all();
            return Some(meeting.verdict);
        }
        drop(meeting);
        self.watch(generation);
        let mut meeting = self.lock();
        while self.generation.load(Ordering::Acquire) == generation && !meeting.broken {
            meeting = self.cond.wait(meeting).unwrap_or_else(|p| p.into_inner());
        }
        if meeting.broken {
            None
        } else {
            Some(meeting.verdict)
        }
    }

    /// Watches, for a while, for the meeting `generation` to end.
    fn watch(&self, generation: u64) {
        let ended = || self.generation.load(Ordering::Acquire) != generation;
        for _ in 0..SPINS {
            if ended() {
                return;
            }
            std::hint::spin_loop();
        }
        let start = Instant::now();
        while !ended() && start.elapsed() < WATCH {
            std::thread::yield_now();
        }
    }

    /// Breaks the rendezvous: every waiting party, and every later one, gets `None`.
    pub(crate) fn break_up(&self) {
        self.lock().broken = true;
        self.cond.notify_all();
    }
}

/// How far each free-running thread has got, so that none runs more than its lead
/// ahead of the slowest.
#[derive(Debug)]
struct Progress {
    /// Frames finished, per thread; `u64::MAX` once a thread has stopped.
    finished: Vec<AtomicU64>,
    /// Threads waiting for the others (only then is there anyone to notify).
    waiters: AtomicUsize,
    lock: Mutex<()>,
    cond: Condvar,
}

impl Progress {
    fn new(threads: usize) -> Progress {
        Progress {
            finished: (0..threads).map(|_| AtomicU64::new(0)).collect(),
            waiters: AtomicUsize::new(0),
            lock: Mutex::new(()),
            cond: Condvar::new(),
        }
    }

    fn slowest(&self) -> u64 {
        self.finished
            .iter()
            .map(|f| f.load(Ordering::SeqCst))
            .min()
            .unwrap_or(u64::MAX)
    }

    fn set(&self, thread: usize, frames: u64) {
        self.finished[thread].store(frames, Ordering::SeqCst);
        // A waiter counts itself in before it checks again under the lock, so either it
        // sees this store or this load sees it.
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            self.cond.notify_all();
        }
    }

    /// Waits until every thread has finished `frames` frames (or stopped).
    fn wait_for(&self, frames: u64) {
        while self.slowest() < frames {
            self.waiters.fetch_add(1, Ordering::SeqCst);
            let guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            if self.slowest() < frames {
                // The timeout is a safety net only: every store notifies.
                let _unused = self
                    .cond
                    .wait_timeout(guard, Duration::from_millis(10))
                    .unwrap_or_else(|p| p.into_inner());
            }
            self.waiters.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// The clock the threads of one cluster share.
#[derive(Debug)]
pub(crate) struct FrameClock {
    pub(crate) mode: ClockMode,
    /// Frames to run, if limited.
    pub(crate) frames: Option<u64>,
    pub(crate) stop: AtomicBool,
    /// Lockstep's meeting after each frame.
    frame_end: Rendezvous,
    /// Free-running threads' progress.
    progress: Progress,
    /// Everyone's meeting after the last frame, before what is left in transit is
    /// counted as dropped.
    shutdown: Rendezvous,
}

impl FrameClock {
    pub(crate) fn new(mode: ClockMode, frames: Option<u64>, threads: usize) -> FrameClock {
        FrameClock {
            mode,
            frames,
            stop: AtomicBool::new(false),
            frame_end: Rendezvous::new(threads),
            progress: Progress::new(threads),
            shutdown: Rendezvous::new(threads),
        }
    }

    /// Called by thread `thread` after it ran frame `frame`: whether to run another. In
    /// lockstep this waits for every thread; free-running, for the pace and for any
    /// thread more than the lead behind.
    pub(crate) fn end_frame(&self, thread: usize, frame: u64, started: Instant) -> bool {
        let go_on =
            || !self.stop.load(Ordering::Acquire) && self.frames.is_none_or(|limit| frame < limit);
        match self.mode {
            ClockMode::Lockstep => self.frame_end.meet(go_on).unwrap_or(false),
            ClockMode::FreeRunning { pace, lead } => {
                self.progress.set(thread, frame);
                if !go_on() {
                    return false;
                }
                if let Some(pace) = pace {
                    let due = started + pace.saturating_mul(frame.min(u64::from(u32::MAX)) as u32);
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                }
                // Frame + 1 starts once every thread has finished frame + 1 - lead.
                self.progress
                    .wait_for((frame + 1).saturating_sub(lead.max(1)));
                true
            }
        }
    }

    /// Thread `thread` runs no more frames: nobody waits for it any longer.
    pub(crate) fn leave(&self, thread: usize) {
        self.progress.set(thread, u64::MAX);
    }

    /// Waits until every thread has run its last frame.
    pub(crate) fn meet_at_shutdown(&self) {
        let _ = self.shutdown.meet(|| true);
    }

    /// A thread died: wake everyone, stop everything.
    pub(crate) fn break_up(&self) {
        self.stop.store(true, Ordering::Release);
        self.frame_end.break_up();
        self.shutdown.break_up();
        for thread in 0..self.progress.finished.len() {
            self.progress.set(thread, u64::MAX);
        }
    }
}
