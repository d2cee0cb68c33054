//! Guarded tasklet stacks carved from large reserved mappings.
//!
//! A [`Carver`] reserves regions of address space (`MAP_NORESERVE`: untouched pages cost
//! nothing) and cuts them into equal slots, one stack per slot:
//!
//! ```text
//! | guard page | usable stack (grows down) ...  | colour gap | header |
//! lo           lo + page                         base               top
//! ```
//!
//! The guard page is made with `madvise(MADV_GUARD_INSTALL)` where the kernel has it
//! (Linux 6.13+): a guard region that does not split the mapping, so a million stacks
//! cost a few hundred kernel mappings in all. Older kernels get `mprotect(PROT_NONE)`,
//! which splits the mapping (two mappings per stack, so `vm.max_map_count` bounds the
//! count and running into it is a typed error). Either way a touch of the guard page
//! raises SIGSEGV, which `overflow.rs` reports with the tasklet's name.
//!
//! The header at the top of each slot names the owning tasklet for the overflow report.
//! Below it, a *colour gap* of 0 to 960 bytes (in 64-byte steps, by slot index) moves
//! each stack's base, so that the hot lines of thousands of stacks (the frames a resume
//! touches first) do not all fall into the same cache sets. The slot has a page of room
//! for header and gap on top of the usable size, so every tasklet gets the depth it asked
//! for.
//!
//! Regions are unmapped when the last stack carved from them is dropped. A stack whose
//! tasklet could not be unwound is leaked with its fiber (`mem::forget`), which keeps its
//! region mapped forever: something may still point into it.
#![allow(
    unsafe_code,
    reason = "mmap, madvise, mprotect and munmap, and corosensei's `Stack` trait"
)]

use std::fmt;
use std::io;
use std::mem::ManuallyDrop;
use std::num::NonZeroUsize;
use std::rc::Rc;
use std::sync::OnceLock;

use corosensei::stack::valgrind::ValgrindStackRegistration;
use corosensei::stack::{Stack, StackPointer};

use crate::stack::StackError;

/// Smallest usable stack we hand out (below this even a panic message does not fit).
pub(crate) const MIN_STACK_SIZE: usize = 16 * 1024;

/// `madvise` advice that installs guard regions (Linux 6.13+; not yet in `libc`).
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// Bytes reserved at the top of every stack for its [`StackHeader`].
const HEADER_SPACE: usize = 256;

/// Longest tasklet name kept in a stack header (for the overflow report).
pub(crate) const HEADER_NAME_LEN: usize = 192;

/// Distinct stack-base offsets, and the step between them (one cache line).
const COLOURS: usize = 16;
const COLOUR_STEP: usize = 64;

/// Slots in a carver's first region; each later region doubles, up to the maximum.
const FIRST_REGION_SLOTS: usize = 16;
const MAX_REGION_SLOTS: usize = 8192;

/// The system page size, read once.
pub(crate) fn page_size() -> usize {
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

/// How guard pages are made in this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GuardMode {
    /// `madvise(MADV_GUARD_INSTALL)`: no extra kernel mapping per stack.
    GuardRegion,
    /// `mprotect(PROT_NONE)`: splits the mapping, two mappings per stack.
    Protect,
}

/// The guard mode, decided once per process: guard regions when the kernel has them.
///
/// `UTHREAD_GUARD_PAGES=mprotect` forces the older way (both are equally safe; the
/// variable exists so that the fallback can be tested on new kernels).
pub(crate) fn guard_mode() -> GuardMode {
    static MODE: OnceLock<GuardMode> = OnceLock::new();
    *MODE.get_or_init(|| {
        let forced = std::env::var("UTHREAD_GUARD_PAGES")
            .is_ok_and(|v| v.trim().eq_ignore_ascii_case("mprotect"));
        if forced || !probe_guard_regions() {
            GuardMode::Protect
        } else {
            GuardMode::GuardRegion
        }
    })
}

