//! Tasklet handles, their states, and the scheduling calls a tasklet makes on itself.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::rc::{Rc, Weak};
use std::time::Duration;

use crate::error::{TaskletError, Thrown, WaitError};
use crate::shared::{current_shared, Exit, Key, Shared, Wake};
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

/// A handle to a tasklet (cheap to clone; does not keep the tasklet alive).
///
/// Tasklets are `!Send`: they belong to one scheduler on one thread.
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<uthread::Tasklet>();
/// ```
#[derive(Clone)]
pub struct Tasklet {
    shared: Weak<Shared>,
    key: Key,
}

impl PartialEq for Tasklet {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && Weak::ptr_eq(&self.shared, &other.shared)
    }
}

impl Eq for Tasklet {}

impl Hash for Tasklet {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
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

/// Unwinds the calling tasklet because it is being killed.
pub(crate) fn unwind_kill() -> ! {
    if let Some(shared) = current_shared() {
        let mut st = shared.st.borrow_mut();
        let cur = st.current;
        st.tasklets[cur].unwinding = true;
    }
    std::panic::resume_unwind(Box::new(TaskletExit))
}

/// Whether the calling tasklet is running destructors of its own unwind (a kill, or a
/// panic it suspended in), so that a kill must refuse its blocking call rather than unwind
/// it again. The thread's panic count alone cannot tell: other stacks on the thread may be
/// panicking.
pub(crate) fn unwinding_from_kill() -> bool {
    std::thread::panicking()
        && current_shared().is_some_and(|shared| {
            let st = shared.st.borrow();
            st.tasklets.get(st.current).is_some_and(|r| r.unwinding)
        })
}

/// After a switch that was not a blocking wait (kill, run, switch, a channel handing
/// over): unwind on a kill; keep a thrown error for the next blocking call.
pub(crate) fn settle_after_switch(shared: &Rc<Shared>, wake: Wake) {
    match wake {
        Wake::Kill => unwind_kill(),
        Wake::Thrown(t) => {
            let mut st = shared.st.borrow_mut();
            let cur = st.current;
            st.tasklets[cur].wake = Some(Wake::Thrown(t));
        }
        Wake::Signaled | Wake::Timer | Wake::Deadlock => {}
    }
}

impl Tasklet {
    pub(crate) fn from_parts(shared: Weak<Shared>, key: Key) -> Tasklet {
        Tasklet { shared, key }
    }

    /// Reads the record, if the tasklet is alive.
    fn with_record<R>(&self, f: impl FnOnce(&crate::shared::Record, bool, bool) -> R) -> Option<R> {
        let shared = self.shared.upgrade()?;
        let st = shared.st.borrow();
        let rec = st.tasklets.get(self.key)?;
        Some(f(rec, st.current == self.key, st.main == self.key))
    }

    /// This tasklet's id (unique among the live tasklets of its scheduler).
    pub fn id(&self) -> TaskletId {
        self.key.id()
    }

    /// Its name, if it was given one.
    pub fn name(&self) -> Option<String> {
        self.with_record(|r, _, _| r.name.as_deref().map(str::to_owned))
            .flatten()
    }

    /// Renames it (shown in reports, deadlock lists and overflow messages).
    pub fn set_name(&self, name: &str) {
        if let Some(shared) = self.shared.upgrade() {
            if let Some(rec) = shared.st.borrow_mut().tasklets.get_mut(self.key) {
                rec.name = Some(Rc::from(name));
            }
        }
    }

    /// Where it stands now.
    pub fn state(&self) -> TaskletState {
        self.with_record(|r, _, _| r.state)
            .unwrap_or(TaskletState::Dead)
    }

    /// Whether it has not finished yet.
    pub fn is_alive(&self) -> bool {
        self.with_record(|_, _, _| ()).is_some()
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
        self.with_record(|_, cur, _| cur).unwrap_or(false)
    }

    /// Whether it is the main context (code outside any tasklet).
    pub fn is_main(&self) -> bool {
        self.with_record(|_, _, main| main).unwrap_or(false)
    }

    /// Whether it has started running.
    pub fn is_started(&self) -> bool {
        self.with_record(|r, _, _| r.started).unwrap_or(false)
    }

    /// Whether it is atomic (the watchdog never interrupts it).
    pub fn is_atomic(&self) -> bool {
        self.with_record(|r, _, _| r.atomic).unwrap_or(false)
    }

    /// What it is blocked on, if it is blocked.
    pub fn blocked_on(&self) -> Option<BlockedOn> {
        self.with_record(|r, _, _| r.blocked_on.clone()).flatten()
    }

    /// How many times it has been resumed.
    pub fn switch_count(&self) -> u64 {
        self.with_record(|r, _, _| r.switches).unwrap_or(0)
    }

    /// Wall time it has run, summed over its slices (measured only when the scheduler
    /// times slices: see [`Builder::timing`](crate::Builder::timing)).
    pub fn run_time(&self) -> Duration {
        self.with_record(|r, _, _| r.run_time)
            .unwrap_or(Duration::ZERO)
    }

    /// The usable size of its stack, in bytes.
    pub fn stack_size(&self) -> usize {
        self.with_record(|r, _, _| r.stack_size).unwrap_or(0)
    }

