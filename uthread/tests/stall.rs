//! Live stall reports: a slice that runs past the threshold is reported by the watchdog
//! thread while it is still running (checked by the order of lines on a child process's
//! stderr), and again when it ends; a handler gets the reports instead of stderr.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use uthread::{Builder, Scheduler, StallReport};

const CHILD: &str = "UTHREAD_STALL_CHILD";

/// Spins for `d` without any uthread call.
fn spin(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

#[test]
fn child_spins_past_the_threshold() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let sched = Scheduler::builder()
        .stall_reports(Some(Duration::from_millis(40)))
        .build();
    Builder::new()
        .name("runaway")
        .spawn_on(&sched, || {
            spin(Duration::from_millis(400));
            eprintln!("child: the spin is over");
        })
        .unwrap();
    sched.run().unwrap();
    // Give the watchdog thread a poll to see that the slice ended.
    std::thread::sleep(Duration::from_millis(100));
    eprintln!("child: done");
}

#[test]
fn a_stall_is_reported_before_the_slice_ends_and_again_after() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_spins_past_the_threshold", "--nocapture"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{stderr}"))
    };
    let live = at("without yielding and is still running");
    let over = at("child: the spin is over");
    let ended = at("in one slice");
    assert!(lines[live].contains("'runaway'"), "{stderr}");
    assert!(live < over, "the live report must come first:\n{stderr}");
    assert!(over < ended, "{stderr}");
}

#[test]
fn a_handler_gets_the_reports_with_the_name_and_durations() {
    let sched = Scheduler::builder()
        .stall_reports(Some(Duration::from_millis(30)))
        .build();
    let seen: Arc<Mutex<Vec<StallReport>>> = Arc::default();
    let sink = seen.clone();
    sched.set_stall_handler(move |r| sink.lock().unwrap().push(r.clone()));
    assert_eq!(sched.stall_threshold(), Some(Duration::from_millis(30)));
    let quick = Builder::new()
        .name("quick")
        .spawn_on(&sched, || {
            for _ in 0..100 {
                uthread::schedule().unwrap();
            }
        })
        .unwrap();
    let slow = Builder::new()
        .name("slow")
        .spawn_on(&sched, || spin(Duration::from_millis(250)))
        .unwrap();
    sched.run().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].tasklet, slow.tasklet().id());
    assert_eq!(seen[0].name.as_deref(), Some("slow"));
    assert!(!seen[0].ended);
    assert!(seen[0].running_for >= Duration::from_millis(30));
    assert!(seen[1].ended);
    assert!(seen[1].running_for >= seen[0].running_for);
    assert!(seen.iter().all(|r| r.tasklet != quick.tasklet().id()));
    assert_eq!(sched.last_stall(), Some(seen[1].clone()));
}

#[test]
fn without_a_threshold_nothing_is_watched() {
    let sched = Scheduler::new();
    assert_eq!(sched.stall_threshold(), None);
    sched.spawn(|| spin(Duration::from_millis(20))).unwrap();
    sched.run().unwrap();
    assert_eq!(sched.last_stall(), None);
}
