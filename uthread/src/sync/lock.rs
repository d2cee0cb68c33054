//! Locks: `Lock` (strict, non-reentrant) and `RLock` (reentrant), with FIFO hand-off,
//! and the lock watchdog's report.

use std::cell::{RefCell, RefMut};
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::Duration;

use crate::block::wait_for;
use crate::block::{preempt_check, settle_after_switch};
use crate::core::{current_shared, Shared};
use crate::error::WaitError;
use crate::state::{Blocked, Wake};
use crate::task::TaskletRef;
use crate::task::{Cancel, WaitKey};
use crate::time::deadline_in;
use crate::wait::WaitList;
use crate::{ObjectId, ObjectRef, Tasklet};

/// Why a lock operation failed.
#[derive(Debug)]
pub enum LockError {
    /// Releasing a lock the caller does not hold.
    NotOwner,
    /// Acquiring a non-reentrant lock the caller already holds (it would wait forever).
    Reentered,
    /// The wait was interrupted (timeout, throw, deadlock).
    Wait(WaitError),
}

impl From<WaitError> for LockError {
    fn from(e: WaitError) -> Self {
        LockError::Wait(e)
    }
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::NotOwner => f.write_str("releasing a lock the caller does not hold"),
            LockError::Reentered => {
                f.write_str("acquiring a non-reentrant lock the caller already holds")
            }
            LockError::Wait(e) => write!(f, "lock wait interrupted: {e}"),
        }
    }
}

impl std::error::Error for LockError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LockError::Wait(e) => Some(e),
            _ => None,
        }
    }
}

struct LockState {
    owner: Option<TaskletRef>,
    /// Recursion depth (always 1 for a plain lock while held).
    depth: u32,
    waiters: WaitList<(), ()>,
    /// Game time since when the current owner has kept others waiting (set when the
    /// first waiter queues, so an uncontended acquire reads no clock).
    contended_since: Option<Duration>,
}

pub(crate) struct LockCore {
    id: ObjectId,
    name: Option<Rc<str>>,
    reentrant: bool,
    st: RefCell<LockState>,
}

impl Cancel for LockCore {
    fn describe(&self) -> Option<ObjectRef> {
        Some(self.object())
    }

    fn cancel(&self, key: WaitKey) {
        self.st.borrow_mut().waiters.cancel(key);
    }
}

fn waiters(core: &LockCore) -> RefMut<'_, WaitList<(), ()>> {
    RefMut::map(core.st.borrow_mut(), |s| &mut s.waiters)
}

thread_local! {
    /// Every lock made on this thread, for the watchdog report.
    static REGISTRY: RefCell<Vec<Weak<LockCore>>> = const { RefCell::new(Vec::new()) };
}

fn me(shared: &Rc<Shared>) -> TaskletRef {
    shared.current_task()
}

fn same(a: &TaskletRef, b: &TaskletRef) -> bool {
    Rc::ptr_eq(a, b)
}

fn alive(t: &TaskletRef) -> bool {
    t.is_alive()
}

impl LockCore {
    fn new(reentrant: bool, name: Option<Rc<str>>) -> Rc<LockCore> {
        let core = Rc::new(LockCore {
            id: ObjectId::next(),
            name,
            reentrant,
            st: RefCell::new(LockState {
                owner: None,
                depth: 0,
                waiters: WaitList::default(),
                contended_since: None,
            }),
        });
        REGISTRY.with(|r| {
            let mut r = r.borrow_mut();
            if r.len() >= 64 && r.len().is_power_of_two() {
                r.retain(|w| w.strong_count() > 0);
            }
            r.push(Rc::downgrade(&core));
        });
        core
    }

    fn object(&self) -> ObjectRef {
        ObjectRef {
            id: self.id,
            name: self.name.clone(),
        }
    }

    /// Takes the lock without waiting if it can; `Ok(false)` when the caller must wait.
    fn try_take(&self, me: &TaskletRef) -> Result<bool, LockError> {
        let mut st = self.st.borrow_mut();
        let owner = st.owner.clone();
        match owner {
            Some(owner) if same(&owner, me) => {
                if self.reentrant {
                    st.depth += 1;
                    Ok(true)
                } else {
                    Err(LockError::Reentered)
                }
            }
            // An owner that died without releasing (it held the lock without a guard):
            // the lock is abandoned, so it is free.
            Some(owner) if !alive(&owner) && st.waiters.is_empty() => {
                st.owner = Some(me.clone());
                st.depth = 1;
                st.contended_since = None;
                Ok(true)
            }
            Some(_) => Ok(false),
            None => {
                st.owner = Some(me.clone());
                st.depth = 1;
                st.contended_since = None;
                Ok(true)
            }
        }
    }

