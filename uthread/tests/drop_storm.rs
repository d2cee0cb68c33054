//! Dropping a scheduler, or killing everything on it, with 10,000 live tasklets spread
//! over every state a tasklet can be in: scheduled after a yield, paused, never started
//! (scheduled or paused), blocked sending and receiving, sleeping, in `be_nice`, waiting
//! on a lock, a semaphore, a condition, an event, a queue (get and bounded put), a
//! select, a join and a future. Drop counters prove that every closure and every stack
//! token is dropped exactly once and every value in flight once; every wait queue and
//! balance is empty afterwards, and `kill_all` returns every stack to the pool.
//!
//! `UTHREAD_DROP_STORM_N` sets the number of tasklets (default 10,000; the valgrind run
//! uses fewer). `drop.rs` covers the rarer states (a tasklet that catches the kill, one
//! that blocks in a destructor) one tasklet each.

mod support;

use std::time::{Duration, Instant};

use support::{Drops, Token};
use uthread::{
    block_on, select, Builder, Channel, Condition, Event, JoinHandle, Lock, Queue, Scheduler,
    Semaphore, StackStrategy,
};

/// How many tasklets each storm spawns (at least one of each state).
fn storm_size() -> usize {
    std::env::var("UTHREAD_DROP_STORM_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000)
}

/// Every state a storm puts tasklets in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Yielded,
    Paused,
    NeverStarted,
    NewPaused,
    Sending,
    Receiving,
    Sleeping,
    Nice,
    Locking,
    Acquiring,
    Condition,
    Event,
    QueueGet,
    QueuePut,
    Select,
    Join,
    Future,
}

const STATES: [State; 17] = [
    State::Yielded,
    State::Paused,
    State::NeverStarted,
    State::NewPaused,
    State::Sending,
    State::Receiving,
    State::Sleeping,
    State::Nice,
    State::Locking,
    State::Acquiring,
    State::Condition,
    State::Event,
    State::QueueGet,
    State::QueuePut,
    State::Select,
    State::Join,
    State::Future,
];

/// The primitives the tasklets block on (they outlive the scheduler).
struct Primitives {
    send: Channel<Token>,
    recv: Channel<Token>,
    /// Held by the main context for the whole storm.
    lock: Lock,
    sem: Semaphore,
    cond_lock: Lock,
    cond: Condition,
    event: Event,
    queue: Queue<Token>,
    /// Bounded to one place, filled before the putters come.
    full: Queue<Token>,
    select_recv: Channel<u32>,
    select_send: Channel<Token>,
    /// What the join targets wait on.
    join_gate: Event,
}

impl Primitives {
    fn new(junk: &Drops) -> Primitives {
        let p = Primitives {
            send: Channel::with_name("send"),
            recv: Channel::with_name("recv"),
            lock: Lock::with_name("held by main"),
            sem: Semaphore::new(0),
            cond_lock: Lock::new(),
            cond: Condition::new(),
            event: Event::new(),
            queue: Queue::new(),
            full: Queue::bounded(1),
            select_recv: Channel::new(),
            select_send: Channel::new(),
            join_gate: Event::new(),
        };
        p.lock.acquire().unwrap();
        p.full.put(junk.token()).unwrap();
        p
    }

    /// Whether every wait queue is empty and every balance zero. `main_holds` says
    /// whether the main context still holds its lock (not once its scheduler is gone:
    /// main's guardless holds end with it, as a tasklet's do).
    fn assert_quiet(&self, main_holds: bool) {
        assert_eq!(self.send.balance(), 0, "send");
        assert_eq!(self.recv.balance(), 0, "recv");
        assert_eq!(self.lock.waiting(), 0, "lock");
        assert_eq!(self.lock.is_locked(), main_holds, "main's lock");
        assert_eq!(self.sem.waiting(), 0, "semaphore");
        assert_eq!(self.sem.available(), 0, "no permit appeared");
        assert_eq!(self.cond.waiting(), 0, "condition");
        assert!(!self.cond_lock.is_locked(), "condition lock left held");
        assert_eq!(self.cond_lock.waiting(), 0, "condition lock");
        assert_eq!(self.event.waiting(), 0, "event");
        assert_eq!(self.queue.balance(), 0, "queue get");
        assert_eq!(self.full.balance(), 0, "bounded queue: no putter left");
        assert_eq!(self.full.len(), 1);
        assert_eq!(self.select_recv.balance(), 0, "select recv arm");
        assert_eq!(self.select_send.balance(), 0, "select send arm");
        assert_eq!(self.join_gate.waiting(), 0, "join targets");
    }
}

