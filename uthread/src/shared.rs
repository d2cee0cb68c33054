//! The scheduler's state: tasklet records, the run queue, wakes, and the pump loop that
//! resumes tasklets.
//!
//! Every switch goes through the pump: a tasklet arranges where it goes next (back of the
//! run queue, a wait list, paused) and then suspends to the pump, which resumes the next
//! queued one. The main context (code outside any tasklet) is a pseudo-tasklet with a
//! record and no fiber: when it must block or yield, it runs the pump itself until its own
//! record comes off the run queue. So `kill`, `run`, `switch` and channel preferences are
//! all just run-queue ordering followed by [`Shared::switch_out`].
//!
//! Borrow discipline: `State` sits in one `RefCell`. It is never borrowed while user code
//! runs (a tasklet body, a hook, a destructor of user data), which is why records and
//! wait refs removed under the borrow go to `garbage` and are dropped by the pump.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use slotmap::{Key as _, SlotMap};

use crate::error::{panic_message, FailureKind, TaskletFailure, Thrown, WaitError};
use crate::hooks::Hooks;
use crate::sys::fiber::{self, Fiber, FiberExit};
use crate::sys::stack::StackPool;
use crate::tasklet::{BlockedOn, TaskletState};
use crate::time::{Clock, Timers};
use crate::wait::WaitRef;
use crate::{Budget, TaskletExit, TaskletId};

slotmap::new_key_type! {
    /// A tasklet's slot in its scheduler.
    pub(crate) struct Key;
}

impl Key {
    pub(crate) fn id(self) -> TaskletId {
        TaskletId(self.data().as_ffi())
    }
}

/// Why a blocked or queued tasklet was resumed.
#[derive(Debug)]
pub(crate) enum Wake {
    /// The primitive it waited on served it.
    Signaled,
    /// Its timer expired (a sleep ended, or a timed wait timed out).
    Timer,
    /// An error was thrown into it.
    Thrown(Thrown),
    /// It is being killed: unwind.
    Kill,
    /// The main context would block forever.
    Deadlock,
}

impl Wake {
    /// The error a blocking call returns for a wake that is not its own success.
    /// `Signaled` and `Timer` are the caller's to interpret; they map to `Timeout` here.
    pub(crate) fn into_wait_error(self) -> WaitError {
        match self {
            Wake::Signaled | Wake::Timer => WaitError::Timeout,
            Wake::Thrown(t) => WaitError::Thrown(t),
            Wake::Kill => WaitError::Killed,
            Wake::Deadlock => WaitError::Deadlock,
        }
    }
}

/// A tasklet's wait entries (more than one only inside `select`).
#[derive(Debug, Default)]
#[allow(dead_code, reason = "Many is built by select (layer 2)")]
pub(crate) enum Waits {
    #[default]
    None,
    One(WaitRef),
    Many(Vec<WaitRef>),
}

#[allow(dead_code, reason = "push is used by select (layer 2)")]
impl Waits {
    pub(crate) fn push(&mut self, w: WaitRef) {
        *self = match std::mem::take(self) {
            Waits::None => Waits::One(w),
            Waits::One(a) => Waits::Many(vec![a, w]),
            Waits::Many(mut v) => {
                v.push(w);
                Waits::Many(v)
            }
        }
    }

    /// Whether dropping these refs may drop a primitive (and run user destructors),
    /// which must wait until the scheduler is not borrowed.
    fn holds_last_ref(&self) -> bool {
        match self {
            Waits::None => false,
            Waits::One(w) => Rc::strong_count(&w.target) == 1,
            Waits::Many(v) => v.iter().any(|w| Rc::strong_count(&w.target) == 1),
        }
    }

    fn cancel_all(&self) {
        match self {
            Waits::None => {}
            Waits::One(w) => w.target.cancel(w.key),
            Waits::Many(v) => v.iter().for_each(|w| w.target.cancel(w.key)),
        }
    }
}

/// Notified when a tasklet ends (join handles).
pub(crate) trait ExitObserver {
    /// Called once, outside any scheduler borrow. Returns true if somebody will look at a
    /// failure (a live join handle), so that it need not be reported as uncaught.
    fn exited(&self, how: &Exit) -> bool;
}