    /// Acquires, waiting in FIFO order. On success the caller owns the lock and gets the
    /// wake to settle once it holds a guard.
    fn acquire(self: &Rc<Self>, deadline: Option<Duration>) -> Result<Wake, LockError> {
        let shared = current_shared().ok_or(WaitError::NoScheduler)?;
        let me = me(&shared);
        if self.try_take(&me)? {
            preempt_check(&shared);
            return Ok(Wake::Signaled);
        }
        {
            let mut st = self.st.borrow_mut();
            if st.contended_since.is_none() {
                st.contended_since = Some(crate::time::now());
            }
        }
        match wait_for(&shared, self, waiters, (), Blocked::Lock, deadline) {
            // The releaser handed the lock over: we own it now.
            Ok(((), wake)) => Ok(wake),
            Err((error, ())) => Err(error.into()),
        }
    }

    /// Releases one level; hands the lock to the first waiter when it becomes free.
    fn release(&self, caller: Option<&TaskletRef>) -> Result<(), LockError> {
        let next = {
            let mut st = self.st.borrow_mut();
            match (&st.owner, caller) {
                (None, _) => return Err(LockError::NotOwner),
                (Some(owner), Some(caller)) if !same(owner, caller) => {
                    return Err(LockError::NotOwner)
                }
                _ => {}
            }
            if st.depth > 1 {
                st.depth -= 1;
                return Ok(());
            }
            match st.waiters.serve_front(|()| ((), ())) {
                Some((next, ())) => {
                    st.owner = Some(next.clone());
                    st.depth = 1;
                    st.contended_since = (!st.waiters.is_empty()).then(crate::time::now);
                    Some(next)
                }
                None => {
                    st.owner = None;
                    st.depth = 0;
                    None
                }
            }
        };
        if let Some(next) = next {
            next.wake(Wake::Signaled, false);
        }
        Ok(())
    }

    fn release_by_caller(self: &Rc<Self>) -> Result<(), LockError> {
        let shared = current_shared().ok_or(LockError::NotOwner)?;
        self.release(Some(&me(&shared)))?;
        HeldLocks::forget(self);
        Ok(())
    }

    fn owner(&self) -> Option<Tasklet> {
        let st = self.st.borrow();
        st.owner
            .as_ref()
            .filter(|o| alive(o))
            .map(|o| Tasklet::from_task(o.clone()))
    }

    fn is_locked(&self) -> bool {
        self.owner().is_some()
    }

    fn held_by_caller(&self) -> bool {
        let Some(shared) = current_shared() else {
            return false;
        };
        let me = me(&shared);
        self.st
            .borrow()
            .owner
            .as_ref()
            .is_some_and(|o| same(o, &me))
    }
}

/// The locks a tasklet took without a guard (`acquire`), kept in its tasklet-local
/// storage. If the tasklet ends still holding one, dropping its locals (when its record
/// goes) hands each such lock on to the next waiter instead of leaving them stuck.
struct HeldLocks {
    owner: TaskletRef,
    locks: Vec<Rc<LockCore>>,
}

impl HeldLocks {
    /// Notes that the caller now holds `core` without a guard.
    fn note(core: &Rc<LockCore>) {
        let added = crate::local::with_mut(|held: &mut HeldLocks| held.locks.push(core.clone()));
        if added.is_none() {
            if let Some(shared) = current_shared() {
                let held = HeldLocks {
                    owner: me(&shared),
                    locks: vec![core.clone()],
                };
                let _ = crate::local::set(held);
            }
        }
    }

    /// Forgets one guardless hold of `core` (it was released).
    fn forget(core: &Rc<LockCore>) {
        crate::local::with_mut(|held: &mut HeldLocks| {
            if let Some(i) = held.locks.iter().rposition(|c| Rc::ptr_eq(c, core)) {
                held.locks.remove(i);
            }
        });
    }
}