/// Whether `MADV_GUARD_INSTALL` works here (tried on a scratch mapping).
fn probe_guard_regions() -> bool {
    let page = page_size();
    // SAFETY: a fresh anonymous private mapping of two pages; no existing memory is
    // affected.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            2 * page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        return false;
    }
    // SAFETY: the first page of the scratch mapping we own; the advice either installs a
    // guard there or fails with EINVAL on kernels that do not know it.
    let ok = unsafe { libc::madvise(addr, page, MADV_GUARD_INSTALL) } == 0;
    // SAFETY: exactly the scratch mapping made above, used by nothing else.
    unsafe { libc::munmap(addr, 2 * page) };
    ok
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

/// The error for a failed mmap/mprotect/madvise, read from `errno`.
fn os_error(size: usize) -> StackError {
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::ENOMEM) {
        diagnose_enomem(size)
    } else {
        StackError::Os(err)
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

/// Who owns a stack right now, written at the top of the stack's slot so that the
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
const _: () = assert!(HEADER_SPACE + (COLOURS - 1) * COLOUR_STEP <= 4096);

/// One reserved mapping that stacks are carved from; unmapped when the last stack of it
/// (and the carver) let go.
struct Region {
    addr: usize,
    len: usize,
}

impl Region {
    /// Reserves `len` bytes of read-write memory that costs nothing until touched.
    fn reserve(len: usize, size: usize) -> Result<Region, StackError> {
        // SAFETY: a fresh anonymous private mapping at an address the kernel picks; no
        // existing memory is affected. MAP_NORESERVE: untouched pages cost nothing.
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
            return Err(os_error(size));
        }
        // Transparent huge pages would turn each stack's one touched page into 2 MiB.
        // SAFETY: advice on the mapping we just made; it only changes how the kernel
        // backs it. A failure (THP not built in) changes nothing.
        unsafe { libc::madvise(addr, len, libc::MADV_NOHUGEPAGE) };
        Ok(Region {
            addr: addr as usize,
            len,
        })
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: [addr, addr + len) is exactly the mapping made in `reserve`, owned by
        // this value alone; every stack carved from it has been dropped (each holds an
        // `Rc` to the region), so no coroutine runs on it any more and nothing that was
        // on those stacks is referenced (a stack whose tasklet could not be unwound is
        // leaked, keeping its region mapped).
        let rc = unsafe { libc::munmap(self.addr as *mut libc::c_void, self.len) };
        debug_assert_eq!(rc, 0, "munmap of a stack region failed");
    }
}

/// Cuts reserved regions into guarded stacks of one usable size.
pub(crate) struct Carver {
    /// Usable bytes per stack (a page multiple).
    size: usize,
    /// Bytes per slot: guard page, usable stack, header page.
    slot_len: usize,
    /// The region being carved and the next slot in it.
    region: Option<(Rc<Region>, usize, usize)>,
    /// Slots in the next region to reserve.
    next_slots: usize,
    /// Stacks carved so far (also picks each one's colour).
    carved: usize,
}

impl Carver {
    /// A carver for stacks of `size` usable bytes (already rounded to pages).
    pub(crate) fn new(size: usize) -> Carver {
        let page = page_size();
        Carver {
            size,
            slot_len: size.saturating_add(2 * page),
            region: None,
            next_slots: FIRST_REGION_SLOTS,
            carved: 0,
        }
    }

    /// Forgets the current region (so that it can be unmapped once its stacks are gone).
    pub(crate) fn drop_region(&mut self) {
        self.region = None;
    }

    /// Whether `stack` was carved from the region this carver is still cutting.
    pub(crate) fn is_current_region(&self, stack: &GuardedStack) -> bool {
        self.region
            .as_ref()
            .is_some_and(|(region, _, _)| Rc::ptr_eq(region, &stack.region))
    }

    /// A new guarded stack (one system call to install its guard page, plus one to
    /// reserve a region every so often).
    pub(crate) fn carve(&mut self) -> Result<GuardedStack, StackError> {
        let needs_region = self
            .region
            .as_ref()
            .is_none_or(|(_, next, slots)| next >= slots);
        if needs_region {
            let slots = self.next_slots;
            let len = slots
                .checked_mul(self.slot_len)
                .ok_or(StackError::OutOfMemory { size: self.size })?;
            let region = Region::reserve(len, self.size)?;
            self.region = Some((Rc::new(region), 0, slots));
            self.next_slots = (slots * 2).min(MAX_REGION_SLOTS);
        }
        let Some((region, next, _)) = self.region.as_mut() else {
            unreachable!("a region was just reserved");
        };
        let lo = region.addr + *next * self.slot_len;
        let colour = self.carved % COLOURS;
        let stack = GuardedStack::in_region(region.clone(), lo, self.size, colour)?;
        *next += 1;
        self.carved += 1;
        Ok(stack)
    }
}

