//! Tasklet handles, their states, and the scheduling calls a tasklet makes on itself.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::rc::Rc;
use std::time::Duration;

use crate::error::{TaskletError, Thrown, WaitError};
use crate::shared::{current_shared, Exit, Shared, Task, Wake};
use crate::{ObjectRef, TaskletExit, TaskletId};

/// Where a tasklet stands (Stackless's states).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskletState {
    /// In the run queue: it runs when its turn comes.
    Scheduled,
    /// Running now (or, for the main context, not inside any tasklet).
    Running,
    /// Waiting on a channel, timer or primitive; not in the run queue.
    Blocked,
    /// Alive but neither queued nor blocked (created paused, or removed).
    Paused,
    /// Returned, killed or panicked.
    Dead,
}

/// What a blocked tasklet waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlockedOn {
    /// Sending on a channel.
    Send(ObjectRef),
    /// Receiving on a channel.
    Receive(ObjectRef),
    /// A `select` over several arms.
    Select {
        /// How many arms it waits on.
        arms: usize,
    },
    /// Sleeping until this game time.
    Sleep {
        /// The deadline (game time since the clock started).
        until: Duration,
    },
    /// `be_nice`: waiting for the next tick.
    NextTick,
    /// Acquiring a lock.
    Lock(ObjectRef),
    /// Acquiring a semaphore.
    Semaphore(ObjectRef),
    /// Waiting on a condition variable.
    Condition(ObjectRef),
    /// Waiting for an event (or a one-shot value).
    Event(ObjectRef),
    /// Getting from a queue.
    QueueGet(ObjectRef),
    /// Putting into a full bounded queue.
    QueuePut(ObjectRef),
    /// Waiting at a barrier.
    Barrier(ObjectRef),
    /// Joining another tasklet.
    Join(TaskletId),
    /// Waiting for a `Future` to be woken.
    Future,
    /// Not recorded.
    Unknown,
}

impl fmt::Display for BlockedOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockedOn::Send(c) => write!(f, "sending on channel {c}"),
            BlockedOn::Receive(c) => write!(f, "receiving on channel {c}"),
            BlockedOn::Select { arms } => write!(f, "in a select over {arms} arms"),
            BlockedOn::Sleep { until } => write!(f, "sleeping until t={:.3}s", until.as_secs_f64()),
            BlockedOn::NextTick => f.write_str("waiting for the next tick (be_nice)"),
            BlockedOn::Lock(o) => write!(f, "acquiring lock {o}"),
            BlockedOn::Semaphore(o) => write!(f, "acquiring semaphore {o}"),
            BlockedOn::Condition(o) => write!(f, "waiting on condition {o}"),
            BlockedOn::Event(o) => write!(f, "waiting for event {o}"),
            BlockedOn::QueueGet(o) => write!(f, "getting from queue {o}"),
            BlockedOn::QueuePut(o) => write!(f, "putting into full queue {o}"),
            BlockedOn::Barrier(o) => write!(f, "waiting at barrier {o}"),
            BlockedOn::Join(t) => write!(f, "joining tasklet {t}"),
            BlockedOn::Future => f.write_str("waiting for a future"),
            BlockedOn::Unknown => f.write_str("blocked"),
        }
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
    task: Rc<Task>,
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

/// Kills a tasklet may catch in a row before it is parked rather than unwound again.
///
/// A kill is sticky: a tasklet that catches the [`TaskletExit`] unwind is killed again at
/// its next blocking call. One that keeps catching it (a `catch_unwind` around a blocking
/// call, in a loop) would never let [`Tasklet::kill`] return, so after this many kill
/// unwinds in a row it is parked instead: paused, alive, with its kill still pending.
/// `kill` then returns [`TaskletError::KillRefused`]; inserting the tasklet again gives
/// it another round of kills, and a scheduler being dropped leaks it (and says so on
/// stderr) rather than hang.
pub const KILL_RETRIES: u32 = 16;

