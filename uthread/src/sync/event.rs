//! Events: a flag tasklets wait on, and `ValueEvent`, which also carries a value.

use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use crate::block::settle_after_switch;
use crate::block::wait_for;
use crate::core::current_shared;
use crate::error::{Thrown, WaitError};
use crate::object::{handle_impls, waitable_state, waiters, Object};
use crate::state::{Blocked, Wake};
use crate::time::deadline_in;
use crate::wait::WaitList;

/// What an event holds once set: a value, or an error for every waiter.
type Outcome<T> = Result<T, Rc<Thrown>>;

struct State<T> {
    value: Option<Outcome<T>>,
    /// Each waiter is served its own copy of the outcome, so a `clear` before it runs
    /// cannot take back a wake-up it was given.
    waiters: WaitList<(), Outcome<T>>,
}

waitable_state!([T] State<T>, offer (), reply Outcome<T>);

/// What `Event` (over `()`) and `ValueEvent` share.
type Inner<T> = Object<State<T>>;

impl<T: Clone + 'static> Inner<T> {
    fn create(name: Option<Rc<str>>) -> Rc<Inner<T>> {
        let state = State {
            value: None,
            waiters: WaitList::default(),
        };
        Object::new(name, state)
    }

    fn set(&self, value: Outcome<T>) {
        // The value it replaces is dropped after the borrow ends: its destructor may
        // use the event.
        let (woken, old) = {
            let mut st = self.state.borrow_mut();
            let woken = st.waiters.serve_all(|()| value.clone());
            (woken, st.value.replace(value))
        };
        drop(old);
        for t in woken {
            t.wake(Wake::Signaled, false);
        }
    }

    fn clear(&self) {
        let old = self.state.borrow_mut().value.take();
        drop(old);
    }

    fn is_set(&self) -> bool {
        self.state.borrow().value.is_some()
    }

    fn waiting(&self) -> usize {
        self.state.borrow().waiters.len()
    }

    /// The `Debug` of a handle called `kind`.
    fn debug_as(&self, f: &mut fmt::Formatter<'_>, kind: &str) -> fmt::Result {
        self.debug(f, kind).field("set", &self.is_set()).finish()
    }

    fn current(&self) -> Option<Result<T, WaitError>> {
        let st = self.state.borrow();
        st.value.clone().map(into_result)
    }

    fn wait(self: &Rc<Self>, deadline: Option<Duration>) -> Result<T, WaitError> {
        if let Some(v) = self.current() {
            return v;
        }
        let shared = current_shared().ok_or(WaitError::NoScheduler)?;
        let on = Blocked::Event;
        match wait_for(&shared, self, waiters, (), on, deadline) {
            Ok((outcome, wake)) => {
                let result = into_result(outcome);
                settle_after_switch(&shared, wake);
                result
            }
            Err((error, ())) => Err(error),
        }
    }
}

fn into_result<T>(outcome: Outcome<T>) -> Result<T, WaitError> {
    // Each waiter gets its own `Thrown` with the set error's message (not the shared
    // `Thrown`'s own display, which would repeat the "thrown into" prefix).
    outcome.map_err(|t| {
        let message =
            std::error::Error::source(&*t).map_or_else(|| t.to_string(), |e| e.to_string());
        WaitError::Thrown(Thrown::new(message))
    })
}

/// An event flag: `wait` blocks until it is `set`; `clear` resets it. Setting it wakes
/// every waiter.
///
/// # Examples
///
/// ```
/// let sched = uthread::Scheduler::new();
/// let undock = uthread::Event::new();
/// let e = undock.clone();
/// let pilot = sched.spawn(move || { e.wait().unwrap(); "undocked" }).unwrap();
/// sched.run().unwrap();
/// assert!(!pilot.is_finished());
/// undock.set();
/// sched.run().unwrap();
/// assert_eq!(pilot.join().unwrap(), "undocked");
/// ```
#[derive(Clone)]
pub struct Event {
    inner: Rc<Inner<()>>,
}