/// How a tasklet ended.
#[derive(Debug)]
pub(crate) enum Exit {
    Returned,
    Killed,
    Failed(FailureKind),
}

/// Everything the scheduler knows about one tasklet.
pub(crate) struct Record {
    /// `None` for the main pseudo-tasklet, and while the pump is resuming it.
    pub(crate) fiber: Option<Fiber>,
    pub(crate) state: TaskletState,
    pub(crate) started: bool,
    pub(crate) name: Option<Rc<str>>,
    pub(crate) blocked_on: Option<BlockedOn>,
    pub(crate) waits: Waits,
    /// Why it was last made runnable, if not plainly signaled; read by its blocking call.
    pub(crate) wake: Option<Wake>,
    /// Sticky: once killed, every later blocking call unwinds again.
    pub(crate) kill_requested: bool,
    /// A kill started unwinding its stack, or it suspended while a panic was unwinding.
    /// With `std::thread::panicking()` this tells its own destructors (which must not be
    /// unwound twice) apart from the other stacks on the thread that the panic count also
    /// covers (a main context dropping the scheduler while it panics, a tasklet suspended
    /// half-way through a panic).
    pub(crate) unwinding: bool,
    /// Bumped each time it enters the run queue; stale queue entries are skipped.
    pub(crate) ticket: u32,
    /// Bumped each time it blocks; stale timer and be_nice entries are skipped.
    pub(crate) block_seq: u32,
    /// Whether a timer entry for the current block is armed.
    pub(crate) timer_armed: bool,
    pub(crate) atomic: bool,
    pub(crate) switches: u64,
    pub(crate) run_time: Duration,
    pub(crate) stack_size: usize,
    pub(crate) locals: Option<crate::local::Locals>,
    pub(crate) exit_observer: Option<Rc<dyn ExitObserver>>,
}

impl Record {
    fn new(name: Option<Rc<str>>, state: TaskletState, stack_size: usize, atomic: bool) -> Record {
        Record {
            fiber: None,
            state,
            started: false,
            name,
            blocked_on: None,
            waits: Waits::None,
            wake: None,
            kill_requested: false,
            unwinding: false,
            ticket: 0,
            block_seq: 0,
            timer_armed: false,
            atomic,
            switches: 0,
            run_time: Duration::ZERO,
            stack_size,
            locals: None,
            exit_observer: None,
        }
    }
}

/// Settings fixed when the scheduler is built.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) stack_size: usize,
    /// Default stack strategy for its tasklets (a spawn may override it).
    pub(crate) stack_strategy: crate::sys::stack::StackStrategy,
    pub(crate) max_idle_stacks: usize,
    /// Measure every slice (per-tasklet run time, longest slice, slice hook).
    pub(crate) timing: bool,
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
}

impl PumpLimits {
    pub(crate) const UNTIL_MAIN: PumpLimits = PumpLimits {
        until_main: true,
        budget: Budget::Unlimited,
        per_slice: false,
        hard: false,
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
        key: Key,
        removed: bool,
    },
    Failed(TaskletFailure),
}

/// Live accounting of the current pump call (for budgets and the watchdog).
#[derive(Debug, Default)]
pub(crate) struct PumpStats {
    pub(crate) resumes: u64,
    /// When the pump call started; read only under a time budget, so only set then.
    pub(crate) started: Option<Instant>,
    pub(crate) longest: Option<(Key, Duration)>,
}

/// Watchdog state visible to uthread calls made from inside a slice.
#[derive(Debug, Default)]
pub(crate) struct Watch {
    /// Deadline of the running slice under a hard per-slice budget, or of the whole call
    /// under a hard total budget.
    pub(crate) hard_deadline: Option<Instant>,
    /// Set by a tasklet that interrupted itself (hard mode).
    pub(crate) interrupted: Option<Key>,
}