/// Unwinds the calling tasklet because it is being killed (or parks it, when it has
/// caught [`KILL_RETRIES`] kills in a row).
pub(crate) fn unwind_kill() -> ! {
    if let Some(shared) = current_shared() {
        let me = shared.current_task();
        if !Rc::ptr_eq(&me, &shared.main) {
            let kills = me.kills.get() + 1;
            me.kills.set(kills);
            if kills > KILL_RETRIES {
                park_refusing_kill(&shared, &me);
                me.kills.set(1);
            }
        }
        me.unwinding.set(true);
    }
    std::panic::resume_unwind(Box::new(TaskletExit))
}

/// Takes a tasklet that keeps catching its kill out of the run: paused, flagged. Returns
/// if somebody inserts it again.
#[cold]
fn park_refusing_kill(shared: &Rc<Shared>, me: &Rc<Task>) {
    me.kill_refused.set(true);
    shared.dequeue(me, TaskletState::Paused);
    // The kill is still requested, so the wake says Kill whatever woke it: ignore it,
    // the caller unwinds again.
    let _ = shared.switch_out_as(me);
    me.kill_refused.set(false);
}

/// Whether the calling tasklet is running destructors of its own unwind (a kill, or a
/// panic it suspended in), so that a kill must refuse its blocking call rather than unwind
/// it again. The thread's panic count alone cannot tell: other stacks on the thread may be
/// panicking.
pub(crate) fn unwinding_from_kill() -> bool {
    std::thread::panicking()
        && current_shared().is_some_and(|shared| shared.current.borrow().unwinding.get())
}

/// After a switch that was not a blocking wait (kill, run, switch, a channel handing
/// over): unwind on a kill; keep a thrown error for the next blocking call.
#[inline]
pub(crate) fn settle_after_switch(shared: &Rc<Shared>, wake: Wake) {
    match wake {
        Wake::Kill => unwind_kill(),
        Wake::Thrown(t) => shared.current.borrow().set_pending(Wake::Thrown(t)),
        Wake::Signaled | Wake::Timer | Wake::Deadlock => {}
    }
}

impl Tasklet {
    pub(crate) fn from_task(task: Rc<Task>) -> Tasklet {
        Tasklet { task }
    }

    /// The tasklet's scheduler, if it still exists.
    fn scheduler(&self) -> Option<Rc<Shared>> {
        self.task.sched.upgrade()
    }

    /// This tasklet's id (unique among the live tasklets of its scheduler).
    pub fn id(&self) -> TaskletId {
        self.task.key.id()
    }

    /// Its name, if it was given one.
    pub fn name(&self) -> Option<String> {
        self.task.name.borrow().as_deref().map(str::to_owned)
    }

