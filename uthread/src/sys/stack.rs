//! Guarded, mmap'd tasklet stacks, the pool that recycles them, and the choice between
//! dedicated and shared (copying) stacks.
//!
//! Each stack is one anonymous mapping: a `PROT_NONE` guard page at the bottom and the
//! usable stack above it. That costs the kernel two memory mappings per stack, which is
//! what limits how many can be live at once (`vm.max_map_count`). Stacks are never
//! unmapped while the pool lives: a dead tasklet's stack goes back to the pool and the
//! next spawn of the same size takes it without a system call.
//!
//! Copying tasklets ([`StackStrategy::Copying`]) take no stack of their own: the pool
//! keeps one shared guarded stack per size for them (see `copying.rs`), and hands out
//! leases on it.
#![allow(
    unsafe_code,
    reason = "mmap, mprotect and munmap, and corosensei's `Stack` trait"
)]

use std::fmt;
use std::io;
use std::mem::ManuallyDrop;
use std::num::NonZeroUsize;
use std::rc::Rc;

use corosensei::stack::valgrind::ValgrindStackRegistration;
use corosensei::stack::{Stack, StackPointer};

use super::copying::{SharedLease, SharedStack};

/// Smallest usable stack we hand out (below this even a panic message does not fit).
pub(crate) const MIN_STACK_SIZE: usize = 16 * 1024;

/// The system page size, read once.
pub(crate) fn page_size() -> usize {
    use std::sync::OnceLock;
    static PAGE: OnceLock<usize> = OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions; _SC_PAGESIZE is a valid name.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if size > 0 {
            size as usize
        } else {
            4096
        }
    })
}

/// Rounds a requested stack size up to whole pages, with the minimum applied.
pub(crate) fn round_stack_size(size: usize) -> usize {
    let page = page_size();
    let size = size.max(MIN_STACK_SIZE);
    size.div_ceil(page).saturating_mul(page)
}

/// Why a stack could not be had.
#[derive(Debug)]
pub enum StackError {
    /// The kernel's limit on memory mappings per process (`vm.max_map_count`) was reached.
    /// Every guarded stack costs two mappings.
    MappingLimit {
        /// The limit, read from `/proc/sys/vm/max_map_count`.
        max_map_count: usize,
        /// Mappings the process held when the allocation failed.
        mappings: usize,
    },
    /// The kernel refused the memory itself (address space or commit limit).
    OutOfMemory {
        /// The usable size that was requested, in bytes.
        size: usize,
    },
    /// Some other operating-system error.
    Os(io::Error),
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StackError::MappingLimit {
                max_map_count,
                mappings,
            } => write!(
                f,
                "no stack: the kernel's mapping limit is reached ({mappings} of vm.max_map_count = \
                 {max_map_count}; each guarded stack uses 2)"
            ),
            StackError::OutOfMemory { size } => {
                write!(f, "no stack: out of memory allocating {size} bytes")
            }
            StackError::Os(err) => write!(f, "no stack: {err}"),
        }
    }
}

impl std::error::Error for StackError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StackError::Os(err) => Some(err),
            _ => None,
        }
    }
}

/// Reads the mapping limit and the current mapping count (only on the error path).
fn diagnose_enomem(size: usize) -> StackError {
    let max = read_small("/proc/sys/vm/max_map_count").and_then(|(buf, n)| {
        std::str::from_utf8(&buf[..n])
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
    });
    let mappings = count_lines("/proc/self/maps");
    match (max, mappings) {
        // Within a few mappings of the limit: that is what failed (the allocator and
        // other threads may hold the last few).
        (Some(max_map_count), Some(mappings)) if mappings + 16 >= max_map_count => {
            StackError::MappingLimit {
                max_map_count,
                mappings,
            }
        }
        _ => StackError::OutOfMemory { size },
    }
}

/// Reads a small file into a buffer on the stack. At the mapping limit nothing may
/// allocate: growing a heap buffer needs a new mapping, which is what just failed.
fn read_small(path: &str) -> Option<([u8; 64], usize)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    let mut buf = [0u8; 64];
    let n = file.read(&mut buf).ok()?;
    Some((buf, n))
}

