//! Tasklet-local storage: values keyed by type, private to one tasklet, dropped when it
//! ends.

use std::any::TypeId;

use crate::core::current_shared;
use crate::task::Locals;

/// Stores `value` in the calling tasklet's local storage, returning the previous value of
/// that type. Returns `Err(value)` when the thread has no scheduler.
///
/// # Examples
///
/// ```
/// #[derive(Debug, PartialEq)]
/// struct Role(&'static str);
/// let sched = uthread::Scheduler::new();
/// sched.spawn(|| {
///     uthread::local::set(Role("miner")).unwrap();
///     uthread::schedule().unwrap();
///     assert_eq!(uthread::local::with(|r: &Role| r.0), Some("miner"));
/// }).unwrap();
/// sched.spawn(|| assert_eq!(uthread::local::with(|r: &Role| r.0), None)).unwrap();
/// sched.run().unwrap();
/// ```
pub fn set<T: 'static>(value: T) -> Result<Option<T>, T> {
    let Some(shared) = current_shared() else {
        return Err(value);
    };
    let me = shared.current_task();
    // The old value leaves the borrow before it is dropped: its destructor may use locals.
    let old = {
        let mut locals = me.locals.borrow_mut();
        let locals = locals.get_or_insert_with(Locals::default);
        locals.values.insert(TypeId::of::<T>(), Box::new(value))
    };
    Ok(old.and_then(|b| b.downcast::<T>().ok()).map(|b| *b))
}

/// Removes and returns the calling tasklet's local value of type `T`.
pub fn take<T: 'static>() -> Option<T> {
    let shared = current_shared()?;
    let me = shared.current_task();
    let old = me
        .locals
        .borrow_mut()
        .as_mut()?
        .values
        .remove(&TypeId::of::<T>());
    old.and_then(|b| b.downcast::<T>().ok()).map(|b| *b)
}

/// Calls `f` with the calling tasklet's local value of type `T`, if there is one.
///
/// The value is taken out for the duration of `f` (so `f` may use any uthread call,
/// except blocking ones that would let another `with` of the same tasklet see it
/// missing) and put back afterwards.
pub fn with<T: 'static, R>(f: impl FnOnce(&T) -> R) -> Option<R> {
    with_mut(|v: &mut T| f(v))
}

/// Like [`with`], with mutable access.
pub fn with_mut<T: 'static, R>(f: impl FnOnce(&mut T) -> R) -> Option<R> {
    let mut value = take::<T>()?;
    let r = f(&mut value);
    // Put it back unless `f` stored a new one meanwhile; if it did, the old value is
    // dropped here, outside the borrow (its destructor may use locals).
    let shared = current_shared()?;
    let me = shared.current_task();
    let mut value = Some(value);
    {
        let mut locals = me.locals.borrow_mut();
        let locals = locals.get_or_insert_with(Locals::default);
        if let std::collections::hash_map::Entry::Vacant(slot) =
            locals.values.entry(TypeId::of::<T>())
        {
            slot.insert(Box::new(value.take().expect("taken once")));
        }
    }
    drop(value);
    Some(r)
}
