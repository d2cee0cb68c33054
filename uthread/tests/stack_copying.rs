//! Stack copying (the calibration self-check is a unit test of `sys/calibration.rs`):
//! frames that survive being copied out and back, unwinding on kill and drop, tasklets of both strategies in one scheduler, and
//! an overflow on the shared stack reported with the tasklet's name.

mod support;

use std::cell::Cell;
use std::hint::black_box;
use std::process::Command;
use std::rc::Rc;

use support::Drops;
use uthread::{Builder, Channel, Scheduler, StackStrategy};

fn copying() -> Scheduler {
    Scheduler::builder()
        .stack_strategy(support::copying())
        .build()
}

#[test]
fn corosensei_is_pinned_to_the_calibrated_version() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let manifest = std::fs::read_to_string(format!("{root}/Cargo.toml")).unwrap();
    assert!(
        manifest
            .lines()
            .any(|l| l.replace(' ', "") == "corosensei=\"=0.3.4\""),
        "stack copying depends on corosensei's frame layout: keep the exact pin"
    );
    let lock = std::fs::read_to_string(format!("{root}/Cargo.lock")).unwrap();
    let entry = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"corosensei\""))
        .expect("corosensei in Cargo.lock");
    assert!(entry.contains("version = \"0.3.4\""), "{entry}");
}

#[test]
fn strategy_names_parse() {
    use uthread::StackKind;
    assert_eq!("copying".parse::<StackKind>(), Ok(StackKind::Copying));
    assert_eq!(
        " Dedicated\n".parse::<StackKind>(),
        Ok(StackKind::Dedicated)
    );
    let err = "shared".parse::<StackKind>().unwrap_err();
    assert!(err.to_string().contains("\"shared\""), "{err}");
    assert_eq!(StackStrategy::default(), StackStrategy::dedicated());
    assert_eq!(StackStrategy::default().kind(), StackKind::Dedicated);
    assert_eq!(support::copying().kind(), StackKind::Copying);
    assert_eq!(support::copying().to_string(), "copying");
    assert_eq!(
        format!("{:?}", StackStrategy::dedicated()),
        "StackStrategy::Dedicated"
    );
}

/// Builds a chain of frames, each holding data and a pointer to its parent's data, then
/// suspends `yields` times at the bottom and checks every frame on the way back up.
#[inline(never)]
fn nested(depth: usize, seed: u64, parent: Option<&[u64; 16]>, yields: usize) -> u64 {
    let mut mine = [0u64; 16];
    for (i, v) in mine.iter_mut().enumerate() {
        *v = seed.wrapping_mul(31).wrapping_add(i as u64 + depth as u64);
    }
    let mine = black_box(mine);
    let below = if depth == 0 {
        for _ in 0..yields {
            uthread::schedule().unwrap();
        }
        0
    } else {
        nested(depth - 1, seed ^ depth as u64, Some(&mine), yields)
    };
    // The reference into the caller's frame still sees the caller's values.
    if let Some(p) = parent {
        assert_eq!(p[3], black_box(p)[3]);
    }
    let expect: u64 = (0..16u64)
        .map(|i| seed.wrapping_mul(31).wrapping_add(i + depth as u64))
        .fold(0, u64::wrapping_add);
    let sum = mine.iter().copied().fold(0, u64::wrapping_add);
    assert_eq!(sum, expect, "frame at depth {depth} was corrupted");
    sum.wrapping_add(below)
        .wrapping_add(parent.map_or(0, |p| p[0]))
}

