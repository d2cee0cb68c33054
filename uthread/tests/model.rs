//! Property test: random sequences of spawns (senders and receivers), runs, budgets, kills,
//! main-context sends and receives, preference changes and closes, driven against a
//! reference model of Stackless channels and the run queue. After every step the event
//! log, the balance, the channel's queue and each tasklet's liveness must match the model;
//! at the end every value must have been dropped exactly once.

mod support;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use proptest::prelude::*;
use uthread::{
    Budget, Channel, ChannelError, Preference, RunOutcome, Scheduler, SendError, Tasklet,
    TryRecvError, TrySendError,
};

/// Who did something: a tasklet (by spawn order) or the main context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Task(usize),
    Main,
}

/// Why a channel call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Why {
    Closed,
    /// try_send found no receiver / try_receive found no sender.
    NoPartner,
    Deadlock,
}

/// What the tasklets and the main context record, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    Received { by: Who, token: u32 },
    Sent { by: Who },
    SendFailed { by: Who, token: u32, why: Why },
    RecvFailed { by: Who, why: Why },
}

#[derive(Clone, Debug)]
enum Op {
    SpawnSender,
    SpawnReceiver,
    Run,
    RunFor(u8),
    Kill(usize),
    KillPending(usize),
    MainSend,
    MainReceive,
    MainTrySend,
    MainTryReceive,
    SetPreference(Preference),
    SetScheduleAll(bool),
    Close,
    CloseNow,
    Open,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => Just(Op::SpawnSender),
        5 => Just(Op::SpawnReceiver),
        3 => Just(Op::Run),
        2 => (0u8..6).prop_map(Op::RunFor),
        2 => (0usize..64).prop_map(Op::Kill),
        1 => (0usize..64).prop_map(Op::KillPending),
        1 => Just(Op::MainSend),
        1 => Just(Op::MainReceive),
        2 => Just(Op::MainTrySend),
        2 => Just(Op::MainTryReceive),
        1 => prop_oneof![
            Just(Preference::Receiver),
            Just(Preference::Sender),
            Just(Preference::Neither)
        ]
        .prop_map(Op::SetPreference),
        1 => any::<bool>().prop_map(Op::SetScheduleAll),
        1 => Just(Op::Close),
        1 => Just(Op::CloseNow),
        1 => Just(Op::Open),
    ]
}

// ---------------------------------------------------------------------------------------
// The reference model.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    /// A tasklet that has not started.
    Start(usize),
    /// A tasklet (or main) woken after a rendezvous or close; it logs its pending event.
    Resume(Who),
    /// A tasklet with a pending kill: it unwinds when its turn comes.
    Doomed(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Sender(u32),
    Receiver,
}

#[derive(Debug)]
struct ModelTask {
    role: Role,
    alive: bool,
    /// What it logs when resumed.
    pending: Option<Event>,
}

#[derive(Debug, Default)]
struct Model {
    tasks: Vec<ModelTask>,
    queue: VecDeque<Entry>,
    /// Blocked tasklets (or main) in FIFO order, with the token of a sender.
    waiters: VecDeque<(Who, Option<u32>)>,
    senders_waiting: bool,
    preference: Preference,
    schedule_all: bool,
    closing: bool,
    main_pending: Option<Event>,
    log: Vec<Event>,
}

impl Model {
    fn balance(&self) -> isize {
        let n = self.waiters.len() as isize;
        if self.senders_waiting {
            n
        } else {
            -n
        }
    }

    fn set_pending(&mut self, who: Who, event: Event) {
        match who {
            Who::Task(i) => self.tasks[i].pending = Some(event),
            Who::Main => self.main_pending = Some(event),
        }
    }

    /// `caller` met `partner`, who was waiting. `event` is what the caller logs when it
    /// carries on. Returns true if the caller carried on at once (its event is logged).
    fn rendezvous(&mut self, caller: Who, partner: Who, caller_sends: bool, event: Event) {
        let partner_first = match self.preference {
            Preference::Receiver => caller_sends,
            Preference::Sender => !caller_sends,
            Preference::Neither => false,
        };
        if self.schedule_all {
            self.queue.push_back(Entry::Resume(partner));
            self.queue.push_back(Entry::Resume(caller));
            self.set_pending(caller, event);
        } else if partner_first {
            self.queue.push_front(Entry::Resume(caller));
            self.queue.push_front(Entry::Resume(partner));
            self.set_pending(caller, event);
        } else {
            self.queue.push_back(Entry::Resume(partner));
            self.finish(caller, event);
        }
        if caller == Who::Main && self.main_pending.is_some() {
            self.run_until_main();
        }
    }

