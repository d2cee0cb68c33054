//! How a running tasklet body suspends from any depth of its call stack: a thread-local
//! points at the running fiber's `Yielder`, and [`suspend`] switches back to the pump
//! through it.
//!
//! The scheduler never nests resumes (except that a scheduler may tear another down from
//! one of its tasklets, see [`outside_fibers`]): every fiber is resumed from the pump
//! loop and suspends straight back to it. While a fiber runs, `YIELDER` holds the address
//! of its `Yielder` (which lives near the base of the fiber's stack), with bit 0 set when
//! the fiber copies its stack.
//!
//! A fiber on a dedicated stack suspends **inline**: the switch happens in the frame of
//! whoever called [`suspend`] (it is `#[inline(always)]`, and so are the scheduler's
//! switch paths above it), so that after the resume the CPU returns through as few frames
//! as possible. Each of those returns is mispredicted, since the tasklets that ran in
//! between overwrote the return-stack predictor. A copying fiber suspends through
//! [`suspend_marked`], never inlined, whose frame stack copying calibrates (see
//! `calibration.rs`).
#![allow(
    unsafe_code,
    reason = "a thread-local pointer to the running coroutine's Yielder"
)]

use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use corosensei::Yielder;

/// Bit 0 of `YIELDER`: the running fiber copies its stack (suspends marked).
const COPYING: usize = 1;

thread_local! {
    /// The running fiber's yielder address (bit 0: [`COPYING`]), or 0 when no fiber runs
    /// on this thread.
    ///
    /// Invariant: non-zero exactly while a fiber's body executes on this thread, and then
    /// the address is that fiber's `Yielder`, which is live for as long as the body runs.
    static YIELDER: Cell<usize> = const { Cell::new(0) };

    /// The address of a local in the suspending frame, recorded just before a fiber
    /// suspends (0 when none since it was last taken). Stack copying saves everything
    /// from a calibrated margin below it up to the stack base; for a dedicated stack it
    /// tells the pump which lines to prefetch before the next resume.
    static SUSPEND_MARK: Cell<usize> = const { Cell::new(0) };
}

/// How a fiber's body ended.
pub(crate) enum FiberExit {
    /// The body returned.
    Returned,
    /// The body panicked (this includes the `TaskletExit` unwind of a kill).
    Panicked(Box<dyn Any + Send>),
}

/// How the fiber running a body suspends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SuspendKind {
    /// Switches in the caller's frame (dedicated stacks).
    Inline,
    /// Through [`suspend_marked`], whose frame the copier knows (copied stacks).
    Marked,
}

/// A fiber's whole body: publish the yielder, run, and catch whatever unwinds.
pub(super) fn run_body<F: FnOnce()>(
    yielder: &Yielder<(), ()>,
    kind: SuspendKind,
    body: F,
) -> FiberExit {
    let flag = match kind {
        SuspendKind::Inline => 0,
        SuspendKind::Marked => COPYING,
    };
    YIELDER.with(|y| y.set(ptr::from_ref(yielder) as usize | flag));
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(()) => FiberExit::Returned,
        Err(payload) => FiberExit::Panicked(payload),
    }
}

/// Whether the caller runs inside a fiber (a tasklet body) on this thread.
#[inline]
pub(crate) fn in_fiber() -> bool {
    YIELDER.with(Cell::get) != 0
}

/// Forgets the running fiber's yielder: the fiber has just suspended back to the pump.
#[inline]
pub(super) fn clear_yielder() {
    YIELDER.with(|y| y.set(0));
}

/// Runs `f` as if outside any fiber, so that it may resume fibers of its own (another
/// scheduler's teardown, from one of this scheduler's tasklets). The running fiber's
/// yielder is put back afterwards, even if `f` panics; `f` must not suspend the fiber it
/// was called from (nothing in it can: with the yielder cleared, a suspend outside a
/// fiber does nothing).
pub(crate) fn outside_fibers<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            YIELDER.with(|y| y.set(self.0));
        }
    }
    let _restore = Restore(YIELDER.with(|y| y.replace(0)));
    f()
}

/// Suspends the running fiber back to the pump loop. Returns `false` (and does nothing)
/// when called outside any fiber.
///
/// Always inlined: on a dedicated stack the switch happens right here, in the caller's
/// frame.
#[inline(always)]
pub(crate) fn suspend() -> bool {
    let raw = YIELDER.with(Cell::get);
    if raw == 0 {
        return false;
    }
    if raw & COPYING == 0 {
        let mark = 0u8;
        SUSPEND_MARK.with(|m| m.set(ptr::addr_of!(mark) as usize));
        // SAFETY: by the YIELDER invariant, a non-zero value is the running fiber's own
        // yielder, alive while its body executes, and we are executing that body now (on
        // this thread, innermost: a nested pump clears YIELDER while it runs).
        unsafe { (*(raw as *const Yielder<(), ()>)).suspend(()) };
    } else {
        let yielder = (raw & !COPYING) as *const Yielder<(), ()>;
        // SAFETY: as above for the yielder; the mark slot is this thread's SUSPEND_MARK
        // cell, valid for writes for as long as the thread lives.
        unsafe { suspend_marked(&*yielder, mark_slot()) };
    }
    // Back in this fiber: the pump cleared YIELDER when we suspended; restore it. (On a
    // shared stack our frames, `raw` among them, are back at the same addresses.)
    YIELDER.with(|y| y.set(raw));
    true
}

/// This thread's suspend-mark cell, as a pointer for [`suspend_marked`].
pub(super) fn mark_slot() -> *mut usize {
    SUSPEND_MARK.with(Cell::as_ptr)
}

/// The way a copying fiber suspends: records the address of a local, then switches.
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
#[inline]
pub(super) fn take_suspend_mark() -> usize {
    SUSPEND_MARK.with(|m| m.replace(0))
}
