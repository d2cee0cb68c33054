//! Stack-overflow reports: a SIGSEGV/SIGBUS handler that names the tasklet whose guard
//! page was hit, then lets the process die of the signal as it would have anyway.
//!
//! Dedicated and shared (stack copying) stacks look the same to the handler: a guard page
//! below, a header above naming the tasklet (a shared stack's header is updated on every
//! resume to point at the running tasklet's name).
//!
//! Recovering is not attempted: skipping the overflowing tasklet's destructors could
//! leave locks and borrows held, which is worse than stopping. The point is the report:
//! which tasklet, how big its stack was.
#![allow(
    unsafe_code,
    reason = "signal handlers, sigaltstack and reading the stack header"
)]

use std::cell::{Cell, RefCell};
use std::ptr;
use std::sync::OnceLock;

use super::stack::StackHeader;

thread_local! {
    /// The header of the stack the running fiber uses, or null outside fibers.
    ///
    /// Invariant: non-null only while that fiber runs, and then the header is inside a
    /// live mapping (the fiber owns its stack for as long as it can run).
    static RUNNING: Cell<*const StackHeader> = const { Cell::new(ptr::null()) };

    /// An alternate signal stack this module installed for the thread, if any.
    static ALT_STACK: RefCell<Option<AltStack>> = const { RefCell::new(None) };
}

/// Marks a fiber's stack as the running one for the lifetime of the guard.
pub(crate) struct RunningGuard {
    prev: *const StackHeader,
}

impl RunningGuard {
    #[inline]
    pub(crate) fn enter(header: *const StackHeader) -> RunningGuard {
        let prev = RUNNING.with(|r| r.replace(header));
        RunningGuard { prev }
    }
}

impl Drop for RunningGuard {
    #[inline]
    fn drop(&mut self) {
        RUNNING.with(|r| r.set(self.prev));
    }
}

/// The handlers that were installed before ours, for SIGSEGV and SIGBUS.
static PREVIOUS: OnceLock<(libc::sigaction, libc::sigaction)> = OnceLock::new();

/// Installs the process-wide handler (once) and an alternate signal stack for this thread
/// (if it has none). Called when a scheduler is created.
pub(crate) fn install() {
    PREVIOUS.get_or_init(|| {
        // SAFETY: sigaction structs are plain data; zeroed is a valid "no handler" value
        // that we overwrite below.
        let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
        new.sa_sigaction = handler as *const () as usize;
        new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // SAFETY: sa_mask is a valid sigset_t inside `new`.
        unsafe { libc::sigemptyset(&mut new.sa_mask) };
        // SAFETY: as above, zeroed sigaction is valid storage for the old actions.
        let mut old_segv: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut old_bus: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: valid signal numbers and valid pointers to initialised structs. The old
        // actions are saved before the OnceLock publishes them; a fault before that point
        // is handled by `handler` treating a missing PREVIOUS as "default action".
        unsafe {
            libc::sigaction(libc::SIGSEGV, &new, &mut old_segv);
            libc::sigaction(libc::SIGBUS, &new, &mut old_bus);
        }
        (old_segv, old_bus)
    });
    ensure_alt_stack();
}

/// A signal stack mapped by this module for one thread.
struct AltStack {
    addr: *mut libc::c_void,
    len: usize,
}

impl Drop for AltStack {
    fn drop(&mut self) {
        let disable = libc::stack_t {
            ss_sp: ptr::null_mut(),
            ss_flags: libc::SS_DISABLE,
            ss_size: 0,
        };
        // SAFETY: disabling this thread's alternate stack (which is ours) before unmapping
        // it; the thread is exiting, so no handler runs on it any more.
        unsafe {
            libc::sigaltstack(&disable, ptr::null_mut());
            libc::munmap(self.addr, self.len);
        }
    }
}

