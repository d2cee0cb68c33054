//! Memcheck client requests for stack copying, compiled in with the `valgrind` feature
//! (`scripts/valgrind.sh` turns it on); without it these functions are empty.
//!
//! Memcheck tracks each stack's pointer: bytes a function returns past become
//! inaccessible, bytes a call descends into become undefined. A shared stack holds many
//! tasklets' frames in turn, and uthread copies them in and out from the thread's own
//! stack, so memcheck's picture of the shared stack is the last tasklet's, not the one
//! being restored: restoring frames writes "inaccessible" bytes, saving them reads the
//! dead bytes just below the suspended stack pointer (the calibrated margin), and the
//! calibration scans a stack it does not run on. These requests tell memcheck what the
//! copy means, so that the copying strategy is checked as strictly as everything else.
//!
//! The requests use valgrind's documented client-request sequence (a run of rotates
//! that leaves the register unchanged, then `xchg rbx, rbx`): a no-op on real hardware,
//! recognised by valgrind's JIT. x86-64 only; elsewhere they do nothing.
#![cfg_attr(
    all(feature = "valgrind", target_arch = "x86_64"),
    allow(unsafe_code, reason = "valgrind client requests are inline assembly")
)]

/// Memcheck's request numbers: the tool base `('M' << 24) | ('C' << 16)` plus an index.
#[cfg(all(feature = "valgrind", target_arch = "x86_64"))]
mod request {
    const MEMCHECK: u64 = ((b'M' as u64) << 24) | ((b'C' as u64) << 16);
    pub(super) const MAKE_MEM_UNDEFINED: u64 = MEMCHECK + 1;
    pub(super) const MAKE_MEM_DEFINED: u64 = MEMCHECK + 2;

    /// Sends one client request; returns `default` when not running under valgrind.
    #[inline(never)]
    pub(super) fn send(code: u64, addr: usize, len: usize) -> u64 {
        let args: [u64; 6] = [code, addr as u64, len as u64, 0, 0, 0];
        let default = 0u64;
        let result: u64;
        // SAFETY: the rotates by 3, 13, 61 and 51 add up to 128, so `rdi` ends as it
        // began, and `xchg rbx, rbx` changes nothing: on hardware the sequence has no
        // effect. Under valgrind it reads the six words at `rax` (our array, alive for
        // the call) and writes its answer to `rdx`. It touches no stack memory.
        unsafe {
            std::arch::asm!(
                "rol rdi, 3",
                "rol rdi, 13",
                "rol rdi, 61",
                "rol rdi, 51",
                "xchg rbx, rbx",
                inout("rdx") default => result,
                in("rax") args.as_ptr(),
                out("rdi") _,
                options(nostack, preserves_flags),
            );
        }
        result
    }
}

/// `[addr, addr + len)` becomes addressable and undefined (about to be overwritten with
/// a saved image, or with a new coroutine's first frame).
#[inline]
pub(crate) fn make_undefined(addr: usize, len: usize) {
    #[cfg(all(feature = "valgrind", target_arch = "x86_64"))]
    request::send(request::MAKE_MEM_UNDEFINED, addr, len);
    let _ = (addr, len);
}

/// `[addr, addr + len)` becomes addressable and defined (dead stack bytes that are read
/// on purpose: the margin below a suspended stack pointer, a calibration scan).
#[inline]
pub(crate) fn make_defined(addr: usize, len: usize) {
    #[cfg(all(feature = "valgrind", target_arch = "x86_64"))]
    request::send(request::MAKE_MEM_DEFINED, addr, len);
    let _ = (addr, len);
}
