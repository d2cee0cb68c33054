//! Preemption of native loops: a `#[uthread::preemptible]` function that spins without any
//! uthread call is interrupted by a hard watchdog (per slice and total), comes back
//! paused, and resumes where it was to the right result; atomic tasklets are never
//! interrupted; nested annotated calls and closures; and the documented limit (a loop
//! that is not annotated runs to its end).
//!
//! No test asserts how fast anything is. Spinners spin until the driver has interrupted
//! them a set number of times (a count, not a duration), or for a wall time ten times
//! the watchdog's limit; a hang guard stops a test whose interruption never comes.

mod support;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use support::{hang_guard, Drops};
use uthread::{
    Builder, JoinError, JoinHandle, RunOutcome, Scheduler, Tasklet, TaskletState, Watchdog,
};

/// The watchdog limit of every test.
const LIMIT: Duration = Duration::from_millis(2);
/// How long the time-bounded spinners spin: far past `LIMIT` on any machine.
const LONG_SPIN: Duration = Duration::from_millis(20);
/// The longest a test may take before the hang guard aborts it.
const HANG: Duration = Duration::from_secs(60);

const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// One xorshift64 step: serial arithmetic with no closed form, so the compiler cannot
/// fold a loop of it away.
fn step(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// The value after `steps` steps from `SEED`, computed in plain code outside any tasklet.
fn expected(steps: u64) -> u64 {
    (0..steps).fold(SEED, |x, _| step(x))
}

/// Steps the generator until `done()`; returns the steps taken and the value reached.
/// No uthread call: only the points the attribute inserts can interrupt it.
#[uthread::preemptible]
fn spin_until(done: impl Fn() -> bool) -> (u64, u64) {
    let (mut steps, mut x) = (0u64, SEED);
    while !done() {
        x = step(x);
        steps += 1;
    }
    (steps, x)
}

/// Steps the generator for at least `d` of wall time (at least one step, however slowly
/// the OS or valgrind lets it run); returns the steps taken and the value reached.
#[uthread::preemptible]
fn spin_for(d: Duration) -> (u64, u64) {
    let (t0, mut steps, mut x) = (Instant::now(), 0u64, SEED);
    loop {
        x = step(x);
        steps += 1;
        if t0.elapsed() >= d {
            break (steps, x);
        }
    }
}

/// Runs `sched` under `watchdog` until nothing is left to run, re-inserting each tasklet
/// the watchdog takes out after checking it is paused, and after `on_interrupt` has seen
/// it. Returns how many interruptions there were.
fn run_to_completion(
    sched: &Scheduler,
    watchdog: Watchdog,
    mut on_interrupt: impl FnMut(&Tasklet),
) -> u32 {
    let mut interruptions = 0;
    loop {
        match sched.run_watchdog(watchdog).unwrap() {
            RunOutcome::Interrupted { tasklet, removed } => {
                assert!(
                    removed,
                    "a hard watchdog takes the tasklet out of the queue"
                );
                assert_paused(&tasklet);
                on_interrupt(&tasklet);
                interruptions += 1;
                tasklet.insert().unwrap();
            }
            // A total watchdog may run out between two slices.
            RunOutcome::BudgetSpent => {}
            RunOutcome::Finished => return interruptions,
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn assert_paused(tasklet: &Tasklet) {
    assert_eq!(tasklet.state(), TaskletState::Paused, "{tasklet}");
    assert!(tasklet.is_alive() && tasklet.is_started() && !tasklet.is_scheduled());
}

/// A counter shared by a spinner and the test's driver.
fn counter() -> Rc<Cell<u32>> {
    Rc::new(Cell::new(0))
}

/// Spawns a spinner named `name` that spins until `interruptions` reaches `until`.
fn spawn_spinner(
    sched: &Scheduler,
    name: &str,
    interruptions: &Rc<Cell<u32>>,
    until: u32,
) -> JoinHandle<(u64, u64)> {
    let seen = interruptions.clone();
    Builder::new()
        .name(name)
        .spawn_on(sched, move || spin_until(|| seen.get() >= until))
        .unwrap()
}

#[test]
fn per_slice_watchdog_interrupts_an_annotated_spin_that_then_resumes_where_it_was() {
    let _guard = hang_guard(HANG);
    let sched = support::scheduler();
    let interruptions = counter();
    let spinner = spawn_spinner(&sched, "spinner", &interruptions, 3);

    // The first run comes back with the spinner taken out mid-loop.
    let outcome = sched.run_watchdog(Watchdog::per_slice(LIMIT)).unwrap();
    let RunOutcome::Interrupted { tasklet, removed } = outcome else {
        panic!("expected the spinner interrupted, got {outcome:?}");
    };
    assert!(removed);
    assert_eq!(&tasklet, spinner.tasklet());
    assert_eq!(tasklet.name().as_deref(), Some("spinner"));
    assert_paused(&tasklet);
    assert!(!spinner.is_finished());
    assert_eq!(sched.scheduled_count(), 0, "nothing left in the run queue");
    assert_eq!(sched.alive_count(), 1);
    interruptions.set(1);
    tasklet.insert().unwrap();
    assert!(tasklet.is_scheduled());

    // Two more interruptions, then it sees the count it waits for and returns.
    let more = run_to_completion(&sched, Watchdog::per_slice(LIMIT), |t| {
        assert_eq!(t, spinner.tasklet());
        interruptions.set(interruptions.get() + 1);
    });
    assert_eq!(more, 2);
    // Its loop state survived every interruption: the value is the one `steps` steps give.
    let (steps, value) = spinner.join().unwrap();
    assert!(steps > 0);
    assert_eq!(value, expected(steps));
}

#[test]
fn total_watchdog_interrupts_an_annotated_spin_and_the_others_keep_their_places() {
    let _guard = hang_guard(HANG);
    let sched = support::scheduler();
    let (first_count, second_count) = (counter(), counter());
    let first = spawn_spinner(&sched, "first", &first_count, 2);
    let second = spawn_spinner(&sched, "second", &second_count, 2);

    // (A thread the OS held back for the whole limit before the first slice would see the
    // budget spent instead: run again.)
    let outcome = loop {
        match sched.run_watchdog(Watchdog::total(LIMIT)).unwrap() {
            RunOutcome::BudgetSpent => continue,
            outcome => break outcome,
        }
    };
    let RunOutcome::Interrupted { tasklet, removed } = outcome else {
        panic!("expected the first spinner interrupted, got {outcome:?}");
    };
    assert!(removed);
    assert_eq!(&tasklet, first.tasklet());
    assert_paused(&tasklet);
    assert!(
        second.tasklet().is_scheduled(),
        "the other spinner stays queued"
    );
    first_count.set(1);
    tasklet.insert().unwrap();

    run_to_completion(&sched, Watchdog::total(LIMIT), |t| {
        let count = if t == first.tasklet() {
            &first_count
        } else {
            assert_eq!(t, second.tasklet());
            &second_count
        };
        count.set(count.get() + 1);
    });
    // Each returned as soon as it saw its second interruption, so neither had a third.
    assert_eq!((first_count.get(), second_count.get()), (2, 2));
    for spinner in [first, second] {
        let (steps, value) = spinner.join().unwrap();
        assert_eq!(value, expected(steps));
    }
}

#[test]
fn atomic_tasklets_are_never_interrupted() {
    let _guard = hang_guard(HANG);
    let sched = support::scheduler();
    for watchdog in [Watchdog::per_slice(LIMIT), Watchdog::total(LIMIT)] {
        let by_builder = Builder::new()
            .name("atomic by builder")
            .atomic(true)
            .spawn_on(&sched, || spin_for(LONG_SPIN))
            .unwrap();
        let by_call = Builder::new()
            .name("atomic by call")
            .spawn_on(&sched, || {
                uthread::set_atomic(true);
                spin_for(LONG_SPIN)
            })
            .unwrap();
        assert!(by_builder.tasklet().is_atomic());
        let interruptions = run_to_completion(&sched, watchdog, |t| {
            panic!("{t} is atomic but was interrupted under {watchdog:?}");
        });
        assert_eq!(interruptions, 0);
        for spinner in [by_builder, by_call] {
            let (steps, value) = spinner.join().unwrap();
            assert_eq!(value, expected(steps));
        }
    }
}

#[test]
fn leaving_an_atomic_section_makes_the_spin_preemptible_again() {
    let _guard = hang_guard(HANG);
    let sched = support::scheduler();
    let atomic_done = Rc::new(Cell::new(false));
    let interruptions = counter();
    let (done, seen) = (atomic_done.clone(), interruptions.clone());
    let spinner = sched
        .spawn(move || {
            uthread::set_atomic(true);
            spin_for(LONG_SPIN); // far past the slice's limit, uninterrupted
            done.set(true);
            uthread::set_atomic(false);
            spin_until(|| seen.get() >= 1)
        })
        .unwrap();
    let n = run_to_completion(&sched, Watchdog::per_slice(LIMIT), |_| {
        assert!(atomic_done.get(), "interrupted inside the atomic section");
        interruptions.set(interruptions.get() + 1);
    });
    assert_eq!(n, 1);
    let (steps, value) = spinner.join().unwrap();
    assert_eq!(value, expected(steps));
}

/// Spins until `inner_interruptions` passes `round`, with `depth` at 2 while it runs.
#[uthread::preemptible]
fn inner_spin(round: u32, inner_interruptions: &Cell<u32>, depth: &Cell<u32>) -> (u64, u64) {
    depth.set(2);
    let result = spin_until(|| inner_interruptions.get() > round);
    depth.set(1);
    result
}

/// Three rounds, each a nested annotated call that spins until it has been interrupted.
#[uthread::preemptible]
fn outer_rounds(inner_interruptions: &Cell<u32>, depth: &Cell<u32>) -> Vec<(u64, u64)> {
    let mut results = Vec::new();
    for round in 0..3 {
        results.push(inner_spin(round, inner_interruptions, depth));
    }
    results
}

#[test]
fn nested_annotated_calls_are_interrupted_inside_the_inner_call() {
    let _guard = hang_guard(HANG);
    let sched = support::scheduler();
    let inner_interruptions = Rc::new(Cell::new(0u32));
    let depth = Rc::new(Cell::new(1u32));
    let (i, d) = (inner_interruptions.clone(), depth.clone());
    let rounds = sched.spawn(move || outer_rounds(&i, &d)).unwrap();
    run_to_completion(&sched, Watchdog::per_slice(LIMIT), |_| {
        // The outer loop's own point may catch a slice that the OS delayed; only the
        // interruptions inside the inner call move the rounds on.
        if depth.get() == 2 {
            inner_interruptions.set(inner_interruptions.get() + 1);
        }
    });
    assert_eq!(
        inner_interruptions.get(),
        3,
        "one per round, each inside inner_spin"
    );
    let results = rounds.join().unwrap();
    assert_eq!(results.len(), 3);
    for (steps, value) in results {
        assert_eq!(value, expected(steps));
    }
}

/// Spawns a spinner from inside an annotated fn: the closure's loop gets its point too.
#[uthread::preemptible]
fn spawn_closure_spinner(sched: &Scheduler, stop: Rc<Cell<u32>>) -> JoinHandle<(u64, u64)> {
    sched
        .spawn(move || {
            let (mut steps, mut x) = (0u64, SEED);
            while stop.get() == 0 {
                x = step(x);
                steps += 1;
            }
            (steps, x)
        })
        .unwrap()
}

#[test]
fn a_closure_written_in_an_annotated_fn_is_preemptible() {
    let _guard = hang_guard(HANG);
    let sched = support::scheduler();
    let stop = counter();
    let spinner = spawn_closure_spinner(&sched, stop.clone());
    let n = run_to_completion(&sched, Watchdog::per_slice(LIMIT), |_| {
        stop.set(1);
    });
    assert_eq!(n, 1);
    let (steps, value) = spinner.join().unwrap();
    assert_eq!(value, expected(steps));
}

/// Not annotated: its loop has no point, so nothing interrupts it before it returns.
fn plain_spin(d: Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < d {
        std::hint::spin_loop();
    }
}

#[test]
fn a_loop_that_is_not_annotated_runs_to_its_end_before_the_next_point() {
    #[uthread::preemptible]
    fn calls_plain_code(inside_plain: &Cell<bool>, plain_calls: &Cell<u32>) {
        // At least two plain calls, and on until the watchdog has cut the loop once: the
        // watchdog thread can be held back past a call or two (valgrind runs one thread
        // at a time), and then its flag is seen at a later point.
        let me = uthread::current().unwrap();
        let resumed = me.switch_count();
        while plain_calls.get() < 2 || me.switch_count() == resumed {
            inside_plain.set(true);
            plain_spin(LONG_SPIN); // 10 times the limit, uninterrupted
            inside_plain.set(false);
            plain_calls.set(plain_calls.get() + 1);
        }
    }

    let _guard = hang_guard(HANG);
    let sched = support::scheduler();
    let inside_plain = Rc::new(Cell::new(false));
    let plain_calls = counter();
    let (inside, calls) = (inside_plain.clone(), plain_calls.clone());
    sched
        .spawn(move || calls_plain_code(&inside, &calls))
        .unwrap();
    // The first plain call overruns the limit; the interruption comes at the loop's next
    // point, after the call has returned.
    let n = run_to_completion(&sched, Watchdog::per_slice(LIMIT), |_| {
        assert!(
            !inside_plain.get(),
            "interrupted inside code with no points"
        );
    });
    // Every plain call overruns the limit, so each point after one is a chance to cut:
    // at most one cut per call, none inside one.
    let calls = plain_calls.get();
    assert!(calls >= 2, "{calls}");
    assert!(
        (1..=calls).contains(&n),
        "{n} interruptions for {calls} plain calls"
    );
}

#[test]
fn killing_an_interrupted_spinner_unwinds_it() {
    let _guard = hang_guard(HANG);
    let sched = support::scheduler();
    let drops = Drops::new();
    let token = drops.token();
    let spinner = sched
        .spawn(move || {
            let _on_stack = token;
            spin_until(|| false)
        })
        .unwrap();
    let outcome = sched.run_watchdog(Watchdog::per_slice(LIMIT)).unwrap();
    let RunOutcome::Interrupted { tasklet, .. } = outcome else {
        panic!("expected an interruption, got {outcome:?}");
    };
    assert_eq!(drops.count(), 0);
    tasklet.kill().unwrap();
    assert_eq!(drops.count(), 1, "the spinner's stack was unwound once");
    assert!(matches!(spinner.join(), Err(JoinError::Killed)));
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
}
