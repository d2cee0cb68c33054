//! The scheduler's watchdog thread: it raises the preemption flag when a hard deadline
//! passes (so that [`preempt_point`](crate::preempt_point) reads no clock), and reports a
//! slice that has run too long **while it is still running** (a live stall report).
//!
//! Nothing here costs the switch path more than two plain atomic stores: the pump
//! publishes a slice counter and the running tasklet's id, and the thread, which polls,
//! times what it sees. A stall is measured from the poll that first saw the slice, so a
//! reported duration is short by at most one poll interval (a quarter of the threshold).

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::id::TaskletId;

thread_local! {
    /// This thread's preemption flag: raised by a watchdog thread when a hard deadline of
    /// a scheduler on this thread passes, read by every preempt point. Shared with the
    /// watchdog threads of this thread's schedulers.
    static PREEMPT: Arc<AtomicBool> = Arc::new(AtomicBool::new(false));
}

thread_local! {
    /// Live [`PreemptionHold`]s on this thread: while any lives, preempt points do not
    /// interrupt.
    static HOLDS: Cell<u32> = const { Cell::new(0) };
}

/// Whether preempt points are held off on this thread right now.
pub(crate) fn preemption_held() -> bool {
    HOLDS.with(Cell::get) != 0
}

/// While it lives, no preempt point interrupts the running tasklet (a blocking call
/// still blocks, and a kill still unwinds). Made by [`hold_preemption`]: hold one while
/// something must not be left half-done at an interruption, such as a borrow that other
/// code needs back at the end of the slice (the engine holds one for as long as a
/// behaviour's world access lives).
///
/// `!Send`: it belongs to the thread, and the tasklet, that made it.
///
/// # Examples
///
/// ```
/// let hold = uthread::hold_preemption();
/// uthread::preempt_point(); // never interrupts while `hold` lives
/// drop(hold);
/// ```
#[must_use = "preemption is held only while the guard lives"]
#[derive(Debug)]
pub struct PreemptionHold {
    _not_send: std::marker::PhantomData<*const ()>,
}

/// Holds off preemption until the returned guard drops (see [`PreemptionHold`]).
#[inline]
pub fn hold_preemption() -> PreemptionHold {
    HOLDS.with(|h| h.set(h.get() + 1));
    PreemptionHold {
        _not_send: std::marker::PhantomData,
    }
}

impl Drop for PreemptionHold {
    #[inline]
    fn drop(&mut self) {
        HOLDS.with(|h| h.set(h.get().saturating_sub(1)));
    }
}

/// Whether a watchdog raised this thread's preemption flag (one relaxed load).
#[inline]
pub(crate) fn preempt_requested() -> bool {
    PREEMPT.with(|flag| flag.load(Ordering::Relaxed))
}

/// Raises this thread's preemption flag for good: without a watchdog thread every
/// preempt point checks the clock.
pub(crate) fn raise_preempt_request() {
    PREEMPT.with(|flag| flag.store(true, Ordering::Relaxed));
}

/// Lowers this thread's preemption flag (the preempt point handled it).
pub(crate) fn clear_preempt_request() {
    PREEMPT.with(|flag| flag.store(false, Ordering::Relaxed));
}

/// A stall seen by the watchdog thread: a slice that ran longer than the threshold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StallReport {
    /// The tasklet that ran.
    pub tasklet: TaskletId,
    /// Its name, if it was spawned with one.
    pub name: Option<Arc<str>>,
    /// How long the slice had run when this report was made.
    pub running_for: Duration,
    /// `false`: still running (the first report); `true`: the slice has ended and
    /// `running_for` is its total.
    pub ended: bool,
}

impl fmt::Display for StallReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tasklet ")?;
        match &self.name {
            Some(name) => write!(f, "'{name}' ({})", self.tasklet)?,
            None => write!(f, "{}", self.tasklet)?,
        }
        let ms = self.running_for.as_secs_f64() * 1000.0;
        if self.ended {
            write!(f, " ran {ms:.0} ms in one slice (it has yielded now)")
        } else {
            write!(
                f,
                " has run {ms:.0} ms without yielding and is still running (no uthread \
                 call: a loop without be_nice or preempt_point?)"
            )
        }
    }
}