/// The mutable part of a scheduler.
pub(crate) struct State {
    pub(crate) tasklets: SlotMap<Key, Record>,
    queue: VecDeque<(Key, u32)>,
    /// Live entries in `queue` (the run count minus the current tasklet).
    pub(crate) scheduled: usize,
    pub(crate) current: Key,
    pub(crate) main: Key,
    pub(crate) pool: StackPool,
    pub(crate) clock: Clock,
    pub(crate) timers: Timers,
    /// be_nice waiters, woken at the next tick (key, block_seq).
    pub(crate) nice: Vec<(Key, u32)>,
    pub(crate) config: Config,
    pub(crate) pumping: bool,
    pub(crate) failures: VecDeque<TaskletFailure>,
    /// Removed records and wait refs, dropped by the pump outside any borrow.
    pub(crate) garbage: Vec<Garbage>,
    pub(crate) watch: Watch,
    pub(crate) pump: PumpStats,
    /// Waits on things another thread may end (futures, remote receivers); while nonzero,
    /// an empty run queue is not a deadlock.
    pub(crate) external_wakers: usize,
    /// Tasklets alive, main excluded.
    pub(crate) alive: usize,
    pub(crate) closing: bool,
}

/// Wait refs removed under the borrow: dropping one may drop the last handle to a
/// primitive, and with it values whose destructors run user code.
pub(crate) type Garbage = Waits;

/// One scheduler, shared by its handles.
pub(crate) struct Shared {
    pub(crate) st: RefCell<State>,
    pub(crate) hooks: RefCell<Hooks>,
    pub(crate) remote: crate::remote::RemoteHub,
}

/// A tasklet, from inside the crate: its scheduler and its slot.
#[derive(Clone)]
pub(crate) struct TaskletRef {
    pub(crate) shared: Weak<Shared>,
    pub(crate) key: Key,
}

impl std::fmt::Debug for TaskletRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.key.id())
    }
}

impl TaskletRef {
    /// Wakes this tasklet (if it is still blocked) with `reason`, at the back of its run
    /// queue or at the front.
    pub(crate) fn wake(&self, reason: Wake, front: bool) -> bool {
        match self.shared.upgrade() {
            Some(shared) => shared.st.borrow_mut().wake(self.key, reason, front),
            None => false,
        }
    }
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
    CURRENT.with(|c| {
        let mut c = c.borrow_mut();
        if c.as_ref().is_some_and(|s| Rc::ptr_eq(s, shared)) {
            *c = None;
        }
    });
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

impl State {
    pub(crate) fn new(config: Config, clock: Clock) -> State {
        let mut tasklets = SlotMap::with_key();
        let main = tasklets.insert(Record::new(
            Some(Rc::from("main")),
            TaskletState::Running,
            0,
            false,
        ));
        tasklets[main].started = true;
        State {
            tasklets,
            queue: VecDeque::new(),
            scheduled: 0,
            current: main,
            main,
            pool: StackPool::new(config.max_idle_stacks),
            clock,
            timers: Timers::default(),
            nice: Vec::new(),
            config,
            pumping: false,
            failures: VecDeque::new(),
            garbage: Vec::new(),
            watch: Watch::default(),
            pump: PumpStats::default(),
            external_wakers: 0,
            alive: 0,
            closing: false,
        }
    }

    /// Inserts a new record (used by spawn).
    pub(crate) fn insert_record(
        &mut self,
        name: Option<Rc<str>>,
        state: TaskletState,
        stack_size: usize,
        atomic: bool,
    ) -> Key {
        self.alive += 1;
        self.tasklets
            .insert(Record::new(name, state, stack_size, atomic))
    }

    /// Appends (or prepends) a tasklet to the run queue. It must be alive.
    pub(crate) fn enqueue(&mut self, key: Key, front: bool) {
        let Some(rec) = self.tasklets.get_mut(key) else {
            return;
        };
        if rec.state == TaskletState::Scheduled {
            // Already queued: invalidate the old entry so it moves rather than doubles.
            self.scheduled -= 1;
        }
        rec.state = TaskletState::Scheduled;
        rec.ticket = rec.ticket.wrapping_add(1);
        let entry = (key, rec.ticket);
        if front {
            self.queue.push_front(entry);
        } else {
            self.queue.push_back(entry);
        }
        self.scheduled += 1;
    }