/// A storm of tasklets on one scheduler, and what it expects to be dropped.
struct Storm {
    p: Primitives,
    /// One token per tasklet closure.
    captured: Drops,
    /// One token per started tasklet, on its stack.
    on_stack: Drops,
    /// Values held in flight by blocked senders and putters.
    values: Drops,
    spawned: usize,
    started: usize,
    in_flight: usize,
    per_state: usize,
    joins: Vec<JoinHandle<()>>,
}

impl Storm {
    fn new(junk: &Drops) -> Storm {
        Storm {
            p: Primitives::new(junk),
            captured: Drops::new(),
            on_stack: Drops::new(),
            values: Drops::new(),
            spawned: 0,
            started: 0,
            in_flight: 0,
            per_state: (storm_size() / STATES.len()).max(1),
            joins: Vec::new(),
        }
    }

    /// Spawns `per_state` tasklets in every state and checks the scheduler's counts.
    fn build(&mut self, sched: &Scheduler) {
        for state in STATES {
            if matches!(
                state,
                State::Yielded | State::NeverStarted | State::NewPaused
            ) {
                continue; // after the blocking ones have settled
            }
            for _ in 0..self.per_state {
                self.spawn(sched, state);
            }
        }
        sched.run().unwrap();
        for _ in 0..self.per_state {
            self.spawn(sched, State::Yielded);
        }
        // Each yielder runs once and goes to the back of the queue.
        sched
            .run_for(uthread::Budget::Resumes(self.per_state as u64))
            .unwrap();
        for _ in 0..self.per_state {
            self.spawn(sched, State::NeverStarted);
            self.spawn(sched, State::NewPaused);
        }
        self.check_counts(sched);
    }

    fn spawn(&mut self, sched: &Scheduler, state: State) {
        let g = self.captured.token();
        let on_stack = self.on_stack.clone();
        let value = match state {
            State::Sending | State::QueuePut | State::Select => {
                self.in_flight += 1;
                Some(self.values.token())
            }
            _ => None,
        };
        let p = &self.p;
        let body: Box<dyn FnOnce()> = match state {
            State::Yielded => Box::new(|| loop {
                uthread::schedule().unwrap();
            }),
            State::Paused => Box::new(|| {
                uthread::schedule_remove().unwrap();
                unreachable!("nobody inserts it again");
            }),
            State::NeverStarted | State::NewPaused => Box::new(|| {
                unreachable!("never started");
            }),
            State::Sending => {
                let ch = p.send.clone();
                Box::new(move || ch.send(value.unwrap()).unwrap())
            }
            State::Receiving => {
                let ch = p.recv.clone();
                Box::new(move || drop(ch.receive().unwrap()))
            }
            State::Sleeping => Box::new(|| uthread::sleep(Duration::from_secs(3600)).unwrap()),
            State::Nice => Box::new(|| loop {
                uthread::be_nice().unwrap();
            }),
            State::Locking => {
                let lock = p.lock.clone();
                Box::new(move || drop(lock.lock().unwrap()))
            }
            State::Acquiring => {
                let sem = p.sem.clone();
                Box::new(move || drop(sem.acquire().unwrap()))
            }
            State::Condition => {
                let (lock, cond) = (p.cond_lock.clone(), p.cond.clone());
                Box::new(move || {
                    let guard = lock.lock().unwrap();
                    drop(cond.wait(guard).unwrap());
                })
            }
            State::Event => {
                let ev = p.event.clone();
                Box::new(move || ev.wait().unwrap())
            }
            State::QueueGet => {
                let q = p.queue.clone();
                Box::new(move || drop(q.get().unwrap()))
            }
            State::QueuePut => {
                let q = p.full.clone();
                Box::new(move || q.put(value.unwrap()).unwrap())
            }
            State::Select => {
                let (a, b) = (p.select_recv.clone(), p.select_send.clone());
                Box::new(move || {
                    select()
                        .recv(&a, drop)
                        .send(&b, value.unwrap(), || ())
                        .wait()
                        .unwrap();
                })
            }
            State::Join => {
                // The target is a tasklet of its own, waiting on the gate.
                self.spawned += 1;
                self.started += 1;
                let gate = p.join_gate.clone();
                let (tg, ts) = (self.captured.token(), on_stack.clone());
                Box::new(move || {
                    let target = uthread::spawn(move || {
                        let _g = tg;
                        let _s = ts.token();
                        gate.wait().unwrap();
                    })
                    .unwrap();
                    target.join().unwrap();
                })
            }
            State::Future => Box::new(|| block_on(std::future::pending::<()>()).unwrap()),
        };
        let mut builder = Builder::new();
        if state == State::NewPaused {
            builder = builder.paused();
        }
        let h = builder
            .spawn_on(sched, move || {
                let _g = g;
                let _s = on_stack.token();
                body();
            })
            .unwrap();
        self.spawned += 1;
        if !matches!(state, State::NeverStarted | State::NewPaused) {
            self.started += 1;
        }
        if state == State::Join {
            self.joins.push(h);
        }
    }

