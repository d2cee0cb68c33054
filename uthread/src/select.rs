//! `select`: wait on several channels and queues at once, with an optional timeout and
//! an optional default (non-blocking) arm.
//!
//! Each arm maps what it receives into the select's result type `R`. Arms that are ready
//! at once are tried in a rotating order, so no arm starves when several are ready. If
//! none is, the caller waits on all of them; the first partner to arrive serves one arm
//! and the wake takes the caller off every other arm.

use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use crate::block::settle_after_switch;
use crate::block::{interrupted, pending_interrupt};
use crate::channel::Channel;
use crate::core::{current_shared, Shared};
use crate::error::ChannelError;
use crate::id::ObjectId;
use crate::state::{Blocked, Wake};
use crate::task::{TaskletRef, WaitKey, WaitRef, Waits};
use crate::time::deadline_in;

/// What an arm found when it collected its wait entry after a wake.
pub(crate) enum Collected<R> {
    /// It was served: the result.
    Fired(Result<R, ChannelError>),
    /// It was not served.
    NotFired,
    /// It was told to look again (notify-only sources such as remote receivers).
    Retry,
}

/// One arm of a select, type-erased over its source.
pub(crate) trait Arm<R> {
    /// The object it waits on (a select registers at most once per object).
    fn object(&self) -> ObjectId;
    /// Completes now if it can without blocking.
    fn try_now(&mut self) -> Option<Result<R, ChannelError>>;
    /// Whether it can never fire (its source is closed).
    fn is_closed(&self) -> bool;
    /// Queues a wait entry for `me`.
    fn register(&mut self, me: &TaskletRef) -> WaitRef;
    /// Takes its wait entry back after the wake.
    fn collect(&mut self) -> Collected<R>;
}

/// What a receiving source (a channel, a queue, a one-shot or remote receiver) does for a
/// select arm; [`SelectArm::receiving`] adds the plumbing every receiving arm shares (the
/// mapping function, called once, and the wait key).
pub(crate) trait RecvSource {
    /// What it yields.
    type Item;
    /// The object it waits on.
    fn object(&self) -> ObjectId;
    /// A value (or a thrown error) if one can be had now without blocking.
    fn try_now(&self) -> Option<Result<Self::Item, ChannelError>>;
    /// Whether nothing can ever arrive.
    fn is_closed(&self) -> bool;
    /// Queues a wait entry for `me`.
    fn register(&self, me: &TaskletRef) -> WaitRef;
    /// Takes back the entry `key` after the wake, with what it was served.
    fn collect(&self, key: WaitKey) -> Collected<Self::Item>;
}

/// The arm of a [`RecvSource`]: maps what it yields with `f`.
struct RecvArm<'a, S, F> {
    source: &'a S,
    f: Option<F>,
    /// The wait entry while registered.
    key: Option<WaitKey>,
}

impl<S: RecvSource, R, F: FnOnce(S::Item) -> R> RecvArm<'_, S, F> {
    fn fire(&mut self, got: Result<S::Item, ChannelError>) -> Result<R, ChannelError> {
        got.map(|v| (self.f.take().expect("an arm fires once"))(v))
    }
}

impl<S: RecvSource, R, F: FnOnce(S::Item) -> R> Arm<R> for RecvArm<'_, S, F> {
    fn object(&self) -> ObjectId {
        self.source.object()
    }

    fn try_now(&mut self) -> Option<Result<R, ChannelError>> {
        let got = self.source.try_now()?;
        Some(self.fire(got))
    }

    fn is_closed(&self) -> bool {
        self.source.is_closed()
    }

    fn register(&mut self, me: &TaskletRef) -> WaitRef {
        let wait = self.source.register(me);
        self.key = Some(wait.key);
        wait
    }

    fn collect(&mut self) -> Collected<R> {
        let Some(key) = self.key.take() else {
            return Collected::NotFired;
        };
        match self.source.collect(key) {
            Collected::Fired(got) => Collected::Fired(self.fire(got)),
            Collected::NotFired => Collected::NotFired,
            Collected::Retry => Collected::Retry,
        }
    }
}

/// A select arm built by a [`Receivable`] source.
pub struct SelectArm<'a, R> {
    pub(crate) arm: Box<dyn Arm<R> + 'a>,
}

