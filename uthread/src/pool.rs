//! The scheduler's stack pool: recycles dedicated stacks by size, gives the pages of
//! stacks beyond a warm watermark back to the kernel in batches, and keeps the shared
//! stacks of copying tasklets.
//!
//! A stack handed back goes to the *warm* list (its pages kept: the next spawn of that
//! size takes it without a system call or a page fault) while that list is below the
//! watermark, otherwise to the *cooling* list. Every [`RELEASE_BATCH`] cooling stacks are
//! sorted by address and released together (one `madvise` per run of adjacent slots),
//! then kept *cold*: reused like any other, their pages fault back in as they are
//! touched. A stack that was unwound (a kill, a panic) goes cold too, since the unwind
//! may have touched far more of it than the tasklet ever used. While the scheduler is
//! being torn down nothing is released: the regions are about to be unmapped.

use std::rc::Rc;

use crate::stack::{StackError, StackKind, StackPoolStats, StackStrategy};
use crate::sys::copying::{SharedLease, SharedStack};
use crate::sys::fiber::FiberStack;
use crate::sys::stack::{release_all_pages, round_stack_size, Carver, GuardedStack};

/// Cooling stacks released with one batch of system calls.
const RELEASE_BATCH: usize = 64;

/// Warm stacks kept per size by default: a frame's worth of churn for a busy game.
pub(crate) const DEFAULT_WARM_STACKS: usize = 1024;

/// The idle stacks of one size, and the carver that makes new ones.
#[derive(Debug)]
struct SizeClass {
    size: usize,
    carver: Carver,
    warm: Vec<GuardedStack>,
    cooling: Vec<GuardedStack>,
    cold: Vec<GuardedStack>,
}

impl SizeClass {
    fn idle(&self) -> usize {
        self.warm.len() + self.cooling.len() + self.cold.len()
    }
}

/// Recycles guarded stacks by size, and keeps the shared stacks of copying tasklets.
#[derive(Debug)]
pub(crate) struct StackPool {
    classes: Vec<SizeClass>,
    /// Most warm idle stacks per size; beyond it, idle stacks give their pages back.
    warm_limit: usize,
    /// One shared stack per usable size that copying tasklets asked for.
    shared: Vec<Rc<SharedStack>>,
    /// The scheduler is being torn down: release nothing (the regions go soon).
    closing: bool,
    stats: StackPoolStats,
}

impl StackPool {
    pub(crate) fn new(warm_limit: usize) -> StackPool {
        StackPool {
            classes: Vec::new(),
            warm_limit,
            shared: Vec::new(),
            closing: false,
            stats: StackPoolStats::default(),
        }
    }

    /// The scheduler is being torn down: stop giving pages back.
    pub(crate) fn set_closing(&mut self) {
        self.closing = true;
    }

    fn class(&mut self, size: usize) -> &mut SizeClass {
        let i = match self.classes.iter().position(|c| c.size == size) {
            Some(i) => i,
            None => {
                self.classes.push(SizeClass {
                    size,
                    carver: Carver::new(size),
                    warm: Vec::new(),
                    cooling: Vec::new(),
                    cold: Vec::new(),
                });
                self.classes.len() - 1
            }
        };
        &mut self.classes[i]
    }

