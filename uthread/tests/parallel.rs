//! `join_all` / `try_join_all` (results in order, the first failure in time surfaces,
//! `KillOthers` kills the rest, `AwaitOthers` waits for them) and join handles (value,
//! panic, kill, uncaught throw, timeouts).

mod support;

use std::time::Duration;

use support::{manual, ms, Drops, Log};
use uthread::{
    join_all, sleep, try_join_all, BlockedOn, JoinError, OnError, ParallelError, WaitError,
};

type Job<T> = Box<dyn FnOnce() -> T>;
type TryJob = Box<dyn FnOnce() -> Result<u64, String>>;

#[test]
fn join_all_returns_results_in_order_whatever_order_they_finish_in() {
    let sched = manual();
    let log = Log::new();
    let l = log.clone();
    let caller = sched
        .spawn(move || {
            let jobs: Vec<Job<u64>> = (0..5u64)
                .map(|i| {
                    let l = l.clone();
                    Box::new(move || {
                        sleep(ms(50 - i * 10)).unwrap(); // the last finishes first
                        l.push(format!("{i} done"));
                        i * i
                    }) as Job<u64>
                })
                .collect();
            join_all(jobs, OnError::KillOthers).unwrap()
        })
        .unwrap();
    sched.run().unwrap();
    for _ in 0..5 {
        sched.advance(ms(10));
        sched.run().unwrap();
    }
    assert_eq!(caller.join().unwrap(), [0, 1, 4, 9, 16]);
    assert_eq!(
        log.take(),
        ["4 done", "3 done", "2 done", "1 done", "0 done"]
    );
}

#[test]
fn join_all_of_nothing_is_empty_and_it_works_from_the_main_context() {
    let _sched = manual();
    let none: Vec<Job<u8>> = Vec::new();
    assert!(join_all(none, OnError::KillOthers).unwrap().is_empty());
    let jobs: Vec<Job<&str>> = vec![Box::new(|| "a"), Box::new(|| "b")];
    assert_eq!(join_all(jobs, OnError::AwaitOthers).unwrap(), ["a", "b"]);
}

fn failing_jobs(log: &Log, drops: &Drops) -> Vec<TryJob> {
    // Job 2 fails first (at 10 ms), job 0 later (at 30 ms); jobs 1 and 3 succeed late.
    let plan: [(u64, bool); 4] = [(30, false), (40, true), (10, false), (50, true)];
    plan.iter()
        .enumerate()
        .map(|(i, &(at, ok))| {
            let (log, token) = (log.clone(), drops.token());
            Box::new(move || {
                let _token = token;
                sleep(ms(at)).unwrap();
                log.push(format!("{i} finished"));
                if ok {
                    Ok(i as u64)
                } else {
                    Err(format!("job {i} failed"))
                }
            }) as TryJob
        })
        .collect()
}

#[test]
fn the_first_error_in_time_surfaces_and_kill_others_kills_the_rest() {
    let sched = manual();
    let (log, drops) = (Log::new(), Drops::new());
    let jobs = failing_jobs(&log, &drops);
    let caller = sched
        .spawn(move || try_join_all(jobs, OnError::KillOthers))
        .unwrap();
    sched.run().unwrap();
    sched.advance(ms(10));
    sched.run().unwrap();
    match caller.join().unwrap() {
        Err(ParallelError::Failed { index: 2, error }) => assert_eq!(error, "job 2 failed"),
        other => panic!("{other:?}"),
    }
    assert_eq!(drops.count(), 4, "every job's closure is gone");
    assert_eq!(
        log.take(),
        ["2 finished"],
        "the others never got past their sleep"
    );
    assert_eq!(sched.alive_count(), 0);
    assert_eq!(sched.timer_count(), 0);
}

