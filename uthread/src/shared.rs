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
//! Layout, for speed: each tasklet's record is a reference-counted [`Task`] whose hot
//! fields are `Cell`s. The run queue, wait lists and handles hold `Rc<Task>`s, so a switch
//! touches the record directly, with no lookup, and resumes its fiber in place. The
//! scheduler's own state is split into small cells so that no operation borrows more
//! than it needs. The slot map (`registry`) is only for ids and whole-scheduler scans.
//!
//! Borrow discipline: no `RefCell` of the scheduler is borrowed while user code runs (a
//! tasklet body, a hook, a destructor of user data). Wait refs removed by a wake may hold
//! the last handle to a primitive, so they go to `garbage` and the pump drops them.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use slotmap::{Key as _, SlotMap};

use crate::error::{panic_message, FailureKind, TaskletFailure, Thrown, WaitError};
use crate::hooks::Hooks;
use crate::local::Locals;
use crate::pool::StackPool;
use crate::sys::fiber::{self, Fiber, FiberExit};
use crate::tasklet::{BlockedOn, TaskletState};
use crate::time::{Clock, Timers};
use crate::wait::WaitRef;
use crate::{Budget, ObjectRef, TaskletExit, TaskletId};

slotmap::new_key_type! {
    /// A tasklet's slot in its scheduler's registry; its id.
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

/// Whether a wake was a primitive serving the tasklet (kept after the reason moves).
#[derive(Clone, Copy)]
enum ReasonKind {
    Signaled,
    Other,
}

/// A tasklet's wait entries (more than one only inside `select`).
#[derive(Debug, Default)]
pub(crate) enum Waits {
    #[default]
    None,
    One(WaitRef),
    Many(Vec<WaitRef>),
}

impl Waits {
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

/// Bytes at the start of a [`Task`] that a state change touches (up to `blocked`).
const TASK_HOT_BYTES: usize = std::mem::offset_of!(Task, fiber);
/// Bytes at the start of a [`Task`] that a resume touches (the hot fields and the fiber).
const TASK_RESUME_BYTES: usize = std::mem::offset_of!(Task, waits);

/// Everything the scheduler knows about one tasklet. Shared (`Rc`) by the registry, the
/// run queue while it is queued, wait lists while it waits, and its handles; it outlives
/// the tasklet as a tombstone whose state is `Dead`.
#[repr(C)]
pub(crate) struct Task {
    // Hot: what every switch reads or writes, first (with the `Rc` counts just before
    // it, these share the record's first cache line; the fiber's state follows).
    pub(crate) state: Cell<TaskletState>,
    pub(crate) started: Cell<bool>,
    /// Whether a timer entry for the current block is armed.
    pub(crate) timer_armed: Cell<bool>,
    /// `kill_requested || wake.is_some()`: lets the common path (nothing pending) check
    /// one flag instead of moving `wake` out and back.
    interrupt: Cell<bool>,
    /// Bumped each time it enters the run queue; stale queue entries are skipped.
    pub(crate) ticket: Cell<u32>,
    /// Bumped each time it blocks; stale timer and be_nice entries are skipped.
    pub(crate) block_seq: Cell<u32>,
    /// Sticky: once killed, every later blocking call unwinds again.
    pub(crate) kill_requested: Cell<bool>,
    /// A kill started unwinding its stack, or it suspended while a panic was unwinding.
    /// With `std::thread::panicking()` this tells its own destructors (which must not be
    /// unwound twice) apart from the other stacks on the thread that the panic count also
    /// covers (a main context dropping the scheduler while it panics, a tasklet suspended
    /// half-way through a panic).
    pub(crate) unwinding: Cell<bool>,
    pub(crate) atomic: Cell<bool>,
    pub(crate) switches: Cell<u64>,
    /// Kill unwinds started in a row without the tasklet dying (it caught them).
    pub(crate) kills: Cell<u32>,
    /// It caught [`KILL_RETRIES`](crate::tasklet::KILL_RETRIES) kills in a row and was
    /// parked (paused) instead of being unwound again.
    pub(crate) kill_refused: Cell<bool>,
    /// What it is blocked on, cheaply (the full [`BlockedOn`] is built when asked).
    pub(crate) blocked: Cell<Blocked>,
    /// `None` for the main pseudo-tasklet and once the tasklet has ended. Borrowed by the
    /// pump for the whole of a slice (the tasklet never touches its own fiber).
    pub(crate) fiber: RefCell<Option<Fiber>>,
    // Cold: waits, identity, introspection, end of life.
    pub(crate) waits: Cell<Waits>,
    /// Why it was last made runnable, if not plainly signaled; read by its blocking call.
    pub(crate) wake: Cell<Option<Wake>>,
    /// The armed timer's deadline (game time), while `timer_armed`.
    pub(crate) deadline: Cell<Duration>,
    /// Its slot in the registry (its id).
    pub(crate) key: Key,
    pub(crate) sched: Weak<Shared>,
    pub(crate) name: RefCell<Option<Rc<str>>>,
    pub(crate) run_time: Cell<Duration>,
    pub(crate) stack_size: Cell<usize>,
    pub(crate) locals: RefCell<Option<Locals>>,
    pub(crate) exit_observer: RefCell<Option<Rc<dyn ExitObserver>>>,
}

impl Task {
    fn new(
        key: Key,
        sched: Weak<Shared>,
        name: Option<Rc<str>>,
        state: TaskletState,
        atomic: bool,
    ) -> Task {
        Task {
            key,
            sched,
            state: Cell::new(state),
            started: Cell::new(false),
            ticket: Cell::new(0),
            block_seq: Cell::new(0),
            timer_armed: Cell::new(false),
            deadline: Cell::new(Duration::ZERO),
            kill_requested: Cell::new(false),
            kills: Cell::new(0),
            kill_refused: Cell::new(false),
            unwinding: Cell::new(false),
            atomic: Cell::new(atomic),
            wake: Cell::new(None),
            interrupt: Cell::new(false),
            waits: Cell::new(Waits::None),
            blocked: Cell::new(Blocked::Nothing),
            fiber: RefCell::new(None),
            name: RefCell::new(name),
            switches: Cell::new(0),
            run_time: Cell::new(Duration::ZERO),
            stack_size: Cell::new(0),
            locals: RefCell::new(None),
            exit_observer: RefCell::new(None),
        }
    }

    /// Whether it has not ended.
    #[inline]
    pub(crate) fn is_alive(&self) -> bool {
        self.state.get() != TaskletState::Dead
    }

    /// Wakes it (if it is still blocked) with `reason`, at the back of its scheduler's
    /// run queue or at the front.
    #[inline]
    pub(crate) fn wake(self: &Rc<Self>, reason: Wake, front: bool) -> bool {
        match self.sched.upgrade() {
            Some(shared) => shared.wake(self, reason, front),
            None => false,
        }
    }

    /// Whether a pending wake is a kill (without taking it).
    fn kill_pending(&self) -> bool {
        let wake = self.wake.take();
        let kill = matches!(wake, Some(Wake::Kill));
        self.wake.set(wake);
        kill
    }

    /// Records `reason` as pending, unless a kill already is (a kill outranks anything).
    pub(crate) fn set_pending(&self, reason: Wake) {
        if !self.kill_pending() {
            self.wake.set(Some(reason));
        }
        self.interrupt.set(true);
    }

    /// Marks it killed: every blocking call from now on unwinds it.
    pub(crate) fn request_kill(&self) {
        self.kill_requested.set(true);
        self.interrupt.set(true);
    }

    /// A kill or throw waiting for it (see
    /// [`pending_interrupt`](crate::wait::pending_interrupt)).
    #[inline]
    pub(crate) fn take_interrupt(&self) -> Option<Wake> {
        if !self.interrupt.get() {
            return None;
        }
        self.take_interrupt_slow()
    }

    #[cold]
    fn take_interrupt_slow(&self) -> Option<Wake> {
        if self.kill_requested.get() {
            return Some(Wake::Kill);
        }
        self.interrupt.set(false);
        self.wake.take()
    }

    /// Why it was just resumed (it is the caller, back from a switch).
    #[inline]
    pub(crate) fn take_wake(&self) -> Wake {
        if !self.interrupt.get() {
            return Wake::Signaled;
        }
        self.take_wake_slow()
    }

    #[cold]
    fn take_wake_slow(&self) -> Wake {
        let wake = self.wake.take().unwrap_or(Wake::Signaled);
        self.interrupt.set(self.kill_requested.get());
        if self.kill_requested.get() && !(self.unwinding.get() && std::thread::panicking()) {
            return Wake::Kill;
        }
        wake
    }
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Task");
        d.field("id", &self.key.id())
            .field("state", &self.state.get());
        if let Some(name) = self.name.borrow().as_deref() {
            d.field("name", &name);
        }
        d.finish()
    }
}

/// A tasklet, from inside the crate.
pub(crate) type TaskletRef = Rc<Task>;

/// What a blocked tasklet waits for, as recorded on the hot path: a small `Copy` kind.
/// The object it waits on is the target of its (first) wait entry, so a full
/// [`BlockedOn`] can be built from the two when somebody asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Blocked {
    Nothing,
    Send,
    Receive,
    Select { arms: usize },
    Sleep { until: Duration },
    NextTick,
    Lock,
    Semaphore,
    Condition,
    Event,
    QueueGet,
    QueuePut,
    Barrier,
    Join(TaskletId),
    Future,
}