    /// `who` logs `event` and carries on (a tasklet then ends).
    fn finish(&mut self, who: Who, event: Event) {
        self.log.push(event);
        if let Who::Task(i) = who {
            self.tasks[i].alive = false;
        }
    }

    /// A send by `who` of `token`. Returns false if the caller blocked.
    fn send(&mut self, who: Who, token: u32) -> bool {
        if !self.senders_waiting && !self.waiters.is_empty() {
            let (receiver, _) = self.waiters.pop_front().unwrap();
            self.set_pending(
                receiver,
                Event::Received {
                    by: receiver,
                    token,
                },
            );
            self.rendezvous(who, receiver, true, Event::Sent { by: who });
            true
        } else if self.closing {
            let why = Why::Closed;
            self.finish(
                who,
                Event::SendFailed {
                    by: who,
                    token,
                    why,
                },
            );
            true
        } else {
            self.waiters.push_back((who, Some(token)));
            self.senders_waiting = true;
            false
        }
    }

    /// A receive by `who`. Returns false if the caller blocked.
    fn receive(&mut self, who: Who) -> bool {
        if self.senders_waiting && !self.waiters.is_empty() {
            let (sender, token) = self.waiters.pop_front().unwrap();
            let token = token.unwrap();
            self.set_pending(sender, Event::Sent { by: sender });
            self.rendezvous(who, sender, false, Event::Received { by: who, token });
            true
        } else if self.closing {
            self.finish(
                who,
                Event::RecvFailed {
                    by: who,
                    why: Why::Closed,
                },
            );
            true
        } else {
            self.waiters.push_back((who, None));
            self.senders_waiting = false;
            false
        }
    }

    /// One slice.
    fn run_entry(&mut self, entry: Entry) {
        match entry {
            Entry::Start(i) => match self.tasks[i].role {
                Role::Sender(token) => {
                    self.send(Who::Task(i), token);
                }
                Role::Receiver => {
                    self.receive(Who::Task(i));
                }
            },
            Entry::Resume(Who::Task(i)) => {
                let event = self.tasks[i]
                    .pending
                    .take()
                    .expect("a woken tasklet has news");
                self.finish(Who::Task(i), event);
            }
            Entry::Resume(Who::Main) => unreachable!("main is resumed by run_until_main"),
            Entry::Doomed(i) => self.tasks[i].alive = false,
        }
    }

    /// Main waits: the queue runs until main's entry comes up. Returns false if the
    /// queue ran dry first (a deadlock for a blocked main).
    fn run_until_main(&mut self) -> bool {
        while let Some(entry) = self.queue.pop_front() {
            if entry == Entry::Resume(Who::Main) {
                let event = self.main_pending.take().expect("main was woken with news");
                self.log.push(event);
                return true;
            }
            self.run_entry(entry);
        }
        false
    }

    /// Main blocked in a send or receive: run, and on a deadlock take main off the wait.
    fn main_blocked(&mut self, deadlock_event: Event) {
        if !self.run_until_main() {
            let pos = self.waiters.iter().position(|(w, _)| *w == Who::Main);
            self.waiters
                .remove(pos.expect("a deadlocked main is still waiting"));
            self.log.push(deadlock_event);
        }
    }

    /// Runs whole slices; `None` for no budget. Returns whether the budget was spent.
    fn run(&mut self, budget: Option<usize>) -> bool {
        let mut resumes = 0;
        loop {
            if budget.is_some_and(|b| resumes >= b) {
                return true;
            }
            let Some(entry) = self.queue.pop_front() else {
                return false;
            };
            self.run_entry(entry);
            resumes += 1;
        }
    }

    fn remove_entries_of(&mut self, i: usize) -> Option<Entry> {
        let pos = self.queue.iter().position(|e| {
            matches!(e, Entry::Start(j) | Entry::Doomed(j) | Entry::Resume(Who::Task(j)) if *j == i)
        })?;
        self.queue.remove(pos)
    }

