//! The scheduler core: one [`Shared`] per scheduler (the registry of tasklet records, the
//! run queue, the be_nice list, the clock and timers, the stack pool, hooks), the
//! thread's current scheduler, and the operations every switch is made of: queue,
//! dequeue, block, wake, switch out. The pump that resumes tasklets is in `pump.rs`.
//!
//! Every switch goes through the pump: a tasklet arranges where it goes next (back of the
//! run queue, a wait list, paused) and then suspends to the pump, which resumes the next
//! queued one. The main context (code outside any tasklet) is a pseudo-tasklet with a
//! record and no fiber: when it must block or yield, it runs the pump itself until its own
//! record comes off the run queue. So `kill`, `run`, `switch` and channel preferences are
//! all just run-queue ordering followed by [`Shared::switch_out`].
//!
//! Borrow discipline: no `RefCell` of the scheduler is borrowed while user code runs (a
//! tasklet body, a hook, a destructor of user data). Wait refs removed by a wake may hold
//! the last handle to a primitive, so they go to `garbage` and the pump drops them.

use std::any::Any;
use std::cell::{Cell, OnceCell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use slotmap::SlotMap;

use crate::budget::Budget;
use crate::clock::{Clock, Timers};
use crate::error::TaskletFailure;
use crate::hooks::Hooks;
use crate::hub::RemoteHub;
use crate::id::Key;
use crate::monitor::Monitor;
use crate::pool::StackPool;
use crate::stack::StackStrategy;
use crate::state::{Blocked, BlockedOn, TaskletState, Wake};
use crate::sys::switch;
use crate::task::{Task, Waits, TASK_HOT_BYTES};

/// Whether a wake was a primitive serving the tasklet (kept after the reason moves).
#[derive(Clone, Copy)]
enum ReasonKind {
    Signaled,
    Other,
}

/// Settings fixed when the scheduler is built.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) stack_size: usize,
    /// Default stack strategy for its tasklets (a spawn may override it).
    pub(crate) stack_strategy: StackStrategy,
    pub(crate) max_idle_stacks: usize,
    /// Measure every slice (per-tasklet run time, longest slice, slice hook).
    pub(crate) timing: bool,
    /// Report slices longer than this while they run (a watchdog thread); None: off.
    pub(crate) stall_threshold: Option<Duration>,
}

/// How long one pump call may go on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PumpLimits {
    /// Return when the main context's record comes off the queue.
    pub(crate) until_main: bool,
    pub(crate) budget: Budget,
    /// A time budget per slice instead of for the whole call.
    pub(crate) per_slice: bool,
    /// Hard interruption: an overrunning tasklet is taken out at its next uthread call.
    pub(crate) hard: bool,
    /// With `hard`: an interrupted tasklet goes back to the front of the run queue (it
    /// runs first next time) instead of being taken out and handed back.
    pub(crate) requeue: bool,
}

impl PumpLimits {
    pub(crate) const UNTIL_MAIN: PumpLimits = PumpLimits {
        until_main: true,
        budget: Budget::Unlimited,
        per_slice: false,
        hard: false,
        requeue: false,
    };

    pub(crate) const UNLIMITED: PumpLimits = PumpLimits {
        until_main: false,
        budget: Budget::Unlimited,
        per_slice: false,
        hard: false,
        requeue: false,
    };
}

/// Why a pump call returned.
#[derive(Debug)]
pub(crate) enum PumpExit {
    /// The main context was resumed.
    MainResumed,
    /// Nothing is runnable and nothing owned by the scheduler will make anything runnable.
    Drained,
    /// Nothing is runnable now, but timers or be_nice waiters are pending on a manual
    /// clock: the owner must advance it.
    WaitingForTick,
    BudgetSpent,
    /// A tasklet overran its slice. `removed`: hard mode took it out of the queue.
    Interrupted {
        task: Rc<Task>,
        removed: bool,
    },
    Failed(TaskletFailure),
}