impl Task {
    /// What it is blocked on, described in full (None unless it is blocked).
    pub(crate) fn blocked_on(&self) -> Option<BlockedOn> {
        if self.state.get() != TaskletState::Blocked {
            return None;
        }
        let object = || {
            let waits = self.waits.take();
            let object = match &waits {
                Waits::One(w) => w.target.describe(),
                Waits::Many(v) => v.first().and_then(|w| w.target.describe()),
                Waits::None => None,
            };
            self.waits.set(waits);
            object
        };
        let with_object =
            |make: fn(ObjectRef) -> BlockedOn| object().map_or(BlockedOn::Unknown, make);
        Some(match self.blocked.get() {
            Blocked::Nothing => BlockedOn::Unknown,
            Blocked::Send => with_object(BlockedOn::Send),
            Blocked::Receive => with_object(BlockedOn::Receive),
            Blocked::Select { arms } => BlockedOn::Select { arms },
            Blocked::Sleep { until } => BlockedOn::Sleep { until },
            Blocked::NextTick => BlockedOn::NextTick,
            Blocked::Lock => with_object(BlockedOn::Lock),
            Blocked::Semaphore => with_object(BlockedOn::Semaphore),
            Blocked::Condition => with_object(BlockedOn::Condition),
            Blocked::Event => with_object(BlockedOn::Event),
            Blocked::QueueGet => with_object(BlockedOn::QueueGet),
            Blocked::QueuePut => with_object(BlockedOn::QueuePut),
            Blocked::Barrier => with_object(BlockedOn::Barrier),
            Blocked::Join(id) => BlockedOn::Join(id),
            Blocked::Future => BlockedOn::Future,
        })
    }
}