    fn check_counts(&self, sched: &Scheduler) {
        let n = self.per_state;
        let p = &self.p;
        assert_eq!(sched.alive_count(), self.spawned);
        assert_eq!(
            sched.scheduled_count(),
            2 * n,
            "the yielders and the never started"
        );
        assert_eq!(p.send.balance(), n as isize);
        assert_eq!(p.recv.balance(), -(n as isize));
        assert_eq!(p.lock.waiting(), n);
        assert_eq!(p.sem.waiting(), n);
        assert_eq!(p.cond.waiting(), n);
        assert_eq!(p.event.waiting(), n);
        assert_eq!(p.queue.balance(), -(n as isize));
        assert_eq!(p.full.balance(), n as isize);
        assert_eq!(p.select_recv.balance(), -(n as isize));
        assert_eq!(p.select_send.balance(), n as isize);
        assert_eq!(p.join_gate.waiting(), n);
        assert_eq!(sched.timer_count(), n, "the sleepers");
        assert_eq!(sched.nice_count(), n);
        assert_eq!(self.captured.count(), 0, "nothing dropped yet");
        assert_eq!(self.on_stack.count(), 0);
        assert_eq!(self.values.count(), 0);
    }

    fn assert_all_dropped_once(&self, main_holds: bool) {
        assert_eq!(
            self.captured.count(),
            self.spawned,
            "every closure dropped once"
        );
        assert_eq!(
            self.on_stack.count(),
            self.started,
            "every started stack unwound once"
        );
        assert_eq!(
            self.values.count(),
            self.in_flight,
            "every value in flight dropped once"
        );
        self.p.assert_quiet(main_holds);
    }
}

fn scheduler(strategy: StackStrategy) -> Scheduler {
    support::builder()
        .manual_clock()
        .stack_strategy(strategy)
        .stack_size(32 * 1024)
        .build()
}

fn drop_storm(strategy: StackStrategy) {
    let junk = Drops::new();
    let sched = scheduler(strategy);
    let mut storm = Storm::new(&junk);
    let started = Instant::now();
    storm.build(&sched);
    let built = started.elapsed();
    let started = Instant::now();
    drop(sched);
    eprintln!(
        "{strategy:?}: {} tasklets in {} states built in {built:?}, dropped in {:?}",
        storm.spawned,
        STATES.len(),
        started.elapsed()
    );
    storm.assert_all_dropped_once(false);
    for h in std::mem::take(&mut storm.joins) {
        assert!(matches!(h.join(), Err(uthread::JoinError::Killed)));
    }
    assert_eq!(junk.count(), 0, "the queue's own item stays");
}

#[test]
fn dropping_a_scheduler_with_a_storm_of_tasklets_on_dedicated_stacks() {
    drop_storm(StackStrategy::dedicated());
}

#[test]
fn dropping_a_scheduler_with_a_storm_of_tasklets_on_copied_stacks() {
    drop_storm(support::copying());
}

#[test]
fn kill_all_on_a_storm_returns_every_stack_and_the_scheduler_carries_on() {
    for strategy in [StackStrategy::dedicated(), support::copying()] {
        let junk = Drops::new();
        let sched = scheduler(strategy);
        let baseline = sched.stack_stats();
        let mut storm = Storm::new(&junk);
        storm.build(&sched);
        let live = sched.stack_stats();
        // A tasklet that never ran holds a stack too (dedicated) or a place (copying).
        assert_eq!(live.in_use + live.copying, storm.spawned, "{strategy:?}");
        sched.kill_all();
        storm.assert_all_dropped_once(true);
        assert_eq!(sched.alive_count(), 0);
        assert_eq!(sched.timer_count(), 0);
        assert_eq!(sched.nice_count(), 0);
        let after = sched.stack_stats();
        assert_eq!(
            after.in_use + after.copying,
            baseline.in_use + baseline.copying,
            "{strategy:?}: every stack came back"
        );
        assert_eq!(
            after.idle as u64, after.mapped,
            "{strategy:?}: all in the pool"
        );
        // The next storm reuses the pool: no new mapping.
        let mut again = Storm::new(&junk);
        again.build(&sched);
        assert_eq!(sched.stack_stats().mapped, after.mapped, "{strategy:?}");
        drop(sched);
        again.assert_all_dropped_once(false);
    }
}