impl<'a, R: 'a> SelectArm<'a, R> {
    /// The arm receiving from `source`, mapping the value with `f`.
    pub(crate) fn receiving<S, F>(source: &'a S, f: F) -> SelectArm<'a, R>
    where
        S: RecvSource,
        F: FnOnce(S::Item) -> R + 'a,
    {
        SelectArm {
            arm: Box::new(RecvArm {
                source,
                f: Some(f),
                key: None,
            }),
        }
    }
}

impl<R> fmt::Debug for SelectArm<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectArm")
            .field("object", &self.arm.object())
            .finish()
    }
}

/// Something a [`Select`] can receive from: [`Channel`](crate::Channel),
/// [`Queue`](crate::Queue), [`RemoteReceiver`](crate::RemoteReceiver),
/// [`OneshotReceiver`](crate::OneshotReceiver). Wrappers implement it by delegating to
/// the source they wrap.
pub trait Receivable<T> {
    /// The arm that receives from `self` and maps the value with `f`.
    fn recv_arm<'a, R, F>(&'a self, f: F) -> SelectArm<'a, R>
    where
        F: FnOnce(T) -> R + 'a,
        R: 'a;
}

/// Builds a select; see [`select`].
#[must_use = "a select does nothing until `wait` is called"]
pub struct Select<'a, R> {
    arms: Vec<Box<dyn Arm<R> + 'a>>,
    timeout: Option<(Duration, Box<dyn FnOnce() -> R + 'a>)>,
    default: Option<Box<dyn FnOnce() -> R + 'a>>,
}

impl<R> fmt::Debug for Select<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("arms", &self.arms.len())
            .field("timeout", &self.timeout.as_ref().map(|(d, _)| *d))
            .field("default", &self.default.is_some())
            .finish()
    }
}

/// Starts a select over channels and queues.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uthread::{select, Channel, Queue, Scheduler};
///
/// #[derive(Debug, PartialEq)]
/// enum Event { Order(&'static str), Damage(u32), Idle }
///
/// let sched = Scheduler::builder().manual_clock().build();
/// let orders = Channel::new();
/// let damage = Queue::new();
/// let (o, d) = (orders.clone(), damage.clone());
/// let ship = sched.spawn(move || {
///     let mut seen = Vec::new();
///     for _ in 0..3 {
///         let event = select()
///             .recv(&o, Event::Order)
///             .recv(&d, Event::Damage)
///             .timeout(Duration::from_secs(1), || Event::Idle)
///             .wait()
///             .unwrap();
///         seen.push(event);
///     }
///     seen
/// }).unwrap();
/// damage.put(40).unwrap();
/// sched.run().unwrap();                 // the ship takes the damage, then waits
/// orders.send("warp").unwrap();         // main sends; the ship receives at once
/// sched.advance(Duration::from_secs(1)); // nothing more arrives: its timeout fires
/// sched.run().unwrap();
/// assert_eq!(ship.join().unwrap(), [Event::Damage(40), Event::Order("warp"), Event::Idle]);
/// ```
pub fn select<'a, R>() -> Select<'a, R> {
    Select {
        arms: Vec::new(),
        timeout: None,
        default: None,
    }
}