    /// Appends a paused tasklet to the run queue. Already scheduled, or the caller: no-op.
    ///
    /// # Errors
    ///
    /// [`TaskletError::Dead`], or [`TaskletError::Blocked`] (a blocked tasklet cannot be
    /// inserted).
    pub fn insert(&self) -> Result<(), TaskletError> {
        let shared = self.live_shared()?;
        let mut st = shared.st.borrow_mut();
        let rec = st.tasklets.get(self.key).ok_or(TaskletError::Dead)?;
        match rec.state {
            TaskletState::Paused => {
                st.enqueue(self.key, false);
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
    /// [`TaskletError::Dead`], [`TaskletError::Blocked`], or [`TaskletError::IsCurrent`]
    /// (use [`schedule_remove`] to pause yourself).
    pub fn remove(&self) -> Result<(), TaskletError> {
        let shared = self.live_shared()?;
        let mut st = shared.st.borrow_mut();
        let rec = st.tasklets.get(self.key).ok_or(TaskletError::Dead)?;
        if st.current == self.key {
            return Err(TaskletError::IsCurrent);
        }
        match rec.state {
            TaskletState::Scheduled => {
                st.dequeue(self.key, TaskletState::Paused);
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
        {
            let mut st = shared.st.borrow_mut();
            let rec = st.tasklets.get(self.key).ok_or(TaskletError::Dead)?;
            if st.current == self.key {
                return Ok(());
            }
            if rec.state == TaskletState::Blocked {
                return Err(TaskletError::Blocked);
            }
            let cur = st.current;
            if caller_stays {
                st.enqueue(cur, true);
            } else {
                st.dequeue(cur, TaskletState::Paused);
            }
            st.enqueue(self.key, true);
        }
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
        let Some(shared) = self.shared.upgrade() else {
            return Ok(()); // Its scheduler is gone, so it is dead already.
        };
        let unstarted = {
            let mut st = shared.st.borrow_mut();
            if st.main == self.key {
                return Err(TaskletError::IsMain);
            }
            let is_current = st.current == self.key;
            let Some(rec) = st.tasklets.get_mut(self.key) else {
                return Ok(());
            };
            rec.kill_requested = true;
            if is_current {
                drop(st);
                unwind_kill();
            }
            !rec.started
        };
        if unstarted {
            shared.discard_unstarted(self.key, Exit::Killed);
            return Ok(());
        }
        self.deliver(&shared, Wake::Kill, pending)
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
        {
            let st = shared.st.borrow();
            if !st.tasklets.contains_key(self.key) {
                return Err(TaskletError::Dead);
            }
            if st.current == self.key {
                return Err(TaskletError::IsCurrent);
            }
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
        {
            let mut st = shared.st.borrow_mut();
            let Some(rec) = st.tasklets.get_mut(self.key) else {
                return Ok(());
            };
            if rec.state == TaskletState::Blocked {
                st.wake(self.key, reason, !pending);
            } else {
                if !matches!(rec.wake, Some(Wake::Kill)) {
                    rec.wake = Some(reason);
                }
                st.enqueue(self.key, !pending);
            }
            if pending || !caller_same {
                return Ok(());
            }
            let cur = st.current;
            // Right behind the target, which is at the front now.
            st.enqueue(cur, true);
            st.enqueue(self.key, true);
        }
        let wake = shared.switch_out();
        settle_after_switch(shared, wake);
        Ok(())
    }

    fn live_shared(&self) -> Result<Rc<Shared>, TaskletError> {
        self.shared.upgrade().ok_or(TaskletError::NoScheduler)
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
    let key = shared.st.borrow().current;
    Some(Tasklet::from_parts(Rc::downgrade(&shared), key))
}

/// Number of runnable tasklets, the caller included (Stackless's `getruncount`).
pub fn run_count() -> usize {
    current_shared().map_or(0, |s| s.st.borrow().scheduled + 1)
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
    {
        // One borrow for the interrupt check and the enqueue (this is the hot path).
        let mut st = shared.st.borrow_mut();
        if let Some(wake) = st.take_interrupt() {
            drop(st);
            return wake_result(wake);
        }
        let cur = st.current;
        // No shortcut when nothing else is queued: the pump must see the switch to count
        // it against the run's budget (a lone `loop { schedule() }` would never return).
        st.enqueue(cur, false);
    }
    let wake = shared.switch_out();
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
    if let Some(wake) = crate::wait::pending_interrupt(&shared) {
        return wake_result(wake);
    }
    {
        let mut st = shared.st.borrow_mut();
        let cur = st.current;
        st.dequeue(cur, TaskletState::Paused);
    }
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
    let mut st = shared.st.borrow_mut();
    let cur = st.current;
    std::mem::replace(&mut st.tasklets[cur].atomic, atomic)
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
    let interrupt = {
        let st = shared.st.borrow();
        match st.watch.hard_deadline {
            None => false,
            Some(deadline) => {
                let cur = st.current;
                cur != st.main && !st.tasklets[cur].atomic && std::time::Instant::now() >= deadline
            }
        }
    };
    if interrupt {
        {
            let mut st = shared.st.borrow_mut();
            let cur = st.current;
            st.dequeue(cur, TaskletState::Paused);
            st.watch.interrupted = Some(cur);
            st.watch.hard_deadline = None;
        }
        let wake = shared.switch_out();
        settle_after_switch(shared, wake);
    }
}
