//! Stack copying (the Stackless Python / greenlet technique): tasklets that share one
//! guarded stack, each keeping the used slice of it on the heap while suspended.
//!
//! # How it works
//!
//! A [`SharedStack`] is an ordinary [`GuardedStack`] (guard page below, overflow header
//! above) that every copying tasklet of one stack size runs on, one at a time. Because the
//! scheduler never nests resumes (every fiber is resumed from the pump loop on the
//! thread's own stack and suspends straight back to it), the shared stack is free
//! whenever the pump resumes a fiber, and a fiber's frames only have to be on it while it
//! runs:
//!
//! - **Lazy creation.** corosensei writes a coroutine's initial frame and its closure onto
//!   the stack when the coroutine is created, so a [`CopyingFiber`] keeps its body boxed
//!   on the heap and creates the coroutine only on its first resume, when the stack is
//!   free. A tasklet that never runs never touches the shared stack.
//! - **Copy out.** When the fiber suspends, the slice `[lo, base)` of the shared stack is
//!   copied into the fiber's heap buffer. `lo` is a lower bound of the suspended stack
//!   pointer: the one and only suspend path ([`switch::suspend_marked`], never inlined)
//!   records the address of one of its locals, and `lo` is that address minus a margin
//!   measured at start-up (`calibration.rs`). The buffer keeps its capacity, so a tasklet
//!   that suspends at the same depth every time allocates once.
//! - **Copy in.** Before every resume, and before the coroutine is unwound on drop (which
//!   resumes it), the saved slice is copied back to the same addresses. The stack
//!   remembers whose frames it holds intact (`resident`), so resuming the tasklet that
//!   suspended last skips the copy.
//! - **Calibration.** The margin is the distance from the recorded local down to the
//!   lowest byte the suspend path writes (its own frame, corosensei's `Yielder::suspend`
//!   and the registers `switch_yield` pushes). It differs between debug and release
//!   builds, so it is measured once per process by running the real suspend path on a
//!   stack filled with a pattern (two patterns, several caller depths) and finding the
//!   lowest byte that changed. The frames above the mark belong to the callers and are
//!   inside `[lo, base)` whatever their size. A fiber that somehow suspends without a
//!   mark gets its whole used stack copied, never less.
//! - **Overflow.** The shared stack has the same guard page and header as a dedicated
//!   one. Each resume writes the fiber's tasklet id and a pointer to its name into the
//!   header (three stores), so the SIGSEGV handler names the tasklet that overflowed.
//! - **Prefetch.** With many tasklets the saved slices are cold; the pump asks for the
//!   next queued fiber's slice ([`CopyingFiber::prefetch`]) before it resumes the current
//!   one, so that memory latency overlaps a slice instead of stalling the copy in.
//! - **Nesting and drops.** A shared stack refuses (panics on) a resume while a fiber runs
//!   on it. A fiber dropped while its stack is busy (only possible from code running on
//!   that same stack) is abandoned, leaking its frames, rather than unwound onto frames
//!   that are not its own.
//!
//! corosensei is pinned to exactly 0.3.4 in the workspace: the scheme relies on how it
//! lays out a suspended coroutine (everything the coroutine needs lives in
//! `[stack pointer, base)` plus the `Coroutine` value itself) and on the suspend path's
//! frames, which the calibration self-check in `uthread/tests/stack_copying.rs` verifies.
//!
//! # Pointers into a suspended tasklet's stack
//!
//! From a suspended tasklet's own point of view nothing happens: every byte of its
//! frames is back at the same address before any of its instructions runs again, so
//! pointers from its stack into its stack (references to its locals, the `Yielder` that
//! corosensei keeps just below the stack base) stay valid. What breaks is a pointer from
//! *elsewhere* into the stack of a tasklet that is not running: it reads whichever
//! tasklet occupies the shared stack now. The crate never keeps one: wait entries and
//! values in flight live in the primitives' heap lists (see `wait.rs`), the per-thread
//! `YIELDER` pointer is cleared whenever a fiber suspends and is restored to the same
//! address when it resumes, the overflow header sits above the stack base, and
//! `block_on` boxes a future before polling it (its waker may be kept elsewhere). User code
//! cannot create one in safe Rust, since `spawn` and channels require `'static` values;
//! the remaining hazards (a scoped thread-local set to a local across a blocking call, a
//! future pinned on the stack and registered with a waker elsewhere) are spelled out in
//! the crate docs.
#![allow(
    unsafe_code,
    reason = "copies a suspended coroutine's frames to and from its shared stack"
)]

