//! The physical floor for frame benchmarks: bare corosensei coroutines, no scheduler, on
//! stacks carved from one big mapping (so that 100,000 of them fit under the kernel's
//! mapping limit, which one guarded mapping per stack would exceed).
//!
//! Not an API for tasklets: the carved stacks have no guard pages between them, which is
//! only sound because the coroutine body is fixed here, tiny, and runs no caller code.
//! It exists so that benchmarks can compare the scheduler against the cost of the bare
//! switches it is built on.
#![allow(
    unsafe_code,
    reason = "one mmap carved into corosensei stacks for the benchmark floor"
)]

use std::cell::Cell;
use std::fmt;
use std::io;
use std::num::NonZeroUsize;
use std::rc::Rc;

use corosensei::stack::{Stack, StackPointer};
use corosensei::{Coroutine, CoroutineResult, Yielder};

use super::stack::page_size;

/// Bytes of stack each floor coroutine gets (its body needs well under 1 KiB).
const SLICE: usize = 8 * 1024;

/// One anonymous mapping, unmapped when the last slice of it is dropped.
struct Mapping {
    addr: usize,
    len: usize,
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: [addr, addr + len) is exactly the mapping made in `FloorFrame::new`,
        // owned by this value; every coroutine using a slice of it has been dropped (each
        // holds an `Rc` to it).
        unsafe { libc::munmap(self.addr as *mut libc::c_void, self.len) };
    }
}

/// A `SLICE`-byte slice of the shared mapping.
struct Slice {
    base: StackPointer,
    _mapping: Rc<Mapping>,
}

// SAFETY: `base` is 16-byte aligned (the mapping is page-aligned and SLICE is a multiple
// of 16) and the slice below it holds SLICE (>= corosensei's 4096 minimum) writable
// bytes. The trait asks for a guard page: there is one only below the lowest slice. The
// only body ever run on these stacks is `floor_body`, a counter increment and a suspend
// in a loop, which uses a small fixed amount of stack, so no slice can overflow into its
// neighbour; no caller code runs on them.
unsafe impl Stack for Slice {
    fn base(&self) -> StackPointer {
        self.base
    }

    fn limit(&self) -> StackPointer {
        NonZeroUsize::new(self.base.get() - SLICE).unwrap_or(self.base)
    }
}

/// The one body a floor coroutine runs: bump the frame counter, suspend, forever.
fn floor_body(counter: Rc<Cell<u64>>) -> impl FnOnce(&Yielder<(), ()>, ()) {
    move |yielder, ()| loop {
        counter.set(counter.get() + 1);
        yielder.suspend(());
    }
}

/// `n` bare coroutines resumed once each per [`FloorFrame::step`].
pub struct FloorFrame {
    coroutines: Vec<Coroutine<(), (), (), Slice>>,
    counter: Rc<Cell<u64>>,
}

impl fmt::Debug for FloorFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FloorFrame")
            .field("coroutines", &self.coroutines.len())
            .field("resumes", &self.counter.get())
            .finish()
    }
}

impl FloorFrame {
    /// Maps one region for `n` stacks and starts `n` coroutines on it.
    ///
    /// # Errors
    ///
    /// The operating system's error if the mapping fails.
    pub fn new(n: usize) -> io::Result<FloorFrame> {
        let page = page_size();
        let len = n
            .checked_mul(SLICE)
            .and_then(|l| l.checked_add(page))
            .ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))?;
        // SAFETY: a fresh anonymous private mapping; no existing memory is affected.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mapping = Rc::new(Mapping {
            addr: addr as usize,
            len,
        });
        // SAFETY: the lowest page of our own mapping becomes the guard below slice 0.
        unsafe { libc::mprotect(addr, page, libc::PROT_NONE) };
        let counter = Rc::new(Cell::new(0));
        let mut coroutines = Vec::with_capacity(n);
        for i in 0..n {
            let top = mapping.addr + page + (i + 1) * SLICE;
            let slice = Slice {
                base: NonZeroUsize::new(top)
                    .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidData))?,
                _mapping: mapping.clone(),
            };
            coroutines.push(Coroutine::with_stack(slice, floor_body(counter.clone())));
        }
        Ok(FloorFrame {
            coroutines,
            counter,
        })
    }

    /// One frame: resumes every coroutine once. Returns the resumes so far.
    pub fn step(&mut self) -> u64 {
        for co in &mut self.coroutines {
            if let CoroutineResult::Return(()) = co.resume(()) {
                unreachable!("the floor body never returns");
            }
        }
        self.counter.get()
    }
}
