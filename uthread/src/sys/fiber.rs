//! The coroutine wrapper: one corosensei coroutine per tasklet, on a dedicated stack or a
//! shared one (stack copying, see `copying.rs`), resumed by the pump. How a running body
//! suspends is in `switch.rs`.
#![allow(
    unsafe_code,
    reason = "a thread-local pointer to the running coroutine's Yielder"
)]

use std::fmt;

use corosensei::{Coroutine, CoroutineResult, Yielder};

use super::copying::{CopyingFiber, SharedLease};
use super::overflow;
use super::prefetch;
use super::stack::{GuardedStack, StackHeader};
use super::switch::{self, FiberExit, SuspendKind};

/// Bytes below a suspend mark that a resume reads (the registers the switch saved).
const SWITCH_FRAME_BYTES: usize = 192;
/// Bytes above a suspend mark worth prefetching: the frames of the blocking call that
/// the resume returns through (anything deeper streams in behind them).
const RESUME_FRAME_BYTES: usize = 192;

type DedicatedCo = Coroutine<(), (), FiberExit, GuardedStack>;

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
                    switch::run_body(yielder, SuspendKind::Inline, body)
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
    /// Must be called from outside any fiber (the pump runs outside them).
    ///
    /// Inlined into the pump: a return between the pump and the switch would be
    /// mispredicted on every slice (the fiber's own calls have left their entries in the
    /// CPU's return-address predictor).
    #[inline]
    pub(crate) fn resume(&mut self) -> Option<FiberExit> {
        debug_assert!(!switch::in_fiber(), "nested fiber resume");
        let exit = match &mut self.0 {
            Kind::Dedicated { co, header, mark } => {
                debug_assert!(!co.done(), "resuming a finished fiber");
                let _overflow = overflow::RunningGuard::enter(*header);
                match co.resume(()) {
                    CoroutineResult::Yield(()) => {
                        *mark = switch::take_suspend_mark();
                        None
                    }
                    CoroutineResult::Return(exit) => Some(exit),
                }
            }
            Kind::Copying(fiber) => fiber.resume(),
        };
        switch::clear_yielder();
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

/// The stack a new fiber gets from the pool.
#[derive(Debug)]
pub(crate) enum FiberStack {
    /// A stack of its own.
    Dedicated(GuardedStack),
    /// A place on a shared stack (stack copying).
    Shared(SharedLease),
}

impl FiberStack {
    /// Usable bytes (the depth the tasklet may reach).
    pub(crate) fn usable_size(&self) -> usize {
        match self {
            FiberStack::Dedicated(stack) => stack.usable_size(),
            FiberStack::Shared(lease) => lease.usable_size(),
        }
    }

    /// Records which tasklet the stack is for, for the overflow report.
    pub(crate) fn set_owner(&mut self, tasklet_id: u64, name: Option<&std::rc::Rc<str>>) {
        match self {
            FiberStack::Dedicated(stack) => stack.set_owner(tasklet_id, name.map_or("", |n| n)),
            FiberStack::Shared(lease) => lease.set_owner(tasklet_id, name.cloned()),
        }
    }
}