use std::cell::Cell;
use std::fmt;
use std::mem::{self, MaybeUninit};
use std::ptr;
use std::rc::Rc;

use corosensei::stack::{Stack, StackPointer};
use corosensei::{Coroutine, CoroutineResult, Yielder};

use super::calibration::suspend_margin;
use super::overflow;
use super::prefetch;
use super::stack::GuardedStack;
use super::switch::{self, FiberExit, SuspendKind};
use super::valgrind;
use crate::stack::StackError;

/// One guarded stack that the copying tasklets of one size take turns on.
pub(crate) struct SharedStack {
    stack: GuardedStack,
    /// Lowest usable address (just above the guard page).
    bottom: usize,
    /// corosensei's stack base: a fiber's frames lie in `[its stack pointer, base)`.
    base: usize,
    /// How far below a suspend mark a suspended fiber's frames may reach (calibrated).
    margin: usize,
    /// Serial of the fiber whose frames are on the stack intact (0: none). Its next
    /// resume can skip the copy in.
    resident: Cell<u64>,
    /// A fiber runs on this stack right now, so nothing may be created, copied in or
    /// resumed on it.
    running: Cell<bool>,
    /// Serials handed out so far.
    serials: Cell<u64>,
}

impl SharedStack {
    /// Makes `stack` a shared stack for copying tasklets.
    pub(crate) fn new(stack: GuardedStack) -> Result<Rc<SharedStack>, StackError> {
        let margin = suspend_margin().map_err(|msg| {
            StackError::Os(std::io::Error::other(format!(
                "stack copying is unavailable: {msg}"
            )))
        })?;
        let (_, bottom) = stack.guard_range();
        let base = stack.base().get();
        Ok(Rc::new(SharedStack {
            stack,
            bottom,
            base,
            margin,
            resident: Cell::new(0),
            running: Cell::new(false),
            serials: Cell::new(0),
        }))
    }

    /// Usable bytes.
    pub(crate) fn usable_size(&self) -> usize {
        self.stack.usable_size()
    }

    fn next_serial(&self) -> u64 {
        let serial = self.serials.get() + 1;
        self.serials.set(serial);
        serial
    }

    /// Claims the stack for `fiber` until the returned guard drops: marks it running and
    /// names the fiber's tasklet in the overflow header.
    fn enter(&self, fiber: &CopyingFiber) -> Running<'_> {
        assert!(
            !self.running.get(),
            "uthread: a shared stack runs one fiber at a time (nested resume)"
        );
        self.running.set(true);
        self.resident.set(fiber.serial);
        let header = self.stack.header_ptr();
        let (name, len) = fiber
            .name
            .as_ref()
            .map_or((ptr::null(), 0), |n| (n.as_ptr(), n.len()));
        // SAFETY: the header was initialised when the stack was mapped and stays mapped
        // while `self` lives. No fiber runs on this stack (checked above), and the
        // overflow handler reads the header only while a fiber of this thread runs, so
        // these plain stores race with nothing. `name` points into the fiber's own
        // `Rc<str>`, which outlives the slice that is about to run.
        unsafe {
            ptr::addr_of_mut!((*header).tasklet_id).write(fiber.owner_id);
            ptr::addr_of_mut!((*header).ext_name).write(name);
            ptr::addr_of_mut!((*header).name_len).write(len);
        }
        Running {
            stack: self,
            _overflow: overflow::RunningGuard::enter(header.cast_const()),
        }
    }

    /// Puts a suspended fiber's saved frames back where they were.
    ///
    /// # Safety
    ///
    /// No fiber may be running on this stack, and `saved` must be the image made by
    /// [`SharedStack::copy_out`] of this stack.
    unsafe fn copy_in(&self, saved: &[MaybeUninit<u8>]) {
        let len = saved.len();
        debug_assert!(len <= self.base - self.bottom);
        valgrind::make_undefined(self.base - len, len);
        // SAFETY: `[base - len, base)` lies in the usable part of the mapping (the image
        // was taken from there); nothing runs on the stack, so nothing else reads or
        // writes it now, and the heap buffer cannot overlap the mapping.
        unsafe {
            ptr::copy_nonoverlapping(
                saved.as_ptr(),
                (self.base - len) as *mut MaybeUninit<u8>,
                len,
            )
        };
    }

    /// Saves the frames of the fiber that has just suspended into `saved`. `mark` is the
    /// address its suspend path recorded (0 if none).
    ///
    /// # Safety
    ///
    /// The fiber that ran on this stack must have just suspended (it is not running and
    /// no other fiber has run on the stack since).
    unsafe fn copy_out(&self, saved: &mut Vec<MaybeUninit<u8>>, mark: usize) {
        let lo = if mark >= self.bottom + self.margin && mark < self.base {
            (mark - self.margin) & !15
        } else {
            // No mark from the one suspend path: copy everything rather than guess.
            debug_assert!(false, "a copying fiber suspended without a suspend mark");
            self.bottom
        };
        let len = self.base - lo;
        // The bytes below the suspended stack pointer are dead, and copied on purpose.
        valgrind::make_defined(lo, mark.clamp(lo, self.base) - lo);
        saved.clear();
        saved.reserve_exact(len);
        // SAFETY: `[lo, base)` is inside the usable part of our mapping and, by the
        // calibration, contains every frame of the suspended fiber (bytes below its
        // stack pointer are dead, copying them is harmless). Copying as `MaybeUninit`
        // bytes is fine for padding. The buffer has room for `len` bytes and does not
        // overlap the mapping; `set_len` covers exactly the bytes written.
        unsafe {
            ptr::copy_nonoverlapping(lo as *const MaybeUninit<u8>, saved.as_mut_ptr(), len);
            saved.set_len(len);
        }
        if saved.capacity() >= 2 * len && saved.capacity() - len >= 4096 {
            // It once suspended much deeper; give the memory back.
            saved.shrink_to_fit();
        }
    }
}