    /// Takes a queued tasklet out of the queue (it stays wherever `state` says).
    pub(crate) fn dequeue(&mut self, key: Key, new_state: TaskletState) {
        if let Some(rec) = self.tasklets.get_mut(key) {
            if rec.state == TaskletState::Scheduled {
                rec.ticket = rec.ticket.wrapping_add(1);
                self.scheduled -= 1;
            }
            rec.state = new_state;
        }
    }

    /// The next live queue entry.
    fn pop_next(&mut self) -> Option<Key> {
        while let Some((key, ticket)) = self.queue.pop_front() {
            if let Some(rec) = self.tasklets.get(key) {
                if rec.ticket == ticket && rec.state == TaskletState::Scheduled {
                    self.scheduled -= 1;
                    return Some(key);
                }
            }
        }
        None
    }

    /// Blocks the current tasklet: it leaves the run and waits on `waits`.
    pub(crate) fn block_current(&mut self, on: BlockedOn, waits: Waits) -> (Key, u32) {
        let key = self.current;
        let rec = &mut self.tasklets[key];
        rec.state = TaskletState::Blocked;
        rec.blocked_on = Some(on);
        rec.waits = waits;
        rec.block_seq = rec.block_seq.wrapping_add(1);
        rec.timer_armed = false;
        (key, rec.block_seq)
    }

    /// Arms a timer that wakes the current (blocking) tasklet with `Wake::Timer`.
    pub(crate) fn arm_timer(&mut self, key: Key, seq: u32, deadline: Duration) {
        self.timers.push(deadline, key, seq);
        if let Some(rec) = self.tasklets.get_mut(key) {
            rec.timer_armed = true;
        }
    }

    /// Makes a blocked tasklet runnable with `reason`; takes it off every other wait.
    /// Returns false if it was not blocked.
    pub(crate) fn wake(&mut self, key: Key, reason: Wake, front: bool) -> bool {
        let Some(rec) = self.tasklets.get_mut(key) else {
            return false;
        };
        if rec.state != TaskletState::Blocked {
            return false;
        }
        // Woken from be_nice by a kill or throw: leave the tick's list, so that nobody
        // counts it as waiting (an idle manual clock would report a tick is needed).
        // `wake_nice` empties the list before it wakes, so this costs it nothing.
        let in_nice_list = matches!(rec.blocked_on.take(), Some(BlockedOn::NextTick));
        if rec.timer_armed {
            rec.timer_armed = false;
            self.timers.note_stale();
        }
        match reason {
            Wake::Signaled => {}
            other => {
                // A pending kill outranks anything else.
                if !matches!(rec.wake, Some(Wake::Kill)) {
                    rec.wake = Some(other);
                }
            }
        }
        let waits = std::mem::take(&mut rec.waits);
        waits.cancel_all();
        if waits.holds_last_ref() {
            self.garbage.push(waits);
        }
        // Otherwise dropping `waits` here only decrements reference counts.
        self.enqueue(key, front);
        if in_nice_list {
            self.nice.retain(|&(k, _)| k != key);
        }
        true
    }

    /// Wakes due timers and, at a tick, the be_nice waiters of the previous tick.
    pub(crate) fn expire_timers(&mut self) {
        let now = self.clock.now();
        while let Some((key, seq)) = self.timers.pop_due(now) {
            let valid = self.tasklets.get(key).is_some_and(|r| {
                r.state == TaskletState::Blocked && r.block_seq == seq && r.timer_armed
            });
            if valid {
                self.tasklets[key].timer_armed = false;
                self.wake(key, Wake::Timer, false);
            } else {
                self.timers.popped_stale();
            }
        }
    }