/// Called on the watchdog thread with every stall report.
pub type StallHandler = Box<dyn Fn(&StallReport) + Send + Sync>;

/// The default handler: one line on stderr.
fn print_report(report: &StallReport) {
    eprintln!("uthread: stall: {report}");
}

/// Tasklet names for the reports, each distinct name kept once (a million tasklets
/// usually share a handful of names).
#[derive(Default)]
struct Names {
    by_tasklet: HashMap<u64, Arc<str>>,
    interned: std::collections::HashSet<Arc<str>>,
}

/// What the pump publishes and the watchdog thread reads.
struct Watch {
    /// Bumped at every slice start and end.
    slice: AtomicU64,
    /// The running tasklet's id (0: none).
    running: AtomicU64,
    /// Nanoseconds since `epoch` at which the preemption flag goes up (0: none).
    deadline: AtomicU64,
    /// Report slices longer than this many nanoseconds (0: no stall reports).
    threshold: AtomicU64,
    epoch: Instant,
    /// The flag of the scheduler's thread.
    preempt: Arc<AtomicBool>,
    /// Names of named tasklets, for the reports (filled only while a watchdog exists).
    names: Mutex<Names>,
    handler: Mutex<Option<Arc<StallHandler>>>,
    /// The last report made (the live window shows it).
    last: Mutex<Option<StallReport>>,
    shutdown: AtomicBool,
}

impl Watch {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn report(&self, report: StallReport) {
        let handler = self
            .handler
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match handler {
            Some(handler) => handler(&report),
            None => print_report(&report),
        }
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(report);
    }

    fn name_of(&self, id: u64) -> Option<Arc<str>> {
        self.names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_tasklet
            .get(&id)
            .cloned()
    }

    /// The thread's loop: wake at the next deadline, threshold or poll, look, sleep.
    fn run(&self) {
        // Wake at a budget's deadline, not up to 50 us after it.
        crate::sys::timer_slack::tighten();
        // The slice being watched: its counter value, tasklet, when it was first seen,
        // and whether it was reported.
        let mut seen: Option<(u64, u64, u64, bool)> = None;
        while !self.shutdown.load(Ordering::Acquire) {
            let now = self.now();
            let deadline = self.deadline.load(Ordering::Acquire);
            if deadline != 0 && now >= deadline {
                self.preempt.store(true, Ordering::Relaxed);
            }
            let threshold = self.threshold.load(Ordering::Relaxed);
            let slice = self.slice.load(Ordering::Acquire);
            let running = self.running.load(Ordering::Relaxed);
            if let Some((s, id, first, reported)) = seen {
                if s != slice && reported {
                    self.report(StallReport {
                        tasklet: TaskletId(id),
                        name: self.name_of(id),
                        running_for: Duration::from_nanos(now - first),
                        ended: true,
                    });
                }
            }
            seen = match seen {
                Some((s, id, first, reported)) if s == slice => {
                    let stalled = threshold != 0 && !reported && now - first >= threshold;
                    if stalled {
                        self.report(StallReport {
                            tasklet: TaskletId(id),
                            name: self.name_of(id),
                            running_for: Duration::from_nanos(now - first),
                            ended: false,
                        });
                    }
                    Some((s, id, first, reported || stalled))
                }
                _ if running != 0 => Some((slice, running, now, false)),
                _ => None,
            };
            // Sleep until the deadline, or a quarter of the threshold, or a second.
            let poll = if threshold != 0 {
                (threshold / 4).max(1_000_000)
            } else {
                1_000_000_000
            };
            let mut wake = now.saturating_add(poll);
            if deadline > now {
                wake = wake.min(deadline);
            }
            std::thread::park_timeout(Duration::from_nanos(wake - now));
        }
    }
}

/// A scheduler's watchdog thread and what it watches. Dropping it stops the thread.
pub(crate) struct Monitor {
    watch: Arc<Watch>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitor")
            .field(
                "threshold_ns",
                &self.watch.threshold.load(Ordering::Relaxed),
            )
            .finish_non_exhaustive()
    }
}