    fn kill(&mut self, i: usize, pending: bool) {
        if !self.tasks[i].alive {
            return;
        }
        let was_waiting = self.waiters.iter().position(|(w, _)| *w == Who::Task(i));
        if let Some(pos) = was_waiting {
            self.waiters.remove(pos);
        }
        self.remove_entries_of(i);
        if pending {
            // Made runnable at the back (started or not); it unwinds when its turn comes.
            self.queue.push_back(Entry::Doomed(i));
        } else {
            self.tasks[i].alive = false;
        }
    }

    fn close_now(&mut self) {
        self.closing = true;
        while let Some((who, token)) = self.waiters.pop_front() {
            let Who::Task(i) = who else {
                unreachable!("main cannot be waiting while it calls close_now")
            };
            let event = match token {
                Some(token) => Event::SendFailed {
                    by: who,
                    token,
                    why: Why::Closed,
                },
                None => Event::RecvFailed {
                    by: who,
                    why: Why::Closed,
                },
            };
            self.tasks[i].pending = Some(event);
            self.queue.push_back(Entry::Resume(who));
        }
    }
}

// ---------------------------------------------------------------------------------------
// The real thing.

type Shared<T> = Rc<RefCell<T>>;

/// A value that records its drop.
struct Token {
    serial: u32,
    dropped: Shared<Vec<u32>>,
}

impl Drop for Token {
    fn drop(&mut self) {
        self.dropped.borrow_mut().push(self.serial);
    }
}

struct Real {
    sched: Scheduler,
    ch: Channel<Token>,
    tasks: Vec<Tasklet>,
    log: Shared<Vec<Event>>,
    dropped: Shared<Vec<u32>>,
    next_token: u32,
}

impl Real {
    fn token(&mut self) -> Token {
        self.next_token += 1;
        Token {
            serial: self.next_token,
            dropped: self.dropped.clone(),
        }
    }

    fn spawn_sender(&mut self) -> u32 {
        let token = self.token();
        let serial = token.serial;
        let (tx, log, by) = (
            self.ch.clone(),
            self.log.clone(),
            Who::Task(self.tasks.len()),
        );
        let h = self
            .sched
            .spawn(move || {
                let event = match tx.send(token) {
                    Ok(()) => Event::Sent { by },
                    Err(SendError {
                        value,
                        error: ChannelError::Closed,
                    }) => Event::SendFailed {
                        by,
                        token: value.serial,
                        why: Why::Closed,
                    },
                    Err(e) => panic!("unexpected send error {e:?}"),
                };
                log.borrow_mut().push(event);
            })
            .unwrap();
        self.tasks.push(h.tasklet().clone());
        serial
    }

    fn spawn_receiver(&mut self) {
        let (rx, log, by) = (
            self.ch.clone(),
            self.log.clone(),
            Who::Task(self.tasks.len()),
        );
        let h = self
            .sched
            .spawn(move || {
                let event = match rx.receive() {
                    Ok(token) => Event::Received {
                        by,
                        token: token.serial,
                    },
                    Err(ChannelError::Closed) => Event::RecvFailed {
                        by,
                        why: Why::Closed,
                    },
                    Err(e) => panic!("unexpected receive error {e:?}"),
                };
                log.borrow_mut().push(event);
            })
            .unwrap();
        self.tasks.push(h.tasklet().clone());
    }

    fn push(&self, event: Event) {
        self.log.borrow_mut().push(event);
    }

    fn main_send(&mut self, try_only: bool) -> u32 {
        let token = self.token();
        let serial = token.serial;
        let by = Who::Main;
        let event = if try_only {
            match self.ch.try_send(token) {
                Ok(()) => Event::Sent { by },
                Err(TrySendError::Full(t)) => Event::SendFailed {
                    by,
                    token: t.serial,
                    why: Why::NoPartner,
                },
                Err(TrySendError::Closed(t)) => Event::SendFailed {
                    by,
                    token: t.serial,
                    why: Why::Closed,
                },
            }
        } else {
            match self.ch.send(token) {
                Ok(()) => Event::Sent { by },
                Err(SendError { value, error }) => Event::SendFailed {
                    by,
                    token: value.serial,
                    why: match error {
                        ChannelError::Closed => Why::Closed,
                        ChannelError::Deadlock => Why::Deadlock,
                        e => panic!("unexpected send error {e:?}"),
                    },
                },
            }
        };
        self.push(event);
        serial
    }