impl Drop for HeldLocks {
    fn drop(&mut self) {
        for core in self.locks.drain(..) {
            let still_owned = core
                .st
                .borrow()
                .owner
                .as_ref()
                .is_some_and(|o| same(o, &self.owner));
            if still_owned {
                let _ = core.release(None);
            }
        }
    }
}

/// A strict, non-reentrant lock. Acquiring it again while holding it, or releasing it
/// without holding it, is an error ([`LockError`]), not a hang. Waiters are served in
/// FIFO order and the lock is handed straight to the next one, so nobody barges in.
///
/// Prefer [`Lock::lock`], whose guard releases on drop (also when the holder is killed
/// and its stack unwinds). [`Lock::acquire`] and [`Lock::release`] are the Stackless-style
/// pair; a tasklet that ends (returns, panics or is killed) still holding a lock taken
/// that way has it released for it, so waiters are never stuck behind a dead holder.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// let sched = uthread::Scheduler::new();
/// let lock = uthread::Lock::new();
/// let log = Rc::new(RefCell::new(Vec::new()));
/// for id in 0..2 {
///     let (lock, log) = (lock.clone(), log.clone());
///     sched.spawn(move || {
///         let _guard = lock.lock().unwrap();
///         log.borrow_mut().push(format!("{id} in"));
///         uthread::schedule().unwrap(); // the other tasklet runs, but waits for the lock
///         log.borrow_mut().push(format!("{id} out"));
///     }).unwrap();
/// }
/// sched.run().unwrap();
/// assert_eq!(*log.borrow(), ["0 in", "0 out", "1 in", "1 out"]);
/// ```
#[derive(Clone)]
pub struct Lock {
    core: Rc<LockCore>,
}

impl Default for Lock {
    fn default() -> Self {
        Lock::new()
    }
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_lock("Lock", &self.core, f)
    }
}

fn debug_lock(kind: &str, core: &LockCore, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let st = core.st.borrow();
    f.debug_struct(kind)
        .field("id", &core.id)
        .field("name", &core.name)
        .field("owner", &st.owner)
        .field("depth", &st.depth)
        .field("waiting", &st.waiters.len())
        .finish()
}

impl Lock {
    /// A new unlocked lock.
    pub fn new() -> Lock {
        Lock {
            core: LockCore::new(false, None),
        }
    }

    /// A new lock with a name (shown in deadlock and watchdog reports).
    pub fn with_name(name: &str) -> Lock {
        Lock {
            core: LockCore::new(false, Some(Rc::from(name))),
        }
    }

    /// This lock's id.
    pub fn id(&self) -> ObjectId {
        self.core.id
    }

    /// Acquires the lock, waiting if another tasklet holds it.
    ///
    /// # Errors
    ///
    /// [`LockError::Reentered`] if the caller holds it already; [`LockError::Wait`] if the
    /// wait is interrupted (a throw; `Deadlock` in the main context).
    pub fn lock(&self) -> Result<LockGuard<'_>, LockError> {
        let wake = self.core.acquire(None)?;
        Ok(self.guard(wake))
    }

    /// Like [`Lock::lock`], giving up at the deadline `timeout` from now (game time).
    ///
    /// # Errors
    ///
    /// As [`Lock::lock`]; a timeout is `LockError::Wait(WaitError::Timeout)`.
    pub fn lock_timeout(&self, timeout: Duration) -> Result<LockGuard<'_>, LockError> {
        let wake = self.core.acquire(Some(deadline_in(timeout)))?;
        Ok(self.guard(wake))
    }

    /// Acquires the lock only if it is free now.
    pub fn try_lock(&self) -> Option<LockGuard<'_>> {
        let shared = current_shared()?;
        match self.core.try_take(&me(&shared)) {
            Ok(true) => Some(LockGuard { lock: self }),
            _ => None,
        }
    }

    fn guard(&self, wake: Wake) -> LockGuard<'_> {
        let guard = LockGuard { lock: self };
        if let Some(shared) = current_shared() {
            // A kill that came after the hand-off unwinds here and the guard releases.
            settle_after_switch(&shared, wake);
        }
        guard
    }

    /// Re-acquires after a condition wait: never `Reentered` (the caller released it).
    pub(crate) fn relock(&self, deadline: Option<Duration>) -> Result<LockGuard<'_>, LockError> {
        let wake = self.core.acquire(deadline)?;
        Ok(self.guard(wake))
    }

    /// Acquires without a guard (Stackless style); pair with [`Lock::release`].
    ///
    /// # Errors
    ///
    /// As [`Lock::lock`].
    pub fn acquire(&self) -> Result<(), LockError> {
        std::mem::forget(self.lock()?);
        HeldLocks::note(&self.core);
        Ok(())
    }

    /// Like [`Lock::acquire`] with a deadline `timeout` from now (game time).
    ///
    /// # Errors
    ///
    /// As [`Lock::lock_timeout`].
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<(), LockError> {
        std::mem::forget(self.lock_timeout(timeout)?);
        HeldLocks::note(&self.core);
        Ok(())
    }

    /// Releases a lock taken with [`Lock::acquire`].
    ///
    /// # Errors
    ///
    /// [`LockError::NotOwner`] if the caller does not hold it.
    pub fn release(&self) -> Result<(), LockError> {
        self.core.release_by_caller()
    }

    /// Whether some live tasklet holds it.
    pub fn is_locked(&self) -> bool {
        self.core.is_locked()
    }

    /// Whether the caller holds it.
    pub fn is_held_by_current(&self) -> bool {
        self.core.held_by_caller()
    }

    /// The holder, if any.
    pub fn owner(&self) -> Option<Tasklet> {
        self.core.owner()
    }

    /// Tasklets waiting for it.
    pub fn waiting(&self) -> usize {
        self.core.st.borrow().waiters.len()
    }
}