    /// Starts a new tick: wakes exactly the be_nice waiters that were waiting before it.
    pub(crate) fn wake_nice(&mut self) {
        let waiting = std::mem::take(&mut self.nice);
        for &(key, seq) in &waiting {
            let valid = self
                .tasklets
                .get(key)
                .is_some_and(|r| r.state == TaskletState::Blocked && r.block_seq == seq);
            if valid {
                self.wake(key, Wake::Signaled, false);
            }
        }
        // Keep the allocation for the next tick.
        if self.nice.is_empty() {
            let mut waiting = waiting;
            waiting.clear();
            self.nice = waiting;
        }
    }

    /// The earliest deadline of a timer that can still fire (stale entries of tasklets
    /// woken early are dropped from the top of the heap first).
    pub(crate) fn next_live_deadline(&mut self) -> Option<Duration> {
        let tasklets = &self.tasklets;
        self.timers.drop_stale_front(|key, seq| {
            tasklets.get(key).is_some_and(|r| {
                r.state == TaskletState::Blocked && r.block_seq == seq && r.timer_armed
            })
        });
        self.timers.next_deadline()
    }

    /// Drops stale timer entries when they dominate the heap.
    pub(crate) fn compact_timers(&mut self) {
        let tasklets = &self.tasklets;
        self.timers.compact_if_needed(|key, seq| {
            tasklets.get(key).is_some_and(|r| {
                r.state == TaskletState::Blocked && r.block_seq == seq && r.timer_armed
            })
        });
    }

    /// Tasklets blocked right now with what they wait on (for deadlock reports).
    pub(crate) fn blocked_list(&self) -> Vec<(Key, Option<Rc<str>>, BlockedOn)> {
        // Only the main context left, and not blocked (every run that finishes): no scan.
        if self.tasklets.len() == 1 && self.tasklets[self.main].state != TaskletState::Blocked {
            return Vec::new();
        }
        self.tasklets
            .iter()
            .filter(|(_, r)| r.state == TaskletState::Blocked)
            .map(|(k, r)| {
                (
                    k,
                    r.name.clone(),
                    r.blocked_on.clone().unwrap_or(BlockedOn::Unknown),
                )
            })
            .collect()
    }

    /// A kill or throw waiting for the current tasklet (see
    /// [`pending_interrupt`](crate::wait::pending_interrupt)).
    #[inline]
    pub(crate) fn take_interrupt(&mut self) -> Option<Wake> {
        let cur = self.current;
        let rec = &mut self.tasklets[cur];
        if rec.kill_requested {
            return Some(Wake::Kill);
        }
        rec.wake.take()
    }

    #[inline]
    pub(crate) fn is_current_main(&self) -> bool {
        self.current == self.main
    }
}

impl Shared {
    /// Suspends the caller after it arranged where it goes (queue, wait list, paused).
    /// Returns why it was resumed. Kill requests become `Wake::Kill` here.
    ///
    /// Inlined so that a tasklet suspends from its caller's frame: every frame between
    /// the blocking call and the suspend is a return the CPU mispredicts on resume.
    #[inline(always)]
    pub(crate) fn switch_out(self: &Rc<Self>) -> Wake {
        let is_main = self.st.borrow().is_current_main();
        if is_main {
            self.switch_out_main()
        } else {
            if std::thread::panicking() {
                // Most likely suspending in a destructor of its own unwind: a kill must not
                // unwind it a second time (a panic out of a destructor aborts). Checked
                // only here, off the fast path, as the panic count is the whole thread's.
                let mut st = self.st.borrow_mut();
                let cur = st.current;
                st.tasklets[cur].unwinding = true;
            }
            let suspended = fiber::suspend();
            debug_assert!(suspended, "a tasklet is current but no fiber is running");
        }
        self.take_wake()
    }

    /// The wake reason of the tasklet that was just resumed (the caller).
    fn take_wake(&self) -> Wake {
        let mut st = self.st.borrow_mut();
        let key = st.current;
        let rec = &mut st.tasklets[key];
        let wake = rec.wake.take().unwrap_or(Wake::Signaled);
        if rec.kill_requested && !(rec.unwinding && std::thread::panicking()) {
            return Wake::Kill;
        }
        wake
    }

