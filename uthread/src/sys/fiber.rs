//! The coroutine wrapper: one corosensei coroutine per tasklet, on a dedicated stack or a
//! shared one (stack copying, see `copying.rs`), and `suspend()` from any depth of the
//! tasklet's call stack.
//!
//! The scheduler never nests resumes: every fiber is resumed from the scheduler's pump
//! loop on the thread's own stack and suspends straight back to it. While a fiber runs,
//! a thread-local points at its `Yielder` (which lives near the base of the fiber's
//! stack), so code deep inside the tasklet can suspend without threading a yielder
//! through every call. On a shared stack the `Yielder` of every fiber sits at the same
//! address, and a fiber's frames are copied back before it resumes, so the pointer that
//! `suspend` restores after the switch is valid in both strategies.
#![allow(
    unsafe_code,
    reason = "a thread-local pointer to the running coroutine's Yielder"
)]

use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use corosensei::{Coroutine, CoroutineResult, Yielder};

use super::copying::CopyingFiber;
use super::overflow;
use super::prefetch;
use super::stack::{FiberStack, GuardedStack, StackHeader};

/// How a fiber's body ended.
pub(crate) enum FiberExit {
    /// The body returned.
    Returned,
    /// The body panicked (this includes the `TaskletExit` unwind of a kill).
    Panicked(Box<dyn Any + Send>),
}

/// Bytes below a suspend mark that a resume reads (the registers the switch saved).
const SWITCH_FRAME_BYTES: usize = 128;
/// Bytes above a suspend mark worth prefetching: the frames of the blocking call that
/// the resume returns through (anything deeper streams in behind them).
const RESUME_FRAME_BYTES: usize = 768;

type DedicatedCo = Coroutine<(), (), FiberExit, GuardedStack>;

thread_local! {
    /// The running fiber's yielder, or null when no fiber runs on this thread.
    ///
    /// Invariant: non-null exactly while a fiber's body executes on this thread, and then
    /// it points at that fiber's `Yielder`, which is live for as long as the body runs.
    static YIELDER: Cell<*const Yielder<(), ()>> = const { Cell::new(ptr::null()) };

    /// The address of a local in [`suspend_marked`]'s frame, recorded just before a fiber
    /// suspends (0 when none since it was last taken). Stack copying saves everything
    /// from a calibrated margin below it up to the stack base.
    static SUSPEND_MARK: Cell<usize> = const { Cell::new(0) };
}

/// A suspended or not-yet-started tasklet body.
pub(crate) struct Fiber(Kind);

enum Kind {
    /// On a stack of its own.
    Dedicated {
        co: DedicatedCo,
        /// The header at the top of the fiber's stack (read by the overflow handler).
        header: *const StackHeader,
        /// Where it last suspended (an address in [`suspend_marked`]'s frame; 0 before
        /// the first suspend): the frames its next resume reads start just below it.
        mark: usize,
    },
    /// On a shared stack, its frames copied to the heap while suspended.
    Copying(CopyingFiber),
}

impl Fiber {
    /// Prepares `body` to run on `stack`. Nothing runs until the first [`Fiber::resume`]
    /// (and on a shared stack nothing is written to the stack until then either).
    pub(crate) fn new<F>(stack: FiberStack, body: F) -> Fiber
    where
        F: FnOnce() + 'static,
    {
        match stack {
            FiberStack::Dedicated(stack) => {
                let header = stack.header_ptr().cast_const();
                let co = Coroutine::with_stack(stack, move |yielder: &Yielder<(), ()>, ()| {
                    run_body(yielder, body)
                });
                Fiber(Kind::Dedicated {
                    co,
                    header,
                    mark: 0,
                })
            }
            FiberStack::Shared(lease) => {
                Fiber(Kind::Copying(CopyingFiber::new(lease, Box::new(body))))
            }
        }
    }

    /// Runs the fiber until it suspends (`None`) or its body ends (`Some`).
    ///
    /// Must be called from outside any fiber (the pump loop checks [`in_fiber`] first).
    ///
    /// Inlined into the pump: a return between the pump and the switch would be
    /// mispredicted on every slice (the fiber's own calls have left their entries in the
    /// CPU's return-address predictor).
    #[inline]
    pub(crate) fn resume(&mut self) -> Option<FiberExit> {
        debug_assert!(!in_fiber(), "nested fiber resume");
        let exit = match &mut self.0 {
            Kind::Dedicated { co, header, mark } => {
                debug_assert!(!co.done(), "resuming a finished fiber");
                let _overflow = overflow::RunningGuard::enter(*header);
                match co.resume(()) {
                    CoroutineResult::Yield(()) => {
                        // Read, not taken: only stack copying needs it cleared, and it
                        // takes the mark itself before each resume.
                        *mark = SUSPEND_MARK.with(Cell::get);
                        None
                    }
                    CoroutineResult::Return(exit) => Some(exit),
                }
            }
            Kind::Copying(fiber) => fiber.resume(),
        };
        YIELDER.with(|y| y.set(ptr::null()));
        exit
    }

