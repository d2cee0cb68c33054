//! Tasklet-local storage: values keyed by type, private to each tasklet (and to the main
//! context), kept across blocking calls, and dropped exactly once when the tasklet ends,
//! however it ends.

mod support;

use support::{manual, ms, Drops, Token};
use uthread::{local, sleep};

#[derive(Debug, PartialEq)]
struct Role(&'static str);

#[derive(Debug, PartialEq)]
struct Kills(u32);

#[test]
fn each_tasklet_sees_only_its_own_values() {
    let sched = manual();
    let miner = sched
        .spawn(|| {
            assert_eq!(local::set(Role("miner")).unwrap(), None);
            local::set(Kills(0)).unwrap();
            uthread::schedule().unwrap(); // the hauler runs and sets its own
            sleep(ms(5)).unwrap();
            local::with_mut(|k: &mut Kills| k.0 += 2).unwrap();
            (local::with(|r: &Role| r.0), local::with(|k: &Kills| k.0))
        })
        .unwrap();
    let hauler = sched
        .spawn(|| {
            assert_eq!(local::with(|r: &Role| r.0), None, "not the miner's");
            local::set(Role("hauler")).unwrap();
            let old = local::set(Role("trader")).unwrap();
            (old, local::take::<Role>(), local::take::<Role>())
        })
        .unwrap();
    sched.run().unwrap();
    sched.advance(ms(5));
    sched.run().unwrap();
    assert_eq!(miner.join().unwrap(), (Some("miner"), Some(2)));
    assert_eq!(
        hauler.join().unwrap(),
        (Some(Role("hauler")), Some(Role("trader")), None)
    );
    // The main context has storage of its own.
    assert_eq!(local::with(|r: &Role| r.0), None);
    local::set(Role("main")).unwrap();
    assert_eq!(local::take::<Role>(), Some(Role("main")));
}

#[test]
fn local_values_are_dropped_once_when_the_tasklet_ends_however_it_ends() {
    let sched = manual();
    let drops = Drops::new();
    let d = drops.clone();
    sched
        .spawn(move || {
            local::set(d.token()).unwrap();
        })
        .unwrap();
    let d = drops.clone();
    let killed = sched
        .spawn(move || {
            local::set(d.token()).unwrap();
            sleep(ms(100)).unwrap();
        })
        .unwrap();
    let d = drops.clone();
    let panicked = sched
        .spawn(move || {
            local::set(d.token()).unwrap();
            panic!("hull breach");
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(drops.count(), 2, "the returned and the panicked tasklets");
    killed.tasklet().kill().unwrap();
    assert_eq!(drops.count(), 3);
    assert!(panicked.join().is_err());
    // Replacing a value hands the old one back; dropping it is the caller's business.
    let d = drops.clone();
    let replaced = sched
        .spawn(move || {
            local::set(d.token()).unwrap();
            local::set(d.token()).unwrap().is_some()
        })
        .unwrap();
    sched.run().unwrap();
    assert!(replaced.join().unwrap());
    assert_eq!(drops.count(), 5);
}

#[test]
fn with_mut_may_use_uthread_calls_and_keeps_a_value_stored_meanwhile() {
    let sched = manual();
    let t = sched
        .spawn(|| {
            local::set(Kills(1)).unwrap();
            local::with_mut(|k: &mut Kills| {
                // The value is taken out while `f` runs: a nested look finds nothing.
                assert_eq!(local::with(|k: &Kills| k.0), None);
                uthread::schedule().unwrap();
                k.0 += 1;
            })
            .unwrap();
            local::with(|k: &Kills| k.0)
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(t.join().unwrap(), Some(2));
}

#[test]
fn without_a_scheduler_set_gives_the_value_back() {
    std::thread::spawn(|| {
        let drops = Drops::new();
        let back: Token = local::set(drops.token()).unwrap_err();
        assert_eq!(drops.count(), 0);
        drop(back);
        assert_eq!(local::take::<Token>().map(drop), None);
        assert_eq!(local::with(|r: &Role| r.0), None);
    })
    .join()
    .unwrap();
}