/// Counts the lines of a (possibly large) file through a fixed buffer on the stack.
fn count_lines(path: &str) -> Option<usize> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    let mut buf = [0u8; 4096];
    let mut lines = 0;
    loop {
        let n = file.read(&mut buf).ok()?;
        if n == 0 {
            return Some(lines);
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count();
    }
}

/// Bytes reserved at the top of every stack for its [`StackHeader`].
const HEADER_SPACE: usize = 256;

/// Longest tasklet name kept in a stack header (for the overflow report).
pub(crate) const HEADER_NAME_LEN: usize = 192;

/// Who owns a stack right now, written at the top of the stack mapping itself so that the
/// SIGSEGV handler can name an overflowing tasklet without allocating or locking.
#[repr(C)]
pub(crate) struct StackHeader {
    /// Lowest address of the guard page.
    pub(crate) guard_lo: usize,
    /// One past the highest address of the guard page.
    pub(crate) guard_hi: usize,
    /// Usable stack bytes.
    pub(crate) usable: usize,
    /// The owning tasklet's id (as shown in `Debug`).
    pub(crate) tasklet_id: u64,
    /// Bytes of the name in use.
    pub(crate) name_len: usize,
    /// Where the name is when it is not inline: a shared stack points at the running
    /// tasklet's own name (set on every resume) instead of copying it. Null: use `name`.
    pub(crate) ext_name: *const u8,
    /// The owning tasklet's name, truncated (dedicated stacks).
    pub(crate) name: [u8; HEADER_NAME_LEN],
}

const _: () = assert!(std::mem::size_of::<StackHeader>() <= HEADER_SPACE);

/// One mmap'd stack with a guard page below it.
pub(crate) struct GuardedStack {
    /// Highest address (the stack grows down from here).
    base: StackPointer,
    /// Length of the whole mapping, guard page included.
    mmap_len: usize,
    /// Tells valgrind this region is a stack; deregisters on drop.
    valgrind: ManuallyDrop<ValgrindStackRegistration>,
}