    fn main_receive(&mut self, try_only: bool) {
        let by = Who::Main;
        let event = if try_only {
            match self.ch.try_receive() {
                Ok(t) => Event::Received {
                    by,
                    token: t.serial,
                },
                Err(TryRecvError::Empty) => Event::RecvFailed {
                    by,
                    why: Why::NoPartner,
                },
                Err(TryRecvError::Closed) => Event::RecvFailed {
                    by,
                    why: Why::Closed,
                },
                Err(e) => panic!("unexpected try_receive error {e:?}"),
            }
        } else {
            match self.ch.receive() {
                Ok(t) => Event::Received {
                    by,
                    token: t.serial,
                },
                Err(ChannelError::Closed) => Event::RecvFailed {
                    by,
                    why: Why::Closed,
                },
                Err(ChannelError::Deadlock) => Event::RecvFailed {
                    by,
                    why: Why::Deadlock,
                },
                Err(e) => panic!("unexpected receive error {e:?}"),
            }
        };
        self.push(event);
    }
}

fn check(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut model = Model::default();
    let mut real = Real {
        sched: support::scheduler(),
        ch: Channel::new(),
        tasks: Vec::new(),
        log: Rc::default(),
        dropped: Rc::default(),
        next_token: 0,
    };
    for (step, op) in ops.iter().enumerate() {
        match op {
            Op::SpawnSender => {
                let token = real.spawn_sender();
                model.tasks.push(ModelTask {
                    role: Role::Sender(token),
                    alive: true,
                    pending: None,
                });
                model.queue.push_back(Entry::Start(model.tasks.len() - 1));
            }
            Op::SpawnReceiver => {
                real.spawn_receiver();
                model.tasks.push(ModelTask {
                    role: Role::Receiver,
                    alive: true,
                    pending: None,
                });
                model.queue.push_back(Entry::Start(model.tasks.len() - 1));
            }
            Op::Run => {
                let outcome = real.sched.run().expect("no tasklet fails");
                model.run(None);
                match outcome {
                    RunOutcome::Finished => prop_assert!(model.waiters.is_empty()),
                    RunOutcome::Deadlock(report) => {
                        prop_assert_eq!(report.blocked.len(), model.waiters.len());
                    }
                    other => prop_assert!(false, "unexpected outcome {:?}", other),
                }
            }
            Op::RunFor(n) => {
                let outcome = real.sched.run_for(Budget::Resumes(u64::from(*n))).unwrap();
                let spent = model.run(Some(usize::from(*n)));
                prop_assert_eq!(matches!(outcome, RunOutcome::BudgetSpent), spent);
            }
            Op::Kill(k) | Op::KillPending(k) => {
                if !real.tasks.is_empty() {
                    let i = k % real.tasks.len();
                    let pending = matches!(op, Op::KillPending(_));
                    if pending {
                        real.tasks[i].kill_pending().unwrap();
                    } else {
                        real.tasks[i].kill().unwrap();
                    }
                    model.kill(i, pending);
                }
            }
            Op::MainSend | Op::MainTrySend => {
                let try_only = matches!(op, Op::MainTrySend);
                let token = real.main_send(try_only);
                let no_receiver = model.senders_waiting || model.waiters.is_empty();
                if try_only && no_receiver && !model.closing {
                    model.log.push(Event::SendFailed {
                        by: Who::Main,
                        token,
                        why: Why::NoPartner,
                    });
                } else if !model.send(Who::Main, token) {
                    model.main_blocked(Event::SendFailed {
                        by: Who::Main,
                        token,
                        why: Why::Deadlock,
                    });
                }
            }
            Op::MainReceive | Op::MainTryReceive => {
                let try_only = matches!(op, Op::MainTryReceive);
                real.main_receive(try_only);
                let no_sender = !model.senders_waiting || model.waiters.is_empty();
                if try_only && no_sender && !model.closing {
                    model.log.push(Event::RecvFailed {
                        by: Who::Main,
                        why: Why::NoPartner,
                    });
                } else if !model.receive(Who::Main) {
                    model.main_blocked(Event::RecvFailed {
                        by: Who::Main,
                        why: Why::Deadlock,
                    });
                }
            }
            Op::SetPreference(p) => {
                real.ch.set_preference(*p);
                model.preference = *p;
            }
            Op::SetScheduleAll(on) => {
                real.ch.set_schedule_all(*on);
                model.schedule_all = *on;
            }
            Op::Close => {
                real.ch.close();
                model.closing = true;
            }
            Op::CloseNow => {
                real.ch.close_now();
                model.close_now();
            }
            Op::Open => {
                real.ch.open();
                model.closing = false;
            }
        }
        // After every step the real scheduler and the model agree.
        let ctx = format!("after step {step} ({op:?})");
        prop_assert_eq!(&*real.log.borrow(), &model.log, "log {}", ctx);
        prop_assert_eq!(real.ch.balance(), model.balance(), "balance {}", ctx);
        let queued: Vec<Tasklet> = model
            .waiters
            .iter()
            .map(|(w, _)| match w {
                Who::Task(i) => real.tasks[*i].clone(),
                Who::Main => unreachable!("main is not waiting between steps"),
            })
            .collect();
        prop_assert_eq!(real.ch.queue(), queued, "channel queue {}", ctx);
        for (i, (t, m)) in real.tasks.iter().zip(&model.tasks).enumerate() {
            prop_assert_eq!(t.is_alive(), m.alive, "tasklet {} alive {}", i, ctx);
        }
        prop_assert_eq!(
            real.sched.scheduled_count(),
            model.queue.len(),
            "queue {}",
            ctx
        );
        prop_assert_eq!(real.ch.is_closing(), model.closing, "closing {}", ctx);
        prop_assert!(real.sched.take_failures().is_empty(), "failures {}", ctx);
    }

    // Every value reaches exactly one place: a receiver's log entry, back to its sender,
    // or dropped with a killed tasklet; and each is dropped exactly once.
    let Real {
        sched,
        ch,
        tasks,
        dropped,
        next_token,
        ..
    } = real;
    drop(sched);
    prop_assert_eq!(ch.balance(), 0);
    prop_assert!(tasks.iter().all(|t| !t.is_alive()));
    let mut dropped = dropped.take();
    dropped.sort_unstable();
    prop_assert_eq!(dropped, (1..=next_token).collect::<Vec<_>>());
    let mut received: Vec<u32> = model
        .log
        .iter()
        .filter_map(|e| match e {
            Event::Received { token, .. } => Some(*token),
            _ => None,
        })
        .collect();
    let count = received.len();
    received.sort_unstable();
    received.dedup();
    prop_assert_eq!(received.len(), count, "a value was received twice");
    Ok(())
}