handle_impls!([] Event, "event": default);

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.debug_as(f, "Event")
    }
}

impl Event {
    /// A new, clear event.
    pub fn new() -> Event {
        Event {
            inner: Inner::create(None),
        }
    }

    /// A named event.
    pub fn with_name(name: &str) -> Event {
        Event {
            inner: Inner::create(Some(Rc::from(name))),
        }
    }

    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        self.inner.set(Ok(()));
    }

    /// Clears the flag.
    pub fn clear(&self) {
        self.inner.clear();
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        self.inner.is_set()
    }

    /// Tasklets waiting.
    pub fn waiting(&self) -> usize {
        self.inner.waiting()
    }

    /// Waits until the flag is set (returns at once if it is).
    ///
    /// # Errors
    ///
    /// [`WaitError`] if the wait is interrupted.
    pub fn wait(&self) -> Result<(), WaitError> {
        self.inner.wait(None)
    }

    /// Like [`Event::wait`] with a deadline `timeout` from now (game time).
    ///
    /// # Errors
    ///
    /// As [`Event::wait`], plus [`WaitError::Timeout`].
    pub fn wait_timeout(&self, timeout: Duration) -> Result<(), WaitError> {
        self.inner.wait(Some(deadline_in(timeout)))
    }
}

/// An event that carries a value (or an error) to every waiter: Stackless's
/// `ValueEvent`. Once set, waits return a clone of the value at once.
///
/// # Examples
///
/// ```
/// let sched = uthread::Scheduler::new();
/// let target = uthread::ValueEvent::new();
/// let mut gunners = Vec::new();
/// for _ in 0..3 {
///     let t = target.clone();
///     gunners.push(sched.spawn(move || t.wait().unwrap()).unwrap());
/// }
/// sched.run().unwrap();
/// target.set("hostile frigate");
/// sched.run().unwrap();
/// for g in gunners {
///     assert_eq!(g.join().unwrap(), "hostile frigate");
/// }
/// ```
pub struct ValueEvent<T: Clone + 'static> {
    inner: Rc<Inner<T>>,
}

handle_impls!([T: Clone + 'static] ValueEvent<T>, "value event": clone, default);

impl<T: Clone + 'static> fmt::Debug for ValueEvent<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.debug_as(f, "ValueEvent")
    }
}

impl<T: Clone + 'static> ValueEvent<T> {
    /// A new, unset value event.
    pub fn new() -> ValueEvent<T> {
        ValueEvent {
            inner: Inner::create(None),
        }
    }

    /// Sets the value and wakes every waiter.
    pub fn set(&self, value: T) {
        self.inner.set(Ok(value));
    }

    /// Sets an error: every waiter gets [`WaitError::Thrown`].
    pub fn set_error<E>(&self, error: E)
    where
        E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    {
        self.inner.set(Err(Rc::new(Thrown::new(error))));
    }

    /// Forgets the value (waits block again).
    pub fn clear(&self) {
        self.inner.clear();
    }

    /// Whether a value (or error) is set.
    pub fn is_set(&self) -> bool {
        self.inner.is_set()
    }

    /// Tasklets waiting for the value.
    pub fn waiting(&self) -> usize {
        self.inner.waiting()
    }

    /// Waits for the value.
    ///
    /// # Errors
    ///
    /// [`WaitError::Thrown`] when an error was set; others if the wait is interrupted.
    pub fn wait(&self) -> Result<T, WaitError> {
        self.inner.wait(None)
    }

    /// Like [`ValueEvent::wait`] with a deadline `timeout` from now (game time).
    ///
    /// # Errors
    ///
    /// As [`ValueEvent::wait`], plus [`WaitError::Timeout`].
    pub fn wait_timeout(&self, timeout: Duration) -> Result<T, WaitError> {
        self.inner.wait(Some(deadline_in(timeout)))
    }
}
