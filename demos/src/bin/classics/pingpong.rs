//! Ping-pong, the first example of every Stackless tutorial: two tasklets take turns
//! because a channel send waits until the other side receives.

use std::time::Instant;

use uthread::{Channel, Scheduler};

use crate::Outcome;

pub(crate) fn run(rounds: u64) -> Outcome {
    let sched = Scheduler::new();
    let chatty = rounds <= 10;
    // One channel each way. Channels are unbuffered: `send` blocks until a receiver
    // takes the value, so each hit hands control to the other player.
    let to_pong: Channel<u64> = Channel::with_name("to pong");
    let to_ping: Channel<u64> = Channel::with_name("to ping");

    let (out, back) = (to_pong.clone(), to_ping.clone());
    let ping = sched
        .spawn(move || {
            for ball in 1..=rounds {
                if chatty {
                    println!("ping: serve {ball}");
                }
                out.send(ball).expect("pong is waiting");
                let returned = back.receive().expect("pong always returns the ball");
                assert_eq!(returned, ball);
            }
            // `close_now` wakes pong, which is blocked in `receive`, with `Closed`: the
            // only way to end a conversation with a tasklet that is waiting for more.
            out.close_now();
        })
        .map_err(|e| e.to_string())?;

    let pong = sched
        .spawn(move || {
            let mut hits = 0u64;
            // Iterating a channel receives until the channel is closed.
            for ball in to_pong.iter() {
                if chatty {
                    println!("pong: return {ball}");
                }
                to_ping.send(ball).expect("ping is waiting");
                hits += 1;
            }
            hits
        })
        .map_err(|e| e.to_string())?;

    let start = Instant::now();
    sched.run().map_err(|e| e.to_string())?;
    let elapsed = start.elapsed();
    ping.join().map_err(|e| e.to_string())?;
    let hits = pong.join().map_err(|e| e.to_string())?;
    if hits != rounds {
        return Err(format!("pong returned {hits} of {rounds} balls"));
    }
    if !chatty {
        println!(
            "{rounds} round trips in {:.3} s: {:.0} ns per round trip (two channel hand-offs)",
            elapsed.as_secs_f64(),
            elapsed.as_nanos() as f64 / rounds as f64
        );
    }
    println!("game over after {hits} rounds");
    Ok(())
}
