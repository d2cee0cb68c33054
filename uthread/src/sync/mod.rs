//! The synchronisation layer: locks, semaphores, conditions, events, one-shot values,
//! barriers, and the lock watchdog. Every wait is FIFO, has a timed variant, and is
//! taken off its queue at once by kill, throw or timeout. Guards release on drop, so a
//! killed tasklet (whose stack unwinds) never keeps a lock.

mod barrier;
mod condition;
mod event;
mod held_locks;
mod lock;
mod lock_core;
mod lock_report;
mod oneshot;
mod rlock;
mod semaphore;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condition::Condition;
pub use event::{Event, ValueEvent};
pub use lock::{Lock, LockGuard};
pub use lock_core::LockError;
pub use lock_report::{lock_report, LockReport};
pub use oneshot::{oneshot, OneshotReceiver, OneshotSender};
pub use rlock::{RLock, RLockGuard};
pub use semaphore::{BoundedSemaphore, Semaphore, SemaphoreError, SemaphorePermit};
