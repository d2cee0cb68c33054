//! The dining philosophers: each needs the two forks beside them to eat, and the forks
//! are `Lock`s. Taking them in a bad order deadlocks; uthread notices that nothing can
//! run any more and reports who waits on what instead of hanging.

use uthread::{Builder, Lock, RunOutcome, Scheduler};

use crate::Outcome;

/// Thinks (or eats) for a while: here, lets the others run a few times.
fn pause(turns: u32) {
    for _ in 0..turns {
        uthread::schedule().expect("schedule only fails on a kill");
    }
}

fn table(philosophers: u32) -> Vec<Lock> {
    (0..philosophers)
        .map(|i| Lock::with_name(&format!("fork {i}")))
        .collect()
}

/// The forks of philosopher `i`: the one on the left has the same number, the one on the
/// right the next number round the table.
fn forks(i: u32, philosophers: u32) -> (u32, u32) {
    (i, (i + 1) % philosophers)
}

/// Dijkstra's fix: number the forks and always take the lower-numbered one first. The
/// last philosopher then reaches for fork 0 before fork n-1, which breaks the cycle of
/// everyone holding one fork and waiting for the next.
pub(crate) fn run_correct(philosophers: u32, meals: u32) -> Outcome {
    let sched = Scheduler::new();
    let forks_on_table = table(philosophers);
    let mut diners = Vec::new();
    for i in 0..philosophers {
        let (left, right) = forks(i, philosophers);
        let (first, second) = (left.min(right), left.max(right));
        let first_fork = forks_on_table[first as usize].clone();
        let second_fork = forks_on_table[second as usize].clone();
        let diner = Builder::new()
            .name(format!("philosopher {i}"))
            .spawn_on(&sched, move || {
                for meal in 1..=meals {
                    pause(i % 3 + 1); // think
                    let _a = first_fork.lock().expect("a fork is a plain lock");
                    pause(1); // a neighbour may grab the other fork meanwhile
                    let _b = second_fork.lock().expect("a fork is a plain lock");
                    println!("philosopher {i} eats meal {meal} with forks {first} and {second}");
                    pause(2); // eat
                              // The guards drop here, putting both forks back.
                }
            })
            .map_err(|e| e.to_string())?;
        diners.push(diner);
    }
    match sched.run().map_err(|e| e.to_string())? {
        RunOutcome::Finished => {
            println!("everyone ate {meals} meal(s); no deadlock");
            Ok(())
        }
        other => Err(format!("the table did not finish: {other:?}")),
    }
}

/// Everyone takes the left fork, then reaches for the right one, which their neighbour
/// holds. Nobody can ever eat: `run` returns `RunOutcome::Deadlock` with the list of
/// blocked tasklets and the fork each waits for.
pub(crate) fn run_deadlock(philosophers: u32) -> Outcome {
    let sched = Scheduler::new();
    let forks_on_table = table(philosophers);
    for i in 0..philosophers {
        let (left, right) = forks(i, philosophers);
        let left_fork = forks_on_table[left as usize].clone();
        let right_fork = forks_on_table[right as usize].clone();
        Builder::new()
            .name(format!("philosopher {i}"))
            .spawn_on(&sched, move || {
                let _left = left_fork.lock().expect("a fork is a plain lock");
                println!("philosopher {i} took fork {left}, reaches for fork {right}");
                pause(1); // everyone gets to take their left fork
                let _right = right_fork.lock().expect("a fork is a plain lock");
                println!("philosopher {i} eats");
            })
            .map_err(|e| e.to_string())?;
    }
    match sched.run().map_err(|e| e.to_string())? {
        RunOutcome::Deadlock(report) => {
            println!("deadlock detected: {report}");
            // Dropping the scheduler kills the stuck tasklets: each unwinds, and its lock
            // guard puts its fork back.
            drop(sched);
            println!("the stuck philosophers were killed; exiting cleanly");
            Ok(())
        }
        other => Err(format!(
            "expected a deadlock, the table ended with {other:?}"
        )),
    }
}