#[test]
fn frames_survive_being_copied_out_and_back() {
    let sched = copying();
    let mut handles = Vec::new();
    for t in 0..48u64 {
        // Different depths, so the saved slices differ in size and overwrite each other.
        let depth = (t as usize * 7) % 40;
        handles.push(
            sched
                .spawn(move || {
                    let reference = nested(depth, t, None, 0);
                    (nested(depth, t, None, 25), reference)
                })
                .unwrap(),
        );
    }
    sched.run().unwrap();
    for h in handles {
        let (got, reference) = h.join().unwrap();
        assert_eq!(got, reference);
    }
    let stats = sched.stack_stats();
    assert_eq!(stats.copying, 0);
    assert_eq!(stats.shared_stacks, 1);
    assert_eq!(stats.mapped, 0, "no dedicated stacks were needed");
}

#[test]
fn a_deep_suspension_then_a_shallow_one() {
    let sched = copying();
    let h = sched
        .spawn(|| {
            // Deep: a large slice to copy (about 40 frames of 16 words and more).
            let deep = nested(120, 1, None, 3);
            // Shallow again: the saved slice shrinks.
            let shallow = nested(1, 2, None, 3);
            deep ^ shallow
        })
        .unwrap();
    let other = sched.spawn(|| nested(3, 9, None, 10)).unwrap();
    sched.run().unwrap();
    assert_eq!(
        h.join().unwrap(),
        nested_reference(120, 1) ^ nested_reference(1, 2)
    );
    assert_eq!(other.join().unwrap(), nested_reference(3, 9));
}

fn nested_reference(depth: usize, seed: u64) -> u64 {
    let sched = Scheduler::builder()
        .stack_strategy(StackStrategy::dedicated())
        .build();
    let h = sched.spawn(move || nested(depth, seed, None, 0)).unwrap();
    sched.run().unwrap();
    h.join().unwrap()
}

#[test]
fn spawning_from_a_running_copying_tasklet_leaves_its_frames_alone() {
    let sched = copying();
    let h = sched
        .spawn(|| {
            let mine = black_box([0x5eed_u64; 64]);
            // The child's body (with a large capture) waits on the heap until it first
            // runs: creating it must not write onto the stack this tasklet is using.
            let big = [7u8; 8192];
            let child =
                uthread::spawn(move || black_box(big).iter().map(|&b| b as u64).sum()).unwrap();
            assert_eq!(mine, [0x5eed_u64; 64]);
            let sum: u64 = child.join().unwrap();
            assert_eq!(mine, black_box([0x5eed_u64; 64]));
            sum + nested(6, 3, None, 2)
        })
        .unwrap();
    sched.run().unwrap();
    assert_eq!(h.join().unwrap(), 7 * 8192 + nested_reference(6, 3));
}

#[test]
fn channel_values_and_wait_entries_cross_between_copying_tasklets() {
    let sched = copying();
    let ch = Channel::<Vec<u64>>::new();
    let rx = ch.clone();
    let consumer = sched
        .spawn(move || {
            let mut total = 0u64;
            for _ in 0..200 {
                let v = rx.receive().unwrap();
                total += v.iter().sum::<u64>();
            }
            total
        })
        .unwrap();
    for p in 0..4u64 {
        let tx = ch.clone();
        sched
            .spawn(move || {
                for i in 0..50u64 {
                    let local = [p, i, p * i];
                    // The value is built on this stack and handed over through the heap.
                    tx.send(local.to_vec()).unwrap();
                }
            })
            .unwrap();
    }
    sched.run().unwrap();
    let expected: u64 = (0..4u64)
        .flat_map(|p| (0..50u64).map(move |i| p + i + p * i))
        .sum();
    assert_eq!(consumer.join().unwrap(), expected);
}