/// Holds a [`Lock`]; releases it on drop.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard<'a> {
    lock: &'a Lock,
}

impl<'a> LockGuard<'a> {
    /// The lock this guard holds.
    pub fn lock(&self) -> &Lock {
        self.lock
    }

    /// Releases now, consuming the guard (conditions release while they wait).
    pub(crate) fn release_now(self) -> &'a Lock {
        let lock = self.lock;
        std::mem::forget(self);
        let _ = lock.core.release(None);
        lock
    }
}

impl fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard")
            .field("lock", &self.lock.core.id)
            .finish()
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // The guard proves ownership; releasing cannot fail.
        let _ = self.lock.core.release(None);
    }
}

/// A reentrant lock: its holder may acquire it again; it is free once released as many
/// times as it was acquired.
#[derive(Clone)]
pub struct RLock {
    core: Rc<LockCore>,
}

impl Default for RLock {
    fn default() -> Self {
        RLock::new()
    }
}

impl fmt::Debug for RLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_lock("RLock", &self.core, f)
    }
}

impl RLock {
    /// A new unlocked reentrant lock.
    pub fn new() -> RLock {
        RLock {
            core: LockCore::new(true, None),
        }
    }

    /// A new reentrant lock with a name.
    pub fn with_name(name: &str) -> RLock {
        RLock {
            core: LockCore::new(true, Some(Rc::from(name))),
        }
    }

    /// This lock's id.
    pub fn id(&self) -> ObjectId {
        self.core.id
    }

    /// Acquires (again, if the caller holds it already).
    ///
    /// # Errors
    ///
    /// [`LockError::Wait`] if the wait is interrupted.
    pub fn lock(&self) -> Result<RLockGuard<'_>, LockError> {
        let wake = self.core.acquire(None)?;
        Ok(self.guard(wake))
    }

    /// Like [`RLock::lock`], giving up at the deadline `timeout` from now (game time).
    ///
    /// # Errors
    ///
    /// As [`RLock::lock`].
    pub fn lock_timeout(&self, timeout: Duration) -> Result<RLockGuard<'_>, LockError> {
        let wake = self.core.acquire(Some(deadline_in(timeout)))?;
        Ok(self.guard(wake))
    }

    fn guard(&self, wake: Wake) -> RLockGuard<'_> {
        let guard = RLockGuard { lock: self };
        if let Some(shared) = current_shared() {
            settle_after_switch(&shared, wake);
        }
        guard
    }

    /// Acquires without a guard; pair with [`RLock::release`].
    ///
    /// # Errors
    ///
    /// As [`RLock::lock`].
    pub fn acquire(&self) -> Result<(), LockError> {
        std::mem::forget(self.lock()?);
        HeldLocks::note(&self.core);
        Ok(())
    }

    /// Releases one level taken with [`RLock::acquire`].
    ///
    /// # Errors
    ///
    /// [`LockError::NotOwner`] if the caller does not hold it.
    pub fn release(&self) -> Result<(), LockError> {
        self.core.release_by_caller()
    }

    /// How many times the holder has acquired it (0 when free).
    pub fn depth(&self) -> u32 {
        if self.core.is_locked() {
            self.core.st.borrow().depth
        } else {
            0
        }
    }

    /// Whether the caller holds it.
    pub fn is_held_by_current(&self) -> bool {
        self.core.held_by_caller()
    }

    /// The holder, if any.
    pub fn owner(&self) -> Option<Tasklet> {
        self.core.owner()
    }

    /// Tasklets waiting for it.
    pub fn waiting(&self) -> usize {
        self.core.st.borrow().waiters.len()
    }
}