/// One scheduler, shared by its handles.
pub(crate) struct Shared {
    /// The main context's record.
    pub(crate) main: Rc<Task>,
    /// The running tasklet, or `main` between slices and outside the pump.
    pub(crate) current: RefCell<Rc<Task>>,
    /// The run queue: tasklets and the ticket they were queued with.
    pub(crate) queue: RefCell<VecDeque<(Rc<Task>, u32)>>,
    /// Live entries in `queue` (the run count minus the current tasklet).
    pub(crate) scheduled: Cell<usize>,
    /// be_nice waiters (with their block number), woken at the next tick.
    pub(crate) nice: RefCell<Vec<(Rc<Task>, u32)>>,
    /// Tasklets blocked in be_nice right now (the list may also hold stale entries).
    pub(crate) nice_live: Cell<usize>,
    /// Tasklets alive, main excluded.
    pub(crate) alive: Cell<usize>,
    /// Waits on things another thread may end (futures, remote receivers); while nonzero,
    /// an empty run queue is not a deadlock.
    pub(crate) external_wakers: Cell<usize>,
    pub(crate) pumping: Cell<bool>,
    pub(crate) closing: Cell<bool>,
    /// Being torn down (its `Scheduler` dropped): the pool and the watchdog go with it,
    /// so ending tasklets need not give pages back or names up one by one.
    pub(crate) tearing_down: Cell<bool>,
    /// Its `Scheduler` was dropped while its pump ran: torn down when the pump returns.
    pub(crate) orphaned: Cell<bool>,
    /// Wait refs whose drop may run user code, dropped by the pump.
    pub(crate) garbage: RefCell<Vec<Waits>>,
    /// Under a hard budget: when the running slice (or the whole call) must stop.
    pub(crate) hard_deadline: Cell<Option<Instant>>,
    /// Set by a tasklet that interrupted itself (hard mode).
    pub(crate) interrupted: RefCell<Option<Rc<Task>>>,
    /// The current pump call puts a preempted tasklet back at the front of the queue.
    pub(crate) requeue_preempted: Cell<bool>,
    /// Tasklets preempted (hard deadline) in the current (or last) pump call.
    pub(crate) preemptions: Cell<u64>,
    /// The watchdog thread, made when a stall threshold or a hard deadline first needs it.
    pub(crate) monitor: OnceCell<Option<Monitor>>,
    /// Resumes made by the current (or last) pump call.
    pub(crate) resumes: Cell<u64>,
    /// When the current pump call started (only under a time budget).
    pub(crate) pump_started: Cell<Option<Instant>>,
    /// When the slice just before the next budget check ended, if nothing (no user
    /// code) has run since: the check reuses that clock read instead of taking another.
    pub(crate) slice_ended_at: Cell<Option<Instant>>,
    /// The longest slice of the current (or last) pump call, with timing on.
    pub(crate) longest: RefCell<Option<(Rc<Task>, Duration)>>,
    /// Every live tasklet (and main), by id.
    pub(crate) registry: RefCell<SlotMap<Key, Rc<Task>>>,
    pub(crate) pool: RefCell<StackPool>,
    pub(crate) clock: RefCell<Clock>,
    pub(crate) timers: RefCell<Timers>,
    pub(crate) config: RefCell<Config>,
    pub(crate) failures: RefCell<VecDeque<TaskletFailure>>,
    pub(crate) hooks: RefCell<Hooks>,
    /// Whether any hook is set (checked on the hot paths instead of borrowing `hooks`).
    pub(crate) hooks_active: Cell<bool>,
    /// Where the next `select` starts looking among its ready arms (xorshift state). Per
    /// scheduler, so that a run's choices do not depend on what other schedulers on the
    /// same thread did (shards on one thread or on several give the same run).
    pub(crate) select_rotation: Cell<u32>,
    pub(crate) remote: RemoteHub,
}

thread_local! {
    /// The scheduler that calls on this thread go to: the one running, else the default.
    static CURRENT: RefCell<Option<Rc<Shared>>> = const { RefCell::new(None) };
}

/// The scheduler uthread calls on this thread go to.
#[inline]
pub(crate) fn current_shared() -> Option<Rc<Shared>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Makes `shared` the thread's default scheduler if it has none.
pub(crate) fn install_default(shared: &Rc<Shared>) {
    CURRENT.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = Some(shared.clone());
        }
    });
}