    /// The main context's way to block: run the pump until main is resumed.
    #[inline(never)]
    fn switch_out_main(self: &Rc<Self>) {
        let nested = {
            let st = self.st.borrow();
            st.pumping
        };
        let exit = if nested {
            // A hook or destructor called from inside the pump tried to block.
            PumpExit::Drained
        } else {
            self.pump(PumpLimits::UNTIL_MAIN)
        };
        let mut st = self.st.borrow_mut();
        let main = st.main;
        if !matches!(exit, PumpExit::MainResumed) {
            // Nothing resumed main. If it was waiting, that wait can never end.
            let was_blocked = st.tasklets[main].state == TaskletState::Blocked;
            if was_blocked {
                st.wake(main, Wake::Deadlock, false);
            }
            // Stackless resumes main once nothing else can run.
            st.dequeue(main, TaskletState::Running);
        }
        st.current = main;
        st.tasklets[main].state = TaskletState::Running;
    }

    /// Runs queued tasklets until `limits` says stop.
    pub(crate) fn pump(self: &Rc<Self>, limits: PumpLimits) -> PumpExit {
        let _enter = Enter::new(self);
        {
            let mut st = self.st.borrow_mut();
            st.pumping = true;
            // Only a time budget reads the clock: a clock read costs more than a switch.
            let started = matches!(limits.budget, Budget::Time(_)).then(Instant::now);
            st.pump = PumpStats {
                started,
                ..PumpStats::default()
            };
            st.watch = Watch::default();
            if let (Budget::Time(d), true, false) = (limits.budget, limits.hard, limits.per_slice) {
                st.watch.hard_deadline = started.map(|t0| t0 + d);
            }
        }
        // Ends the pump even if a hook (user code) panics through it.
        let _stop = StopPump(self);
        self.pump_loop(limits)
    }

    fn pump_loop(self: &Rc<Self>, limits: PumpLimits) -> PumpExit {
        let timing = {
            let st = self.st.borrow();
            st.config.timing || matches!(limits.budget, Budget::Time(_))
        };
        // Dropped garbage leaves its (empty) allocation here for the next batch.
        let mut spare: Vec<Garbage> = Vec::new();
        loop {
            // One borrow per slice: pick the next tasklet and take its fiber out.
            let (key, fiber, starting) = {
                let mut st = self.st.borrow_mut();
                if !st.garbage.is_empty() {
                    let mut garbage =
                        std::mem::replace(&mut st.garbage, std::mem::take(&mut spare));
                    drop(st);
                    garbage.clear();
                    spare = garbage;
                    continue;
                }
                if let Some(exit) = budget_exit(&st, &limits) {
                    return exit;
                }
                match st.pop_next() {
                    Some(key) if key == st.main => {
                        if limits.until_main {
                            st.current = key;
                            st.tasklets[key].state = TaskletState::Running;
                            return PumpExit::MainResumed;
                        }
                        // Main is already running (it called run()); nothing to do.
                        st.tasklets[key].state = TaskletState::Running;
                        continue;
                    }
                    Some(key) => {
                        st.current = key;
                        let rec = &mut st.tasklets[key];
                        rec.state = TaskletState::Running;
                        let starting = !rec.started;
                        rec.started = true;
                        let fiber = rec.fiber.take().expect("a queued tasklet has a fiber");
                        // Start fetching the next tasklet's saved frames (stack copying)
                        // while this one runs.
                        let next = st.queue.front().and_then(|&(k, _)| st.tasklets.get(k));
                        if let Some(next_fiber) = next.and_then(|r| r.fiber.as_ref()) {
                            next_fiber.prefetch();
                        }
                        (key, fiber, starting)
                    }
                    None => {
                        drop(st);
                        match self.idle(limits) {
                            Some(exit) => return exit,
                            None => continue,
                        }
                    }
                }
            };
            if let Some(exit) = self.run_slice(key, fiber, starting, timing, &limits) {
                return exit;
            }
        }
    }