    /// A stack of `size` usable bytes (rounded up to pages) for a new tasklet.
    pub(crate) fn take(
        &mut self,
        size: usize,
        strategy: StackStrategy,
    ) -> Result<FiberStack, StackError> {
        let size = round_stack_size(size);
        match strategy.kind() {
            StackKind::Dedicated => self.take_dedicated(size).map(FiberStack::Dedicated),
            StackKind::Copying => {
                let shared = match self.shared.iter().find(|s| s.usable_size() == size) {
                    Some(shared) => shared.clone(),
                    None => {
                        let shared = SharedStack::new(GuardedStack::new(size)?)?;
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

    /// A dedicated stack: warm if one is idle, then cooling, then cold, then a new one.
    fn take_dedicated(&mut self, size: usize) -> Result<GuardedStack, StackError> {
        let class = self.class(size);
        let reused = class
            .warm
            .pop()
            .or_else(|| class.cooling.pop())
            .or_else(|| class.cold.pop());
        if let Some(stack) = reused {
            self.stats.reused += 1;
            self.stats.in_use += 1;
            self.refresh_idle();
            return Ok(stack);
        }
        let stack = class.carver.carve()?;
        self.stats.mapped += 1;
        self.stats.in_use += 1;
        Ok(stack)
    }

    /// Returns the stack of a fiber that has finished; `unwound` when its tasklet ended by
    /// unwinding (its stack may be dirty far below where it ran).
    pub(crate) fn give(&mut self, stack: FiberStack, unwound: bool) {
        let stack = match stack {
            FiberStack::Dedicated(stack) => stack,
            FiberStack::Shared(lease) => {
                self.stats.copying -= 1;
                drop(lease);
                return;
            }
        };
        self.stats.in_use -= 1;
        let (warm_limit, closing) = (self.warm_limit, self.closing);
        let class = self.class(stack.usable_size());
        if closing {
            class.cold.push(stack);
        } else if unwound {
            let mut stack = stack;
            if class.warm.len() < warm_limit {
                stack.release_deep_pages();
                class.warm.push(stack);
            } else {
                class.cooling.push(stack);
            }
        } else if class.warm.len() < warm_limit {
            class.warm.push(stack);
        } else {
            class.cooling.push(stack);
        }
        if class.cooling.len() >= RELEASE_BATCH {
            release_all_pages(&mut class.cooling);
            class.cold.append(&mut class.cooling);
        }
        self.refresh_idle();
    }

    /// Carves dedicated stacks ahead of time so that the first `count` spawns of that
    /// size make no system call.
    pub(crate) fn reserve(&mut self, size: usize, count: usize) -> Result<(), StackError> {
        let size = round_stack_size(size);
        let class = self.class(size);
        let mut made = 0;
        let mut result = Ok(());
        for _ in 0..count {
            match class.carver.carve() {
                Ok(stack) => {
                    class.cold.push(stack);
                    made += 1;
                }
                Err(err) => {
                    result = Err(err);
                    break;
                }
            }
        }
        self.stats.mapped += made;
        self.refresh_idle();
        result
    }

    /// Gives every idle stack's pages back, unmaps the regions that no live tasklet uses,
    /// and unmaps every shared stack no tasklet uses.
    pub(crate) fn trim(&mut self) {
        for class in &mut self.classes {
            let mut idle: Vec<GuardedStack> = Vec::with_capacity(class.idle());
            idle.append(&mut class.warm);
            idle.append(&mut class.cooling);
            idle.append(&mut class.cold);
            release_all_pages(&mut idle);
            // Sorted by address: the stacks of one region are together. A region whose
            // every holder is an idle stack here (or the carver) can go.
            let mut kept = Vec::with_capacity(idle.len());
            let mut rest = idle.into_iter().peekable();
            while let Some(first) = rest.next() {
                let mut group = vec![first];
                while let Some(next) = rest.next_if(|s| s.same_region(&group[0])) {
                    group.push(next);
                }
                let carver_holds = usize::from(class.carver.is_current_region(&group[0]));
                if group[0].region_holders() == group.len() + carver_holds {
                    if carver_holds == 1 {
                        class.carver.drop_region();
                    }
                    drop(group);
                } else {
                    kept.append(&mut group);
                }
            }
            class.cold = kept;
        }
        self.shared.retain(|s| Rc::strong_count(s) > 1);
        self.stats.shared_stacks = self.shared.len();
        self.refresh_idle();
    }

    fn refresh_idle(&mut self) {
        self.stats.idle = self.classes.iter().map(SizeClass::idle).sum();
        self.stats.idle_released = self.classes.iter().map(|c| c.cold.len()).sum();
    }

    pub(crate) fn stats(&self) -> StackPoolStats {
        self.stats
    }
}
