//! The public face of tasklet stacks: which strategy a tasklet uses, why a stack could not
//! be had, and the pool's counters. The mechanism lives in `sys/stack.rs`, the policy
//! (recycling, giving pages back) in `pool.rs`.

use std::fmt;
use std::io;
use std::str::FromStr;

/// Where a tasklet's stack lives while it is suspended.
///
/// The default, [`StackStrategy::dedicated`], is safe for any program: every tasklet owns
/// a guarded stack for its whole life. Stack copying ([`StackStrategy::copying`]) is
/// smaller per tasklet but cannot be made sound for arbitrary safe code, so choosing it is
/// `unsafe`, with the contract on that constructor.
///
/// Chosen per scheduler with
/// [`SchedulerBuilder::stack_strategy`](crate::SchedulerBuilder::stack_strategy) and per
/// tasklet with [`Builder::stack_strategy`](crate::Builder::stack_strategy).
///
/// # Examples
///
/// ```
/// use uthread::{Builder, Scheduler, StackStrategy};
///
/// let sched = Scheduler::new(); // dedicated stacks, at any count
/// let deep = Builder::new()
///     .stack_strategy(StackStrategy::dedicated())
///     .stack_size(1 << 20)
///     .spawn_on(&sched, || 2)
///     .unwrap();
/// sched.run().unwrap();
/// assert_eq!(deep.join().unwrap(), 2);
/// assert_eq!(StackStrategy::default(), StackStrategy::dedicated());
/// ```
///
/// Copying cannot be chosen without `unsafe`:
///
/// ```compile_fail,E0133
/// let sched = uthread::Scheduler::builder()
///     .stack_strategy(uthread::StackStrategy::copying())
///     .build();
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StackStrategy(StackKind);

impl StackStrategy {
    /// Every tasklet gets a guarded stack of its own, carved from large reserved
    /// mappings and recycled through the scheduler's pool. On Linux 6.13 and later the
    /// guard pages cost no kernel mapping (`MADV_GUARD_INSTALL`), so the count is bounded
    /// by memory (about 4 KiB resident per tasklet blocked a few calls deep); on older
    /// kernels each guard costs two mappings and `vm.max_map_count` bounds the count
    /// (the error says how to raise it).
    pub const fn dedicated() -> StackStrategy {
        StackStrategy(StackKind::Dedicated)
    }

    /// Stack copying, as in Stackless Python and greenlet: copying tasklets of one stack
    /// size take turns on one shared guarded stack, and while suspended each keeps the
    /// slice of it that it was using on the heap (copied out when it suspends, back in
    /// before it resumes). About 1.4 KiB per suspended tasklet, and a copy per switch.
    ///
    /// # Safety
    ///
    /// While a copying tasklet is suspended, other tasklets' frames occupy its stack's
    /// addresses. Nothing may use a pointer into a suspended copying tasklet's stack:
    ///
    /// - no thread may hold a reference to one of its locals across its blocking calls
    ///   (`std::thread::scope` with a thread that borrows a local while the tasklet
    ///   blocks inside the scope);
    /// - no future pinned on its stack may be registered with a waker or an intrusive
    ///   list that outlives the poll (`tokio::sync::Notify::notified()`,
    ///   `tokio::sync::Semaphore::acquire()` and the like, pinned with `pin!` and polled
    ///   once before it blocks; `uthread::block_on(pin!(fut))` boxes only the `Pin`);
    /// - no scoped thread-local, global or other tasklet may keep a pointer to its locals
    ///   across a blocking call.
    ///
    /// Its own pointers into its own frames stay valid (its frames come back to the same
    /// addresses before it runs). uthread itself keeps no such pointer: wait entries and
    /// values in flight live on the heap, and [`block_on`](crate::block_on) of an owned
    /// future boxes it before polling. Give any tasklet that cannot promise this
    /// [`StackStrategy::dedicated`] (per tasklet with
    /// [`Builder::stack_strategy`](crate::Builder::stack_strategy)).
    ///
    /// # Examples
    ///
    /// ```
    /// use uthread::{Scheduler, StackStrategy};
    ///
    /// // SAFETY: these tasklets only sleep and add numbers: no pointer into their
    /// // stacks leaves them.
    /// let copying = unsafe { StackStrategy::copying() };
    /// let sched = Scheduler::builder().stack_strategy(copying).build();
    /// let t = sched.spawn(|| 40 + 2).unwrap();
    /// sched.run().unwrap();
    /// assert_eq!(t.join().unwrap(), 42);
    /// ```
    #[allow(
        unsafe_code,
        reason = "choosing stack copying is the unsafe opt-in; the contract is above"
    )]
    pub const unsafe fn copying() -> StackStrategy {
        StackStrategy(StackKind::Copying)
    }

    /// Which strategy this is, as plain data (for reports and command lines).
    pub const fn kind(self) -> StackKind {
        self.0
    }
}