impl fmt::Debug for SharedStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedStack")
            .field("base", &format_args!("{:#x}", self.base))
            .field("usable", &self.usable_size())
            .field("margin", &self.margin)
            .field("running", &self.running.get())
            .finish()
    }
}

/// The shared stack is claimed by a running fiber while this lives.
struct Running<'a> {
    stack: &'a SharedStack,
    _overflow: overflow::RunningGuard,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.stack.running.set(false);
    }
}

/// corosensei's view of a shared stack: its bounds, and a handle that keeps it mapped.
struct SharedStackRef(Rc<SharedStack>);

// SAFETY: the bounds are those of a `GuardedStack`, which satisfies the trait (16-byte
// aligned base, guard page included in the limit, far more than 4096 usable bytes). Many
// coroutines report the same bounds, which corosensei allows as long as only one of them
// uses the memory at a time: `CopyingFiber` copies frames in and out around every resume
// and never resumes one while another runs on the stack.
unsafe impl Stack for SharedStackRef {
    #[inline]
    fn base(&self) -> StackPointer {
        self.0.stack.base()
    }

    #[inline]
    fn limit(&self) -> StackPointer {
        self.0.stack.limit()
    }
}

/// A copying tasklet's claim on a shared stack, before its fiber exists.
#[derive(Debug)]
pub(crate) struct SharedLease {
    stack: Rc<SharedStack>,
    owner_id: u64,
    name: Option<Rc<str>>,
}

impl SharedLease {
    pub(crate) fn new(stack: Rc<SharedStack>) -> SharedLease {
        SharedLease {
            stack,
            owner_id: 0,
            name: None,
        }
    }

    pub(crate) fn usable_size(&self) -> usize {
        self.stack.usable_size()
    }

    pub(crate) fn set_owner(&mut self, tasklet_id: u64, name: Option<Rc<str>>) {
        self.owner_id = tasklet_id;
        self.name = name;
    }
}

type SharedCo = Coroutine<(), (), FiberExit, SharedStackRef>;

/// Where a copying fiber stands.
enum Phase {
    /// Not started: the body waits on the heap until the first resume creates the
    /// coroutine (creating it writes to the shared stack).
    Unstarted(Box<dyn FnOnce()>),
    /// Created; its frames are in `saved` whenever it is suspended.
    Started(SharedCo),
    /// Returned, unwound, or abandoned.
    Finished,
}

/// A tasklet body on a shared stack.
pub(crate) struct CopyingFiber {
    stack: Rc<SharedStack>,
    phase: Phase,
    /// While suspended: the fiber's frames, a copy of `[base - saved.len(), base)`.
    saved: Vec<MaybeUninit<u8>>,
    /// Identifies this fiber among those of its shared stack (for `resident`).
    serial: u64,
    /// The tasklet's id and name, for the overflow report.
    owner_id: u64,
    name: Option<Rc<str>>,
}