#[test]
fn kill_and_drop_unwind_copying_tasklets_exactly_once() {
    let drops = Drops::new();
    let started = Rc::new(Cell::new(0));
    let ch = Channel::<u32>::new();
    let sched = copying();
    let mut handles = Vec::new();
    for i in 0..40 {
        let (rx, drops, started) = (ch.clone(), drops.clone(), started.clone());
        handles.push(
            sched
                .spawn(move || {
                    let _outer = drops.token();
                    started.set(started.get() + 1);
                    // A guard a few frames down, too.
                    fn down(n: usize, rx: &Channel<u32>, drops: &Drops) {
                        let _g = drops.token();
                        if n == 0 {
                            let _ = rx.receive();
                        } else {
                            down(n - 1, rx, drops);
                        }
                    }
                    down(i % 5, &rx, &drops);
                })
                .unwrap(),
        );
    }
    sched.run().unwrap();
    assert_eq!(started.get(), 40);
    let guards_per = |i: usize| 2 + i % 5;
    // Kill the even ones now.
    for (i, h) in handles.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
        h.tasklet().kill().unwrap();
        assert!(!h.tasklet().is_alive(), "{i}");
    }
    let killed: usize = (0..40).filter(|i| i % 2 == 0).map(guards_per).sum();
    assert_eq!(drops.count(), killed);
    // Dropping the scheduler unwinds the rest.
    drop(handles);
    drop(sched);
    let all: usize = (0..40).map(guards_per).sum();
    assert_eq!(drops.count(), all);
}

#[test]
fn an_unstarted_copying_tasklet_just_drops_its_closure() {
    let drops = Drops::new();
    let sched = copying();
    let guard = drops.token();
    let ran = Rc::new(Cell::new(false));
    let flag = ran.clone();
    let h = Builder::new()
        .paused()
        .spawn_on(&sched, move || {
            let _g = guard;
            flag.set(true);
        })
        .unwrap();
    h.tasklet().kill().unwrap();
    assert_eq!(drops.count(), 1);
    assert!(!ran.get());
    assert_eq!(sched.stack_stats().copying, 0);
}

#[test]
fn a_panic_in_a_copying_tasklet_unwinds_its_frames() {
    let drops = Drops::new();
    let sched = copying();
    let d = drops.clone();
    let h = sched
        .spawn(move || {
            let _a = d.token();
            uthread::schedule().unwrap();
            let _b = d.token();
            uthread::schedule().unwrap();
            panic!("boom");
        })
        .unwrap();
    let other = sched.spawn(|| nested(4, 4, None, 4)).unwrap();
    sched.set_error_handler(|_| {});
    sched.run().unwrap();
    assert!(matches!(h.join(), Err(uthread::JoinError::Panicked(m)) if m == "boom"));
    assert_eq!(drops.count(), 2);
    assert_eq!(other.join().unwrap(), nested_reference(4, 4));
}

#[test]
fn dedicated_and_copying_tasklets_share_a_scheduler() {
    for default in [StackStrategy::dedicated(), support::copying()] {
        let sched = Scheduler::builder().stack_strategy(default).build();
        let ping = Channel::<u64>::new();
        let pong = Channel::<u64>::new();
        let (ping_rx, pong_tx) = (ping.clone(), pong.clone());
        // A hot, deep tasklet on its own stack...
        let server = Builder::new()
            .name("server")
            .stack_strategy(StackStrategy::dedicated())
            .spawn_on(&sched, move || {
                let mut served = 0;
                while let Ok(v) = ping_rx.receive() {
                    pong_tx.send(nested(20, v, None, 1)).unwrap();
                    served += 1;
                }
                served
            })
            .unwrap();
        // ...and many compact ones, two sizes of shared stack.
        let mut clients = Vec::new();
        for c in 0..20u64 {
            let (tx, rx) = (ping.clone(), pong.clone());
            let size = if c % 2 == 0 { 32 * 1024 } else { 64 * 1024 };
            clients.push(
                Builder::new()
                    .stack_strategy(support::copying())
                    .stack_size(size)
                    .spawn_on(&sched, move || {
                        let mut acc = 0u64;
                        for i in 0..5 {
                            tx.send(c * 100 + i).unwrap();
                            acc = acc.wrapping_add(rx.receive().unwrap());
                        }
                        acc
                    })
                    .unwrap(),
            );
        }
        let stats = sched.stack_stats();
        assert_eq!(stats.in_use, 1, "{default:?}: {stats:?}");
        assert_eq!(stats.copying, 20, "{default:?}: {stats:?}");
        assert_eq!(stats.shared_stacks, 2, "{default:?}: {stats:?}");
        assert_eq!(clients[0].tasklet().stack_size(), 32 * 1024);
        assert_eq!(clients[1].tasklet().stack_size(), 64 * 1024);
        // The clients finish; the server is left waiting (a deadlock, as far as run sees).
        sched.run().unwrap();
        let mut total = 0u64;
        for c in clients {
            total = total.wrapping_add(c.join().unwrap());
        }
        ping.close_now();
        sched.run().unwrap();
        assert_eq!(server.join().unwrap(), 100, "{default:?}");
        let mut expected = 0u64;
        for c in 0..20u64 {
            for i in 0..5 {
                expected = expected.wrapping_add(nested_reference(20, c * 100 + i));
            }
        }
        assert_eq!(total, expected, "{default:?}");
        let stats = sched.stack_stats();
        assert_eq!((stats.in_use, stats.copying), (0, 0), "{stats:?}");
    }
}