/// Holds one level of an [`RLock`]; releases it on drop.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RLockGuard<'a> {
    lock: &'a RLock,
}

impl fmt::Debug for RLockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLockGuard")
            .field("lock", &self.lock.core.id)
            .finish()
    }
}

impl Drop for RLockGuard<'_> {
    fn drop(&mut self) {
        let _ = self.lock.core.release(None);
    }
}

/// A lock held too long while others wait, as found by [`lock_report`].
#[derive(Debug, Clone)]
pub struct LockReport {
    /// The lock.
    pub lock: ObjectRef,
    /// Who holds it.
    pub holder: Tasklet,
    /// For how long (game time) the holder has kept others waiting: since the first of
    /// the current waiters queued, or since it was handed the lock with waiters queued.
    pub held_for: Duration,
    /// Who waits for it, in order.
    pub waiters: Vec<Tasklet>,
}

impl fmt::Display for LockReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "lock {} held for {:.3}s by {} while {} wait:",
            self.lock,
            self.held_for.as_secs_f64(),
            self.holder,
            self.waiters.len()
        )?;
        for w in &self.waiters {
            write!(f, " {w}")?;
        }
        Ok(())
    }
}

/// The lock watchdog (CCP ran one in EVE): every lock on this thread that has been held
/// for longer than `threshold` (game time) while other tasklets wait for it, naming the
/// holder and the waiters. Call it periodically (from a tasklet that sleeps, or once a
/// frame) and log what it returns.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let sched = uthread::Scheduler::builder().manual_clock().build();
/// let lock = uthread::Lock::with_name("cargo hold");
/// let (a, b) = (lock.clone(), lock.clone());
/// uthread::Builder::new().name("hauler").spawn_on(&sched, move || {
///     let _g = a.lock().unwrap();
///     uthread::sleep(Duration::from_secs(10)).unwrap();
/// }).unwrap();
/// uthread::Builder::new().name("thief").spawn_on(&sched, move || drop(b.lock())).unwrap();
/// sched.run().unwrap();
/// sched.advance(Duration::from_secs(5));
/// let report = uthread::lock_report(Duration::from_secs(2));
/// assert_eq!(report.len(), 1);
/// assert_eq!(report[0].holder.name().as_deref(), Some("hauler"));
/// assert_eq!(report[0].waiters[0].name().as_deref(), Some("thief"));
/// ```
pub fn lock_report(threshold: Duration) -> Vec<LockReport> {
    let now = crate::time::now();
    let locks: Vec<Rc<LockCore>> = REGISTRY.with(|r| {
        let mut r = r.borrow_mut();
        r.retain(|w| w.strong_count() > 0);
        r.iter().filter_map(Weak::upgrade).collect()
    });
    locks
        .iter()
        .filter_map(|core| {
            let st = core.st.borrow();
            let owner = st.owner.as_ref().filter(|o| alive(o))?;
            let held_for = now.saturating_sub(st.contended_since?);
            if st.waiters.is_empty() || held_for <= threshold {
                return None;
            }
            Some(LockReport {
                lock: core.object(),
                holder: Tasklet::from_task(owner.clone()),
                held_for,
                waiters: st
                    .waiters
                    .waiters()
                    .map(|t| Tasklet::from_task(t.clone()))
                    .collect(),
            })
        })
        .collect()
}