    /// Asks the CPU to start fetching what this fiber's next resume reads first (the
    /// frames it suspended in, on its own stack or saved for copying in), so that the
    /// pump can overlap that memory latency with the slice it is about to run. A hint
    /// only.
    #[inline]
    pub(crate) fn prefetch(&self) {
        match &self.0 {
            Kind::Dedicated { header, mark, .. } => {
                if *mark == 0 {
                    return;
                }
                let top = *header as usize;
                // The switch saved its registers just below the mark; the resume then
                // returns up through the frames above it.
                let start = mark.saturating_sub(SWITCH_FRAME_BYTES);
                let end = top.min(mark + RESUME_FRAME_BYTES);
                prefetch::prefetch_range(start as *const u8, end.saturating_sub(start));
            }
            Kind::Copying(fiber) => fiber.prefetch(),
        }
    }

    /// Takes the stack back for reuse. Unwinds the body first if it has not finished
    /// (for a never-started body this only drops the closure).
    pub(crate) fn into_stack(self) -> FiberStack {
        match self.0 {
            Kind::Dedicated { mut co, .. } => {
                if !co.done() {
                    co.force_unwind();
                }
                FiberStack::Dedicated(co.into_stack())
            }
            Kind::Copying(fiber) => FiberStack::Shared(fiber.into_lease()),
        }
    }
}

impl fmt::Debug for Fiber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Dedicated { co, .. } => f
                .debug_struct("Fiber")
                .field("stack", &"dedicated")
                .field("started", &co.started())
                .field("done", &co.done())
                .finish(),
            Kind::Copying(fiber) => f.debug_tuple("Fiber").field(fiber).finish(),
        }
    }
}

/// A fiber's whole body: publish the yielder, run, and catch whatever unwinds.
pub(super) fn run_body<F: FnOnce()>(yielder: &Yielder<(), ()>, body: F) -> FiberExit {
    YIELDER.with(|y| y.set(yielder));
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(()) => FiberExit::Returned,
        Err(payload) => FiberExit::Panicked(payload),
    }
}

/// Whether the caller runs inside a fiber (a tasklet body) on this thread.
pub(crate) fn in_fiber() -> bool {
    YIELDER.with(|y| !y.get().is_null())
}

/// Runs `f` as if outside any fiber, so that it may resume fibers of its own (another
/// scheduler's teardown, from one of this scheduler's tasklets). The running fiber's
/// yielder is put back afterwards, even if `f` panics; `f` must not suspend the fiber it
/// was called from (nothing in it can: with the yielder cleared, a suspend outside a
/// fiber does nothing).
pub(crate) fn outside_fibers<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(*const Yielder<(), ()>);
    impl Drop for Restore {
        fn drop(&mut self) {
            YIELDER.with(|y| y.set(self.0));
        }
    }
    let _restore = Restore(YIELDER.with(|y| y.replace(ptr::null())));
    f()
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
    // thread, not inside a nested fiber: the pump never nests resumes). The mark slot is
    // this thread's SUSPEND_MARK cell, valid for writes for as long as the thread lives.
    unsafe { suspend_marked(&*yielder, mark_slot()) };
    // Back in this fiber: the pump cleared YIELDER when we suspended; restore it. (On a
    // shared stack our frames, the yielder among them, are back at the same addresses.)
    YIELDER.with(|y| y.set(yielder));
    true
}

/// This thread's suspend-mark cell, as a pointer for [`suspend_marked`].
pub(super) fn mark_slot() -> *mut usize {
    SUSPEND_MARK.with(Cell::as_ptr)
}

/// The one and only way a fiber suspends: records the address of a local, then switches.
///
/// Never inlined, so that its frame (and therefore how far below the recorded address the
/// switch writes) is the same for every caller; stack copying calibrates that distance
/// once per process by running this very function. The mark is written with a plain
/// store through `mark_slot` rather than a thread-local access, so that no call runs
/// below this frame before the switch (in unoptimised builds every accessor is a call,
/// whose dead frame the calibration would have to count).
///
/// # Safety
///
/// `mark_slot` must be valid for writes (it is [`mark_slot`]), and `yielder` must be the
/// yielder of the fiber running on this thread.
#[inline(never)]
pub(super) unsafe fn suspend_marked(yielder: &Yielder<(), ()>, mark_slot: *mut usize) {
    let mark = 0u8;
    // SAFETY: valid for writes, by this function's contract.
    unsafe { *mark_slot = ptr::addr_of!(mark) as usize };
    yielder.suspend(());
}

/// Takes the last suspend mark (0 if none was recorded since the last take).
pub(super) fn take_suspend_mark() -> usize {
    SUSPEND_MARK.with(|m| m.replace(0))
}
