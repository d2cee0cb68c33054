//! Property test: random sequences of waits on an `Event`, a `Semaphore` and a
//! `Channel` (receive and send, with and without deadlines) by several tasklets, mixed
//! with the faults a game server meets: kills, throws and timeouts, and with the main
//! context setting, clearing and releasing. Checked after every step against a reference
//! model: what each tasklet saw and in what order, every wait queue and balance, and a
//! drop counter proving each waiting frame was unwound exactly once.
//!
//! `model_sync.rs` does the same for `Lock`, `Semaphore` and bounded `Queue` with kills
//! and timeouts; `kill_wait.rs` covers one fault at a time at every blocking point.
//! Failing cases are saved to `tests/corpus/model_faults.proptest-regressions` and
//! replayed first on every later run.

mod support;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use support::{Drivers, Drops};
use uthread::{Channel, ChannelError, Event, Semaphore, WaitError};

const TASKLETS: usize = 4;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 128,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/corpus/model_faults.proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    Event,
    Acquire,
    Receive,
    Send(u32),
}

#[derive(Clone, Debug)]
enum Op {
    Wait(usize, Wait, Option<u64>),
    Set,
    Clear,
    Release,
    Advance(u64),
    Kill(usize),
    Throw(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let t = 0..TASKLETS;
    let wait = prop_oneof![
        Just(Wait::Event),
        Just(Wait::Acquire),
        Just(Wait::Receive),
        (0..100u32).prop_map(Wait::Send),
    ];
    prop_oneof![
        6 => (t.clone(), wait, prop::option::of(1..30u64)).prop_map(|(i, w, d)| Op::Wait(i, w, d)),
        1 => Just(Op::Set),
        1 => Just(Op::Clear),
        2 => Just(Op::Release),
        2 => (1..20u64).prop_map(Op::Advance),
        2 => t.clone().prop_map(Op::Kill),
        2 => t.prop_map(Op::Throw),
    ]
}

/// A waiting tasklet as the model keeps it.
#[derive(Clone, Copy, Debug)]
struct Waiter {
    tasklet: usize,
    wait: Wait,
    deadline: Option<u64>,
    /// Arming order of its timer (timers due at the same time fire in this order).
    armed: u64,
}

#[derive(Debug, Default)]
struct Model {
    /// Every waiter, in the order it started waiting (each primitive serves FIFO).
    waiters: Vec<Waiter>,
    event_set: bool,
    permits: usize,
    now: u64,
    armed: u64,
    /// Waiting frames unwound so far (each wait ends once: served, timed out, thrown
    /// or killed).
    ended: usize,
}

impl Model {
    fn waiting(&self, i: usize) -> bool {
        self.waiters.iter().any(|w| w.tasklet == i)
    }

    fn take_first(&mut self, pick: impl Fn(&Waiter) -> bool) -> Option<Waiter> {
        let at = self.waiters.iter().position(pick)?;
        Some(self.waiters.remove(at))
    }

    fn take(&mut self, i: usize) -> Option<Waiter> {
        self.take_first(|w| w.tasklet == i)
    }

    fn count(&self, pick: impl Fn(&Wait) -> bool) -> usize {
        self.waiters.iter().filter(|w| pick(&w.wait)).count()
    }

    fn done(&mut self, out: &mut Vec<String>, line: String) {
        self.ended += 1;
        out.push(line);
    }

    fn wait(&mut self, i: usize, wait: Wait, timeout: Option<u64>, out: &mut Vec<String>) {
        match wait {
            Wait::Event if self.event_set => return self.done(out, format!("{i} event")),
            Wait::Acquire if self.permits > 0 => {
                self.permits -= 1;
                return self.done(out, format!("{i} acquired"));
            }
            Wait::Receive => {
                if let Some(s) = self.take_first(|w| matches!(w.wait, Wait::Send(_))) {
                    let Wait::Send(v) = s.wait else {
                        unreachable!()
                    };
                    self.done(out, format!("{i} got {v}"));
                    return self.done(out, format!("{} sent", s.tasklet));
                }
            }
            Wait::Send(v) => {
                if let Some(r) = self.take_first(|w| w.wait == Wait::Receive) {
                    self.done(out, format!("{} got {v}", r.tasklet));
                    return self.done(out, format!("{i} sent"));
                }
            }
            _ => {}
        }
        if timeout.is_some() {
            self.armed += 1;
        }
        self.waiters.push(Waiter {
            tasklet: i,
            wait,
            deadline: timeout.map(|d| self.now + d),
            armed: self.armed,
        });
    }