impl CopyingFiber {
    pub(crate) fn new(lease: SharedLease, body: Box<dyn FnOnce()>) -> CopyingFiber {
        let serial = lease.stack.next_serial();
        CopyingFiber {
            stack: lease.stack,
            phase: Phase::Unstarted(body),
            saved: Vec::new(),
            serial,
            owner_id: lease.owner_id,
            name: lease.name,
        }
    }

    /// Runs the fiber until it suspends (`None`) or its body ends (`Some`).
    ///
    /// # Panics
    ///
    /// If another fiber is running on the same shared stack (a nested resume), or the
    /// fiber has finished.
    pub(crate) fn resume(&mut self) -> Option<FiberExit> {
        let stack = Rc::clone(&self.stack);
        let was_resident = stack.resident.get();
        let running = stack.enter(self);
        if let Phase::Unstarted(_) = self.phase {
            let Phase::Unstarted(body) = mem::replace(&mut self.phase, Phase::Finished) else {
                unreachable!("checked just above")
            };
            // We hold the stack (`running`), so corosensei may write the initial frame
            // and the (boxed) body onto it.
            let top = stack.usable_size().min(4096);
            valgrind::make_undefined(stack.base - top, top);
            self.phase = Phase::Started(Coroutine::with_stack(
                SharedStackRef(Rc::clone(&stack)),
                move |yielder: &Yielder<(), ()>, ()| {
                    switch::run_body(yielder, SuspendKind::Marked, body)
                },
            ));
        } else {
            self.restore_frames(was_resident);
        }
        let Phase::Started(co) = &mut self.phase else {
            panic!("resuming a finished fiber");
        };
        switch::take_suspend_mark();
        let result = co.resume(());
        let mark = switch::take_suspend_mark();
        let exit = match result {
            CoroutineResult::Yield(()) => {
                // SAFETY: the fiber has just suspended and nothing has run on the stack
                // since (we still hold it).
                unsafe { stack.copy_out(&mut self.saved, mark) };
                None
            }
            CoroutineResult::Return(exit) => {
                self.saved = Vec::new();
                Some(exit)
            }
        };
        drop(running);
        exit
    }

    /// Asks the CPU to fetch the saved frames (the next resume copies them in).
    #[inline]
    pub(crate) fn prefetch(&self) {
        // The first 2 KiB covers a tasklet blocked a few calls deep; a deeper image is
        // streamed by the hardware prefetcher once the copy starts.
        prefetch::prefetch_range(self.saved.as_ptr().cast(), self.saved.len().min(2048));
    }

    /// Copies the fiber's frames in if the stack does not hold them intact. Called with
    /// the stack claimed (`running`) by this fiber, before its coroutine runs.
    fn restore_frames(&self, was_resident: u64) {
        if was_resident != self.serial && !self.saved.is_empty() {
            // SAFETY: the caller claimed the stack for this fiber, so no fiber runs on
            // it, and `saved` is this fiber's image of this stack.
            unsafe { self.stack.copy_in(&self.saved) };
        }
    }

    /// Ends the fiber: drops a body that never ran, or unwinds a suspended one (its
    /// destructors run). Returns false if it had to be abandoned instead (its frames
    /// cannot be restored while another fiber runs on the stack); it then leaks.
    pub(crate) fn finish(&mut self) -> bool {
        match mem::replace(&mut self.phase, Phase::Finished) {
            Phase::Finished => {}
            Phase::Unstarted(body) => drop(body),
            Phase::Started(co) if co.done() => drop(co),
            Phase::Started(mut co) => {
                if self.stack.running.get() {
                    mem::forget(co);
                    self.saved = Vec::new();
                    return false;
                }
                let stack = self.stack.clone();
                let was_resident = stack.resident.get();
                let running = stack.enter(self);
                self.restore_frames(was_resident);
                co.force_unwind();
                drop(running);
                drop(co);
            }
        }
        self.saved = Vec::new();
        true
    }

    /// Ends the fiber (as [`CopyingFiber::finish`] does) and gives back its lease.
    pub(crate) fn into_lease(mut self) -> SharedLease {
        self.finish();
        SharedLease {
            stack: self.stack.clone(),
            owner_id: self.owner_id,
            name: self.name.take(),
        }
    }
}