/// The child half of the subprocess tests: what it does is chosen by an env var.
const CHILD_VAR: &str = "UTHREAD_STACK_COPYING_CHILD";

#[test]
fn child_process_entry() {
    let Ok(role) = std::env::var(CHILD_VAR) else {
        return; // Only does something when re-executed by a test below.
    };
    match role.as_str() {
        "overflow" => {
            let sched = Scheduler::builder()
                .stack_strategy(support::copying())
                .stack_size(64 * 1024)
                .build();
            // Another copying tasklet runs first and stays suspended, so the header must
            // have been updated on the resume that overflows.
            Builder::new()
                .name("bystander")
                .spawn_on(&sched, || loop {
                    uthread::schedule().unwrap();
                })
                .unwrap();
            Builder::new()
                .name("deep-diver")
                .spawn_on(&sched, || {
                    uthread::schedule().unwrap();
                    #[allow(unconditional_recursion, reason = "overflows on purpose")]
                    fn dive(n: u64) -> u64 {
                        let pad = black_box([n; 64]);
                        dive(n + 1) + pad[7]
                    }
                    black_box(dive(0));
                })
                .unwrap();
            let _ = sched.run();
            unreachable!("the overflow should have killed the process");
        }
        "env" => {
            let sched = Scheduler::new();
            let h = sched.spawn(|| 1).unwrap();
            let stats = sched.stack_stats();
            println!("copying={} in_use={}", stats.copying, stats.in_use);
            sched.run().unwrap();
            assert_eq!(h.join().unwrap(), 1);
        }
        other => panic!("unknown child role {other}"),
    }
}

fn run_child(role: &str, extra_env: &[(&str, &str)]) -> std::process::Output {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args([
        "--exact",
        "child_process_entry",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_VAR, role)
    .env_remove(support::TEST_STACKS_VAR);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn an_overflow_on_the_shared_stack_names_the_tasklet() {
    use std::os::unix::process::ExitStatusExt;
    let out = run_child("overflow", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(libc_sigsegv()),
        "the child should die of SIGSEGV; stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("stack overflow in tasklet 'deep-diver'"),
        "stderr:\n{stderr}"
    );
    assert!(stderr.contains("its 64 KiB stack"), "stderr:\n{stderr}");
    assert!(!stderr.contains("bystander"), "stderr:\n{stderr}");
}

fn libc_sigsegv() -> i32 {
    11
}

/// The environment once chose copying for every default scheduler; it must not make a
/// safe program use stack copying.
#[test]
fn no_environment_variable_selects_stack_copying() {
    for var in ["UTHREAD_STACK_STRATEGY", "UTHREAD_TEST_STACKS"] {
        let out = run_child("env", &[(var, "copying")]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{out:?}");
        assert!(stdout.contains("copying=0 in_use=1"), "{var}: {stdout}");
    }
}
