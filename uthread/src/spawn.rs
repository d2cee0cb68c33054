//! Spawning tasklets, and join handles for their results.

use std::cell::{RefCell, RefMut};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use crate::block::settle_after_switch;
use crate::block::{block_on, interrupted, pending_interrupt};
use crate::core::{current_shared, Shared};
use crate::error::{panic_message, FailureKind};
use crate::error::{SpawnError, Thrown, WaitError};
use crate::id::{ObjectRef, TaskletExit, TaskletId};
use crate::stack::StackStrategy;
use crate::state::{Blocked, Wake};
use crate::sys::fiber::Fiber;
use crate::task::Tasklet;
use crate::task::{Cancel, WaitKey};
use crate::task::{Exit, ExitObserver, UncaughtThrow};
use crate::time::deadline_in;
use crate::wait::{Slot, WaitList};

/// Options for a new tasklet: name, stack size, whether it starts paused.
///
/// # Examples
///
/// ```
/// let sched = uthread::Scheduler::new();
/// let handle = uthread::Builder::new()
///     .name("miner")
///     .stack_size(64 * 1024)
///     .spawn_on(&sched, || 6 * 7)
///     .unwrap();
/// assert_eq!(handle.tasklet().name().as_deref(), Some("miner"));
/// sched.run().unwrap();
/// assert_eq!(handle.join().unwrap(), 42);
/// ```
#[derive(Clone, Debug, Default)]
#[must_use = "a builder does nothing until spawned"]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
    stack_strategy: Option<StackStrategy>,
    paused: bool,
    atomic: Option<bool>,
}

impl Builder {
    /// Default options: unnamed, the scheduler's stack size, scheduled at once.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the tasklet (for reports, deadlock lists, overflow messages).
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Usable stack size in bytes (rounded up to pages; at least 16 KiB).
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Where its stack lives while it is suspended (otherwise the scheduler's strategy):
    /// a dedicated stack for a deep or hot tasklet, stack copying for one of many. See
    /// [`StackStrategy`].
    pub fn stack_strategy(mut self, strategy: StackStrategy) -> Builder {
        self.stack_strategy = Some(strategy);
        self
    }

    /// Creates the tasklet paused: it runs only once [`Tasklet::insert`]ed.
    pub fn paused(mut self) -> Builder {
        self.paused = true;
        self
    }

    /// Sets the atomic flag (otherwise inherited from the creator).
    pub fn atomic(mut self, atomic: bool) -> Builder {
        self.atomic = Some(atomic);
        self
    }

    /// Spawns on the thread's current scheduler (the caller's, inside a tasklet).
    ///
    /// # Errors
    ///
    /// [`SpawnError::Stack`] when no stack can be had (it names the limit that was hit),
    /// [`SpawnError::NoScheduler`] without a scheduler.
    pub fn spawn<F, T>(self, f: F) -> Result<JoinHandle<T>, SpawnError>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        let shared = current_shared().ok_or(SpawnError::NoScheduler)?;
        spawn_in(&shared, self, f)
    }
}

/// Spawns `f` as a tasklet on the thread's current scheduler.
///
/// # Errors
///
/// As [`Builder::spawn`].
pub fn spawn<F, T>(f: F) -> Result<JoinHandle<T>, SpawnError>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    Builder::new().spawn(f)
}

pub(crate) fn spawn_in<F, T>(
    shared: &Rc<Shared>,
    options: Builder,
    f: F,
) -> Result<JoinHandle<T>, SpawnError>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    if shared.closing.get() {
        return Err(SpawnError::NoScheduler);
    }
    let join = Rc::new(JoinState::<T>::new());
    let name: Option<Rc<str>> = options.name.map(Rc::from);
    let (size, strategy) = {
        let config = shared.config.borrow();
        (
            options.stack_size.unwrap_or(config.stack_size),
            options.stack_strategy.unwrap_or(config.stack_strategy),
        )
    };
    let mut stack = shared.pool.borrow_mut().take(size, strategy)?;
    let atomic = options
        .atomic
        .unwrap_or_else(|| shared.current.borrow().atomic.get());
    let task = shared.insert_task(name.clone(), atomic);
    if let (Some(monitor), Some(name)) = (shared.running_monitor(), name.as_deref()) {
        monitor.name(task.key.id(), name);
    }
    task.stack_size.set(stack.usable_size());
    stack.set_owner(task.key.id().0, name.as_ref());
    let result = join.clone();
    let mut unrun = Unrun {
        f: Some(f),
        join: join.clone(),
        tasklet: task.key.id(),
        name: name.clone(),
    };
    let body = move || {
        start_check();
        let f = unrun.f.take().expect("a tasklet's closure runs once");
        let value = f();
        result.state.borrow_mut().result = Some(Ok(value));
    };
    *task.fiber.borrow_mut() = Some(Fiber::new(stack, body));
    *task.exit_observer.borrow_mut() = Some(join.clone());
    if !options.paused {
        shared.enqueue(&task, false);
    }
    Ok(JoinHandle {
        tasklet: Tasklet::from_task(task),
        state: join,
    })
}