impl Drop for CopyingFiber {
    fn drop(&mut self) {
        self.finish();
    }
}

impl fmt::Debug for CopyingFiber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match &self.phase {
            Phase::Unstarted(_) => "unstarted",
            Phase::Started(_) => "started",
            Phase::Finished => "finished",
        };
        f.debug_struct("CopyingFiber")
            .field("phase", &phase)
            .field("saved", &self.saved.len())
            .field("tasklet_id", &self.owner_id)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use super::*;
    use crate::sys::fiber::{Fiber, FiberStack};
    use crate::sys::stack::{round_stack_size, GuardedStack};

    /// Records its id in a shared log when dropped.
    struct Guard(u32, Rc<RefCell<Vec<u32>>>);

    impl Drop for Guard {
        fn drop(&mut self) {
            self.1.borrow_mut().push(self.0);
        }
    }

    fn on(stack: &Rc<SharedStack>) -> FiberStack {
        FiberStack::Shared(SharedLease::new(stack.clone()))
    }

    /// A body that keeps a guard and some data in its frames and suspends forever,
    /// checking its data after every resume.
    fn sleeper(id: u32, log: &Rc<RefCell<Vec<u32>>>) -> impl FnOnce() + 'static {
        let log = log.clone();
        move || {
            let _guard = Guard(id, log);
            let data = std::hint::black_box([id; 40]);
            loop {
                assert!(crate::sys::switch::suspend());
                assert_eq!(data, [id; 40], "frames of fiber {id} were not restored");
            }
        }
    }

    #[test]
    fn dropping_suspended_fibers_unwinds_each_from_its_own_frames() {
        let stack =
            SharedStack::new(GuardedStack::new(round_stack_size(64 * 1024)).unwrap()).unwrap();
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut fibers: Vec<Fiber> = (0..4)
            .map(|i| Fiber::new(on(&stack), sleeper(i, &log)))
            .collect();
        for _round in 0..3 {
            for f in &mut fibers {
                assert!(f.resume().is_none());
            }
        }
        // The last one resumed is still intact on the stack; the first one is not.
        drop(fibers.pop());
        drop(fibers.remove(0));
        assert_eq!(*log.borrow(), [3, 0]);
        // The others still run, then unwind through `into_stack`.
        for f in &mut fibers {
            assert!(f.resume().is_none());
        }
        for f in fibers {
            assert!(matches!(f.into_stack(), FiberStack::Shared(_)));
        }
        assert_eq!(*log.borrow(), [3, 0, 1, 2]);
        assert!(!stack.running.get());
    }

    #[test]
    fn a_fiber_dropped_while_its_stack_is_busy_leaks_rather_than_corrupts() {
        let stack =
            SharedStack::new(GuardedStack::new(round_stack_size(64 * 1024)).unwrap()).unwrap();
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut victim = Fiber::new(on(&stack), sleeper(7, &log));
        assert!(victim.resume().is_none());
        let dropped_inside = Rc::new(Cell::new(false));
        let flag = dropped_inside.clone();
        // Another fiber on the same stack drops it while running: its frames cannot be
        // brought back (the stack is in use), so it is abandoned, not unwound.
        let mut dropper = Fiber::new(on(&stack), move || {
            drop(victim);
            flag.set(true);
        });
        assert!(matches!(dropper.resume(), Some(FiberExit::Returned)));
        assert!(dropped_inside.get());
        assert!(
            log.borrow().is_empty(),
            "the victim's guard leaked, never dropped"
        );
        drop(dropper.into_stack());
    }

    #[test]
    fn an_unstarted_fiber_never_touches_the_stack() {
        let stack =
            SharedStack::new(GuardedStack::new(round_stack_size(64 * 1024)).unwrap()).unwrap();
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut running = Fiber::new(on(&stack), sleeper(1, &log));
        assert!(running.resume().is_none());
        // Creating and dropping a fiber leaves the resident image alone.
        let unstarted = Fiber::new(on(&stack), sleeper(2, &log));
        assert_eq!(stack.resident.get(), 1);
        drop(unstarted);
        assert!(
            log.borrow().is_empty(),
            "its body never ran: no guard was made"
        );
        assert!(running.resume().is_none());
        drop(running);
        assert_eq!(*log.borrow(), [1]);
    }
}
