//! The coroutine wrapper: one corosensei coroutine per tasklet, and `suspend()` from any
//! depth of the tasklet's call stack.
//!
//! The scheduler never nests resumes: every fiber is resumed from the scheduler's pump
//! loop on the thread's own stack and suspends straight back to it. While a fiber runs,
//! a thread-local points at its `Yielder` (which lives on the fiber's own stack), so code
//! deep inside the tasklet can suspend without threading a yielder through every call.
#![allow(
    unsafe_code,
    reason = "a thread-local pointer to the running coroutine's Yielder"
)]

use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use corosensei::{Coroutine, CoroutineResult, Yielder};

use super::overflow;
use super::stack::{GuardedStack, StackHeader};

/// How a fiber's body ended.
pub(crate) enum FiberExit {
    /// The body returned.
    Returned,
    /// The body panicked (this includes the `TaskletExit` unwind of a kill).
    Panicked(Box<dyn Any + Send>),
}

type Co = Coroutine<(), (), FiberExit, GuardedStack>;

thread_local! {
    /// The running fiber's yielder, or null when no fiber runs on this thread.
    ///
    /// Invariant: non-null exactly while a fiber's body executes on this thread, and then
    /// it points at that fiber's `Yielder`, which is live for as long as the body runs.
    static YIELDER: Cell<*const Yielder<(), ()>> = const { Cell::new(ptr::null()) };
}

/// A suspended or not-yet-started tasklet body on its own stack.
pub(crate) struct Fiber {
    co: Co,
    /// The header at the top of the fiber's stack (read by the overflow handler).
    header: *const StackHeader,
}

impl Fiber {
    /// Prepares `body` to run on `stack`. Nothing runs until the first [`Fiber::resume`].
    pub(crate) fn new<F>(stack: GuardedStack, body: F) -> Fiber
    where
        F: FnOnce() + 'static,
    {
        let header = stack.header_ptr().cast_const();
        let co = Coroutine::with_stack(stack, move |yielder: &Yielder<(), ()>, ()| {
            YIELDER.with(|y| y.set(yielder));
            match catch_unwind(AssertUnwindSafe(body)) {
                Ok(()) => FiberExit::Returned,
                Err(payload) => FiberExit::Panicked(payload),
            }
        });
        Fiber { co, header }
    }

    /// Runs the fiber until it suspends (`None`) or its body ends (`Some`).
    ///
    /// Must be called from outside any fiber (the pump loop checks [`in_fiber`] first).
    pub(crate) fn resume(&mut self) -> Option<FiberExit> {
        debug_assert!(!in_fiber(), "nested fiber resume");
        debug_assert!(!self.co.done(), "resuming a finished fiber");
        let _overflow = overflow::RunningGuard::enter(self.header);
        let result = self.co.resume(());
        YIELDER.with(|y| y.set(ptr::null()));
        match result {
            CoroutineResult::Yield(()) => None,
            CoroutineResult::Return(exit) => Some(exit),
        }
    }

    /// Takes the stack back for reuse. Unwinds the body first if it has not finished
    /// (for a never-started body this only drops the closure).
    pub(crate) fn into_stack(mut self) -> GuardedStack {
        if !self.co.done() {
            self.co.force_unwind();
        }
        self.co.into_stack()
    }
}

/// Whether the caller runs inside a fiber (a tasklet body) on this thread.
pub(crate) fn in_fiber() -> bool {
    YIELDER.with(|y| !y.get().is_null())
}

/// Suspends the running fiber back to the pump loop. Returns `false` (and does nothing)
/// when called outside any fiber.
pub(crate) fn suspend() -> bool {
    let yielder = YIELDER.with(|y| y.get());
    if yielder.is_null() {
        return false;
    }
    // SAFETY: by the YIELDER invariant, a non-null pointer is the running fiber's own
    // yielder, alive while its body executes, and we are executing that body now (this
    // thread, not inside a nested fiber: the pump never nests resumes).
    unsafe { (*yielder).suspend(()) };
    // Back in this fiber: the pump cleared YIELDER when we suspended; restore it.
    YIELDER.with(|y| y.set(yielder));
    true
}
