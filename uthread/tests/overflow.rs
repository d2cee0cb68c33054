//! A stack overflow in a tasklet hits its guard page and is reported with the tasklet's
//! name and stack size before the process dies of SIGSEGV. Each overflow runs in a child
//! process: this test binary re-executed with an environment variable set and
//! `--exact <child test>`; the child tests do nothing when run directly.

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
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
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
    overflow_in_child(StackStrategy::Dedicated, Some("deep-diver"), 64);
}

#[test]
fn child_overflows_a_copying_stack() {
    overflow_in_child(StackStrategy::Copying, Some("deep-copier"), 32);
}

#[test]
fn child_overflows_an_unnamed_tasklet() {
    overflow_in_child(StackStrategy::Dedicated, None, 16);
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