/// Holds a tasklet's closure until it runs. A closure that never runs (the tasklet was
/// killed or torn down first) is dropped where no panic may pass: by the coroutine
/// library, which would drop it a second time if unwound through, or during a kill's
/// unwind. So a panic in its destructor stops here: the join handle reports it as
/// `Panicked`, and stderr names the tasklet.
struct Unrun<F, T> {
    f: Option<F>,
    join: Rc<JoinState<T>>,
    tasklet: TaskletId,
    name: Option<Rc<str>>,
}

impl<F, T> Drop for Unrun<F, T> {
    fn drop(&mut self) {
        let Some(f) = self.f.take() else {
            return;
        };
        let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(f)));
        if let Err(payload) = dropped {
            let message = panic_message(&*payload);
            let who = match self.name.as_deref() {
                Some(name) => format!("{} '{name}'", self.tasklet),
                None => self.tasklet.to_string(),
            };
            eprintln!(
                "uthread: tasklet {who} ended without running and its closure panicked \
                 when dropped: {message}"
            );
            let mut st = self.join.state.borrow_mut();
            if st.result.is_none() {
                st.result = Some(Err(JoinError::Panicked(message)));
            }
        }
    }
}

/// First thing a tasklet does: honour a kill or throw that arrived before it started.
fn start_check() {
    let Some(shared) = current_shared() else {
        return;
    };
    let pending = shared.take_interrupt();
    match pending {
        Some(Wake::Kill) => std::panic::resume_unwind(Box::new(TaskletExit)),
        Some(Wake::Thrown(t)) => std::panic::resume_unwind(Box::new(UncaughtThrow(t))),
        _ => {}
    }
}

/// Why [`JoinHandle::join`] did not produce the tasklet's value.
#[derive(Debug)]
pub enum JoinError {
    /// The tasklet panicked; its message.
    Panicked(String),
    /// The tasklet was killed.
    Killed,
    /// An error was thrown into the tasklet before it started.
    Uncaught(Thrown),
    /// The wait was interrupted (timeout, throw into the joiner, deadlock).
    Wait(WaitError),
    /// The value was already taken by an earlier join.
    AlreadyJoined,
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Panicked(msg) => write!(f, "the tasklet panicked: {msg}"),
            JoinError::Killed => f.write_str("the tasklet was killed"),
            JoinError::Uncaught(t) => write!(f, "the tasklet died of an uncaught error: {t}"),
            JoinError::Wait(e) => write!(f, "join interrupted: {e}"),
            JoinError::AlreadyJoined => f.write_str("the tasklet was already joined"),
        }
    }
}

impl std::error::Error for JoinError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JoinError::Wait(e) => Some(e),
            JoinError::Uncaught(t) => Some(t),
            _ => None,
        }
    }
}

impl From<WaitError> for JoinError {
    fn from(e: WaitError) -> Self {
        JoinError::Wait(e)
    }
}

struct JoinInner<T> {
    result: Option<Result<T, JoinError>>,
    finished: bool,
    joiners: WaitList<(), ()>,
    /// A live handle will look at failures (so they are not reported as uncaught).
    handle_alive: bool,
}

pub(crate) struct JoinState<T> {
    state: RefCell<JoinInner<T>>,
}

impl<T> JoinState<T> {
    fn new() -> JoinState<T> {
        JoinState {
            state: RefCell::new(JoinInner {
                result: None,
                finished: false,
                joiners: WaitList::default(),
                handle_alive: true,
            }),
        }
    }
}

