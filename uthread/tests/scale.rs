//! Tens of thousands of live tasklets, and what happens at the kernel's mapping limit.
//! Its own test binary because the limit (`vm.max_map_count`) is per process.
//!
//! With guard regions (`MADV_GUARD_INSTALL`, Linux 6.13+) stacks are carved from a few
//! large mappings and a guard page costs no mapping: 100,000 suspended tasklets (three
//! times what a stock limit allowed with a mapping per guard) add a few dozen mappings.
//! Without them (forced here with `UTHREAD_GUARD_PAGES=mprotect`, in a child process) each
//! guarded stack costs two mappings, so a stock machine (65530) fits about 32,700
//! suspended tasklets: spawning must work until the limit and then fail with
//! `SpawnError::Stack(StackError::MappingLimit { .. })`, as an error and not a panic or an
//! abort, whose message says how to raise the limit; killing them all must give every
//! stack back to the pool.

use std::process::Command;

use uthread::{Budget, Channel, RunOutcome, Scheduler, SpawnError, StackError, StackStrategy};

/// Small stacks keep memory low: a suspended tasklet touches one or two pages.
const STACK: usize = 16 * 1024;
const BATCH: usize = 1024;
const REQUIRED: usize = 30_000;

/// Re-runs this binary with the mprotect fallback when set.
const CHILD_VAR: &str = "UTHREAD_SCALE_CHILD";

fn max_map_count() -> usize {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65530)
}

fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .map(|m| m.lines().count())
        .unwrap_or(0)
}

/// Whether the kernel is 6.13 or later (it has guard regions).
fn kernel_has_guard_regions() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release.trim().split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (6, 13)
}

#[test]
fn a_hundred_thousand_suspended_tasklets_cost_a_few_mappings() {
    if std::env::var_os(CHILD_VAR).is_some() {
        return;
    }
    if !kernel_has_guard_regions() {
        eprintln!("skipped: this kernel has no guard regions (Linux 6.13+)");
        return;
    }
    const N: usize = 100_000;
    let before = mappings();
    let sched = Scheduler::builder().stack_size(STACK).build();
    let gate = Channel::<usize>::new();
    let live: Vec<_> = (0..N)
        .map(|_| {
            let rx = gate.clone();
            sched.spawn(move || rx.receive().unwrap_or(0)).unwrap()
        })
        .collect();
    let outcome = sched.run_for(Budget::Resumes(N as u64)).unwrap();
    assert!(matches!(outcome, RunOutcome::BudgetSpent), "{outcome:?}");
    assert_eq!(gate.balance(), -(N as isize));
    let added = mappings().saturating_sub(before);
    eprintln!("{N} suspended tasklets on dedicated stacks added {added} mappings");
    assert!(added < 100, "{N} tasklets added {added} mappings");
    assert!(
        N > max_map_count() / 2,
        "the old limit would have stopped this"
    );
    for i in 0..N {
        gate.send(i).unwrap();
    }
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    let total: usize = live.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, N * (N - 1) / 2);
    let stats = sched.stack_stats();
    assert_eq!((stats.in_use, stats.idle), (0, N), "{stats:?}");
}

#[test]
fn without_guard_regions_the_mapping_limit_is_a_clean_error() {
    if std::env::var_os(CHILD_VAR).is_some() {
        tens_of_thousands_of_suspended_tasklets_then_a_clean_mapping_limit_error();
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "without_guard_regions_the_mapping_limit_is_a_clean_error",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_VAR, "1")
        .env("UTHREAD_GUARD_PAGES", "mprotect")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tens_of_thousands_of_suspended_tasklets_then_a_clean_mapping_limit_error() {
    let limit = max_map_count();
    assert!(
        limit >= 2 * REQUIRED + 2000,
        "this test assumes a stock vm.max_map_count (65530); it is {limit}"
    );
    // Past the limit the run would go on until memory runs out.
    assert!(
        limit <= 1_000_000,
        "vm.max_map_count is raised to {limit}; the limit cannot be reached here"
    );
    let sched = Scheduler::builder()
        .stack_size(STACK)
        .stack_strategy(StackStrategy::dedicated())
        .build();
    let gate = Channel::<u32>::new();
    let mut live = Vec::with_capacity(40_000);
    let error = 'spawning: loop {
        for _ in 0..BATCH {
            let rx = gate.clone();
            match sched.spawn(move || rx.receive().unwrap_or(0)) {
                Ok(h) => live.push(h),
                Err(e) => break 'spawning e,
            }
        }
        // Run the new batch once: each blocks on the gate (a budget, so that no deadlock
        // report over every tasklet is built on each round).
        let outcome = sched.run_for(Budget::Resumes(BATCH as u64)).unwrap();
        assert!(matches!(outcome, RunOutcome::BudgetSpent), "{outcome:?}");
        assert_eq!(sched.scheduled_count(), 0);
        assert!(live.len() < 200_000, "no limit reached: something is wrong");
    };
    let spawned = live.len();
    match &error {
        SpawnError::Stack(StackError::MappingLimit {
            max_map_count,
            mappings,
        }) => {
            assert_eq!(*max_map_count, limit);
            assert!(*mappings + 64 >= limit, "{mappings} of {limit}");
        }
        other => panic!("expected the mapping limit after {spawned} tasklets, got {other:?}"),
    }
    assert!(error.to_string().contains("vm.max_map_count"), "{error}");
    assert!(
        error.to_string().contains("sysctl -w vm.max_map_count="),
        "{error}"
    );
    eprintln!("after {spawned} tasklets: {error}");
    assert!(
        spawned >= REQUIRED,
        "only {spawned} tasklets before the mapping limit"
    );

    // Run the last partial batch; they all wait on the gate.
    let outcome = sched.run().unwrap();
    let RunOutcome::Deadlock(report) = outcome else {
        panic!("expected every tasklet blocked, got {outcome:?}");
    };
    assert_eq!(report.blocked.len(), spawned);
    drop(report);
    assert_eq!(gate.balance(), -(spawned as isize));
    assert_eq!(sched.alive_count(), spawned);
    let stats = sched.stack_stats();
    assert_eq!(stats.in_use, spawned);

    // A few of them can still be woken at the limit.
    for v in 1..=3 {
        gate.send(v).unwrap();
    }
    sched.run_for(Budget::Resumes(3)).unwrap();
    assert!(!live[0].tasklet().is_alive());
    let finished: Vec<_> = live.drain(..3).map(|h| h.join().unwrap()).collect();
    assert_eq!(finished, [1, 2, 3]);
    // Their stacks went back to the pool, so three more spawns work at the limit.
    for _ in 0..3 {
        let rx = gate.clone();
        live.push(sched.spawn(move || rx.receive().unwrap_or(0)).unwrap());
    }
    sched.run_for(Budget::Resumes(3)).unwrap();
    assert_eq!(gate.balance(), -(spawned as isize));

    // Kill them all: every stack comes back, the channel is empty.
    sched.kill_all();
    assert_eq!(sched.alive_count(), 0);
    assert_eq!(gate.balance(), 0);
    let stats = sched.stack_stats();
    assert_eq!(stats.in_use, 0);
    assert_eq!(stats.idle as u64, stats.mapped);
    assert!(live.iter().all(|h| !h.tasklet().is_alive()));
    drop(live);

    // Unmapping the idle stacks gives the mappings back to the process.
    sched.trim_stacks();
    assert_eq!(sched.stack_stats().idle, 0);
    let again: Vec<_> = (0..BATCH)
        .map(|i| sched.spawn(move || i).unwrap())
        .collect();
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    for (i, h) in again.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), i);
    }
}