/// Forgets `shared` as the thread's scheduler (it is being dropped).
pub(crate) fn uninstall(shared: &Rc<Shared>) {
    let removed = CURRENT.with(|c| {
        let mut c = c.borrow_mut();
        if c.as_ref().is_some_and(|s| Rc::ptr_eq(s, shared)) {
            c.take()
        } else {
            None
        }
    });
    drop(removed);
}

/// Makes a scheduler current for a scope, restoring the previous one after.
pub(crate) struct Enter {
    prev: Option<Rc<Shared>>,
}

impl Enter {
    pub(crate) fn new(shared: &Rc<Shared>) -> Enter {
        let prev = CURRENT.with(|c| c.borrow_mut().replace(shared.clone()));
        Enter { prev }
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        let prev = self.prev.take();
        // Take the replaced value out before dropping it: its drop may touch CURRENT.
        let replaced = CURRENT.with(|c| std::mem::replace(&mut *c.borrow_mut(), prev));
        drop(replaced);
    }
}

impl Shared {
    /// A scheduler with no tasklet but its main context.
    pub(crate) fn new(config: Config, clock: Clock, remote: RemoteHub) -> Rc<Shared> {
        Rc::new_cyclic(|weak| {
            let mut registry = SlotMap::with_key();
            let main = registry.insert_with_key(|key| {
                Rc::new(Task::new(
                    key,
                    weak.clone() as Weak<dyn Any>,
                    Some(Rc::from("main")),
                    TaskletState::Running,
                    false,
                ))
            });
            let main = registry[main].clone();
            main.started.set(true);
            Shared {
                current: RefCell::new(main.clone()),
                main,
                queue: RefCell::new(VecDeque::new()),
                scheduled: Cell::new(0),
                nice: RefCell::new(Vec::new()),
                nice_live: Cell::new(0),
                alive: Cell::new(0),
                external_wakers: Cell::new(0),
                pumping: Cell::new(false),
                closing: Cell::new(false),
                orphaned: Cell::new(false),
                tearing_down: Cell::new(false),
                garbage: RefCell::new(Vec::new()),
                hard_deadline: Cell::new(None),
                interrupted: RefCell::new(None),
                requeue_preempted: Cell::new(false),
                preemptions: Cell::new(0),
                monitor: OnceCell::new(),
                resumes: Cell::new(0),
                pump_started: Cell::new(None),
                slice_ended_at: Cell::new(None),
                longest: RefCell::new(None),
                registry: RefCell::new(registry),
                pool: RefCell::new(StackPool::new(config.max_idle_stacks)),
                clock: RefCell::new(clock),
                timers: RefCell::new(Timers::default()),
                config: RefCell::new(config),
                failures: RefCell::new(VecDeque::new()),
                hooks: RefCell::new(Hooks::default()),
                hooks_active: Cell::new(false),
                select_rotation: Cell::new(0x9E37_79B9),
                remote,
            }
        })
    }

    /// The running tasklet (main between slices and outside the pump).
    #[inline]
    pub(crate) fn current_task(&self) -> Rc<Task> {
        self.current.borrow().clone()
    }

    /// The watchdog thread, started on first use; `None` if the system refused a thread,
    /// in which case this thread's preemption flag stays raised and every preempt point
    /// reads the clock instead.
    pub(crate) fn monitor(&self) -> Option<&Monitor> {
        self.monitor
            .get_or_init(|| {
                let threshold = self.config.borrow().stall_threshold;
                let monitor = Monitor::start(threshold);
                match &monitor {
                    Some(monitor) => {
                        for task in self.registry.borrow().values() {
                            if let Some(name) = task.name.borrow().as_deref() {
                                monitor.name(task.key.id(), name);
                            }
                        }
                    }
                    None => crate::monitor::raise_preempt_request(),
                }
                monitor
            })
            .as_ref()
    }

    /// The watchdog thread, if it runs.
    #[inline]
    pub(crate) fn running_monitor(&self) -> Option<&Monitor> {
        self.monitor.get().and_then(Option::as_ref)
    }

