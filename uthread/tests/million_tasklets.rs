//! A million live tasklets on default (dedicated, guarded) stacks: half blocked on a
//! channel a few calls deep, half asleep, within 5 KiB of resident memory each; then every
//! one of them wakes and finishes.
//!
//! One test in its own binary, so that nothing else runs in the process while resident
//! memory is measured. `UTHREAD_MILLION_N` overrides the count (for quick runs). Without
//! guard regions in the kernel (Linux 6.13+) a million guarded stacks cannot exist (two
//! mappings each), and the test says so and stops.

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use uthread::{Budget, Channel, RunOutcome, Scheduler, StackError};

#[test]
fn a_million_tasklets_on_default_stacks_fit_and_all_finish() {
    let n = support::million_n();
    // The defaults a game would use: `Scheduler::new()`'s stacks, on a manual clock.
    let sched = Scheduler::builder().manual_clock().build();
    let inbox = Channel::<u64>::new();
    let before = support::resident_bytes();
    let t0 = Instant::now();
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let spawned = if i % 2 == 0 {
            let rx = inbox.clone();
            sched.spawn(move || receive_deep(&rx, 3) + i as u64)
        } else {
            sched.spawn(move || {
                let _ = uthread::sleep(Duration::from_secs(3600));
                i as u64
            })
        };
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(uthread::SpawnError::Stack(e @ StackError::MappingLimit { .. })) => {
                eprintln!("skipped after {i} tasklets: {e}");
                return;
            }
            Err(e) => panic!("spawn {i}: {e}"),
        }
    }
    let spawned = t0.elapsed();
    // Each runs once, up to its blocking call.
    let outcome = sched.run_for(Budget::Unlimited).unwrap();
    assert!(
        matches!(outcome, RunOutcome::Idle { .. }),
        "sleepers are pending: {outcome:?}"
    );
    let ran = t0.elapsed() - spawned;
    assert_eq!(sched.alive_count(), n);
    assert_eq!(sched.blocked_count(), n);
    let receivers = n.div_ceil(2);
    assert_eq!(inbox.balance(), -(receivers as isize));
    let stats = sched.stack_stats();
    assert_eq!(stats.in_use, n);
    assert_eq!(stats.copying, 0);
    let after = support::resident_bytes();
    let per_tasklet = after.saturating_sub(before) / n;
    eprintln!(
        "{n} tasklets on dedicated stacks: {per_tasklet} B resident each ({} MiB in all); \
         spawn {:.0} ns, first run {:.0} ns per tasklet",
        (after - before) >> 20,
        spawned.as_nanos() as f64 / n as f64,
        ran.as_nanos() as f64 / n as f64
    );
    assert!(
        per_tasklet <= 5 * 1024,
        "{per_tasklet} B per suspended tasklet is over the budget of 5 KiB"
    );

    // Every one of them is a working tasklet: each receiver gets a value, every sleeper
    // wakes, and all of them return.
    let t1 = Instant::now();
    for v in 0..receivers as u64 {
        inbox.send(v * 2).unwrap();
    }
    sched.advance(Duration::from_secs(3600));
    let outcome = sched.run().unwrap();
    assert!(matches!(outcome, RunOutcome::Finished), "{outcome:?}");
    assert_eq!(sched.alive_count(), 0);
    eprintln!(
        "waking and finishing: {:.0} ns per tasklet",
        t1.elapsed().as_nanos() as f64 / n as f64
    );
    let mut received = 0u64;
    let mut slept = 0u64;
    for (i, handle) in handles.into_iter().enumerate() {
        let value = handle.join().unwrap();
        if i % 2 == 0 {
            received += value - i as u64;
        } else {
            assert_eq!(value, i as u64);
            slept += 1;
        }
    }
    let r = receivers as u64;
    assert_eq!(
        received,
        r * (r - 1),
        "each receiver got one value, 0, 2, 4..."
    );
    assert_eq!(slept, (n / 2) as u64);
    let stats = sched.stack_stats();
    assert_eq!((stats.in_use, stats.idle), (0, n), "{stats:?}");
}

/// Receives `depth` calls down, each frame holding a little data.
#[inline(never)]
fn receive_deep(rx: &Channel<u64>, depth: usize) -> u64 {
    if depth == 0 {
        return rx.receive().unwrap_or(u64::MAX);
    }
    let pad = black_box([depth as u64; 4]);
    receive_deep(rx, depth - 1) + black_box(pad)[0] - depth as u64
}