/// Settings fixed when the scheduler is built.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) stack_size: usize,
    /// Default stack strategy for its tasklets (a spawn may override it).
    pub(crate) stack_strategy: crate::stack::StackStrategy,
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

    pub(crate) const UNLIMITED: PumpLimits = PumpLimits {
        until_main: false,
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
    queue: RefCell<VecDeque<(Rc<Task>, u32)>>,
    /// Live entries in `queue` (the run count minus the current tasklet).
    pub(crate) scheduled: Cell<usize>,
    /// be_nice waiters (with their block number), woken at the next tick.
    nice: RefCell<Vec<(Rc<Task>, u32)>>,
    /// Tasklets blocked in be_nice right now (the list may also hold stale entries).
    pub(crate) nice_live: Cell<usize>,
    /// Tasklets alive, main excluded.
    pub(crate) alive: Cell<usize>,
    /// Waits on things another thread may end (futures, remote receivers); while nonzero,
    /// an empty run queue is not a deadlock.
    pub(crate) external_wakers: Cell<usize>,
    pub(crate) pumping: Cell<bool>,
    pub(crate) closing: Cell<bool>,
    /// Its `Scheduler` was dropped while its pump ran: torn down when the pump returns.
    pub(crate) orphaned: Cell<bool>,
    /// Wait refs whose drop may run user code, dropped by the pump.
    garbage: RefCell<Vec<Waits>>,
    /// Under a hard budget: when the running slice (or the whole call) must stop.
    pub(crate) hard_deadline: Cell<Option<Instant>>,
    /// Set by a tasklet that interrupted itself (hard mode).
    pub(crate) interrupted: RefCell<Option<Rc<Task>>>,
    /// Resumes made by the current (or last) pump call.
    pub(crate) resumes: Cell<u64>,
    /// When the current pump call started (only under a time budget).
    pump_started: Cell<Option<Instant>>,
    /// When the slice just before the next budget check ended, if nothing (no user
    /// code) has run since: the check reuses that clock read instead of taking another.
    slice_ended_at: Cell<Option<Instant>>,
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
    pub(crate) remote: crate::remote::RemoteHub,
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
    pub(crate) fn new(
        config: Config,
        clock: Clock,
        remote: crate::remote::RemoteHub,
    ) -> Rc<Shared> {
        Rc::new_cyclic(|weak| {
            let mut registry = SlotMap::with_key();
            let main = registry.insert_with_key(|key| {
                Rc::new(Task::new(
                    key,
                    weak.clone(),
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
                garbage: RefCell::new(Vec::new()),
                hard_deadline: Cell::new(None),
                interrupted: RefCell::new(None),
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
                remote,
            }
        })
    }

    /// The running tasklet (main between slices and outside the pump).
    #[inline]
    pub(crate) fn current_task(&self) -> Rc<Task> {
        self.current.borrow().clone()
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
                Rc::downgrade(self),
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
    fn pop_next(&self) -> Option<Rc<Task>> {
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
            let suspended = fiber::suspend();
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

    /// Runs queued tasklets until `limits` says stop.
    pub(crate) fn pump(self: &Rc<Self>, limits: PumpLimits) -> PumpExit {
        let _enter = Enter::new(self);
        self.pumping.set(true);
        // Only a time budget reads the clock: a clock read costs more than a switch.
        let started = matches!(limits.budget, Budget::Time(_)).then(Instant::now);
        self.pump_started.set(started);
        self.slice_ended_at.set(None);
        self.resumes.set(0);
        *self.longest.borrow_mut() = None;
        *self.interrupted.borrow_mut() = None;
        let hard_total = match (limits.budget, limits.hard, limits.per_slice) {
            (Budget::Time(d), true, false) => started.map(|t0| t0 + d),
            _ => None,
        };
        self.hard_deadline.set(hard_total);
        // Ends the pump even if a hook (user code) panics through it.
        let _stop = StopPump(self);
        self.pump_loop(limits)
    }

    fn pump_loop(self: &Rc<Self>, limits: PumpLimits) -> PumpExit {
        let timing = self.config.borrow().timing || matches!(limits.budget, Budget::Time(_));
        loop {
            if !self.garbage.borrow().is_empty() {
                // Dropping it may run user code: the last slice's end time is stale.
                self.slice_ended_at.set(None);
                let garbage = std::mem::take(&mut *self.garbage.borrow_mut());
                drop(garbage);
            }
            if let Some(exit) = self.budget_exit(&limits) {
                return exit;
            }
            let Some(task) = self.pop_next() else {
                match self.idle(limits) {
                    Some(exit) => return exit,
                    None => continue,
                }
            };
            if Rc::ptr_eq(&task, &self.main) {
                task.state.set(TaskletState::Running);
                if limits.until_main {
                    *self.current.borrow_mut() = task;
                    return PumpExit::MainResumed;
                }
                // Main is already running (it called run()); nothing to do.
                continue;
            }
            if let Some(exit) = self.run_slice(task, timing, &limits) {
                return exit;
            }
        }
    }

    /// Whether the budget of this pump call is spent (checked before each slice).
    #[inline]
    fn budget_exit(&self, limits: &PumpLimits) -> Option<PumpExit> {
        match limits.budget {
            Budget::Unlimited => None,
            Budget::Resumes(n) => (self.resumes.get() >= n).then_some(PumpExit::BudgetSpent),
            Budget::Time(d) if !limits.per_slice => {
                let started = self.pump_started.get()?;
                let now = self.slice_ended_at.take().unwrap_or_else(Instant::now);
                (now.duration_since(started) >= d).then_some(PumpExit::BudgetSpent)
            }
            Budget::Time(_) => None,
        }
    }

    /// The run queue is empty: start a tick, wait for time or remote wakes, or stop.
    fn idle(self: &Rc<Self>, limits: PumpLimits) -> Option<PumpExit> {
        // Remote messages and future wakes first: they may make tasklets runnable.
        if self.remote.drain_into(self) {
            return None;
        }
        let manual = self.clock.borrow().is_manual();
        if manual {
            // The owner drives this clock (a frame driver): never block its thread, except
            // for the main context, which asked to block until it is woken.
            if self.timers.borrow().live() > 0 || self.nice_live.get() > 0 {
                return Some(PumpExit::WaitingForTick);
            }
            if self.external_wakers.get() > 0 {
                if !limits.until_main {
                    return Some(PumpExit::WaitingForTick);
                }
                self.remote.wait(None);
                return None;
            }
            return Some(PumpExit::Drained);
        }
        // Real clock: an empty queue ends the tick.
        if self.nice_live.get() > 0 {
            self.wake_nice();
            self.expire_timers();
            return None;
        }
        if let Some(next) = self.next_live_deadline() {
            let now = self.now();
            if next <= now {
                self.expire_timers();
                return None;
            }
            self.remote.wait(Some(next - now));
            self.expire_timers();
            return None;
        }
        if self.external_wakers.get() > 0 {
            self.remote.wait(None);
            return None;
        }
        Some(PumpExit::Drained)
    }

    /// Resumes one tasklet for one slice.
    #[inline]
    fn run_slice(
        self: &Rc<Self>,
        task: Rc<Task>,
        timing: bool,
        limits: &PumpLimits,
    ) -> Option<PumpExit> {
        task.state.set(TaskletState::Running);
        let starting = !task.started.replace(true);
        *self.current.borrow_mut() = task.clone();
        if self.hooks_active.get() {
            self.hooks_on_switch(&task, starting);
        }
        self.prefetch_ahead();
        if !timing && !limits.hard {
            // The common case (a frame driver counting resumes, or a plain run): no
            // clock, no watchdog.
            let exit = {
                let mut fiber = task.fiber.borrow_mut();
                fiber
                    .as_mut()
                    .expect("a queued tasklet has a fiber")
                    .resume()
            };
            *self.current.borrow_mut() = self.main.clone();
            self.resumes.set(self.resumes.get() + 1);
            task.switches.set(task.switches.get() + 1);
            return match exit {
                None => {
                    if task.state.get() == TaskletState::Running {
                        // Suspended without saying where to (cannot happen through the API).
                        task.state.set(TaskletState::Paused);
                    }
                    None
                }
                Some(how) => self.slice_ended(&task, how, None, None, false, limits),
            };
        }
        self.run_slice_watched(task, timing, limits)
    }

    /// Starts fetching what the next resumes will read while this slice runs: the next
    /// tasklet's frames (its record was asked for one slice ago) and the record of the
    /// one after it. With thousands of tasklets each resume otherwise waits for memory
    /// several times in a row (record, then fiber, then stack).
    ///
    /// Skipped for short queues: a few hundred tasklets' records and frames stay in
    /// cache anyway, and the hints would only add instructions to every switch.
    #[inline]
    fn prefetch_ahead(&self) {
        /// Queue length from which the hints pay for themselves.
        const MIN_QUEUE: usize = 256;
        let queue = self.queue.borrow();
        if queue.len() < MIN_QUEUE {
            return;
        }
        if let Some((next, _)) = queue.front() {
            if let Ok(fiber) = next.fiber.try_borrow() {
                if let Some(fiber) = fiber.as_ref() {
                    fiber.prefetch();
                }
            }
        }
        if let Some((after, _)) = queue.get(1) {
            crate::sys::prefetch::prefetch_record(after, TASK_RESUME_BYTES);
        }
    }

    /// A slice under timing or a hard watchdog.
    fn run_slice_watched(
        self: &Rc<Self>,
        task: Rc<Task>,
        timing: bool,
        limits: &PumpLimits,
    ) -> Option<PumpExit> {
        let started_at = if timing { Some(Instant::now()) } else { None };
        if let (Some(t0), Budget::Time(d), true, true) =
            (started_at, limits.budget, limits.per_slice, limits.hard)
        {
            self.hard_deadline.set(Some(t0 + d));
        }
        let exit = {
            let mut fiber = task.fiber.borrow_mut();
            fiber
                .as_mut()
                .expect("a queued tasklet has a fiber")
                .resume()
        };
        let ended_at = started_at.map(|_| Instant::now());
        let elapsed = started_at.zip(ended_at).map(|(t0, t1)| t1 - t0);
        *self.current.borrow_mut() = self.main.clone();
        self.resumes.set(self.resumes.get() + 1);
        task.switches.set(task.switches.get() + 1);
        if let Some(d) = elapsed {
            task.run_time.set(task.run_time.get() + d);
            let mut longest = self.longest.borrow_mut();
            if longest.as_ref().is_none_or(|(_, l)| d > *l) {
                *longest = Some((task.clone(), d));
            }
        }
        match exit {
            None => {
                if task.state.get() == TaskletState::Running {
                    // Suspended without saying where to (cannot happen through the API).
                    task.state.set(TaskletState::Paused);
                }
                let hooked = timing
                    && self.hooks_active.get()
                    && self.hooks_after_slice(&task, started_at, elapsed, false);
                if let Some(t) = self.interrupted.borrow_mut().take() {
                    return Some(PumpExit::Interrupted {
                        task: t,
                        removed: true,
                    });
                }
                if let (Some(d), Budget::Time(limit), true) =
                    (elapsed, limits.budget, limits.per_slice)
                {
                    if d > limit && !limits.hard {
                        return Some(PumpExit::Interrupted {
                            task,
                            removed: false,
                        });
                    }
                }
                if !hooked {
                    // Nothing has run since the clock read: the budget check may use it.
                    self.slice_ended_at.set(ended_at);
                }
                None
            }
            Some(how) => self.slice_ended(&task, how, started_at, elapsed, timing, limits),
        }
    }

    /// The tasklet's body ended in this slice.
    fn slice_ended(
        self: &Rc<Self>,
        task: &Rc<Task>,
        how: FiberExit,
        started_at: Option<Instant>,
        elapsed: Option<Duration>,
        timing: bool,
        limits: &PumpLimits,
    ) -> Option<PumpExit> {
        self.finish(task, how);
        if timing && self.hooks_active.get() {
            self.hooks_after_slice(task, started_at, elapsed, true);
        }
        let failure = self.failures.borrow_mut().pop_front();
        match failure {
            Some(failure) => self.report(failure, limits),
            None => None,
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
                self.failures.borrow_mut().push_back(failure);
                None
            }
            None => Some(PumpExit::Failed(failure)),
        }
    }

    /// Takes a tasklet that ended out of the registry and run accounting.
    fn retire(&self, task: &Task) {
        if task.state.get() == TaskletState::Scheduled {
            self.scheduled.set(self.scheduled.get() - 1);
        }
        task.state.set(TaskletState::Dead);
        self.alive.set(self.alive.get() - 1);
        let removed = self.registry.borrow_mut().remove(task.key);
        drop(removed);
    }

    /// A tasklet's body ended: return its stack, retire it, tell its observers.
    pub(crate) fn finish(self: &Rc<Self>, task: &Rc<Task>, how: FiberExit) {
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
        // Before it is retired, so that the callback can still see it alive by name.
        if self.hooks_active.get() {
            self.hooks_on_exit(task);
        }
        let fiber = task.fiber.borrow_mut().take();
        if let Some(fiber) = fiber {
            // The body has returned: taking the stack back runs no user code. An unwind
            // may have touched pages the tasklet never used: the pool gives them back.
            let stack = fiber.into_stack();
            let unwound = !matches!(exit, Exit::Returned);
            self.pool.borrow_mut().give(stack, unwound);
        }
        self.retire(task);
        self.tell_observer(task, exit);
    }

    /// Ends a tasklet that never started: drop its closure, free its stack.
    pub(crate) fn discard_unstarted(self: &Rc<Self>, task: &Rc<Task>, exit: Exit) {
        if !task.is_alive() {
            return;
        }
        self.retire(task);
        let fiber = task.fiber.borrow_mut().take();
        if let Some(fiber) = fiber {
            // Dropping the closure runs user destructors: no scheduler borrow is held.
            let stack = fiber.into_stack();
            self.pool.borrow_mut().give(stack, false);
        }
        self.tell_observer(task, exit);
    }

    /// Tells the join handle (if any) how the tasklet ended, reports an unclaimed
    /// failure, and drops the tasklet's locals (user destructors).
    fn tell_observer(&self, task: &Task, exit: Exit) {
        let observer = task.exit_observer.borrow_mut().take();
        let claimed = observer.as_ref().is_some_and(|obs| obs.exited(&exit));
        drop(observer);
        let locals = task.locals.borrow_mut().take();
        drop(locals);
        if let Exit::Failed(kind) = exit {
            if !claimed {
                let failure = TaskletFailure {
                    tasklet: task.key.id(),
                    name: task.name.borrow().as_deref().map(str::to_owned),
                    kind,
                };
                self.failures.borrow_mut().push_back(failure);
            }
        }
    }
}

impl Shared {
    /// Recomputes whether any hook is set (after a hook changes).
    pub(crate) fn refresh_hooks_active(&self) {
        let hooks = self.hooks.borrow();
        let active = hooks.error_handler.is_some()
            || hooks.schedule.is_some()
            || hooks.channel.is_some()
            || hooks.slice.is_some();
        self.hooks_active.set(active);
    }

    /// Empties the run queue, the be_nice list, the garbage and the registry (when the
    /// scheduler is dropped), breaking reference cycles through tasklet records.
    pub(crate) fn clear_queues(&self) {
        let queue = std::mem::take(&mut *self.queue.borrow_mut());
        let nice = std::mem::take(&mut *self.nice.borrow_mut());
        let garbage = std::mem::take(&mut *self.garbage.borrow_mut());
        let interrupted = self.interrupted.borrow_mut().take();
        let longest = self.longest.borrow_mut().take();
        drop((queue, nice, garbage, interrupted, longest));
        self.scheduled.set(0);
        self.nice_live.set(0);
    }
}

/// Marks the pump as stopped and drops its garbage when a pump call ends, by return or
/// by a panic from a hook.
struct StopPump<'a>(&'a Rc<Shared>);

impl Drop for StopPump<'_> {
    fn drop(&mut self) {
        let shared = self.0;
        shared.pumping.set(false);
        shared.hard_deadline.set(None);
        if let Ok(mut current) = shared.current.try_borrow_mut() {
            *current = shared.main.clone();
        }
        let garbage = shared
            .garbage
            .try_borrow_mut()
            .map(|mut g| std::mem::take(&mut *g));
        drop(garbage);
    }
}