impl Monitor {
    /// Starts a watchdog thread for a scheduler on the calling thread. `None` if the
    /// operating system refuses a thread (the scheduler then runs without one: preempt
    /// points fall back to reading the clock).
    pub(crate) fn start(stall_threshold: Option<Duration>) -> Option<Monitor> {
        let watch = Arc::new(Watch {
            slice: AtomicU64::new(0),
            running: AtomicU64::new(0),
            deadline: AtomicU64::new(0),
            threshold: AtomicU64::new(threshold_ns(stall_threshold)),
            epoch: Instant::now(),
            preempt: PREEMPT.with(Arc::clone),
            names: Mutex::new(Names::default()),
            handler: Mutex::new(None),
            last: Mutex::new(None),
            shutdown: AtomicBool::new(false),
        });
        let theirs = watch.clone();
        let thread = std::thread::Builder::new()
            .name("uthread-watchdog".into())
            .spawn(move || theirs.run())
            .ok()?;
        Some(Monitor {
            watch,
            thread: Some(thread),
        })
    }

    /// A slice of `tasklet` begins (two relaxed stores).
    #[inline]
    pub(crate) fn slice_begins(&self, tasklet: TaskletId) {
        let w = &self.watch;
        w.running.store(tasklet.0, Ordering::Relaxed);
        w.slice
            .store(w.slice.load(Ordering::Relaxed) + 1, Ordering::Release);
    }

    /// The slice ended.
    #[inline]
    pub(crate) fn slice_ends(&self) {
        let w = &self.watch;
        w.running.store(0, Ordering::Relaxed);
        w.slice
            .store(w.slice.load(Ordering::Relaxed) + 1, Ordering::Release);
    }

    /// Raises this thread's preemption flag at `deadline` (None: no deadline). Wakes the
    /// thread so that it sleeps until the new deadline.
    pub(crate) fn set_deadline(&self, deadline: Option<Instant>) {
        let w = &self.watch;
        let ns = deadline.map_or(0, |d| {
            u64::try_from(d.saturating_duration_since(w.epoch).as_nanos())
                .unwrap_or(u64::MAX)
                .max(1)
        });
        let old = w.deadline.swap(ns, Ordering::AcqRel);
        if ns != 0 && (old == 0 || ns < old) {
            self.wake();
        }
    }

    /// Reports slices longer than `threshold` (None: no stall reports).
    pub(crate) fn set_threshold(&self, threshold: Option<Duration>) {
        self.watch
            .threshold
            .store(threshold_ns(threshold), Ordering::Relaxed);
        self.wake();
    }

    /// The stall threshold in force.
    pub(crate) fn threshold(&self) -> Option<Duration> {
        match self.watch.threshold.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    /// Where reports go (None: stderr).
    pub(crate) fn set_handler(&self, handler: Option<StallHandler>) {
        *self
            .watch
            .handler
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = handler.map(Arc::new);
    }

    /// Names a tasklet for the reports.
    pub(crate) fn name(&self, tasklet: TaskletId, name: &str) {
        let mut names = self
            .watch
            .names
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let name = match names.interned.get(name) {
            Some(name) => name.clone(),
            None => {
                let name: Arc<str> = name.into();
                names.interned.insert(name.clone());
                name
            }
        };
        names.by_tasklet.insert(tasklet.0, name);
    }

    /// Forgets a tasklet's name (it ended).
    pub(crate) fn forget(&self, tasklet: TaskletId) {
        self.watch
            .names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_tasklet
            .remove(&tasklet.0);
    }

    /// The last report made, if any.
    pub(crate) fn last_report(&self) -> Option<StallReport> {
        self.watch
            .last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn wake(&self) {
        if let Some(thread) = &self.thread {
            thread.thread().unpark();
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.watch.shutdown.store(true, Ordering::Release);
        self.wake();
        if let Some(thread) = self.thread.take() {
            // The thread only sleeps and reads atomics; it ends at once.
            let _ = thread.join();
        }
    }
}

fn threshold_ns(threshold: Option<Duration>) -> u64 {
    threshold.map_or(0, |t| {
        u64::try_from(t.as_nanos()).unwrap_or(u64::MAX).max(1)
    })
}
