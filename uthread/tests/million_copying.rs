//! A million live tasklets on one thread with stack copying (the `unsafe` opt-in), each
//! suspended after running once (half asleep, half blocked on a channel), within 1.5 KiB of
//! resident memory each in an optimised build.
//!
//! One test in its own binary, so that nothing else runs in the process while resident
//! memory is measured. `UTHREAD_MILLION_N` overrides the count (for quick runs).

use std::time::{Duration, Instant};

mod support;

use uthread::{Budget, Channel, RunOutcome, Scheduler};

#[test]
fn a_million_suspended_copying_tasklets_fit_in_1_5_kib_each() {
    let n = support::million_n();
    let sched = Scheduler::builder()
        .manual_clock()
        .stack_strategy(support::copying())
        .build();
    let inbox = Channel::<u64>::new();
    let before = support::resident_bytes();
    let t0 = Instant::now();
    for i in 0..n {
        if i % 2 == 0 {
            let rx = inbox.clone();
            sched
                .spawn(move || {
                    let got = rx.receive().unwrap_or(0);
                    std::hint::black_box(got + i as u64);
                })
                .unwrap();
        } else {
            sched
                .spawn(move || {
                    let _ = uthread::sleep(Duration::from_secs(3600));
                    std::hint::black_box(i);
                })
                .unwrap();
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
    assert_eq!(inbox.balance(), -(n.div_ceil(2) as isize));
    let stats = sched.stack_stats();
    assert_eq!(stats.copying, n);
    assert_eq!(stats.mapped, 0, "no dedicated stack was mapped");
    let after = support::resident_bytes();
    let per_tasklet = after.saturating_sub(before) / n;
    eprintln!(
        "{n} tasklets: {per_tasklet} B resident each ({} MiB in all); spawn {:.0} ns, first \
         run {:.0} ns per tasklet",
        (after - before) >> 20,
        spawned.as_nanos() as f64 / n as f64,
        ran.as_nanos() as f64 / n as f64
    );
    // A suspended tasklet keeps its frames, so the budget holds for optimised frames: the
    // release build (uthread itself is built at opt-level 1 in the dev profile, but this
    // test's closures are not).
    let optimised = !cfg!(debug_assertions);
    let budget = if optimised { 1536 } else { 2048 };
    assert!(
        per_tasklet <= budget,
        "{per_tasklet} B per suspended tasklet is over the budget of {budget} B \
         (optimised frames: {optimised})"
    );

    // They are all still working tasklets: a few receivers get a value, and every sleeper
    // wakes (half a million resumes from copied frames) and returns.
    for v in 0..3 {
        inbox.send(v).unwrap();
    }
    sched.advance(Duration::from_secs(3600));
    let t1 = Instant::now();
    let outcome = sched.run().unwrap();
    assert!(matches!(outcome, RunOutcome::Deadlock(_)), "{outcome:?}");
    let receivers = n.div_ceil(2);
    assert_eq!(sched.alive_count(), receivers - 3);
    eprintln!(
        "waking the sleepers: {:.0} ns per tasklet",
        t1.elapsed().as_nanos() as f64 / (n / 2) as f64
    );
    // Kill (unwind) some of the receivers.
    let killed = 10_000.min(receivers - 3);
    for t in sched.tasklets().into_iter().take(killed) {
        t.kill().unwrap();
    }
    assert_eq!(sched.alive_count(), receivers - 3 - killed);
    assert_eq!(inbox.balance(), -((receivers - 3 - killed) as isize));
    // Unwinding the rest one by one would take most of this test's time (each kill is a
    // panic unwinding through the tasklet's frames); the process is about to exit, so
    // they are left as they are. Kill and drop are covered in `stack_copying.rs`.
    std::mem::forget(sched);
}