#[test]
fn await_others_lets_the_rest_finish_and_still_reports_the_first_error() {
    let sched = manual();
    let (log, drops) = (Log::new(), Drops::new());
    let jobs = failing_jobs(&log, &drops);
    let caller = sched
        .spawn(move || try_join_all(jobs, OnError::AwaitOthers))
        .unwrap();
    sched.run().unwrap();
    for _ in 0..4 {
        sched.advance(ms(10));
        sched.run().unwrap();
        assert!(!caller.is_finished(), "still waiting for the others");
    }
    sched.advance(ms(10));
    sched.run().unwrap();
    match caller.join().unwrap() {
        Err(ParallelError::Failed { index: 2, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(
        log.take(),
        ["2 finished", "0 finished", "1 finished", "3 finished"]
    );
    assert_eq!(drops.count(), 4);
}

#[test]
fn a_panicking_job_surfaces_as_a_join_error_with_its_index() {
    let sched = manual();
    let caller = sched
        .spawn(|| {
            let jobs: Vec<Job<u32>> = vec![
                Box::new(|| {
                    sleep(ms(10)).unwrap();
                    1
                }),
                Box::new(|| panic!("reactor breach")),
            ];
            join_all(jobs, OnError::KillOthers)
        })
        .unwrap();
    sched.run().unwrap();
    match caller.join().unwrap() {
        Err(ParallelError::Join {
            index: Some(1),
            error: JoinError::Panicked(msg),
        }) => assert!(msg.contains("reactor breach")),
        other => panic!("{other:?}"),
    }
    assert_eq!(sched.alive_count(), 0, "the sleeper was killed");
}

#[test]
fn killing_the_caller_of_join_all_kills_its_jobs() {
    let sched = manual();
    let drops = Drops::new();
    let d = drops.clone();
    let caller = sched
        .spawn(move || {
            let jobs: Vec<Job<()>> = (0..3)
                .map(|_| {
                    let t = d.token();
                    Box::new(move || {
                        let _t = t;
                        sleep(Duration::from_secs(60)).unwrap();
                    }) as Job<()>
                })
                .collect();
            let _ = join_all(jobs, OnError::AwaitOthers);
            unreachable!("killed while waiting");
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(sched.alive_count(), 4);
    caller.tasklet().kill().unwrap();
    sched.run().unwrap();
    assert_eq!(drops.count(), 3);
    assert_eq!(sched.alive_count(), 0);
    assert_eq!(sched.timer_count(), 0);
}

#[test]
fn a_join_handle_gives_the_value_and_join_waits_for_it() {
    let sched = manual();
    let worker = sched
        .spawn(|| {
            sleep(ms(10)).unwrap();
            String::from("ore")
        })
        .unwrap();
    let id = worker.tasklet().id();
    let joiner = sched.spawn(move || worker.join().unwrap()).unwrap();
    sched.run().unwrap();
    assert_eq!(joiner.tasklet().blocked_on(), Some(BlockedOn::Join(id)));
    sched.advance(ms(10));
    sched.run().unwrap();
    assert_eq!(joiner.join().unwrap(), "ore");
}

#[test]
fn join_reports_panics_kills_and_uncaught_throws() {
    let sched = manual();
    let panicker = sched.spawn(|| -> u32 { panic!("boom {}", 7) }).unwrap();
    let sleeper = sched.spawn(|| sleep(Duration::from_secs(60))).unwrap();
    let never_started = uthread::Builder::new()
        .paused()
        .spawn_on(&sched, || 1)
        .unwrap();
    never_started.tasklet().throw("too early").unwrap();
    sched.run().unwrap();
    sleeper.tasklet().kill().unwrap();
    match panicker.join() {
        Err(JoinError::Panicked(msg)) => assert_eq!(msg, "boom 7"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(sleeper.join(), Err(JoinError::Killed)));
    match never_started.join() {
        Err(JoinError::Uncaught(t)) => assert!(t.to_string().contains("too early")),
        other => panic!("{other:?}"),
    }
    assert!(sched.take_failures().is_empty(), "the handles claimed them");
}

#[test]
fn join_timeout_leaves_the_handle_usable() {
    let sched = manual();
    let mut worker = sched
        .spawn(|| {
            sleep(ms(20)).unwrap();
            5
        })
        .unwrap();
    assert!(worker.try_join().is_none());
    let joiner = sched
        .spawn(move || {
            let first = worker.join_timeout(ms(10));
            let second = worker.join_timeout(ms(50));
            let third = worker.try_join();
            (first, second, third)
        })
        .unwrap();
    sched.run().unwrap();
    sched.advance(ms(10));
    sched.run().unwrap();
    sched.advance(ms(10));
    sched.run().unwrap();
    let (first, second, third) = joiner.join().unwrap();
    assert!(matches!(first, Err(JoinError::Wait(WaitError::Timeout))));
    assert_eq!(second.unwrap(), 5);
    assert!(matches!(third, Some(Err(JoinError::AlreadyJoined))));
    assert_eq!(sched.timer_count(), 0);
}

#[test]
fn the_main_context_joining_a_tasklet_that_never_ends_gets_a_deadlock() {
    let sched = manual();
    let ch = uthread::Channel::<u32>::new();
    let c = ch.clone();
    let mut stuck = sched.spawn(move || c.receive().unwrap()).unwrap();
    assert!(matches!(
        stuck.join_timeout(Duration::from_secs(1)),
        Err(JoinError::Wait(WaitError::Deadlock))
    ));
    ch.send(3).unwrap();
    sched.run().unwrap();
    assert_eq!(stuck.join().unwrap(), 3);
}

#[test]
fn a_killed_joiner_leaves_and_the_worker_carries_on() {
    let sched = manual();
    let drops = Drops::new();
    let worker = sched
        .spawn(|| {
            sleep(ms(10)).unwrap();
            "finished"
        })
        .unwrap();
    let d = drops.clone();
    let joiner = sched
        .spawn(move || {
            let _t = d.token();
            worker.join()
        })
        .unwrap();
    sched.run().unwrap();
    joiner.tasklet().kill().unwrap();
    assert_eq!(drops.count(), 1);
    assert_eq!(sched.alive_count(), 1);
    sched.advance(ms(10));
    sched.run().unwrap();
    assert_eq!(sched.alive_count(), 0, "the worker finished normally");
    assert!(matches!(joiner.join(), Err(JoinError::Killed)));
}