impl fmt::Debug for StackStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StackStrategy::{:?}", self.0)
    }
}

impl fmt::Display for StackStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The name of a [`StackStrategy`]: plain data that parses from and prints as
/// `dedicated` or `copying`. Turning [`StackKind::Copying`] into a strategy takes
/// `unsafe` ([`StackStrategy::copying`]).
///
/// # Examples
///
/// ```
/// use uthread::StackKind;
///
/// assert_eq!(" Copying ".parse::<StackKind>().unwrap(), StackKind::Copying);
/// assert_eq!(StackKind::Dedicated.to_string(), "dedicated");
/// assert!("shared".parse::<StackKind>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum StackKind {
    /// A guarded stack of its own ([`StackStrategy::dedicated`]).
    #[default]
    Dedicated,
    /// Stack copying on a shared stack ([`StackStrategy::copying`]).
    Copying,
}

impl StackKind {
    /// The name, as parsed and printed.
    pub const fn name(self) -> &'static str {
        match self {
            StackKind::Dedicated => "dedicated",
            StackKind::Copying => "copying",
        }
    }
}

impl fmt::Display for StackKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not `dedicated` or `copying`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseStackKindError(String);

impl fmt::Display for ParseStackKindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown stack strategy {:?} (expected \"dedicated\" or \"copying\")",
            self.0
        )
    }
}

impl std::error::Error for ParseStackKindError {}

impl FromStr for StackKind {
    type Err = ParseStackKindError;

    /// Parses `dedicated` or `copying`, in any case, blanks around it ignored.
    fn from_str(name: &str) -> Result<StackKind, ParseStackKindError> {
        let trimmed = name.trim();
        [StackKind::Dedicated, StackKind::Copying]
            .into_iter()
            .find(|kind| trimmed.eq_ignore_ascii_case(kind.name()))
            .ok_or_else(|| ParseStackKindError(name.to_owned()))
    }
}

/// Why a stack could not be had.
#[derive(Debug)]
#[non_exhaustive]
pub enum StackError {
    /// The kernel's limit on memory mappings per process (`vm.max_map_count`) was reached.
    /// Only kernels without guard regions (`MADV_GUARD_INSTALL`, Linux 6.13+) spend
    /// mappings per stack: two each.
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
                "no stack: the kernel's mapping limit is reached ({mappings} of \
                 vm.max_map_count = {max_map_count}; guard pages are made \
                 with mprotect here, not as guard regions (MADV_GUARD_INSTALL, Linux \
                 6.13+), so each guarded stack uses 2). Raise the limit with `sysctl -w \
                 vm.max_map_count={}` (as root; add `vm.max_map_count = {}` to \
                 /etc/sysctl.d/ to keep it), or run fewer tasklets",
                suggested_limit(*max_map_count),
                suggested_limit(*max_map_count),
            ),
            StackError::OutOfMemory { size } => {
                write!(f, "no stack: out of memory allocating {size} bytes")
            }
            StackError::Os(err) => write!(f, "no stack: {err}"),
        }
    }
}

/// A limit worth suggesting: four times the current one, at least 262,144.
fn suggested_limit(current: usize) -> usize {
    current.saturating_mul(4).max(262_144)
}

impl std::error::Error for StackError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StackError::Os(err) => Some(err),
            _ => None,
        }
    }
}

/// Counters a scheduler's stack pool keeps, for stats and leak checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StackPoolStats {
    /// Dedicated stacks currently lent to live tasklets.
    pub in_use: usize,
    /// Dedicated stacks waiting in the pool for the next spawn.
    pub idle: usize,
    /// Of the idle stacks, those whose pages were given back to the kernel (beyond the
    /// pool's warm watermark: see
    /// [`SchedulerBuilder::max_idle_stacks`](crate::SchedulerBuilder::max_idle_stacks)).
    pub idle_released: usize,
    /// Dedicated stacks made since the pool was made (each costs one system call, to
    /// install its guard page).
    pub mapped: u64,
    /// Spawns served from the pool without a system call.
    pub reused: u64,
    /// Shared stacks mapped for copying tasklets (one per stack size in use).
    pub shared_stacks: usize,
    /// Live tasklets that run on a shared stack (stack copying).
    pub copying: usize,
}