    /// Game time now.
    #[inline]
    pub(crate) fn now(&self) -> Duration {
        self.clock.borrow().now()
    }

    /// Registers a new tasklet record (used by spawn).
    pub(crate) fn insert_task(self: &Rc<Self>, name: Option<Rc<str>>, atomic: bool) -> Rc<Task> {
        self.alive.set(self.alive.get() + 1);
        let mut registry = self.registry.borrow_mut();
        let key = registry.insert_with_key(|key| {
            Rc::new(Task::new(
                key,
                Rc::downgrade(self) as Weak<dyn Any>,
                name,
                TaskletState::Paused,
                atomic,
            ))
        });
        registry[key].clone()
    }

    /// Looks a live tasklet up by id.
    pub(crate) fn task(&self, key: Key) -> Option<Rc<Task>> {
        self.registry.borrow().get(key).cloned()
    }

    /// Appends (or prepends) a live tasklet to the run queue.
    #[inline]
    pub(crate) fn enqueue(&self, task: &Rc<Task>, front: bool) {
        if task.state.get() == TaskletState::Scheduled {
            // Already queued: invalidate the old entry so it moves rather than doubles.
            self.scheduled.set(self.scheduled.get() - 1);
        }
        task.state.set(TaskletState::Scheduled);
        let ticket = task.ticket.get().wrapping_add(1);
        task.ticket.set(ticket);
        let mut queue = self.queue.borrow_mut();
        if front {
            queue.push_front((task.clone(), ticket));
        } else {
            queue.push_back((task.clone(), ticket));
        }
        self.scheduled.set(self.scheduled.get() + 1);
    }

    /// Takes a queued tasklet out of the queue (it stays wherever `new_state` says).
    #[inline]
    pub(crate) fn dequeue(&self, task: &Task, new_state: TaskletState) {
        if task.state.get() == TaskletState::Scheduled {
            task.ticket.set(task.ticket.get().wrapping_add(1));
            self.scheduled.set(self.scheduled.get() - 1);
        }
        task.state.set(new_state);
    }

    /// The next live queue entry.
    #[inline]
    pub(crate) fn pop_next(&self) -> Option<Rc<Task>> {
        let mut queue = self.queue.borrow_mut();
        while let Some((task, ticket)) = queue.pop_front() {
            if task.ticket.get() == ticket && task.state.get() == TaskletState::Scheduled {
                self.scheduled.set(self.scheduled.get() - 1);
                return Some(task);
            }
        }
        None
    }

    /// Blocks the current tasklet: it leaves the run and waits on `waits`. Returns it
    /// with the number of this block (for timers and be_nice entries).
    #[inline]
    pub(crate) fn block_current(&self, on: Blocked, waits: Waits) -> (Rc<Task>, u32) {
        let task = self.current_task();
        task.state.set(TaskletState::Blocked);
        task.blocked.set(on);
        let old = task.waits.replace(waits);
        debug_assert!(matches!(old, Waits::None), "a running tasklet has no waits");
        let seq = task.block_seq.get().wrapping_add(1);
        task.block_seq.set(seq);
        task.timer_armed.set(false);
        (task, seq)
    }

    /// Arms a timer that wakes `task` (blocking now, in block `seq`) with `Wake::Timer`.
    pub(crate) fn arm_timer(&self, task: &Task, seq: u32, deadline: Duration) {
        self.timers.borrow_mut().push(deadline, task.key, seq);
        task.timer_armed.set(true);
        task.deadline.set(deadline);
    }

    /// Blocks the current tasklet until the next tick (be_nice).
    #[inline]
    pub(crate) fn block_nice(&self, me: &Rc<Task>) {
        me.state.set(TaskletState::Blocked);
        me.blocked.set(Blocked::NextTick);
        let seq = me.block_seq.get().wrapping_add(1);
        me.block_seq.set(seq);
        me.timer_armed.set(false);
        self.nice.borrow_mut().push((me.clone(), seq));
        self.nice_live.set(self.nice_live.get() + 1);
    }