    /// The run queue is empty: start a tick, wait for time or remote wakes, or stop.
    fn idle(self: &Rc<Self>, limits: PumpLimits) -> Option<PumpExit> {
        // Remote messages and future wakes first: they may make tasklets runnable.
        if self.remote.drain_into(self) {
            return None;
        }
        let mut st = self.st.borrow_mut();
        if st.clock.is_manual() {
            // The owner drives this clock (a frame driver): never block its thread, except
            // for the main context, which asked to block until it is woken.
            if st.timers.live() > 0 || !st.nice.is_empty() {
                return Some(PumpExit::WaitingForTick);
            }
            if st.external_wakers > 0 {
                if !limits.until_main {
                    return Some(PumpExit::WaitingForTick);
                }
                drop(st);
                self.remote.wait(None);
                return None;
            }
            return Some(PumpExit::Drained);
        }
        // Real clock: an empty queue ends the tick.
        if !st.nice.is_empty() {
            st.wake_nice();
            st.expire_timers();
            return None;
        }
        if let Some(next) = st.timers.next_deadline() {
            let now = st.clock.now();
            if next <= now {
                st.expire_timers();
                return None;
            }
            let wait = next - now;
            drop(st);
            self.remote.wait(Some(wait));
            self.st.borrow_mut().expire_timers();
            return None;
        }
        if self.may_be_woken_remotely(&st) {
            drop(st);
            self.remote.wait(None);
            return None;
        }
        Some(PumpExit::Drained)
    }

    /// Whether a tasklet (or main) waits on something another thread will wake: a future
    /// or a remote receiver. Only then does an idle pump wait for the hub.
    fn may_be_woken_remotely(&self, st: &State) -> bool {
        st.external_wakers > 0
    }

    /// Resumes one tasklet for one slice (`pump_loop` made it current and took its
    /// fiber out of its record).
    #[inline]
    fn run_slice(
        self: &Rc<Self>,
        key: Key,
        mut fiber: Fiber,
        starting: bool,
        timing: bool,
        limits: &PumpLimits,
    ) -> Option<PumpExit> {
        self.hooks_on_switch(key, starting);
        let started_at = if timing { Some(Instant::now()) } else { None };
        if let (Some(t0), Budget::Time(d), true, true) =
            (started_at, limits.budget, limits.per_slice, limits.hard)
        {
            self.st.borrow_mut().watch.hard_deadline = Some(t0 + d);
        }
        let exit = fiber.resume();
        let elapsed = started_at.map(|t0| t0.elapsed());
        let mut st = self.st.borrow_mut();
        let main = st.main;
        st.current = main;
        st.pump.resumes += 1;
        if let Some(d) = elapsed {
            if st.pump.longest.is_none_or(|(_, l)| d > l) {
                st.pump.longest = Some((key, d));
            }
        }
        let rec = &mut st.tasklets[key];
        rec.switches += 1;
        if let Some(d) = elapsed {
            rec.run_time += d;
        }
        match exit {
            None => {
                rec.fiber = Some(fiber);
                if rec.state == TaskletState::Running {
                    // Suspended without saying where to (cannot happen through the API).
                    rec.state = TaskletState::Paused;
                }
                let interrupted = st.watch.interrupted.take();
                drop(st);
                if timing {
                    self.hooks_after_slice(key, started_at, elapsed, false);
                }
                if let Some(k) = interrupted {
                    return Some(PumpExit::Interrupted {
                        key: k,
                        removed: true,
                    });
                }
                if let (Some(d), Budget::Time(limit), true) =
                    (elapsed, limits.budget, limits.per_slice)
                {
                    if d > limit && !limits.hard {
                        return Some(PumpExit::Interrupted {
                            key,
                            removed: false,
                        });
                    }
                }
                None
            }
            Some(how) => {
                drop(st);
                self.finish(key, fiber, how);
                if timing {
                    self.hooks_after_slice(key, started_at, elapsed, true);
                }
                let mut st = self.st.borrow_mut();
                if let Some(failure) = st.failures.pop_front() {
                    drop(st);
                    return self.report(failure, limits);
                }
                None
            }
        }
    }