fn ensure_alt_stack() {
    // SAFETY: zeroed stack_t is valid storage for the query.
    let mut current: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: querying only (null new stack), with a valid out pointer.
    if unsafe { libc::sigaltstack(ptr::null(), &mut current) } != 0 {
        return;
    }
    if current.ss_flags & libc::SS_DISABLE == 0 {
        return; // The thread already has one (std gives every thread it starts one).
    }
    let len = 64 * 1024;
    // SAFETY: a fresh anonymous mapping; no existing memory is affected.
    let addr = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        return; // Without it the report is lost, but nothing else changes.
    }
    let stack = libc::stack_t {
        ss_sp: addr,
        ss_flags: 0,
        ss_size: len,
    };
    // SAFETY: `stack` describes the mapping just made, which lives until the AltStack
    // guard below unmaps it at thread exit (after disabling it).
    unsafe { libc::sigaltstack(&stack, ptr::null_mut()) };
    ALT_STACK.with(|s| *s.borrow_mut() = Some(AltStack { addr, len }));
}

/// A fixed buffer for formatting inside the signal handler (no allocation allowed).
struct Buf {
    bytes: [u8; 512],
    len: usize,
}

impl Buf {
    fn push(&mut self, s: &[u8]) {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }

    fn push_num(&mut self, mut v: u64, radix: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b"0123456789abcdef"[(v % radix) as usize];
            v /= radix;
            if v == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }
}

extern "C" fn handler(signum: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let fault = unsafe { (*info).si_addr() } as usize;
    let header = RUNNING.try_with(|r| r.get()).unwrap_or(ptr::null());
    if !header.is_null() {
        // SAFETY: by the RUNNING invariant the header is in a live mapping and belongs to
        // the fiber that was running when the fault happened on this thread.
        let h = unsafe { &*header };
        if fault >= h.guard_lo && fault < h.guard_hi {
            let mut buf = Buf {
                bytes: [0; 512],
                len: 0,
            };
            buf.push(b"\nuthread: stack overflow in tasklet '");
            let len = h.name_len.min(h.name.len());
            if h.ext_name.is_null() {
                buf.push(&h.name[..len]);
            } else {
                // SAFETY: a shared stack's header points at the running tasklet's own
                // name, which lives at least as long as the slice that faulted; `len`
                // bytes of it are readable (it is a `str` at least that long).
                buf.push(unsafe { std::slice::from_raw_parts(h.ext_name, len) });
            }
            buf.push(b"' (#");
            // The slot index, as `TaskletId`'s Display shows it.
            buf.push_num(h.tasklet_id & 0xffff_ffff, 10);
            buf.push(b"): its ");
            buf.push_num((h.usable / 1024) as u64, 10);
            buf.push(b" KiB stack is exhausted (guard page hit at 0x");
            buf.push_num(fault as u64, 16);
            buf.push(b"). Give it a bigger stack (Builder::stack_size) or use less.\n");
            // SAFETY: write(2) is async-signal-safe; the buffer is valid for `len` bytes.
            unsafe { libc::write(2, buf.bytes.as_ptr().cast(), buf.len) };
            restore_default(signum);
            return; // The faulting instruction runs again and the default action ends us.
        }
    }
    chain(signum, info, context);
}

fn restore_default(signum: libc::c_int) {
    // SAFETY: resetting a valid signal to its default action.
    unsafe { libc::signal(signum, libc::SIG_DFL) };
}

/// Hands a fault that is not a tasklet overflow to whoever handled it before us.
fn chain(signum: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let Some((segv, bus)) = PREVIOUS.get() else {
        restore_default(signum);
        return;
    };
    let prev = if signum == libc::SIGBUS { bus } else { segv };
    let action = prev.sa_sigaction;
    if action == libc::SIG_DFL || action == libc::SIG_IGN {
        restore_default(signum);
        return;
    }
    if prev.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler was installed with SA_SIGINFO, so `action` is a
        // function with this signature; we pass it the arguments we were given.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(action) };
        f(signum, info, context);
    } else {
        // SAFETY: without SA_SIGINFO the previous handler takes just the signal number.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(action) };
        f(signum);
    }
}