proptest! {
    // 256 cases unless PROPTEST_CASES says otherwise (fewer under valgrind, say).
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn channels_and_the_run_queue_match_the_model(ops in prop::collection::vec(op(), 1..48)) {
        check(ops)?;
    }
}

/// A fixed sequence that walks through every kind of step once, so that a change in
/// the model or the strategy cannot quietly skip one.
#[test]
fn a_fixed_walk_through_every_kind_of_step() {
    let ops = vec![
        Op::SpawnReceiver,
        Op::SpawnReceiver,
        Op::Run,
        Op::MainTrySend,
        Op::SpawnSender,
        Op::SetPreference(Preference::Sender),
        Op::SpawnSender,
        Op::RunFor(1),
        Op::Run,
        Op::SpawnSender,
        Op::SpawnSender,
        Op::Run,
        Op::MainTryReceive,
        Op::Kill(5),
        Op::KillPending(6),
        Op::SetScheduleAll(true),
        Op::SpawnReceiver,
        Op::SpawnSender,
        Op::Run,
        Op::SetScheduleAll(false),
        Op::SetPreference(Preference::Neither),
        Op::SpawnReceiver,
        Op::Run,
        Op::MainSend,
        Op::MainReceive,
        Op::SpawnSender,
        Op::SpawnReceiver,
        Op::SpawnReceiver,
        Op::Run,
        Op::Close,
        Op::MainReceive,
        Op::MainTrySend,
        Op::SpawnReceiver,
        Op::Run,
        Op::Open,
        Op::SpawnReceiver,
        Op::Run,
        Op::CloseNow,
        Op::Run,
    ];
    check(ops).unwrap();
}