    fn advance(&mut self, d: u64, out: &mut Vec<String>) {
        self.now += d;
        let now = self.now;
        let mut due: Vec<Waiter> = self
            .waiters
            .iter()
            .filter(|w| w.deadline.is_some_and(|t| t <= now))
            .copied()
            .collect();
        due.sort_by_key(|w| (w.deadline, w.armed));
        self.waiters.retain(|w| w.deadline.is_none_or(|t| t > now));
        for w in due {
            self.done(out, format!("{} timed out", w.tasklet));
        }
    }
}

fn outcome_of_wait(i: usize, r: Result<(), WaitError>, ok: String) -> String {
    match r {
        Ok(()) => ok,
        Err(WaitError::Timeout) => format!("{i} timed out"),
        Err(WaitError::Thrown(_)) => format!("{i} thrown"),
        Err(e) => format!("{i} {e:?}"),
    }
}

fn outcome_of_channel(i: usize, r: Result<String, ChannelError>) -> String {
    match r {
        Ok(line) => line,
        Err(ChannelError::Timeout) => format!("{i} timed out"),
        Err(ChannelError::Thrown(_)) => format!("{i} thrown"),
        Err(e) => format!("{i} {e:?}"),
    }
}

fn run_case(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut drivers = Drivers::new(TASKLETS);
    let event = Event::new();
    let sem = Semaphore::new(0);
    let channel = Channel::<u32>::new();
    let frames = Drops::new();
    let log: Rc<RefCell<Vec<String>>> = Rc::default();
    let mut model = Model::default();
    for op in ops {
        let mut expected = Vec::new();
        match op {
            Op::Wait(i, ..) if model.waiting(i) => continue,
            Op::Kill(i) | Op::Throw(i) if !model.waiting(i) => continue,
            Op::Wait(i, wait, timeout) => {
                model.wait(i, wait, timeout, &mut expected);
                let (ev, sem, ch, log) = (event.clone(), sem.clone(), channel.clone(), log.clone());
                let frame = frames.token();
                drivers.post(i, move || {
                    let _frame = frame;
                    let d = timeout.map(Duration::from_millis);
                    let line = match wait {
                        Wait::Event => {
                            let r = match d {
                                Some(d) => ev.wait_timeout(d),
                                None => ev.wait(),
                            };
                            outcome_of_wait(i, r, format!("{i} event"))
                        }
                        Wait::Acquire => {
                            let r = match d {
                                Some(d) => sem.acquire_timeout(d),
                                None => sem.acquire(),
                            };
                            outcome_of_wait(i, r.map(|p| p.forget()), format!("{i} acquired"))
                        }
                        Wait::Receive => {
                            let r = match d {
                                Some(d) => ch.receive_timeout(d),
                                None => ch.receive(),
                            };
                            outcome_of_channel(i, r.map(|v| format!("{i} got {v}")))
                        }
                        Wait::Send(v) => {
                            let r = match d {
                                Some(d) => ch.send_timeout(v, d),
                                None => ch.send(v),
                            };
                            let r = r.map_err(|e| {
                                assert_eq!(e.value, v, "the value comes back");
                                e.error
                            });
                            outcome_of_channel(i, r.map(|()| format!("{i} sent")))
                        }
                    };
                    log.borrow_mut().push(line);
                });
            }
            Op::Set => {
                model.event_set = true;
                while let Some(w) = model.take_first(|w| w.wait == Wait::Event) {
                    model.done(&mut expected, format!("{} event", w.tasklet));
                }
                event.set();
                drivers.settle();
            }
            Op::Clear => {
                model.event_set = false;
                event.clear();
            }
            Op::Release => {
                match model.take_first(|w| w.wait == Wait::Acquire) {
                    Some(w) => model.done(&mut expected, format!("{} acquired", w.tasklet)),
                    None => model.permits += 1,
                }
                sem.release();
                drivers.settle();
            }
            Op::Advance(d) => {
                model.advance(d, &mut expected);
                drivers.advance(d);
            }
            Op::Kill(i) => {
                model.take(i);
                model.ended += 1;
                drivers.kill(i);
            }
            Op::Throw(i) => {
                model.take(i);
                model.done(&mut expected, format!("{i} thrown"));
                drivers.throw(i);
            }
        }
        prop_assert_eq!(&*log.borrow(), &expected, "after {:?}", op);
        log.borrow_mut().clear();
        prop_assert_eq!(event.waiting(), model.count(|w| *w == Wait::Event));
        prop_assert_eq!(event.is_set(), model.event_set);
        prop_assert_eq!(sem.waiting(), model.count(|w| *w == Wait::Acquire));
        prop_assert_eq!(sem.available(), model.permits);
        let senders = model.count(|w| matches!(w, Wait::Send(_))) as isize;
        let receivers = model.count(|w| *w == Wait::Receive) as isize;
        prop_assert_eq!(channel.balance(), senders - receivers, "after {:?}", op);
        prop_assert_eq!(frames.count(), model.ended, "each wait unwound once");
        for i in 0..TASKLETS {
            let blocked_on_primitive = model.waiting(i);
            prop_assert!(drivers.handles[i].tasklet().is_alive());
            prop_assert_eq!(
                drivers.handles[i].tasklet().is_blocked(),
                true,
                "tasklet {} waits on {} (its inbox otherwise)",
                i,
                if blocked_on_primitive {
                    "a primitive"
                } else {
                    "its inbox"
                }
            );
        }
    }
    // Dropping the scheduler unwinds whoever still waits, once.
    let still = model.waiters.len();
    drop(drivers);
    prop_assert_eq!(frames.count(), model.ended + still);
    prop_assert_eq!(event.waiting(), 0);
    prop_assert_eq!(sem.waiting(), 0);
    prop_assert_eq!(channel.balance(), 0);
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn waits_with_kills_throws_and_timeouts_match_the_model(
        ops in prop::collection::vec(op(), 1..60),
    ) {
        run_case(ops)?;
    }
}

#[test]
fn a_fixed_walk_through_every_fault() {
    use Op::*;
    run_case(vec![
        Wait(0, self::Wait::Event, Some(5)),
        Wait(1, self::Wait::Acquire, None),
        Wait(2, self::Wait::Receive, Some(10)),
        Wait(3, self::Wait::Send(7), None),
        Throw(1),
        Advance(5),
        Wait(0, self::Wait::Receive, None),
        Kill(0),
        Wait(1, self::Wait::Send(9), Some(3)),
        Wait(0, self::Wait::Receive, None),
        Set,
        Wait(2, self::Wait::Event, None),
        Release,
        Wait(2, self::Wait::Acquire, None),
        Advance(10),
    ])
    .unwrap();
}
