//! Waiting on a `std::future::Future` from a tasklet: the tasklet suspends, and the
//! future's waker (called from any thread) makes it runnable again. This is how I/O done
//! by an async runtime on another thread feeds tasklets.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake as StdWake, Waker};
use std::time::Duration;

use slotmap::Key as _;

use crate::block::{interrupted, pending_interrupt};
use crate::core::current_shared;
use crate::error::WaitError;
use crate::hub::{HubInner, Notice};
use crate::state::{Blocked, Wake};
use crate::task::Waits;
use crate::time::deadline_in;

/// Wakes one tasklet through its scheduler's hub.
struct TaskletWaker {
    hub: Arc<HubInner>,
    key: u64,
    /// The block the tasklet will be (or is) in when it waits for this poll's result.
    seq: AtomicU32,
}

impl StdWake for TaskletWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.hub.post(Notice::Tasklet {
            key: self.key,
            seq: self.seq.load(Ordering::Acquire),
        });
    }
}

/// Runs `future` to completion from a tasklet (or the main context), suspending the
/// caller while it is pending. Other tasklets run meanwhile; an idle scheduler sleeps
/// until the future's waker is called.
///
/// The future is moved into a box on the heap before it is polled, so its own state
/// never lives on the tasklet's stack. That is all a box can do: a future that is itself
/// a pointer (`pin!(fut)`, a `Pin<&mut F>` or `&mut F`) keeps its state wherever the
/// pointer points, on the caller's stack for `pin!`. On the default (dedicated) stacks
/// this is always fine, since a suspended tasklet's stack stays where it is; a tasklet
/// on a copied stack (see [`StackStrategy::copying`](crate::StackStrategy::copying))
/// must pass an owned future.
///
/// # Errors
///
/// [`WaitError`] if the wait is interrupted (a throw, a timeout for
/// [`block_on_timeout`]); a kill unwinds and drops the future.
///
/// # Examples
///
/// ```
/// let sched = uthread::Scheduler::new();
/// let (tx, rx) = std::sync::mpsc::channel::<std::task::Waker>();
/// let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
/// let flag = done.clone();
/// // A future that another thread completes.
/// let fut = std::future::poll_fn(move |cx| {
///     if flag.load(std::sync::atomic::Ordering::Acquire) {
///         std::task::Poll::Ready(7)
///     } else {
///         let _ = tx.send(cx.waker().clone());
///         std::task::Poll::Pending
///     }
/// });
/// let t = sched.spawn(move || uthread::block_on(fut).unwrap()).unwrap();
/// let io = std::thread::spawn(move || {
///     let waker = rx.recv().unwrap();
///     done.store(true, std::sync::atomic::Ordering::Release);
///     waker.wake();
/// });
/// sched.run().unwrap();
/// io.join().unwrap();
/// assert_eq!(t.join().unwrap(), 7);
/// ```
pub fn block_on<F: Future>(future: F) -> Result<F::Output, WaitError> {
    block_on_inner(future, None)
}

/// Like [`block_on`], giving up (and dropping the future) at the deadline `timeout`
/// from now (game time).
///
/// # Errors
///
/// As [`block_on`], plus [`WaitError::Timeout`].
pub fn block_on_timeout<F: Future>(future: F, timeout: Duration) -> Result<F::Output, WaitError> {
    block_on_inner(future, Some(deadline_in(timeout)))
}

fn block_on_inner<F: Future>(
    future: F,
    deadline: Option<Duration>,
) -> Result<F::Output, WaitError> {
    let shared = current_shared().ok_or(WaitError::NoScheduler)?;
    let mut future = pin!(Box::pin(future));
    let me = shared.current_task();
    let waker_state = Arc::new(TaskletWaker {
        hub: shared.remote.inner.clone(),
        key: me.key.data().as_ffi(),
        seq: AtomicU32::new(0),
    });
    let waker = Waker::from(waker_state.clone());
    loop {
        if let Some(wake) = pending_interrupt(&shared) {
            return Err(interrupted(wake));
        }
        // The next block of this tasklet will have this number; a wake that arrives
        // before it blocks is kept by the hub and still matches.
        let next_seq = me.block_seq.get().wrapping_add(1);
        waker_state.seq.store(next_seq, Ordering::Release);
        if let Poll::Ready(output) = future
            .as_mut()
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
        {
            return Ok(output);
        }
        if deadline.is_some_and(|d| crate::time::now() >= d) {
            return Err(WaitError::Timeout);
        }
        shared.external_wakers.set(shared.external_wakers.get() + 1);
        let (task, seq) = shared.block_current(Blocked::Future, Waits::None);
        debug_assert_eq!(seq, next_seq);
        if let Some(deadline) = deadline {
            shared.arm_timer(&task, seq, deadline);
        }
        drop(task);
        let wake = shared.switch_out();
        shared.external_wakers.set(shared.external_wakers.get() - 1);
        match wake {
            Wake::Signaled => continue,
            Wake::Timer => return Err(WaitError::Timeout),
            other => return Err(interrupted(other)),
        }
    }
}