impl GuardedStack {
    /// Maps a new stack with `size` usable bytes (already rounded to pages).
    pub(crate) fn new(size: usize) -> Result<GuardedStack, StackError> {
        let page = page_size();
        let mmap_len = size
            .checked_add(page)
            .ok_or(StackError::OutOfMemory { size })?;
        // SAFETY: a fresh anonymous private mapping at an address the kernel picks; no
        // existing memory is affected. MAP_NORESERVE: untouched stack pages cost nothing.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mmap_len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            let err = io::Error::last_os_error();
            return Err(if err.raw_os_error() == Some(libc::ENOMEM) {
                diagnose_enomem(size)
            } else {
                StackError::Os(err)
            });
        }
        let base = NonZeroUsize::new(addr as usize + mmap_len - HEADER_SPACE)
            .ok_or(StackError::OutOfMemory { size })?;
        // Build the value first so that an mprotect failure unmaps it in Drop.
        let stack = GuardedStack {
            base,
            mmap_len,
            valgrind: ManuallyDrop::new(ValgrindStackRegistration::new(addr.cast(), mmap_len)),
        };
        // SAFETY: the range [addr + page, addr + mmap_len) lies inside the mapping we just
        // made and own; making it read-write leaves the lowest page as the guard.
        let rc = unsafe {
            libc::mprotect(
                addr.cast::<u8>().add(page).cast(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        };
        if rc != 0 {
            let err = io::Error::last_os_error();
            // Splitting the mapping in two is what hits vm.max_map_count.
            return Err(if err.raw_os_error() == Some(libc::ENOMEM) {
                diagnose_enomem(size)
            } else {
                StackError::Os(err)
            });
        }
        let (guard_lo, guard_hi) = stack.guard_range();
        // SAFETY: the header area is the top HEADER_SPACE bytes of the read-write part of
        // our own mapping, page-aligned plus a multiple of 16, so suitably aligned; no
        // coroutine uses it (corosensei's stack starts below it, at `base`).
        unsafe {
            stack.header_ptr().write(StackHeader {
                guard_lo,
                guard_hi,
                usable: size,
                tasklet_id: 0,
                name_len: 0,
                ext_name: std::ptr::null(),
                name: [0; HEADER_NAME_LEN],
            })
        };
        Ok(stack)
    }

    /// Usable bytes (the guard page excluded).
    pub(crate) fn usable_size(&self) -> usize {
        self.mmap_len - page_size()
    }

    /// The guard page's address range, `[lo, hi)`.
    pub(crate) fn guard_range(&self) -> (usize, usize) {
        let lo = self.base.get() + HEADER_SPACE - self.mmap_len;
        (lo, lo + page_size())
    }

    /// Where this stack's header lives (just above the coroutine's stack base).
    pub(crate) fn header_ptr(&self) -> *mut StackHeader {
        self.base.get() as *mut StackHeader
    }

    /// Gives every page but the top one back to the kernel (they read as zeros when next
    /// touched). A pooled stack otherwise keeps every page it was ever touched on, and
    /// an unwind (a kill, a panic) reaches deeper than the tasklet ever ran. The top page
    /// holds the header and the first frames of the next tasklet, so it stays.
    pub(crate) fn release_pages(&mut self) {
        let page = page_size();
        let (_, lo) = self.guard_range();
        let top_page = (self.base.get() + HEADER_SPACE - page) & !(page - 1);
        if top_page > lo {
            // SAFETY: [lo, top_page) is inside this stack's own read-write range (above
            // the guard page, below the header's page), and `&mut self` means no
            // coroutine runs on it: the tasklet that used it has finished. MADV_DONTNEED
            // on private anonymous memory only drops the pages' contents.
            unsafe { libc::madvise(lo as *mut libc::c_void, top_page - lo, libc::MADV_DONTNEED) };
        }
    }

    /// Records which tasklet owns the stack, for the overflow report.
    pub(crate) fn set_owner(&mut self, tasklet_id: u64, name: &str) {
        let bytes = name.as_bytes();
        let len = bytes.len().min(HEADER_NAME_LEN);
        // SAFETY: the header was initialised in `new`; `&mut self` means no coroutine is
        // running on this stack (it is being prepared for a spawn), so nothing else reads
        // or writes the header now.
        let header = unsafe { &mut *self.header_ptr() };
        header.tasklet_id = tasklet_id;
        header.name[..len].copy_from_slice(&bytes[..len]);
        header.name_len = len;
    }
}

impl Drop for GuardedStack {
    fn drop(&mut self) {
        // SAFETY: deregistering exactly once, before the memory goes away.
        unsafe { ManuallyDrop::drop(&mut self.valgrind) };
        let addr = self.base.get() + HEADER_SPACE - self.mmap_len;
        // SAFETY: [addr, addr + mmap_len) is exactly the mapping made in `new`, owned by
        // this value alone; no coroutine runs on it any more (the pool only drops stacks
        // that have been handed back by finished coroutines).
        let rc = unsafe { libc::munmap(addr as *mut libc::c_void, self.mmap_len) };
        debug_assert_eq!(rc, 0, "munmap of a tasklet stack failed");
    }
}

// SAFETY: `base` is the top of the mapping minus HEADER_SPACE (a multiple of 16), so it is
// 16-byte aligned; below it lie at least MIN_STACK_SIZE - HEADER_SPACE usable bytes (well
// over corosensei's 4096 minimum), and `limit` is the mapping's start, guard page included.
unsafe impl Stack for GuardedStack {
    #[inline]
    fn base(&self) -> StackPointer {
        self.base
    }

    #[inline]
    fn limit(&self) -> StackPointer {
        // The mapping starts at a page boundary, which is never address zero.
        NonZeroUsize::new(self.base.get() + HEADER_SPACE - self.mmap_len).unwrap_or(self.base)
    }
}

impl fmt::Debug for GuardedStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedStack")
            .field("base", &format_args!("{:#x}", self.base.get()))
            .field("usable", &self.usable_size())
            .finish()
    }
}