    /// Renames it (shown in reports and deadlock lists; an overflow report shows the name
    /// it was spawned with).
    pub fn set_name(&self, name: &str) {
        *self.task.name.borrow_mut() = Some(Rc::from(name));
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

    /// Whether it is the caller.
    pub fn is_current(&self) -> bool {
        self.task.is_alive()
            && self
                .scheduler()
                .is_some_and(|s| Rc::ptr_eq(&s.current.borrow(), &self.task))
    }

    /// Whether it is the main context (code outside any tasklet).
    pub fn is_main(&self) -> bool {
        self.scheduler()
            .is_some_and(|s| Rc::ptr_eq(&s.main, &self.task))
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

    /// Appends a paused tasklet to the run queue. Already scheduled, or the caller: no-op.
    ///
    /// # Errors
    ///
    /// [`TaskletError::Dead`], or [`TaskletError::Blocked`] (a blocked tasklet cannot be
    /// inserted).
    pub fn insert(&self) -> Result<(), TaskletError> {
        let shared = self.live_shared()?;
        match self.task.state.get() {
            TaskletState::Paused => {
                shared.enqueue(&self.task, false);
                Ok(())
            }
            TaskletState::Blocked => Err(TaskletError::Blocked),
            TaskletState::Scheduled | TaskletState::Running => Ok(()),
            TaskletState::Dead => Err(TaskletError::Dead),
        }
    }

    /// Takes a scheduled tasklet out of the run queue; it becomes paused. Already paused:
    /// no-op.
    ///
    /// # Errors
    ///
    /// [`TaskletError::Dead`], [`TaskletError::Blocked`], [`TaskletError::IsMain`], or
    /// [`TaskletError::IsCurrent`] (use [`schedule_remove`] to pause yourself).
    pub fn remove(&self) -> Result<(), TaskletError> {
        let shared = self.live_shared()?;
        if Rc::ptr_eq(&shared.main, &self.task) {
            return Err(TaskletError::IsMain);
        }
        if Rc::ptr_eq(&shared.current.borrow(), &self.task) {
            return Err(TaskletError::IsCurrent);
        }
        match self.task.state.get() {
            TaskletState::Scheduled => {
                shared.dequeue(&self.task, TaskletState::Paused);
                Ok(())
            }
            TaskletState::Paused => Ok(()),
            TaskletState::Blocked => Err(TaskletError::Blocked),
            TaskletState::Running | TaskletState::Dead => Err(TaskletError::Dead),
        }
    }

    /// Switches to this tasklet now; the caller stays runnable, right behind it.
    ///
    /// # Errors
    ///
    /// [`TaskletError::Dead`], [`TaskletError::Blocked`], or
    /// [`TaskletError::OtherScheduler`] when called from another scheduler's tasklet.
    pub fn run(&self) -> Result<(), TaskletError> {
        self.switch_to(true)
    }

    /// Switches to this tasklet now; the caller becomes paused (someone must insert it
    /// again). From the main context, main resumes once nothing else can run.
    ///
    /// # Errors
    ///
    /// As [`Tasklet::run`].
    pub fn switch(&self) -> Result<(), TaskletError> {
        self.switch_to(false)
    }

    fn switch_to(&self, caller_stays: bool) -> Result<(), TaskletError> {
        let shared = self.caller_shared()?;
        if !self.task.is_alive() {
            return Err(TaskletError::Dead);
        }
        let me = shared.current_task();
        if Rc::ptr_eq(&me, &self.task) {
            return Ok(());
        }
        if self.task.state.get() == TaskletState::Blocked {
            return Err(TaskletError::Blocked);
        }
        if caller_stays {
            shared.enqueue(&me, true);
        } else {
            shared.dequeue(&me, TaskletState::Paused);
        }
        shared.enqueue(&self.task, true);
        let wake = shared.switch_out();
        settle_after_switch(&shared, wake);
        Ok(())
    }

    /// Kills the tasklet: it is taken off whatever it waits on, its stack unwinds (every
    /// destructor runs once) and it is dead when this returns. A tasklet that never
    /// started just has its closure dropped. Killing a dead tasklet does nothing; killing
    /// yourself unwinds at once.
    ///
    /// # Errors
    ///
    /// [`TaskletError::IsMain`] for the main context, [`TaskletError::OtherScheduler`]
    /// from another scheduler's tasklet.
    ///
    /// # Examples
    ///
    /// ```
    /// let sched = uthread::Scheduler::new();
    /// let ch = uthread::Channel::<u32>::new();
    /// let rx = ch.clone();
    /// let t = sched.spawn(move || { let _ = rx.receive(); }).unwrap();
    /// sched.run().unwrap();                 // t blocks on the channel
    /// assert_eq!(ch.balance(), -1);
    /// t.tasklet().kill().unwrap();
    /// assert!(!t.tasklet().is_alive());
    /// assert_eq!(ch.balance(), 0);          // taken off the channel
    /// ```
    pub fn kill(&self) -> Result<(), TaskletError> {
        self.kill_impl(false)
    }

    /// Like [`Tasklet::kill`], but only makes the tasklet runnable with the kill pending;
    /// it unwinds when its turn comes. It is taken off its wait at once.
    ///
    /// # Errors
    ///
    /// As [`Tasklet::kill`].
    pub fn kill_pending(&self) -> Result<(), TaskletError> {
        self.kill_impl(true)
    }

    fn kill_impl(&self, pending: bool) -> Result<(), TaskletError> {
        let Some(shared) = self.scheduler() else {
            return Ok(()); // Its scheduler is gone, so it is dead already.
        };
        if Rc::ptr_eq(&shared.main, &self.task) {
            return Err(TaskletError::IsMain);
        }
        if !self.task.is_alive() {
            return Ok(());
        }
        self.task.request_kill();
        if Rc::ptr_eq(&shared.current.borrow(), &self.task) {
            unwind_kill();
        }
        if !self.task.started.get() {
            if pending {
                // Stays alive, runnable at the back with the kill pending (as a started
                // tasklet would); its first slice unwinds it before its body runs.
                shared.enqueue(&self.task, false);
                return Ok(());
            }
            shared.discard_unstarted(&self.task, Exit::Killed);
            return Ok(());
        }
        self.deliver(&shared, Wake::Kill, pending)?;
        if !pending && self.task.is_alive() && self.task.kill_refused.get() {
            return Err(TaskletError::KillRefused {
                kills: KILL_RETRIES,
            });
        }
        Ok(())
    }

    /// Throws `error` into the tasklet: the blocking call it is in (or its next one, if
    /// it is not blocked) returns it as `Thrown`. It runs at once, as with
    /// [`Tasklet::run`]. A tasklet that has not started dies of the error without running
    /// (reported as an uncaught error).
    ///
    /// # Errors
    ///
    /// [`TaskletError::Dead`], or [`TaskletError::IsCurrent`] (just return the error).
    pub fn throw<E>(&self, error: E) -> Result<(), TaskletError>
    where
        E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    {
        self.throw_impl(Thrown::new(error), false)
    }

    /// Like [`Tasklet::throw`], but the target only becomes runnable; it gets the error
    /// when its turn comes.
    ///
    /// # Errors
    ///
    /// As [`Tasklet::throw`].
    pub fn throw_pending<E>(&self, error: E) -> Result<(), TaskletError>
    where
        E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    {
        self.throw_impl(Thrown::new(error), true)
    }

    fn throw_impl(&self, error: Thrown, pending: bool) -> Result<(), TaskletError> {
        let shared = self.live_shared()?;
        if !self.task.is_alive() {
            return Err(TaskletError::Dead);
        }
        if Rc::ptr_eq(&shared.current.borrow(), &self.task) {
            return Err(TaskletError::IsCurrent);
        }
        self.deliver(&shared, Wake::Thrown(error), pending)
    }

    /// Makes the target runnable with `reason` (taking it off any wait), then, unless
    /// `pending`, runs it before the caller continues.
    fn deliver(
        &self,
        shared: &Rc<Shared>,
        reason: Wake,
        pending: bool,
    ) -> Result<(), TaskletError> {
        let caller_same = current_shared().is_some_and(|c| Rc::ptr_eq(&c, shared));
        if !self.task.is_alive() {
            return Ok(());
        }
        if self.task.state.get() == TaskletState::Blocked {
            shared.wake(&self.task, reason, !pending);
        } else {
            self.task.set_pending(reason);
            shared.enqueue(&self.task, !pending);
        }
        if pending || !caller_same {
            return Ok(());
        }
        let me = shared.current_task();
        // Right behind the target, which is at the front now.
        shared.enqueue(&me, true);
        shared.enqueue(&self.task, true);
        let wake = shared.switch_out();
        settle_after_switch(shared, wake);
        Ok(())
    }

    fn live_shared(&self) -> Result<Rc<Shared>, TaskletError> {
        self.scheduler().ok_or(TaskletError::NoScheduler)
    }

    /// The tasklet's scheduler, checked to be the caller's.
    fn caller_shared(&self) -> Result<Rc<Shared>, TaskletError> {
        let shared = self.live_shared()?;
        match current_shared() {
            Some(c) if Rc::ptr_eq(&c, &shared) => Ok(shared),
            _ => Err(TaskletError::OtherScheduler),
        }
    }
}

/// The calling tasklet (the main context's handle outside any tasklet), or `None` when
/// the thread has no scheduler.
pub fn current() -> Option<Tasklet> {
    let shared = current_shared()?;
    let task = shared.current_task();
    Some(Tasklet::from_task(task))
}

/// Number of runnable tasklets, the caller included (Stackless's `getruncount`).
pub fn run_count() -> usize {
    current_shared().map_or(0, |s| s.scheduled.get() + 1)
}

/// Yields: the caller goes to the back of the run queue and the next tasklet runs. With
/// nothing else runnable it is resumed at once, but it still passes through the scheduler,
/// so a run's budget or watchdog can stop a lone tasklet that keeps yielding. From the
/// main context, every queued tasklet runs once first.
///
/// # Errors
///
/// [`WaitError::Thrown`] when an error was thrown into the caller.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// let sched = uthread::Scheduler::new();
/// let log = Rc::new(RefCell::new(Vec::new()));
/// for name in ["a", "b"] {
///     let log = log.clone();
///     sched.spawn(move || {
///         for i in 0..2 {
///             log.borrow_mut().push(format!("{name}{i}"));
///             uthread::schedule().unwrap();
///         }
///     }).unwrap();
/// }
/// sched.run().unwrap();
/// assert_eq!(*log.borrow(), ["a0", "b0", "a1", "b1"]);
/// ```
pub fn schedule() -> Result<(), WaitError> {
    let shared = current_shared().ok_or(WaitError::NoScheduler)?;
    let me = shared.current_task();
    if let Some(wake) = me.take_interrupt() {
        return wake_result(wake);
    }
    // No shortcut when nothing else is queued: the pump must see the switch to count it
    // against the run's budget (a lone `loop { schedule() }` would never return).
    shared.enqueue(&me, false);
    let wake = shared.switch_out_as(&me);
    wake_result(wake)
}

/// Pauses the caller (it leaves the run queue) and runs the next tasklet. Someone must
/// [`insert`](Tasklet::insert) it again.
///
/// # Errors
///
/// As [`schedule`].
pub fn schedule_remove() -> Result<(), WaitError> {
    let shared = current_shared().ok_or(WaitError::NoScheduler)?;
    if let Some(wake) = shared.take_interrupt() {
        return wake_result(wake);
    }
    let me = shared.current_task();
    shared.dequeue(&me, TaskletState::Paused);
    drop(me);
    let wake = shared.switch_out();
    wake_result(wake)
}

fn wake_result(wake: Wake) -> Result<(), WaitError> {
    match wake {
        Wake::Signaled | Wake::Timer => Ok(()),
        other => Err(crate::wait::interrupted(other)),
    }
}

/// Sets the caller's atomic flag (the watchdog never interrupts an atomic tasklet) and
/// returns the old value. New tasklets inherit their creator's flag.
pub fn set_atomic(atomic: bool) -> bool {
    let Some(shared) = current_shared() else {
        return false;
    };
    let old = shared.current.borrow().atomic.replace(atomic);
    old
}

/// A point where the watchdog may interrupt the caller (every uthread operation is one;
/// call this in long computations that make none). Under a hard budget that has run
/// out, a non-atomic tasklet is taken out of the run queue and handed back to whoever
/// runs the scheduler.
pub fn preempt_point() {
    if let Some(shared) = current_shared() {
        preempt_check(&shared);
    }
}

/// The watchdog check made by uthread operations that do not block.
#[inline]
pub(crate) fn preempt_check(shared: &Rc<Shared>) {
    let Some(deadline) = shared.hard_deadline.get() else {
        return;
    };
    let me = shared.current_task();
    if Rc::ptr_eq(&me, &shared.main) || me.atomic.get() || std::time::Instant::now() < deadline {
        return;
    }
    shared.dequeue(&me, TaskletState::Paused);
    *shared.interrupted.borrow_mut() = Some(me);
    shared.hard_deadline.set(None);
    let wake = shared.switch_out();
    settle_after_switch(shared, wake);
}
