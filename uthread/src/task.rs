//! The tasklet record ([`Task`], one per tasklet, shared by the registry, the run queue,
//! wait lists and handles) and the public handle around it ([`Tasklet`]), with what a
//! record links to: its wait entries, its exit observer, its local storage.
//!
//! Everything here is plain data and what can be read off it; what needs the scheduler
//! (queueing, waking, switching) is in `core.rs` and above.

use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::rc::{Rc, Weak};
use std::time::Duration;

use crate::error::{FailureKind, Thrown};
use crate::id::{Key, ObjectRef, TaskletId};
use crate::state::{Blocked, BlockedOn, TaskletState, Wake};
use crate::sys::fiber::Fiber;

slotmap::new_key_type! {
    /// Names one entry in a wait list.
    pub(crate) struct WaitKey;
}

/// Something a tasklet can be blocked on, seen from the scheduler: it can take the
/// tasklet's entry off its queue.
pub(crate) trait Cancel {
    /// Takes the entry off the queue if it is still waiting; the owner collects it later.
    /// Must touch only the primitive's own state (never the scheduler's).
    fn cancel(&self, key: WaitKey);

    /// The object, as named in a [`BlockedOn`] (None when the kind says it all).
    fn describe(&self) -> Option<ObjectRef>;
}

/// A blocked tasklet's link to one of its wait entries.
pub(crate) struct WaitRef {
    pub(crate) target: Rc<dyn Cancel>,
    pub(crate) key: WaitKey,
}

impl fmt::Debug for WaitRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitRef")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
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
    pub(crate) fn holds_last_ref(&self) -> bool {
        match self {
            Waits::None => false,
            Waits::One(w) => Rc::strong_count(&w.target) == 1,
            Waits::Many(v) => v.iter().any(|w| Rc::strong_count(&w.target) == 1),
        }
    }

    pub(crate) fn cancel_all(&self) {
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
pub(crate) const TASK_HOT_BYTES: usize = std::mem::offset_of!(Task, fiber);
/// Bytes at the start of a [`Task`] that a resume touches (the hot fields and the fiber).
pub(crate) const TASK_RESUME_BYTES: usize = std::mem::offset_of!(Task, waits);

/// Panic payload for a tasklet that received a throw before it started.
pub(crate) struct UncaughtThrow(pub(crate) Thrown);

/// One tasklet's local values.
#[derive(Default)]
pub(crate) struct Locals {
    pub(crate) values: HashMap<TypeId, Box<dyn Any>>,
}

impl std::fmt::Debug for Locals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locals")
            .field("len", &self.values.len())
            .finish()
    }
}

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
    /// Its scheduler (a `Shared`), type-erased so that the record sits below the scheduler
    /// core; `Task::scheduler` in `core.rs` gives it back typed.
    pub(crate) sched: Weak<dyn Any>,
    pub(crate) name: RefCell<Option<Rc<str>>>,
    pub(crate) run_time: Cell<Duration>,
    pub(crate) stack_size: Cell<usize>,
    pub(crate) locals: RefCell<Option<Locals>>,
    pub(crate) exit_observer: RefCell<Option<Rc<dyn ExitObserver>>>,
}

impl Task {
    pub(crate) fn new(
        key: Key,
        sched: Weak<dyn Any>,
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

/// A handle to a tasklet (cheap to clone). After the tasklet ends the handle still
/// answers questions about it (its id and name; its state is `Dead`).
///
/// Tasklets are `!Send`: they belong to one scheduler on one thread.
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<uthread::Tasklet>();
/// ```
#[derive(Clone)]
pub struct Tasklet {
    pub(crate) task: Rc<Task>,
}

impl PartialEq for Tasklet {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.task, &other.task)
    }
}

impl Eq for Tasklet {}

impl Hash for Tasklet {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::ptr::hash(Rc::as_ptr(&self.task), state);
    }
}

impl fmt::Debug for Tasklet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Tasklet");
        d.field("id", &self.id());
        if let Some(name) = self.name() {
            d.field("name", &name);
        }
        d.field("state", &self.state());
        if let Some(on) = self.blocked_on() {
            d.field("blocked_on", &on);
        }
        d.finish()
    }
}

impl fmt::Display for Tasklet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} '{name}'", self.id()),
            None => write!(f, "{}", self.id()),
        }
    }
}

impl Tasklet {
    pub(crate) fn from_task(task: Rc<Task>) -> Tasklet {
        Tasklet { task }
    }

    /// This tasklet's id (unique among the live tasklets of its scheduler).
    pub fn id(&self) -> TaskletId {
        self.task.key.id()
    }

    /// Its name, if it was given one.
    pub fn name(&self) -> Option<String> {
        self.task.name.borrow().as_deref().map(str::to_owned)
    }

    /// Where it stands now.
    pub fn state(&self) -> TaskletState {
        self.task.state.get()
    }

    /// Whether it has not finished yet.
    pub fn is_alive(&self) -> bool {
        self.task.is_alive()
    }

    /// Whether it is in the run queue.
    pub fn is_scheduled(&self) -> bool {
        self.state() == TaskletState::Scheduled
    }

    /// Whether it waits on a channel, timer or primitive.
    pub fn is_blocked(&self) -> bool {
        self.state() == TaskletState::Blocked
    }

    /// Whether it is alive but neither queued, running nor blocked.
    pub fn is_paused(&self) -> bool {
        self.state() == TaskletState::Paused
    }

    /// Whether it has started running.
    pub fn is_started(&self) -> bool {
        self.task.started.get()
    }

    /// Whether it is atomic (the watchdog never interrupts it).
    pub fn is_atomic(&self) -> bool {
        self.task.atomic.get()
    }

    /// What it is blocked on, if it is blocked.
    pub fn blocked_on(&self) -> Option<BlockedOn> {
        self.task.blocked_on()
    }

    /// When a blocked tasklet's timer will wake it (game time since the clock started):
    /// a sleep's end, or a timed wait's deadline. `None` if it waits without a deadline
    /// or is not blocked.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let sched = uthread::Scheduler::builder().manual_clock().build();
    /// let inbox = uthread::Queue::<u32>::new();
    /// let rx = inbox.clone();
    /// let t = sched.spawn(move || rx.get_timeout(Duration::from_secs(3))).unwrap();
    /// sched.run().unwrap();
    /// assert_eq!(t.tasklet().wake_deadline(), Some(Duration::from_secs(3)));
    /// ```
    pub fn wake_deadline(&self) -> Option<Duration> {
        (self.task.state.get() == TaskletState::Blocked && self.task.timer_armed.get())
            .then(|| self.task.deadline.get())
    }

    /// How many times it has been resumed.
    pub fn switch_count(&self) -> u64 {
        self.task.switches.get()
    }

    /// Wall time it has run, summed over its slices (measured only when the scheduler
    /// times slices: see [`SchedulerBuilder::timing`](crate::SchedulerBuilder::timing)).
    pub fn run_time(&self) -> Duration {
        self.task.run_time.get()
    }

    /// The usable size of its stack, in bytes (0 for the main context and once dead).
    pub fn stack_size(&self) -> usize {
        if self.task.is_alive() {
            self.task.stack_size.get()
        } else {
            0
        }
    }
}