/// Where a tasklet's stack lives while it is suspended.
///
/// Chosen per scheduler with
/// [`SchedulerBuilder::stack_strategy`](crate::SchedulerBuilder::stack_strategy) (or the
/// `UTHREAD_STACK_STRATEGY` environment variable, `dedicated` or `copying`, read by the
/// default builder) and per tasklet with
/// [`Builder::stack_strategy`](crate::Builder::stack_strategy). Both strategies give a
/// tasklet the same usable depth (its stack size) with a guard page below it, so a stack
/// overflow is caught and reported with the tasklet's name either way.
///
/// # Examples
///
/// ```
/// use uthread::{Builder, Scheduler, StackStrategy};
///
/// // A million sleepers fit in memory; the few deep, hot tasklets keep their own stacks.
/// let sched = Scheduler::builder().stack_strategy(StackStrategy::Copying).build();
/// let compact = sched.spawn(|| 1).unwrap();
/// let hot = Builder::new()
///     .stack_strategy(StackStrategy::Dedicated)
///     .spawn_on(&sched, || 2)
///     .unwrap();
/// sched.run().unwrap();
/// assert_eq!(compact.join().unwrap() + hot.join().unwrap(), 3);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum StackStrategy {
    /// Its own guarded mapping from the scheduler's pool, for its whole life. A switch
    /// costs nothing extra, but every live tasklet holds two kernel memory mappings, so
    /// Linux's default `vm.max_map_count` (65530) stops a process near 32,750 of them.
    #[default]
    Dedicated,
    /// Stack copying (as in Stackless Python and greenlet): it runs on a guarded stack
    /// that it shares with the scheduler's other copying tasklets of the same stack size,
    /// and while it is suspended the slice of that stack it was using is kept on the
    /// heap (copied out when it suspends, back in before it resumes). The number of
    /// tasklets is bounded by memory, not by mappings (a tasklet blocked a few calls deep
    /// keeps well under a KiB), and each switch costs a copy proportional to how deep the
    /// tasklet was when it suspended. See the crate docs on what this means for pointers
    /// into a suspended tasklet's stack.
    Copying,
}

impl StackStrategy {
    /// The environment variable read by the default [`SchedulerBuilder`](crate::SchedulerBuilder).
    pub const ENV_VAR: &'static str = "UTHREAD_STACK_STRATEGY";

    /// Parses `dedicated` or `copying` (any case, surrounding blanks ignored).
    pub fn from_name(name: &str) -> Option<StackStrategy> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("dedicated") {
            Some(StackStrategy::Dedicated)
        } else if name.eq_ignore_ascii_case("copying") {
            Some(StackStrategy::Copying)
        } else {
            None
        }
    }

    /// The strategy named by [`StackStrategy::ENV_VAR`], if it is set. An unknown value is
    /// reported once on stderr and ignored.
    pub fn from_env() -> Option<StackStrategy> {
        let value = std::env::var(StackStrategy::ENV_VAR).ok()?;
        let parsed = StackStrategy::from_name(&value);
        if parsed.is_none() {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                eprintln!(
                    "uthread: ignoring {}={value:?} (expected \"dedicated\" or \"copying\")",
                    StackStrategy::ENV_VAR
                );
            });
        }
        parsed
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
    /// After a tasklet ended by unwinding: return its dedicated stack's pages to the
    /// kernel (a copied stack's pages belong to the shared stack, which stays warm).
    pub(crate) fn release_pages(&mut self) {
        if let FiberStack::Dedicated(stack) = self {
            stack.release_pages();
        }
    }

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

/// Counters a pool keeps, for stats and leak checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StackPoolStats {
    /// Dedicated stacks currently lent to live tasklets.
    pub in_use: usize,
    /// Dedicated stacks waiting in the pool for the next spawn.
    pub idle: usize,
    /// Dedicated stacks mapped since the pool was made (each a system call).
    pub mapped: u64,
    /// Spawns served from the pool without a system call.
    pub reused: u64,
    /// Shared stacks mapped for copying tasklets (one per stack size in use).
    pub shared_stacks: usize,
    /// Live tasklets that run on a shared stack ([`StackStrategy::Copying`]).
    pub copying: usize,
}

