//! Barriers: N tasklets wait until all N have arrived.

use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use crate::block::settle_after_switch;
use crate::block::{interrupted, pending_interrupt, wait_for};
use crate::core::current_shared;
use crate::error::WaitError;
use crate::object::{waiters, Object, Waitable};
use crate::state::{Blocked, Wake};
use crate::time::deadline_in;
use crate::wait::WaitList;

struct State {
    parties: usize,
    arrived: usize,
    generation: u64,
    /// Each waiter offers the generation it arrived in.
    waiters: WaitList<u64, ()>,
}

impl Waitable for State {
    type Offer = u64;
    type Reply = ();

    fn waiters(&mut self) -> &mut WaitList<u64, ()> {
        &mut self.waiters
    }

    fn left(&mut self) {
        // A waiter taken off the queue (timeout, kill, throw) leaves the round now, not
        // when it next runs: an arrival in between must not complete the round with it.
        // Every waiting entry belongs to the current round (a new round serves them all).
        self.arrived = self.arrived.saturating_sub(1);
    }
}

/// What a [`Barrier::wait`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarrierWaitResult {
    /// Exactly one tasklet per round (the last to arrive) is the leader.
    pub is_leader: bool,
}

/// A barrier for `parties` tasklets: each `wait` blocks until all have arrived, then
/// all go on and the barrier is ready for the next round. A waiter that times out or is
/// killed leaves, and the round needs it again.
///
/// # Examples
///
/// ```
/// let sched = uthread::Scheduler::new();
/// let fleet_ready = uthread::Barrier::new(3);
/// let mut ships = Vec::new();
/// for _ in 0..3 {
///     let b = fleet_ready.clone();
///     ships.push(sched.spawn(move || b.wait().unwrap().is_leader).unwrap());
/// }
/// sched.run().unwrap(); // all three arrive, so all three go on
/// let leaders: Vec<bool> = ships.into_iter().map(|s| s.join().unwrap()).collect();
/// assert_eq!(leaders, [false, false, true]); // the last to arrive leads
/// ```
#[derive(Clone)]
pub struct Barrier {
    inner: Rc<Object<State>>,
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.state.borrow();
        self.inner
            .debug(f, "Barrier")
            .field("parties", &st.parties)
            .field("arrived", &st.arrived)
            .finish()
    }
}

impl Barrier {
    /// A barrier for `parties` tasklets (at least 1).
    pub fn new(parties: usize) -> Barrier {
        Barrier::build(parties, None)
    }

    /// A named barrier.
    pub fn with_name(parties: usize, name: &str) -> Barrier {
        Barrier::build(parties, Some(Rc::from(name)))
    }

    fn build(parties: usize, name: Option<Rc<str>>) -> Barrier {
        let state = State {
            parties: parties.max(1),
            arrived: 0,
            generation: 0,
            waiters: WaitList::default(),
        };
        Barrier {
            inner: Object::new(name, state),
        }
    }

    /// Tasklets waiting in the current round.
    pub fn waiting(&self) -> usize {
        self.inner.state.borrow().waiters.len()
    }

    /// Waits for the others.
    ///
    /// # Errors
    ///
    /// [`WaitError`] if the wait is interrupted (the caller leaves the round).
    pub fn wait(&self) -> Result<BarrierWaitResult, WaitError> {
        self.wait_inner(None)
    }

    /// Like [`Barrier::wait`] with a deadline `timeout` from now (game time).
    ///
    /// # Errors
    ///
    /// As [`Barrier::wait`], plus [`WaitError::Timeout`].
    pub fn wait_timeout(&self, timeout: Duration) -> Result<BarrierWaitResult, WaitError> {
        self.wait_inner(Some(deadline_in(timeout)))
    }

    fn wait_inner(&self, deadline: Option<Duration>) -> Result<BarrierWaitResult, WaitError> {
        let generation = {
            let mut st = self.inner.state.borrow_mut();
            st.arrived += 1;
            if st.arrived >= st.parties {
                st.arrived = 0;
                st.generation += 1;
                let woken = st.waiters.serve_all(|_| ());
                drop(st);
                for t in woken {
                    t.wake(Wake::Signaled, false);
                }
                return Ok(BarrierWaitResult { is_leader: true });
            }
            st.generation
        };
        let Some(shared) = current_shared() else {
            self.leave(generation);
            return Err(WaitError::NoScheduler);
        };
        // A kill or throw already pending is delivered without queueing, so no cancel
        // will take the caller out of the round: leave it here (before a kill unwinds).
        if let Some(wake) = pending_interrupt(&shared) {
            self.leave(generation);
            return Err(interrupted(wake));
        }
        let on = Blocked::Barrier;
        // From here every way out but being released (timeout, throw, kill, deadlock)
        // goes through `Cancel::cancel`, which takes the caller out of the round.
        let ((), wake) = wait_for(&shared, &self.inner, waiters, generation, on, deadline)
            .map_err(|(e, _)| e)?;
        settle_after_switch(&shared, wake);
        Ok(BarrierWaitResult { is_leader: false })
    }

    /// A waiter of `generation` gave up before queueing: it no longer counts as arrived.
    fn leave(&self, generation: u64) {
        let mut st = self.inner.state.borrow_mut();
        if st.generation == generation && st.arrived > 0 {
            st.arrived -= 1;
        }
    }
}