    /// Makes a blocked tasklet runnable with `reason`; takes it off every other wait.
    /// Returns false if it was not blocked.
    pub(crate) fn wake(&self, task: &Rc<Task>, reason: Wake, front: bool) -> bool {
        if task.state.get() != TaskletState::Blocked {
            return false;
        }
        if task.blocked.replace(Blocked::Nothing) == Blocked::NextTick {
            let live = self.nice_live.get() - 1;
            self.nice_live.set(live);
            if live == 0 {
                // Only stale entries are left: drop them (they would be skipped anyway).
                // Taken out first: dropping an entry may free a record.
                let stale = std::mem::take(&mut *self.nice.borrow_mut());
                drop(stale);
            }
        }
        if task.timer_armed.replace(false) {
            self.timers.borrow_mut().note_stale();
        }
        let reason_kind = if matches!(reason, Wake::Signaled) {
            ReasonKind::Signaled
        } else {
            task.set_pending(reason);
            ReasonKind::Other
        };
        let waits = task.waits.take();
        if !matches!(waits, Waits::None) {
            // Served (`Signaled`) with a single wait: that entry is the one served, so
            // there is nothing to take off. Otherwise (a select, a kill, a timeout) every
            // entry still waiting is taken off its queue now.
            let served_only_wait =
                matches!(reason_kind, ReasonKind::Signaled) && matches!(waits, Waits::One(_));
            if !served_only_wait {
                waits.cancel_all();
            }
            if waits.holds_last_ref() {
                self.garbage.borrow_mut().push(waits);
            }
            // Otherwise dropping `waits` here only decrements reference counts.
        }
        self.enqueue(task, front);
        true
    }

    /// Wakes the tasklets whose timers are due.
    pub(crate) fn expire_timers(&self) {
        let now = self.now();
        loop {
            let due = self.timers.borrow_mut().pop_due(now);
            let Some((key, seq)) = due else { break };
            let task = self.task(key);
            let valid = task.as_ref().is_some_and(|t| {
                t.state.get() == TaskletState::Blocked
                    && t.block_seq.get() == seq
                    && t.timer_armed.get()
            });
            match task {
                Some(task) if valid => {
                    task.timer_armed.set(false);
                    self.wake(&task, Wake::Timer, false);
                }
                _ => self.timers.borrow_mut().popped_stale(),
            }
        }
    }

    /// Starts a new tick: wakes exactly the be_nice waiters that were waiting before it.
    pub(crate) fn wake_nice(&self) {
        /// How many entries ahead to ask for records (the loop is bound by their misses).
        const AHEAD: usize = 16;
        let mut waiting = std::mem::take(&mut *self.nice.borrow_mut());
        for (task, _) in waiting.iter().take(AHEAD) {
            crate::sys::prefetch::prefetch_record(task, TASK_HOT_BYTES);
        }
        for i in 0..waiting.len() {
            if let Some((ahead, _)) = waiting.get(i + AHEAD) {
                crate::sys::prefetch::prefetch_record(ahead, TASK_HOT_BYTES);
            }
            let (task, seq) = &waiting[i];
            let seq = *seq;
            if task.state.get() == TaskletState::Blocked && task.block_seq.get() == seq {
                // A be_nice wait has no timer and no wait entries: only the state moves.
                task.blocked.set(Blocked::Nothing);
                self.nice_live.set(self.nice_live.get() - 1);
                self.enqueue(task, false);
            }
        }
        waiting.clear();
        // Keep the allocation for the next tick.
        let mut nice = self.nice.borrow_mut();
        if nice.is_empty() {
            *nice = waiting;
        }
    }

    /// Whether a timer entry is still live.
    fn timer_is_live(&self, key: Key, seq: u32) -> bool {
        self.registry.borrow().get(key).is_some_and(|t| {
            t.state.get() == TaskletState::Blocked
                && t.block_seq.get() == seq
                && t.timer_armed.get()
        })
    }

    /// The earliest deadline of a timer that can still fire (stale entries of tasklets
    /// woken early are dropped from the top of the heap first).
    pub(crate) fn next_live_deadline(&self) -> Option<Duration> {
        let mut timers = self.timers.borrow_mut();
        timers.drop_stale_front(|key, seq| self.timer_is_live(key, seq));
        timers.next_deadline()
    }

