//! What a tasklet handle can do to a tasklet (insert, remove, run, switch, kill, throw)
//! and the scheduling calls a tasklet makes on itself (`schedule`, `schedule_remove`,
//! `set_atomic`, `preempt_point`). The handle type itself is in `task.rs`.

use std::rc::Rc;

use crate::block::{settle_after_switch, unwind_kill, KILL_RETRIES};
use crate::core::{current_shared, Shared};
use crate::error::{TaskletError, Thrown, WaitError};
use crate::state::{TaskletState, Wake};
use crate::task::{Exit, Tasklet};

impl Tasklet {
    /// Renames it (shown in reports, deadlock lists and stall reports; an overflow report
    /// shows the name it was spawned with).
    pub fn set_name(&self, name: &str) {
        let name: Rc<str> = Rc::from(name);
        if let Some(monitor) = self
            .task
            .scheduler()
            .as_deref()
            .and_then(Shared::running_monitor)
        {
            monitor.name(self.task.key.id(), &name);
        }
        *self.task.name.borrow_mut() = Some(name);
    }
}

impl Tasklet {
    /// The tasklet's scheduler, if it still exists.
    fn scheduler(&self) -> Option<Rc<Shared>> {
        self.task.scheduler()
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
    /// [`TaskletError::IsMain`] for the main context. From outside its scheduler (a
    /// tasklet of another scheduler, or main while another is the thread's current one)
    /// the kill is carried out all the same, unless its scheduler is running at that
    /// moment: then [`TaskletError::OtherScheduler`], and it is left runnable with the kill
    /// pending.
    ///
    /// From code its own scheduler runs between slices (a hook, or a destructor of a
    /// finished tasklet's result or locals) no tasklet can be switched to: there the kill
    /// returns `Ok` with the kill pending, the tasklet first in the run queue.
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
            if std::thread::panicking() {
                // A destructor of its own unwind killed it: it is dying already, and a
                // second unwind out of a destructor would abort the process. The kill
                // stays requested in case the unwind is caught.
                return Ok(());
            }
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
    /// [`TaskletError::Dead`], or [`TaskletError::IsCurrent`] (just return the error);
    /// [`TaskletError::OtherScheduler`] as for [`Tasklet::kill`] (the error is then
    /// delivered when the target next runs).
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
        if pending {
            return Ok(());
        }
        if !caller_same {
            return Self::run_foreign(shared, &self.task);
        }
        let me = shared.current_task();
        // Right behind the target, which is at the front now.
        shared.enqueue(&me, true);
        shared.enqueue(&self.task, true);
        let wake = shared.switch_out();
        settle_after_switch(shared, wake);
        Ok(())
    }

    /// Runs `target`, already runnable at the front of its queue with a kill or throw
    /// pending, for a caller outside its scheduler (the main context while another
    /// scheduler is the thread's current one, or a tasklet of another scheduler): its
    /// scheduler's main context runs it as a main-context kill would, then takes over
    /// again. If that scheduler is running now (the caller is inside its pump), it
    /// cannot be driven from here: the target stays runnable with the delivery pending.
    ///
    /// # Errors
    ///
    /// [`TaskletError::OtherScheduler`] in that last case.
    fn run_foreign(
        shared: &Rc<Shared>,
        target: &Rc<crate::task::Task>,
    ) -> Result<(), TaskletError> {
        if shared.pumping.get() {
            return Err(TaskletError::OtherScheduler);
        }
        crate::sys::switch::outside_fibers(|| {
            let main = shared.main.clone();
            shared.enqueue(&main, true);
            shared.enqueue(target, true);
            // Main's own wake (a throw into it, say) stays for its next blocking call.
            if let Wake::Thrown(t) = shared.switch_out_as(&main) {
                main.set_pending(Wake::Thrown(t));
            }
        });
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
        other => Err(crate::block::interrupted(other)),
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
/// call this in long computations that make none, or let
/// [`#[preemptible]`](crate::preemptible) put one in every loop). Under a hard deadline
/// that has passed (a hard [`Watchdog`](crate::Watchdog), or
/// [`Scheduler::run_preemptive`](crate::Scheduler::run_preemptive)), a non-atomic
/// tasklet is interrupted here.
///
/// Costs one load of a thread-local flag when nothing is due, about a nanosecond: the
/// scheduler's watchdog thread raises the flag when the deadline passes, so no clock is
/// read here.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uthread::{RunOutcome, Scheduler, Watchdog};
///
/// let sched = Scheduler::new();
/// let t = sched.spawn(|| {
///     let mut x = 0u64;
///     for i in 0..u64::MAX {
///         x = x.wrapping_mul(31).wrapping_add(i);
///         if i % 1024 == 0 {
///             uthread::preempt_point();
///         }
///         if i == 50_000_000 {
///             break;
///         }
///     }
///     x
/// }).unwrap();
/// // A 2 ms hard watchdog interrupts the loop at a preempt point; re-insert to go on.
/// while let RunOutcome::Interrupted { tasklet, .. } =
///     sched.run_watchdog(Watchdog::per_slice(Duration::from_millis(2))).unwrap()
/// {
///     tasklet.insert().unwrap();
/// }
/// assert!(t.join().is_ok());
/// ```
#[inline]
pub fn preempt_point() {
    if crate::monitor::preempt_requested() {
        preempt_point_slow();
    }
}

#[cold]
#[inline(never)]
fn preempt_point_slow() {
    match current_shared() {
        Some(shared) => crate::block::preempt_now(&shared),
        None => crate::monitor::clear_preempt_request(),
    }
}
