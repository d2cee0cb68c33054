//! Property tests: random sequences of operations by several tasklets (lock, unlock, try,
//! timed waits, kills, clock steps) on `Lock`, `Semaphore` and bounded `Queue`, checked
//! after every step against simple reference models: who holds what, who waits in which
//! order, what each tasklet saw, and in what order.

mod support;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use proptest::prelude::*;
use support::Drivers;
use uthread::{
    ChannelError, Lock, LockError, Queue, Semaphore, SendError, TryRecvError, TrySendError,
    WaitError,
};

const TASKLETS: usize = 3;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// What the tasklets (and the main context) report, in the order it happens.
type Events = Rc<RefCell<Vec<String>>>;

fn log(events: &Events, e: impl Into<String>) {
    events.borrow_mut().push(e.into());
}

/// Waiters with deadlines, as the model keeps them: (tasklet, deadline, arming order).
#[derive(Clone, Debug, Default)]
struct Waiters {
    queue: VecDeque<(usize, Option<u64>, u64)>,
    armed: u64,
}

impl Waiters {
    fn push(&mut self, i: usize, deadline: Option<u64>) {
        self.armed += 1;
        self.queue.push_back((i, deadline, self.armed));
    }

    fn contains(&self, i: usize) -> bool {
        self.queue.iter().any(|w| w.0 == i)
    }

    fn remove(&mut self, i: usize) {
        self.queue.retain(|w| w.0 != i);
    }

    /// The waiters whose deadline has come, in the order their timers fire.
    fn expire(&mut self, now: u64) -> Vec<usize> {
        let mut due: Vec<_> = self
            .queue
            .iter()
            .filter(|w| w.1.is_some_and(|d| d <= now))
            .map(|w| (w.1.unwrap(), w.2, w.0))
            .collect();
        due.sort();
        self.queue.retain(|w| w.1.is_none_or(|d| d > now));
        due.into_iter().map(|(_, _, i)| i).collect()
    }
}

// ---------------------------------------------------------------- Lock

#[derive(Clone, Debug)]
enum LockOp {
    Lock(usize),
    LockTimeout(usize, u64),
    TryLock(usize),
    Unlock(usize),
    Advance(u64),
    Kill(usize),
}

fn lock_op() -> impl Strategy<Value = LockOp> {
    let t = 0..TASKLETS;
    prop_oneof![
        3 => t.clone().prop_map(LockOp::Lock),
        2 => (t.clone(), 1..30u64).prop_map(|(i, d)| LockOp::LockTimeout(i, d)),
        1 => t.clone().prop_map(LockOp::TryLock),
        3 => t.clone().prop_map(LockOp::Unlock),
        2 => (1..20u64).prop_map(LockOp::Advance),
        1 => t.prop_map(LockOp::Kill),
    ]
}

#[derive(Debug, Default)]
struct LockModel {
    owner: Option<usize>,
    waiters: Waiters,
    now: u64,
}

impl LockModel {
    fn blocked(&self, i: usize) -> bool {
        self.waiters.contains(i)
    }

    fn acquire(&mut self, i: usize, deadline: Option<u64>, out: &mut Vec<String>) {
        match self.owner {
            Some(o) if o == i => out.push(format!("{i} reentered")),
            Some(_) => self.waiters.push(i, deadline),
            None => {
                self.owner = Some(i);
                out.push(format!("{i} acquired"));
            }
        }
    }

    fn release(&mut self, i: usize, out: &mut Vec<String>) {
        if self.owner != Some(i) {
            out.push(format!("{i} not owner"));
            return;
        }
        out.push(format!("{i} released"));
        self.owner = self.waiters.queue.pop_front().map(|(j, ..)| j);
        if let Some(j) = self.owner {
            out.push(format!("{j} acquired"));
        }
    }
}

