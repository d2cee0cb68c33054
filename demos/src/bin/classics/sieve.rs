//! The concurrent prime sieve: a generator sends 2, 3, 4, ... down a channel, and each
//! prime found adds a filter tasklet to the pipeline that drops that prime's multiples.
//! Whatever comes out of the end of the pipeline is the next prime.

use uthread::{Builder, Channel, Scheduler};

use crate::Outcome;

/// Sends 2, 3, 4, ... until the channel is closed.
fn generate(out: Channel<u64>) {
    for n in 2.. {
        if out.send(n).is_err() {
            return; // closed: the pipeline is shutting down
        }
    }
}

/// Passes on the numbers that `prime` does not divide.
fn filter(input: Channel<u64>, output: Channel<u64>, prime: u64) {
    while let Ok(n) = input.receive() {
        if n % prime != 0 && output.send(n).is_err() {
            break;
        }
    }
    // Shut down upstream too: the tasklet feeding us is blocked sending into `input`,
    // and `close_now` wakes it with an error. The shutdown ripples back to the generator.
    input.close_now();
}

pub(crate) fn run(primes: u32) -> Outcome {
    let sched = Scheduler::new();
    let mut head: Channel<u64> = Channel::new();
    let source = head.clone();
    sched
        .spawn(move || generate(source))
        .map_err(|e| e.to_string())?;

    let mut found = Vec::new();
    for _ in 0..primes {
        // The main context can receive too: while it waits, the scheduler runs the
        // pipeline until a number comes out of the end.
        let prime = head.receive().map_err(|e| e.to_string())?;
        found.push(prime);
        let next = Channel::new();
        let (input, output) = (head.clone(), next.clone());
        Builder::new()
            .name(format!("filter {prime}"))
            .spawn_on(&sched, move || filter(input, output, prime))
            .map_err(|e| e.to_string())?;
        head = next;
    }
    let list: Vec<String> = found.iter().map(u64::to_string).collect();
    println!("the first {primes} primes: {}", list.join(" "));

    // Close the end of the pipeline; every tasklet in it ends in turn.
    head.close_now();
    let outcome = sched.run().map_err(|e| e.to_string())?;
    println!(
        "pipeline of {} filter(s) shut down: {outcome:?}, {} tasklet(s) left",
        found.len(),
        sched.alive_count()
    );
    if sched.alive_count() != 0 {
        return Err("the pipeline did not shut down".into());
    }
    Ok(())
}
