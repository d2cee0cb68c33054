//! A first uthread program: a few tasklets, a channel between them, and a sleep.
//!
//! ```sh
//! cargo run -p uthread --example hello
//! ```
//!
//! Three workers each greet the world over one channel, the second after sleeping a
//! moment; a printer tasklet receives the greetings in the order they are sent. A send
//! on a Stackless channel waits until someone receives, so each worker blocks right there
//! while the scheduler runs the others.

use std::time::Duration;

use uthread::{Builder, Channel, Scheduler};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sched = Scheduler::new();
    let greetings: Channel<String> = Channel::new();

    for (id, nap_ms) in [(1, 0), (2, 30), (3, 0)] {
        let out = greetings.clone();
        Builder::new()
            .name(format!("worker {id}"))
            .spawn_on(&sched, move || {
                if nap_ms > 0 {
                    // Sleeping blocks only this tasklet; the others run meanwhile.
                    uthread::sleep(Duration::from_millis(nap_ms)).unwrap();
                }
                let me = uthread::current()
                    .and_then(|tasklet| tasklet.name())
                    .unwrap_or_default();
                out.send(format!("hello from {me} at {:?}", uthread::now()))
                    .unwrap();
            })?;
    }

    let inbox = greetings.clone();
    let printer = sched.spawn(move || {
        // Three greetings, then the printer's work is done.
        for _ in 0..3 {
            println!("{}", inbox.receive().unwrap());
        }
        3
    })?;

    // Runs every tasklet until all have ended (waiting for the sleeper on the way).
    sched.run()?;
    println!("the printer got {} greetings", printer.join()?);
    Ok(())
}
