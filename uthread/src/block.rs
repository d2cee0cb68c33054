//! The blocking glue every primitive shares: block the caller on a wait list and collect
//! its entry when it runs again, deliver kills and throws, and the watchdog's check.

use std::rc::Rc;
use std::time::Duration;

use crate::core::{current_shared, Shared};
use crate::error::WaitError;
use crate::id::TaskletExit;
use crate::state::{Blocked, TaskletState, Wake};
use crate::task::{Cancel, Task, WaitRef, Waits};
use crate::wait::{Slot, WaitList};

/// Kills a tasklet may catch in a row before it is parked rather than unwound again.
///
/// A kill is sticky: a tasklet that catches the [`TaskletExit`] unwind is killed again at
/// its next blocking call. One that keeps catching it (a `catch_unwind` around a blocking
/// call, in a loop) would never let [`Tasklet::kill`](crate::Tasklet::kill) return, so after this many kill
/// unwinds in a row it is parked instead: paused, alive, with its kill still pending.
/// `kill` then returns [`TaskletError::KillRefused`](crate::TaskletError::KillRefused); inserting the tasklet again gives
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

/// Blocks the caller on a new entry of `obj`'s wait list and returns why it woke, with
/// the entry (served, or cancelled with its offer). A kill or throw already pending
/// returns at once with the offer untouched.
///
/// The caller has already tried the operation without blocking; `deadline` is game time.
pub(crate) fn block_on<O, P, R>(
    shared: &Rc<Shared>,
    obj: &Rc<O>,
    list: fn(&O) -> std::cell::RefMut<'_, WaitList<P, R>>,
    offer: P,
    on: Blocked,
    deadline: Option<Duration>,
) -> (Wake, Slot<P, R>)
where
    O: Cancel + 'static,
{
    let me = shared.current_task();
    if let Some(wake) = me.take_interrupt() {
        return (wake, Slot::Cancelled(offer));
    }
    let key = list(obj).push(me.clone(), offer);
    let target: Rc<dyn Cancel> = obj.clone();
    let (tasklet, seq) = shared.block_current(on, Waits::One(WaitRef { target, key }));
    if let Some(deadline) = deadline {
        shared.arm_timer(&tasklet, seq, deadline);
    }
    drop(tasklet);
    let wake = shared.switch_out_as(&me);
    let slot = list(obj)
        .take(key)
        .expect("a wait entry is only removed by its owner");
    (wake, slot)
}

/// A kill or throw waiting for the caller, which its next blocking call must deliver
/// instead of blocking. While the caller unwinds from a kill, every blocking call is
/// refused with `Wake::Kill` (which [`interrupted`] turns into `Killed`, not a second
/// unwind).
pub(crate) fn pending_interrupt(shared: &Rc<Shared>) -> Option<Wake> {
    shared.take_interrupt()
}

/// The error for a wake that interrupted a blocking call; a kill unwinds instead (unless
/// the caller is already unwinding, when it is refused with `Killed`).
pub(crate) fn interrupted(wake: Wake) -> WaitError {
    match wake {
        Wake::Kill if !unwinding_from_kill() => unwind_kill(),
        other => other.into_wait_error(),
    }
}

/// [`block_on`], interpreted: `Ok((reply, wake))` when served, `Err((error, offer))`
/// when interrupted (timeout, throw, deadlock). On a kill it unwinds, after the offer
/// is dropped. A served caller must turn `reply` into whatever releases it on drop (a
/// lock guard, say) *before* calling [`settle_after_switch`](crate::tasklet::settle_after_switch)
/// with `wake`, since a kill that arrived after it was served unwinds there.
pub(crate) fn wait_for<O, P, R>(
    shared: &Rc<Shared>,
    obj: &Rc<O>,
    list: fn(&O) -> std::cell::RefMut<'_, WaitList<P, R>>,
    offer: P,
    on: Blocked,
    deadline: Option<Duration>,
) -> Result<(R, Wake), (WaitError, P)>
where
    O: Cancel + 'static,
{
    let (wake, slot) = block_on(shared, obj, list, offer, on, deadline);
    match slot {
        Slot::Done(reply) => Ok((reply, wake)),
        Slot::Cancelled(offer) | Slot::Waiting(offer) => {
            // A kill unwinds here (dropping `offer`); anything else comes back.
            let error = interrupted(wake);
            Err((error, offer))
        }
        Slot::Moving => unreachable!("wait slot observed mid-move"),
    }
}

/// The watchdog check made by uthread operations that do not block: one load of this
/// thread's preemption flag, which the scheduler's watchdog thread raises when a hard
/// deadline passes.
#[inline]
pub(crate) fn preempt_check(shared: &Rc<Shared>) {
    if crate::monitor::preempt_requested() {
        preempt_now(shared);
    }
}

/// The flag is up: if the caller's hard deadline has passed (and it may be preempted),
/// take it out of the run, or put it back at the front of the queue when the run asked
/// for that, and switch away.
#[cold]
#[inline(never)]
pub(crate) fn preempt_now(shared: &Rc<Shared>) {
    let Some(deadline) = shared.hard_deadline.get() else {
        if shared.running_monitor().is_some() {
            crate::monitor::clear_preempt_request();
        }
        return;
    };
    if std::time::Instant::now() < deadline {
        // Raised for an earlier slice; this one is not due.
        if shared.running_monitor().is_some() {
            crate::monitor::clear_preempt_request();
        }
        return;
    }
    let me = shared.current_task();
    if Rc::ptr_eq(&me, &shared.main) || me.atomic.get() || crate::monitor::preemption_held() {
        return;
    }
    if shared.running_monitor().is_some() {
        crate::monitor::clear_preempt_request();
    }
    shared.preemptions.set(shared.preemptions.get() + 1);
    shared.hard_deadline.set(None);
    if shared.requeue_preempted.get() {
        shared.enqueue(&me, true);
    } else {
        shared.dequeue(&me, TaskletState::Paused);
        *shared.interrupted.borrow_mut() = Some(me.clone());
    }
    drop(me);
    let wake = shared.switch_out();
    settle_after_switch(shared, wake);
}