    /// Routes a failure to the error handler, or out of the pump.
    fn report(self: &Rc<Self>, failure: TaskletFailure, limits: &PumpLimits) -> Option<PumpExit> {
        let handler = self.hooks.borrow_mut().error_handler.take();
        match handler {
            Some(mut handler) => {
                handler(failure);
                let mut hooks = self.hooks.borrow_mut();
                if hooks.error_handler.is_none() {
                    hooks.error_handler = Some(handler);
                }
                None
            }
            None if limits.until_main => {
                // Main is blocked in a call that is not run(): keep it for the next run().
                self.st.borrow_mut().failures.push_back(failure);
                None
            }
            None => Some(PumpExit::Failed(failure)),
        }
    }

    /// A tasklet's body ended: return its stack, drop its record, tell its observers.
    pub(crate) fn finish(self: &Rc<Self>, key: Key, fiber: Fiber, how: FiberExit) {
        let exit = match how {
            FiberExit::Returned => Exit::Returned,
            FiberExit::Panicked(payload) if payload.is::<TaskletExit>() => Exit::Killed,
            FiberExit::Panicked(payload) => match payload.downcast::<crate::spawn::UncaughtThrow>()
            {
                Ok(uncaught) => Exit::Failed(FailureKind::Uncaught(uncaught.0)),
                Err(payload) => Exit::Failed(FailureKind::Panicked {
                    message: panic_message(&*payload),
                    payload,
                }),
            },
        };
        // Before the record goes, so that the callback can still read the tasklet's name.
        self.hooks_on_exit(key);
        let record = {
            let mut st = self.st.borrow_mut();
            let stack = fiber.into_stack();
            st.pool.give(stack);
            st.alive -= 1;
            let record = st.tasklets.remove(key).expect("finishing a live tasklet");
            if record.state == TaskletState::Scheduled {
                st.scheduled -= 1;
            }
            record
        };
        let claimed = match &record.exit_observer {
            Some(obs) => obs.exited(&exit),
            None => false,
        };
        let hook_name = record.name.clone();
        drop(record);
        if let Exit::Failed(kind) = exit {
            if !claimed {
                let failure = TaskletFailure {
                    tasklet: key.id(),
                    name: hook_name.map(|n| n.to_string()),
                    kind,
                };
                self.st.borrow_mut().failures.push_back(failure);
            }
        }
    }

    /// Ends a tasklet that never started: drop its closure, free its stack.
    pub(crate) fn discard_unstarted(self: &Rc<Self>, key: Key, exit: Exit) {
        let (fiber, record) = {
            let mut st = self.st.borrow_mut();
            let Some(mut record) = st.tasklets.remove(key) else {
                return;
            };
            if record.state == TaskletState::Scheduled {
                st.scheduled -= 1;
            }
            st.alive -= 1;
            (record.fiber.take(), record)
        };
        if let Some(fiber) = fiber {
            // Dropping the closure runs user destructors: outside the borrow.
            let stack = fiber.into_stack();
            self.st.borrow_mut().pool.give(stack);
        }
        if let Some(obs) = &record.exit_observer {
            obs.exited(&exit);
        }
        drop(record);
    }
}

/// Marks the pump as stopped and drops its garbage when a pump call ends, by return or
/// by a panic from a hook.
struct StopPump<'a>(&'a Rc<Shared>);

impl Drop for StopPump<'_> {
    fn drop(&mut self) {
        let garbage = {
            let Ok(mut st) = self.0.st.try_borrow_mut() else {
                return;
            };
            st.pumping = false;
            st.watch = Watch::default();
            let main = st.main;
            st.current = main;
            std::mem::take(&mut st.garbage)
        };
        drop(garbage);
    }
}

/// Whether the budget of this pump call is spent (checked before each slice).
fn budget_exit(st: &State, limits: &PumpLimits) -> Option<PumpExit> {
    match limits.budget {
        Budget::Unlimited => None,
        Budget::Resumes(n) => (st.pump.resumes >= n).then_some(PumpExit::BudgetSpent),
        Budget::Time(d) if !limits.per_slice => {
            let started = st.pump.started?;
            (started.elapsed() >= d).then_some(PumpExit::BudgetSpent)
        }
        Budget::Time(_) => None,
    }
}