/// Recycles guarded stacks by size, and keeps the shared stacks of copying tasklets.
#[derive(Debug)]
pub(crate) struct StackPool {
    /// Idle stacks, grouped by usable size. Usually one or two sizes are in use.
    idle: Vec<(usize, Vec<GuardedStack>)>,
    /// Most idle stacks kept per size; beyond this, returned stacks are unmapped.
    max_idle_per_size: usize,
    /// One shared stack per usable size that copying tasklets asked for.
    shared: Vec<Rc<SharedStack>>,
    stats: StackPoolStats,
}

impl StackPool {
    pub(crate) fn new(max_idle_per_size: usize) -> StackPool {
        StackPool {
            idle: Vec::new(),
            max_idle_per_size,
            shared: Vec::new(),
            stats: StackPoolStats::default(),
        }
    }

    /// A stack of `size` usable bytes (rounded up to pages) for a new tasklet.
    pub(crate) fn take(
        &mut self,
        size: usize,
        strategy: StackStrategy,
    ) -> Result<FiberStack, StackError> {
        match strategy {
            StackStrategy::Dedicated => self.take_dedicated(size).map(FiberStack::Dedicated),
            StackStrategy::Copying => {
                let size = round_stack_size(size);
                let shared = match self.shared.iter().find(|s| s.usable_size() == size) {
                    Some(shared) => shared.clone(),
                    None => {
                        let shared = SharedStack::new(size)?;
                        self.shared.push(shared.clone());
                        self.stats.shared_stacks = self.shared.len();
                        shared
                    }
                };
                self.stats.copying += 1;
                Ok(FiberStack::Shared(SharedLease::new(shared)))
            }
        }
    }

    /// A dedicated stack, from the pool if one of that size is idle.
    fn take_dedicated(&mut self, size: usize) -> Result<GuardedStack, StackError> {
        let size = round_stack_size(size);
        if let Some((_, list)) = self.idle.iter_mut().find(|(s, _)| *s == size) {
            if let Some(stack) = list.pop() {
                self.stats.idle -= 1;
                self.stats.in_use += 1;
                self.stats.reused += 1;
                return Ok(stack);
            }
        }
        let stack = GuardedStack::new(size)?;
        self.stats.mapped += 1;
        self.stats.in_use += 1;
        Ok(stack)
    }

    /// Returns the stack of a fiber that has finished.
    pub(crate) fn give(&mut self, stack: FiberStack) {
        let stack = match stack {
            FiberStack::Dedicated(stack) => stack,
            FiberStack::Shared(lease) => {
                self.stats.copying -= 1;
                drop(lease);
                return;
            }
        };
        self.stats.in_use -= 1;
        let size = stack.usable_size();
        let list = match self.idle.iter().position(|(s, _)| *s == size) {
            Some(i) => &mut self.idle[i].1,
            None => {
                self.idle.push((size, Vec::new()));
                &mut self.idle.last_mut().expect("just pushed").1
            }
        };
        if list.len() < self.max_idle_per_size {
            list.push(stack);
            self.stats.idle += 1;
        }
    }

    /// Maps dedicated stacks ahead of time so that the first `count` spawns make no
    /// system call.
    pub(crate) fn reserve(&mut self, size: usize, count: usize) -> Result<(), StackError> {
        let size = round_stack_size(size);
        let mut fresh = Vec::with_capacity(count);
        for _ in 0..count {
            fresh.push(GuardedStack::new(size)?);
            self.stats.mapped += 1;
        }
        self.stats.idle += fresh.len();
        match self.idle.iter_mut().find(|(s, _)| *s == size) {
            Some((_, list)) => list.extend(fresh),
            None => self.idle.push((size, fresh)),
        }
        Ok(())
    }

    /// Unmaps every idle dedicated stack, and every shared stack no tasklet uses.
    pub(crate) fn trim(&mut self) {
        self.idle.clear();
        self.stats.idle = 0;
        self.shared.retain(|s| Rc::strong_count(s) > 1);
        self.stats.shared_stacks = self.shared.len();
    }

    pub(crate) fn stats(&self) -> StackPoolStats {
        self.stats
    }
}