fn run_lock_case(ops: Vec<LockOp>) -> Result<(), TestCaseError> {
    let mut drivers = Drivers::new(TASKLETS);
    let lock = Lock::new();
    let events: Events = Rc::default();
    let mut model = LockModel::default();
    for op in ops {
        let mut expected = Vec::new();
        match op {
            LockOp::Lock(i) | LockOp::LockTimeout(i, _) if model.blocked(i) => continue,
            LockOp::TryLock(i) | LockOp::Unlock(i) if model.blocked(i) => continue,
            LockOp::Kill(i) if !model.blocked(i) => continue,
            LockOp::Lock(i) | LockOp::LockTimeout(i, _) => {
                let timeout = match op {
                    LockOp::LockTimeout(_, d) => Some(d),
                    _ => None,
                };
                model.acquire(i, timeout.map(|d| model.now + d), &mut expected);
                let (l, ev) = (lock.clone(), events.clone());
                drivers.post(i, move || {
                    let r = match timeout {
                        Some(d) => l.acquire_timeout(Duration::from_millis(d)),
                        None => l.acquire(),
                    };
                    log(
                        &ev,
                        match r {
                            Ok(()) => format!("{i} acquired"),
                            Err(LockError::Reentered) => format!("{i} reentered"),
                            Err(LockError::Wait(WaitError::Timeout)) => format!("{i} timed out"),
                            Err(e) => format!("{i} {e:?}"),
                        },
                    );
                });
            }
            LockOp::TryLock(i) => {
                if model.owner.is_none() {
                    model.owner = Some(i);
                    expected.push(format!("{i} acquired"));
                } else {
                    expected.push(format!("{i} try failed"));
                }
                let (l, ev) = (lock.clone(), events.clone());
                drivers.post(i, move || match l.try_lock() {
                    Some(guard) => {
                        std::mem::forget(guard); // held until an Unlock op
                        log(&ev, format!("{i} acquired"));
                    }
                    None => log(&ev, format!("{i} try failed")),
                });
            }
            LockOp::Unlock(i) => {
                model.release(i, &mut expected);
                let (l, ev) = (lock.clone(), events.clone());
                drivers.post(i, move || match l.release() {
                    Ok(()) => log(&ev, format!("{i} released")),
                    Err(LockError::NotOwner) => log(&ev, format!("{i} not owner")),
                    Err(e) => log(&ev, format!("{i} {e:?}")),
                });
            }
            LockOp::Advance(d) => {
                model.now += d;
                for j in model.waiters.expire(model.now) {
                    expected.push(format!("{j} timed out"));
                }
                drivers.advance(d);
            }
            LockOp::Kill(i) => {
                model.waiters.remove(i);
                drivers.kill(i);
            }
        }
        prop_assert_eq!(&*events.borrow(), &expected, "after {:?}", op);
        events.borrow_mut().clear();
        prop_assert_eq!(lock.waiting(), model.waiters.queue.len());
        prop_assert_eq!(
            lock.owner().map(|t| t.id()),
            model.owner.map(|i| drivers.id(i))
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn lock_matches_an_owner_and_fifo_queue_model(ops in prop::collection::vec(lock_op(), 1..40)) {
        run_lock_case(ops)?;
    }
}

// ---------------------------------------------------------------- Semaphore

#[derive(Clone, Debug)]
enum SemOp {
    Acquire(usize),
    AcquireTimeout(usize, u64),
    TryAcquire(usize),
    Release,
    Advance(u64),
    Kill(usize),
}

fn sem_op() -> impl Strategy<Value = SemOp> {
    let t = 0..TASKLETS;
    prop_oneof![
        3 => t.clone().prop_map(SemOp::Acquire),
        2 => (t.clone(), 1..30u64).prop_map(|(i, d)| SemOp::AcquireTimeout(i, d)),
        1 => t.clone().prop_map(SemOp::TryAcquire),
        3 => Just(SemOp::Release),
        2 => (1..20u64).prop_map(SemOp::Advance),
        1 => t.prop_map(SemOp::Kill),
    ]
}

fn run_sem_case(initial: usize, ops: Vec<SemOp>) -> Result<(), TestCaseError> {
    let mut drivers = Drivers::new(TASKLETS);
    let sem = Semaphore::new(initial);
    let events: Events = Rc::default();
    let mut permits = initial;
    let mut waiters = Waiters::default();
    let mut now = 0;
    for op in ops {
        let mut expected = Vec::new();
        match op {
            SemOp::Acquire(i) | SemOp::AcquireTimeout(i, _) | SemOp::TryAcquire(i)
                if waiters.contains(i) =>
            {
                continue
            }
            SemOp::Kill(i) if !waiters.contains(i) => continue,
            SemOp::Acquire(i) | SemOp::AcquireTimeout(i, _) => {
                let timeout = match op {
                    SemOp::AcquireTimeout(_, d) => Some(d),
                    _ => None,
                };
                if permits > 0 && waiters.queue.is_empty() {
                    permits -= 1;
                    expected.push(format!("{i} acquired"));
                } else {
                    waiters.push(i, timeout.map(|d| now + d));
                }
                let (s, ev) = (sem.clone(), events.clone());
                drivers.post(i, move || {
                    let r = match timeout {
                        Some(d) => s.acquire_timeout(Duration::from_millis(d)),
                        None => s.acquire(),
                    };
                    match r {
                        Ok(permit) => {
                            permit.forget(); // returned by a Release op
                            log(&ev, format!("{i} acquired"));
                        }
                        Err(WaitError::Timeout) => log(&ev, format!("{i} timed out")),
                        Err(e) => log(&ev, format!("{i} {e:?}")),
                    }
                });
            }
            SemOp::TryAcquire(i) => {
                if permits > 0 && waiters.queue.is_empty() {
                    permits -= 1;
                    expected.push(format!("{i} acquired"));
                } else {
                    expected.push(format!("{i} try failed"));
                }
                let (s, ev) = (sem.clone(), events.clone());
                drivers.post(i, move || match s.try_acquire() {
                    Some(permit) => {
                        permit.forget();
                        log(&ev, format!("{i} acquired"));
                    }
                    None => log(&ev, format!("{i} try failed")),
                });
            }
            SemOp::Release => {
                match waiters.queue.pop_front() {
                    Some((j, ..)) => expected.push(format!("{j} acquired")),
                    None => permits += 1,
                }
                sem.release();
                drivers.settle();
            }
            SemOp::Advance(d) => {
                now += d;
                for j in waiters.expire(now) {
                    expected.push(format!("{j} timed out"));
                }
                drivers.advance(d);
            }
            SemOp::Kill(i) => {
                waiters.remove(i);
                drivers.kill(i);
            }
        }
        prop_assert_eq!(&*events.borrow(), &expected, "after {:?}", op);
        events.borrow_mut().clear();
        prop_assert_eq!(sem.available(), permits);
        prop_assert_eq!(sem.waiting(), waiters.queue.len());
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn semaphore_matches_a_permit_count_and_fifo_queue_model(
        initial in 0..3usize,
        ops in prop::collection::vec(sem_op(), 1..40),
    ) {
        run_sem_case(initial, ops)?;
    }
}

// ---------------------------------------------------------------- bounded Queue

#[derive(Clone, Debug)]
enum QueueOp {
    Put(usize, u8),
    PutTimeout(usize, u8, u64),
    Get(usize),
    GetTimeout(usize, u64),
    /// From the main context, without blocking.
    TryPut(u8),
    TryGet,
    Advance(u64),
    Kill(usize),
    Close,
}

fn queue_op() -> impl Strategy<Value = QueueOp> {
    let t = 0..TASKLETS;
    prop_oneof![
        3 => (t.clone(), any::<u8>()).prop_map(|(i, v)| QueueOp::Put(i, v)),
        2 => (t.clone(), any::<u8>(), 1..30u64).prop_map(|(i, v, d)| QueueOp::PutTimeout(i, v, d)),
        3 => t.clone().prop_map(QueueOp::Get),
        2 => (t.clone(), 1..30u64).prop_map(|(i, d)| QueueOp::GetTimeout(i, d)),
        2 => any::<u8>().prop_map(QueueOp::TryPut),
        2 => Just(QueueOp::TryGet),
        2 => (1..20u64).prop_map(QueueOp::Advance),
        1 => t.prop_map(QueueOp::Kill),
        1 => Just(QueueOp::Close),
    ]
}

/// A bounded FIFO with waiting getters or putters (never both).
#[derive(Debug)]
struct QueueModel {
    items: VecDeque<u8>,
    capacity: usize,
    getters: Waiters,
    putters: Waiters,
    /// The value each waiting putter offers.
    offers: Vec<Option<u8>>,
    closed: bool,
    now: u64,
}

impl QueueModel {
    fn blocked(&self, i: usize) -> bool {
        self.getters.contains(i) || self.putters.contains(i)
    }

    /// A put that does not wait: Ok(woken getter) or Err(value) when it must wait.
    fn put_now(&mut self, v: u8, out: &mut Vec<String>) -> Result<(), u8> {
        if let Some((j, ..)) = self.getters.queue.pop_front() {
            out.push(format!("{j} got {v}"));
            Ok(())
        } else if self.items.len() < self.capacity {
            self.items.push_back(v);
            Ok(())
        } else {
            Err(v)
        }
    }

    /// A get that does not wait: the item, letting the first putter in.
    fn get_now(&mut self, out: &mut Vec<String>) -> Option<u8> {
        let v = self.items.pop_front()?;
        if let Some((k, ..)) = self.putters.queue.pop_front() {
            let w = self.offers[k]
                .take()
                .expect("a waiting putter offers a value");
            self.items.push_back(w);
            out.push(format!("{k} put"));
        }
        Some(v)
    }
}

fn run_queue_case(capacity: usize, ops: Vec<QueueOp>) -> Result<(), TestCaseError> {
    let mut drivers = Drivers::new(TASKLETS);
    let queue = Queue::<u8>::bounded(capacity);
    let events: Events = Rc::default();
    let mut m = QueueModel {
        items: VecDeque::new(),
        capacity,
        getters: Waiters::default(),
        putters: Waiters::default(),
        offers: vec![None; TASKLETS],
        closed: false,
        now: 0,
    };
    for op in ops {
        let mut expected = Vec::new();
        match op {
            QueueOp::Put(i, ..)
            | QueueOp::PutTimeout(i, ..)
            | QueueOp::Get(i)
            | QueueOp::GetTimeout(i, _)
                if m.blocked(i) =>
            {
                continue
            }
            QueueOp::Kill(i) if !m.blocked(i) => continue,
            QueueOp::Put(i, v) | QueueOp::PutTimeout(i, v, _) => {
                let timeout = match op {
                    QueueOp::PutTimeout(.., d) => Some(d),
                    _ => None,
                };
                if m.closed {
                    expected.push(format!("{i} put closed {v}"));
                } else {
                    // The putter logs first; a getter it served runs after it.
                    let mut served = Vec::new();
                    match m.put_now(v, &mut served) {
                        Ok(()) => {
                            expected.push(format!("{i} put"));
                            expected.extend(served);
                        }
                        Err(v) => {
                            m.putters.push(i, timeout.map(|d| m.now + d));
                            m.offers[i] = Some(v);
                        }
                    }
                }
                let (q, ev) = (queue.clone(), events.clone());
                drivers.post(i, move || {
                    let r = match timeout {
                        Some(d) => q.put_timeout(v, Duration::from_millis(d)),
                        None => q.put(v),
                    };
                    log(
                        &ev,
                        match r {
                            Ok(()) => format!("{i} put"),
                            Err(SendError {
                                value,
                                error: ChannelError::Closed,
                            }) => format!("{i} put closed {value}"),
                            Err(SendError {
                                value,
                                error: ChannelError::Timeout,
                            }) => format!("{i} put timed out {value}"),
                            Err(e) => format!("{i} {e:?}"),
                        },
                    );
                });
            }
            QueueOp::Get(i) | QueueOp::GetTimeout(i, _) => {
                let timeout = match op {
                    QueueOp::GetTimeout(_, d) => Some(d),
                    _ => None,
                };
                let mut woken = Vec::new();
                match m.get_now(&mut woken) {
                    Some(v) => {
                        expected.push(format!("{i} got {v}"));
                        expected.extend(woken);
                    }
                    None if m.closed => expected.push(format!("{i} get closed")),
                    None => m.getters.push(i, timeout.map(|d| m.now + d)),
                }
                let (q, ev) = (queue.clone(), events.clone());
                drivers.post(i, move || {
                    let r = match timeout {
                        Some(d) => q.get_timeout(Duration::from_millis(d)),
                        None => q.get(),
                    };
                    log(
                        &ev,
                        match r {
                            Ok(v) => format!("{i} got {v}"),
                            Err(ChannelError::Closed) => format!("{i} get closed"),
                            Err(ChannelError::Timeout) => format!("{i} get timed out"),
                            Err(e) => format!("{i} {e:?}"),
                        },
                    );
                });
            }
            QueueOp::TryPut(v) => {
                let mut served = Vec::new();
                let outcome = if m.closed {
                    "closed".to_owned()
                } else {
                    match m.put_now(v, &mut served) {
                        Ok(()) => "ok".to_owned(),
                        Err(_) => "full".to_owned(),
                    }
                };
                expected.push(format!("main put {v} {outcome}"));
                expected.extend(served);
                let got = match queue.try_put(v) {
                    Ok(()) => "ok",
                    Err(TrySendError::Full(_)) => "full",
                    Err(TrySendError::Closed(_)) => "closed",
                };
                log(&events, format!("main put {v} {got}"));
                drivers.settle();
            }
            QueueOp::TryGet => {
                let mut woken = Vec::new();
                let outcome = match m.get_now(&mut woken) {
                    Some(v) => format!("main got {v}"),
                    None if m.closed => "main get closed".to_owned(),
                    None => "main get empty".to_owned(),
                };
                expected.push(outcome);
                expected.extend(woken);
                let got = match queue.try_get() {
                    Ok(v) => format!("main got {v}"),
                    Err(TryRecvError::Closed) => "main get closed".to_owned(),
                    Err(TryRecvError::Empty) => "main get empty".to_owned(),
                    Err(e) => format!("main {e:?}"),
                };
                log(&events, got);
                drivers.settle();
            }
            QueueOp::Advance(d) => {
                m.now += d;
                let mut due: Vec<(u64, u64, usize, bool)> = Vec::new();
                for (waiters, is_put) in [(&m.getters, false), (&m.putters, true)] {
                    for w in &waiters.queue {
                        if let Some(deadline) = w.1.filter(|&dl| dl <= m.now) {
                            due.push((deadline, w.2, w.0, is_put));
                        }
                    }
                }
                // Getters and putters never wait together, so one arming order applies.
                due.sort();
                for (_, _, j, is_put) in due {
                    if is_put {
                        m.putters.remove(j);
                        let v = m.offers[j].take().unwrap();
                        expected.push(format!("{j} put timed out {v}"));
                    } else {
                        m.getters.remove(j);
                        expected.push(format!("{j} get timed out"));
                    }
                }
                drivers.advance(d);
            }
            QueueOp::Kill(i) => {
                m.getters.remove(i);
                m.putters.remove(i);
                m.offers[i] = None;
                drivers.kill(i);
            }
            QueueOp::Close => {
                if !m.closed {
                    m.closed = true;
                    for (j, ..) in std::mem::take(&mut m.getters.queue) {
                        expected.push(format!("{j} get closed"));
                    }
                    for (k, ..) in std::mem::take(&mut m.putters.queue) {
                        let v = m.offers[k].take().unwrap();
                        expected.push(format!("{k} put closed {v}"));
                    }
                }
                queue.close();
                drivers.settle();
            }
        }
        prop_assert_eq!(&*events.borrow(), &expected, "after {:?}", op);
        events.borrow_mut().clear();
        prop_assert_eq!(queue.len(), m.items.len());
        let balance = m.putters.queue.len() as isize - m.getters.queue.len() as isize;
        prop_assert_eq!(queue.balance(), balance);
    }
    // Whatever is left comes out in order, the waiting putters' values last.
    let mut rest = Vec::from(m.items.clone());
    for &(k, ..) in &m.putters.queue {
        rest.push(m.offers[k].expect("a waiting putter offers a value"));
    }
    prop_assert_eq!(queue.drain(), rest);
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn bounded_queue_matches_a_fifo_model(
        capacity in 1..4usize,
        ops in prop::collection::vec(queue_op(), 1..50),
    ) {
        run_queue_case(capacity, ops)?;
    }
}