    /// Drops stale timer entries when they dominate the heap.
    pub(crate) fn compact_timers(&self) {
        self.timers
            .borrow_mut()
            .compact_if_needed(|key, seq| self.timer_is_live(key, seq));
    }

    /// Tasklets blocked right now with what they wait on (for deadlock reports).
    pub(crate) fn blocked_list(&self) -> Vec<(Rc<Task>, BlockedOn)> {
        // Only the main context left, and not blocked (every run that finishes): no scan.
        if self.alive.get() == 0 && self.main.state.get() != TaskletState::Blocked {
            return Vec::new();
        }
        let registry = self.registry.borrow();
        registry
            .values()
            .filter(|t| t.state.get() == TaskletState::Blocked)
            .map(|t| (t.clone(), t.blocked_on().unwrap_or(BlockedOn::Unknown)))
            .collect()
    }

    /// A kill or throw waiting for the current tasklet (see
    /// [`pending_interrupt`](crate::wait::pending_interrupt)).
    #[inline]
    pub(crate) fn take_interrupt(&self) -> Option<Wake> {
        self.current.borrow().take_interrupt()
    }

    /// Suspends the caller after it arranged where it goes (queue, wait list, paused).
    /// Returns why it was resumed. Kill requests become `Wake::Kill` here.
    ///
    /// Inlined so that a tasklet suspends from its caller's frame: every frame between
    /// the blocking call and the suspend is a return the CPU mispredicts on resume.
    #[inline(always)]
    pub(crate) fn switch_out(self: &Rc<Self>) -> Wake {
        let me = self.current_task();
        self.switch_out_as(&me)
    }

    /// [`Shared::switch_out`] for a caller that has its own record at hand (`me` must be
    /// the current tasklet).
    #[inline(always)]
    pub(crate) fn switch_out_as(self: &Rc<Self>, me: &Rc<Task>) -> Wake {
        if Rc::ptr_eq(me, &self.main) {
            self.switch_out_main();
        } else {
            if std::thread::panicking() {
                // Most likely suspending in a destructor of its own unwind: a kill must not
                // unwind it a second time (a panic out of a destructor aborts). Checked
                // only here, off the fast path, as the panic count is the whole thread's.
                me.unwinding.set(true);
            }
            let suspended = switch::suspend();
            debug_assert!(suspended, "a tasklet is current but no fiber is running");
        }
        me.take_wake()
    }

    /// The main context's way to block: run the pump until main is resumed.
    #[inline(never)]
    fn switch_out_main(self: &Rc<Self>) {
        let exit = if self.pumping.get() {
            // A hook or destructor called from inside the pump tried to block.
            PumpExit::Drained
        } else {
            let exit = self.pump(PumpLimits::UNTIL_MAIN);
            // One of its tasklets may have dropped the scheduler meanwhile.
            self.finish_orphaned();
            exit
        };
        let main = &self.main;
        if !matches!(exit, PumpExit::MainResumed) {
            // Nothing resumed main. If it was waiting, that wait can never end.
            if main.state.get() == TaskletState::Blocked {
                self.wake(main, Wake::Deadlock, false);
            }
            // Stackless resumes main once nothing else can run.
            self.dequeue(main, TaskletState::Running);
        }
        *self.current.borrow_mut() = main.clone();
        main.state.set(TaskletState::Running);
    }
}

impl Task {
    /// Its scheduler, if that still exists.
    #[inline]
    pub(crate) fn scheduler(&self) -> Option<Rc<Shared>> {
        self.sched.upgrade()?.downcast::<Shared>().ok()
    }

    /// Whether `shared` is its scheduler.
    #[inline]
    pub(crate) fn belongs_to(&self, shared: &Shared) -> bool {
        std::ptr::addr_eq(self.sched.as_ptr(), shared)
    }

    /// Wakes it (if it is still blocked) with `reason`, at the back of its scheduler's
    /// run queue or at the front.
    #[inline]
    pub(crate) fn wake(self: &Rc<Self>, reason: Wake, front: bool) -> bool {
        match self.scheduler() {
            Some(shared) => shared.wake(self, reason, front),
            None => false,
        }
    }
}
