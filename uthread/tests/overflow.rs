//! A stack overflow in a tasklet hits its guard page and is reported with the tasklet's
//! name and stack size before the process dies of SIGSEGV. Each overflow runs in a child
//! process: this test binary re-executed with an environment variable set and
//! `--exact <child test>`; the child tests do nothing when run directly.

mod support;

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use uthread::{Builder, Scheduler, StackStrategy};

/// Set in the child process: the child test overflows instead of returning at once.
const CHILD_ENV: &str = "UTHREAD_OVERFLOW_CHILD";
/// SIGSEGV's number on Linux.
const SIGSEGV: i32 = 11;

/// Recurses with a 4 KiB frame until the stack runs out. `black_box` keeps the array and
/// the recursion from being optimised away.
fn dive(depth: u64) -> u64 {
    if std::hint::black_box(depth) == u64::MAX {
        return 0; // never: only there so that the recursion has a way out
    }
    let mut frame = [0u8; 4096];
    frame[depth as usize % 4096] = depth as u8;
    let frame = std::hint::black_box(frame);
    let below = dive(std::hint::black_box(depth + 1));
    below.wrapping_add(u64::from(frame[(depth as usize * 7) % 4096]))
}

/// Runs the child test `name`, returns the signal that ended it and its stderr.
fn run_child(name: &str) -> (Option<i32>, String) {
    run_child_with(name, &[])
}

/// As [`run_child`], with extra environment variables for the child.
fn run_child_with(name: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1");
    for (key, value) in env {
        cmd.env(key, value);
    }
    let out = cmd.output().unwrap();
    (
        out.status.signal(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Overflows a tasklet in this (child) process, if the parent asked for it.
fn overflow_in_child(strategy: StackStrategy, name: Option<&str>, kib: usize) {
    if std::env::var_os(CHILD_ENV).is_none() {
        return; // Run directly: nothing to do; the parent tests drive the children.
    }
    let sched = Scheduler::builder().stack_strategy(strategy).build();
    let mut builder = Builder::new().stack_size(kib * 1024);
    if let Some(name) = name {
        builder = builder.name(name);
    }
    builder.spawn_on(&sched, || dive(0)).unwrap();
    let _ = sched.run();
    unreachable!("the overflow kills the process");
}

#[test]
fn child_overflows_a_dedicated_stack() {
    overflow_in_child(StackStrategy::dedicated(), Some("deep-diver"), 64);
}

#[test]
fn child_overflows_a_copying_stack() {
    overflow_in_child(support::copying(), Some("deep-copier"), 32);
}

#[test]
fn child_overflows_an_unnamed_tasklet() {
    overflow_in_child(StackStrategy::dedicated(), None, 16);
}

#[test]
fn an_overflow_on_a_dedicated_stack_names_the_tasklet_and_its_stack_size() {
    let (signal, stderr) = run_child("child_overflows_a_dedicated_stack");
    assert_eq!(
        signal,
        Some(SIGSEGV),
        "the child should die of SIGSEGV:\n{stderr}"
    );
    assert!(
        stderr.contains("stack overflow in tasklet 'deep-diver'"),
        "no report naming the tasklet in:\n{stderr}"
    );
    assert!(
        stderr.contains("its 64 KiB stack"),
        "no stack size in:\n{stderr}"
    );
}

#[test]
fn an_overflow_on_a_copying_stack_names_the_tasklet_and_its_stack_size() {
    let (signal, stderr) = run_child("child_overflows_a_copying_stack");
    assert_eq!(
        signal,
        Some(SIGSEGV),
        "the child should die of SIGSEGV:\n{stderr}"
    );
    assert!(
        stderr.contains("stack overflow in tasklet 'deep-copier'"),
        "no report naming the tasklet in:\n{stderr}"
    );
    assert!(
        stderr.contains("its 32 KiB stack"),
        "no stack size in:\n{stderr}"
    );
}

#[test]
fn an_unnamed_tasklets_overflow_is_still_reported() {
    let (signal, stderr) = run_child("child_overflows_an_unnamed_tasklet");
    assert_eq!(signal, Some(SIGSEGV), "{stderr}");
    assert!(stderr.contains("stack overflow in tasklet"), "{stderr}");
    assert!(stderr.contains("its 16 KiB stack"), "{stderr}");
}

/// Live tasklets around the overflowing one in the crowd test.
const CROWD: usize = 100_000;

#[test]
fn child_overflows_in_a_crowd() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let sched = Scheduler::builder().stack_size(16 * 1024).build();
    let gate = uthread::Channel::<u32>::new();
    for i in 0..CROWD {
        let rx = gate.clone();
        Builder::new()
            .name(format!("bystander {i}"))
            .spawn_on(&sched, move || rx.receive().unwrap_or(0))
            .unwrap();
    }
    // Every bystander blocks first; then one tasklet among them dives.
    sched
        .run_for(uthread::Budget::Resumes(CROWD as u64))
        .unwrap();
    assert_eq!(gate.balance(), -(CROWD as isize));
    Builder::new()
        .name("diver in the crowd")
        .stack_size(48 * 1024)
        .spawn_on(&sched, || dive(0))
        .unwrap();
    let _ = sched.run();
    unreachable!("the overflow kills the process");
}

#[test]
fn an_overflow_among_a_hundred_thousand_live_tasklets_names_the_right_one() {
    let (signal, stderr) = run_child("child_overflows_in_a_crowd");
    assert_eq!(signal, Some(SIGSEGV), "{stderr}");
    assert!(
        stderr.contains("stack overflow in tasklet 'diver in the crowd'"),
        "{stderr}"
    );
    assert!(stderr.contains("its 48 KiB stack"), "{stderr}");
    assert!(!stderr.contains("bystander"), "{stderr}");
}

#[test]
fn an_overflow_with_mprotect_guard_pages_is_reported_the_same_way() {
    let (signal, stderr) = run_child_with(
        "child_overflows_a_dedicated_stack",
        &[("UTHREAD_GUARD_PAGES", "mprotect")],
    );
    assert_eq!(signal, Some(SIGSEGV), "{stderr}");
    assert!(
        stderr.contains("stack overflow in tasklet 'deep-diver'"),
        "{stderr}"
    );
    assert!(stderr.contains("its 64 KiB stack"), "{stderr}");
}