impl fmt::Debug for Carver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Carver")
            .field("size", &self.size)
            .field("carved", &self.carved)
            .finish()
    }
}

/// One guarded stack: a slot of a reserved region.
pub(crate) struct GuardedStack {
    /// corosensei's stack base (the stack grows down from here).
    base: StackPointer,
    /// Lowest address of the slot (the guard page's start).
    lo: usize,
    /// One past the slot's highest address (the header ends here).
    top: usize,
    /// Keeps the region mapped while the stack lives.
    region: Rc<Region>,
    /// Tells valgrind this slot is a stack; deregisters on drop.
    valgrind: ManuallyDrop<ValgrindStackRegistration>,
}

impl GuardedStack {
    /// A stack with `size` usable bytes (already rounded to pages) in a region of its own
    /// (the calibration's and the shared stacks of stack copying).
    pub(crate) fn new(size: usize) -> Result<GuardedStack, StackError> {
        let mut carver = Carver::new(size);
        carver.next_slots = 1;
        carver.carve()
    }

    /// Guards and registers the slot at `lo` of `region`.
    fn in_region(
        region: Rc<Region>,
        lo: usize,
        size: usize,
        colour: usize,
    ) -> Result<GuardedStack, StackError> {
        let page = page_size();
        let top = lo + size + 2 * page;
        debug_assert!(top <= region.addr + region.len);
        let rc = match guard_mode() {
            // SAFETY: the slot's lowest page lies inside our own region, which nothing
            // uses yet; the advice turns it into a guard region (any access faults).
            GuardMode::GuardRegion => unsafe {
                libc::madvise(lo as *mut libc::c_void, page, MADV_GUARD_INSTALL)
            },
            // SAFETY: as above; PROT_NONE makes the page fault on any access.
            GuardMode::Protect => unsafe {
                libc::mprotect(lo as *mut libc::c_void, page, libc::PROT_NONE)
            },
        };
        if rc != 0 {
            // Splitting the mapping in two is what hits vm.max_map_count.
            return Err(os_error(size));
        }
        let base = top - HEADER_SPACE - colour * COLOUR_STEP;
        let stack = GuardedStack {
            base: NonZeroUsize::new(base).ok_or(StackError::OutOfMemory { size })?,
            lo,
            top,
            region,
            valgrind: ManuallyDrop::new(ValgrindStackRegistration::new(lo as *mut u8, top - lo)),
        };
        stack.write_header(0, &[]);
        Ok(stack)
    }

    /// Usable bytes (the depth a tasklet may reach before the guard page).
    pub(crate) fn usable_size(&self) -> usize {
        self.top - self.lo - 2 * page_size()
    }

    /// The guard page's address range, `[lo, hi)`.
    pub(crate) fn guard_range(&self) -> (usize, usize) {
        (self.lo, self.lo + page_size())
    }

    /// The slot's address range, `[lo, top)`.
    pub(crate) fn slot_range(&self) -> (usize, usize) {
        (self.lo, self.top)
    }

    /// Whether `other` is the next slot of the same region, right above this one.
    pub(crate) fn is_followed_by(&self, other: &GuardedStack) -> bool {
        self.top == other.lo && Rc::ptr_eq(&self.region, &other.region)
    }

    /// Where this stack's header lives (at the top of its slot).
    pub(crate) fn header_ptr(&self) -> *mut StackHeader {
        (self.top - HEADER_SPACE) as *mut StackHeader
    }

    /// Whether this stack's region is `other`'s region.
    pub(crate) fn same_region(&self, other: &GuardedStack) -> bool {
        Rc::ptr_eq(&self.region, &other.region)
    }