impl<'a, R: 'a> Select<'a, R> {
    /// Adds an arm that receives from `source` and maps the value with `f`.
    pub fn recv<T, S, F>(mut self, source: &'a S, f: F) -> Self
    where
        S: Receivable<T> + ?Sized,
        F: FnOnce(T) -> R + 'a,
    {
        self.arms.push(source.recv_arm(f).arm);
        self
    }

    /// Adds an arm that sends `value` on `channel`; `f` gives the result if it is sent.
    /// If another arm fires, the value is dropped.
    pub fn send<T: 'static, F>(mut self, channel: &'a Channel<T>, value: T, f: F) -> Self
    where
        F: FnOnce() -> R + 'a,
    {
        self.arms.push(channel.send_arm(value, f));
        self
    }

    /// Adds an arm built elsewhere (see [`Receivable`]).
    pub fn arm(mut self, arm: SelectArm<'a, R>) -> Self {
        self.arms.push(arm.arm);
        self
    }

    /// Gives up after `timeout` (game time) with `f`'s result.
    pub fn timeout<F>(mut self, timeout: Duration, f: F) -> Self
    where
        F: FnOnce() -> R + 'a,
    {
        self.timeout = Some((timeout, Box::new(f)));
        self
    }

    /// Makes the select non-blocking: if no arm is ready now, `f`'s result.
    pub fn default<F>(mut self, f: F) -> Self
    where
        F: FnOnce() -> R + 'a,
    {
        self.default = Some(Box::new(f));
        self
    }

    /// Waits for the first arm to fire (or the timeout, or the default).
    ///
    /// # Errors
    ///
    /// [`ChannelError::Closed`] when every arm's source is closed and there is no
    /// default or timeout; [`ChannelError::Thrown`] for an error thrown into the caller
    /// or sent with `send_throw` on a receiving arm; `Deadlock` in the main context when
    /// nothing can ever fire.
    pub fn wait(mut self) -> Result<R, ChannelError> {
        let shared = current_shared().ok_or(ChannelError::NoScheduler)?;
        let deadline = self.timeout.as_ref().map(|(d, _)| deadline_in(*d));
        loop {
            if let Some(wake) = pending_interrupt(&shared) {
                return Err(interrupted(wake).into());
            }
            let n = self.arms.len();
            let start = if n > 1 {
                next_rotation(&shared) as usize % n
            } else {
                0
            };
            let mut open = 0;
            for i in 0..n {
                let arm = &mut self.arms[(start + i) % n];
                if arm.is_closed() {
                    continue;
                }
                open += 1;
                if let Some(result) = arm.try_now() {
                    return result;
                }
            }
            if let Some(default) = self.default.take() {
                return Ok(default());
            }
            if deadline.is_some_and(|d| crate::time::now() >= d) {
                return Ok(self.fire_timeout());
            }
            if open == 0 && deadline.is_none() {
                return Err(ChannelError::Closed);
            }
            let wake = self.block(&shared, open, deadline);
            let mut fired = None;
            let mut retry = false;
            for arm in &mut self.arms {
                match arm.collect() {
                    Collected::Fired(result) if fired.is_none() => fired = Some(result),
                    Collected::Fired(_) => unreachable!("one wake serves one arm"),
                    Collected::Retry => retry = true,
                    Collected::NotFired => {}
                }
            }
            if let Some(result) = fired {
                settle_after_switch(&shared, wake);
                // An arm whose source was closed while we waited does not end the select
                // (as a remote receiver's does not): the next round skips it, and fails
                // with `Closed` only once every arm is closed.
                if !matches!(result, Err(ChannelError::Closed)) {
                    return result;
                }
                continue;
            }
            match wake {
                Wake::Timer => return Ok(self.fire_timeout()),
                Wake::Signaled if retry => continue,
                Wake::Signaled => continue,
                other => return Err(interrupted(other).into()),
            }
        }
    }

    /// Registers on every open arm (once per object) and blocks.
    fn block(
        &mut self,
        shared: &Rc<crate::core::Shared>,
        open: usize,
        deadline: Option<Duration>,
    ) -> Wake {
        let me: TaskletRef = shared.current_task();
        let mut waits = Vec::with_capacity(open);
        let mut objects: Vec<ObjectId> = Vec::with_capacity(open);
        for arm in &mut self.arms {
            if arm.is_closed() || objects.contains(&arm.object()) {
                continue;
            }
            objects.push(arm.object());
            waits.push(arm.register(&me));
        }
        drop(me);
        let (task, seq) =
            shared.block_current(Blocked::Select { arms: waits.len() }, Waits::Many(waits));
        if let Some(deadline) = deadline {
            shared.arm_timer(&task, seq, deadline);
        }
        drop(task);
        shared.switch_out()
    }

    fn fire_timeout(&mut self) -> R {
        let (_, f) = self
            .timeout
            .take()
            .expect("a timeout fired only when one was set");
        f()
    }
}

/// The next start for a select's scan of its arms, from its scheduler's rotation state
/// (xorshift: deterministic for a given scheduler's sequence of selects).
fn next_rotation(shared: &Shared) -> u32 {
    let mut x = shared.select_rotation.get();
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    shared.select_rotation.set(x);
    x
}