fn joiners<T>(s: &JoinState<T>) -> RefMut<'_, WaitList<(), ()>> {
    RefMut::map(s.state.borrow_mut(), |s| &mut s.joiners)
}

impl<T> Cancel for JoinState<T> {
    fn describe(&self) -> Option<ObjectRef> {
        None
    }

    fn cancel(&self, key: WaitKey) {
        self.state.borrow_mut().joiners.cancel(key);
    }
}

impl<T> ExitObserver for JoinState<T> {
    fn exited(&self, how: &Exit) -> bool {
        let (woken, claimed) = {
            let mut st = self.state.borrow_mut();
            st.finished = true;
            if st.result.is_none() {
                st.result = Some(Err(match how {
                    Exit::Returned | Exit::Killed => JoinError::Killed,
                    Exit::Failed(FailureKind::Panicked { message, .. }) => {
                        JoinError::Panicked(message.clone())
                    }
                    Exit::Failed(FailureKind::Uncaught(t)) => {
                        JoinError::Uncaught(Thrown::new(t.to_string()))
                    }
                }));
            }
            (st.joiners.serve_all(|()| ()), st.handle_alive)
        };
        for t in woken {
            t.wake(Wake::Signaled, false);
        }
        claimed
    }
}

/// Owns the right to a tasklet's result. Dropping it detaches the tasklet (it keeps
/// running; a panic is then reported as uncaught).
pub struct JoinHandle<T: 'static> {
    tasklet: Tasklet,
    state: Rc<JoinState<T>>,
}

impl<T: 'static> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("tasklet", &self.tasklet)
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T: 'static> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Ok(mut st) = self.state.state.try_borrow_mut() {
            st.handle_alive = false;
        }
    }
}

impl<T: 'static> JoinHandle<T> {
    /// The tasklet.
    pub fn tasklet(&self) -> &Tasklet {
        &self.tasklet
    }

    /// Whether the tasklet has ended.
    pub fn is_finished(&self) -> bool {
        self.state.state.borrow().finished
    }

    /// Waits for the tasklet to end and returns its value.
    ///
    /// # Errors
    ///
    /// [`JoinError::Panicked`], [`JoinError::Killed`] or [`JoinError::Uncaught`] for how
    /// the tasklet ended; [`JoinError::Wait`] if the wait itself was interrupted, or
    /// `Wait(WaitError::Deadlock)` at once when a tasklet joins itself.
    pub fn join(mut self) -> Result<T, JoinError> {
        self.wait(None)
    }

    /// Like [`JoinHandle::join`], giving up at the deadline `timeout` from now (game
    /// time); the handle stays usable after a timeout.
    ///
    /// # Errors
    ///
    /// As [`JoinHandle::join`]; a timeout is `JoinError::Wait(WaitError::Timeout)`.
    pub fn join_timeout(&mut self, timeout: Duration) -> Result<T, JoinError> {
        self.wait(Some(deadline_in(timeout)))
    }

    /// The result if the tasklet has ended, without blocking.
    pub fn try_join(&mut self) -> Option<Result<T, JoinError>> {
        let mut st = self.state.state.borrow_mut();
        if !st.finished {
            return None;
        }
        Some(st.result.take().unwrap_or(Err(JoinError::AlreadyJoined)))
    }

    fn wait(&mut self, deadline: Option<Duration>) -> Result<T, JoinError> {
        if let Some(r) = self.try_join() {
            return r;
        }
        let shared = current_shared().ok_or(WaitError::NoScheduler)?;
        if let Some(wake) = pending_interrupt(&shared) {
            return Err(interrupted(wake).into());
        }
        if self.tasklet.is_current() {
            // Waiting for its own end: it could never come.
            return Err(WaitError::Deadlock.into());
        }
        let (wake, slot) = block_on(
            &shared,
            &self.state,
            joiners,
            (),
            Blocked::Join(self.tasklet.id()),
            deadline,
        );
        match slot {
            Slot::Done(()) => {
                settle_after_switch(&shared, wake);
                self.try_join().unwrap_or(Err(JoinError::AlreadyJoined))
            }
            _ => Err(interrupted(wake).into()),
        }
    }
}