    /// How many stacks (and carvers) share this stack's region, this one included.
    pub(crate) fn region_holders(&self) -> usize {
        Rc::strong_count(&self.region)
    }

    /// Gives every page but the top one back to the kernel (they read as zeros when next
    /// touched). A pooled stack otherwise keeps every page it was ever touched on, and an
    /// unwind (a kill, a panic) reaches deeper than the tasklet ever ran. The top page
    /// holds the header and the first frames of the next tasklet, so it stays.
    pub(crate) fn release_deep_pages(&mut self) {
        let page = page_size();
        let (_, lo) = self.guard_range();
        release(lo, self.top - page);
    }

    /// Records which tasklet owns the stack, for the overflow report. Writes the whole
    /// header: a stack whose pages were given back reads as zeros.
    pub(crate) fn set_owner(&mut self, tasklet_id: u64, name: &str) {
        let bytes = name.as_bytes();
        let len = bytes.len().min(HEADER_NAME_LEN);
        self.write_header(tasklet_id, &bytes[..len]);
    }

    fn write_header(&self, tasklet_id: u64, name: &[u8]) {
        let (guard_lo, guard_hi) = self.guard_range();
        let mut header = StackHeader {
            guard_lo,
            guard_hi,
            usable: self.usable_size(),
            tasklet_id,
            name_len: name.len(),
            ext_name: std::ptr::null(),
            name: [0; HEADER_NAME_LEN],
        };
        header.name[..name.len()].copy_from_slice(name);
        // SAFETY: the header area is the top HEADER_SPACE bytes of the slot, inside our
        // region (read-write, page-aligned top, so the pointer is aligned), above any
        // coroutine's base. Callers hold the stack by `&self` between slices or before
        // its first, so no coroutine runs on it and the overflow handler (which reads
        // headers only of running stacks) does not look at it.
        unsafe { self.header_ptr().write(header) };
    }
}

/// Gives the pages of `[lo, hi)` (page-aligned, inside stack slots that no coroutine
/// runs on) back to the kernel.
fn release(lo: usize, hi: usize) {
    if hi > lo {
        // SAFETY: callers pass whole pages of slots of our own regions that no coroutine
        // uses: the tasklets that ran on them have finished. MADV_DONTNEED on private
        // anonymous memory only drops the pages' contents (they read as zeros when next
        // touched); guard pages inside the range keep their guards (guard regions survive
        // it, and a PROT_NONE page has nothing to drop).
        unsafe { libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_DONTNEED) };
    }
}

/// Gives back every page of every stack in `stacks` (headers included), with one system
/// call per run of adjacent slots. Sorts `stacks` by address.
pub(crate) fn release_all_pages(stacks: &mut [GuardedStack]) {
    stacks.sort_unstable_by_key(|s| s.lo);
    let mut i = 0;
    while i < stacks.len() {
        let mut j = i;
        while j + 1 < stacks.len() && stacks[j].is_followed_by(&stacks[j + 1]) {
            j += 1;
        }
        let (lo, _) = stacks[i].guard_range();
        let (_, hi) = stacks[j].slot_range();
        // The first guard page is not ours to touch (nothing to drop there anyway).
        release(lo + page_size(), hi);
        i = j + 1;
    }
}

impl Drop for GuardedStack {
    fn drop(&mut self) {
        // SAFETY: deregistering exactly once, before the region can go away (the `Rc`
        // field is dropped after this body).
        unsafe { ManuallyDrop::drop(&mut self.valgrind) };
    }
}

// SAFETY: `base` is the slot's top minus HEADER_SPACE and a multiple of 64, all of them
// multiples of 16, so it is 16-byte aligned; below it lie at least `usable_size()` (>=
// MIN_STACK_SIZE, far over corosensei's 4096 minimum) read-write bytes, then the guard
// page at `lo`, which `limit` reports. The region stays mapped while `self` lives.
unsafe impl Stack for GuardedStack {
    #[inline]
    fn base(&self) -> StackPointer {
        self.base
    }

    #[inline]
    fn limit(&self) -> StackPointer {
        // The slot starts at a page boundary inside a mapping, never address zero.
        NonZeroUsize::new(self.lo).unwrap_or(self.base)
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
