//! Producers and consumers over a bounded `Queue`: the queue buffers, so producers only
//! wait when it is full and consumers only when it is empty.

use std::cell::RefCell;
use std::rc::Rc;

use uthread::{Builder, Queue, Scheduler};

use crate::Outcome;

pub(crate) fn run(producers: u32, consumers: u32, items: u32, capacity: u32) -> Outcome {
    let sched = Scheduler::new();
    let queue: Queue<(u32, u32)> = Queue::bounded_with_name(capacity as usize, "work");
    // Who consumed what, in order, to check at the end that nothing was lost.
    let log: Rc<RefCell<Vec<(u32, u32)>>> = Rc::default();

    let mut producer_handles = Vec::new();
    for p in 0..producers {
        let queue = queue.clone();
        let handle = Builder::new()
            .name(format!("producer {p}"))
            .spawn_on(&sched, move || {
                for i in 0..items {
                    // Blocks while the queue is full, letting the consumers catch up.
                    queue
                        .put((p, i))
                        .expect("the queue closes only after every put");
                    println!("producer {p}: put item {i} ({} queued)", queue.len());
                }
            })
            .map_err(|e| e.to_string())?;
        producer_handles.push(handle);
    }

    let mut consumer_handles = Vec::new();
    for c in 0..consumers {
        let (queue, log) = (queue.clone(), log.clone());
        let handle = Builder::new()
            .name(format!("consumer {c}"))
            .spawn_on(&sched, move || {
                let mut eaten = 0;
                // `get` blocks while the queue is empty and fails once it is closed and
                // drained: that ends the loop.
                while let Ok((p, i)) = queue.get() {
                    println!("consumer {c}: got item {i} of producer {p}");
                    log.borrow_mut().push((p, i));
                    eaten += 1;
                    // Give the others a turn, as a consumer doing real work would.
                    uthread::schedule().expect("schedule only fails on a kill");
                }
                eaten
            })
            .map_err(|e| e.to_string())?;
        consumer_handles.push(handle);
    }

    // A foreman closes the queue once every producer has finished: joining a tasklet
    // blocks until it ends.
    let foreman_queue = queue.clone();
    sched
        .spawn(move || {
            for handle in producer_handles {
                handle.join().expect("producers do not fail");
            }
            foreman_queue.close();
        })
        .map_err(|e| e.to_string())?;

    sched.run().map_err(|e| e.to_string())?;

    let mut total = 0;
    for (c, handle) in consumer_handles.into_iter().enumerate() {
        let eaten = handle.join().map_err(|e| e.to_string())?;
        println!("consumer {c} handled {eaten} item(s)");
        total += eaten;
    }
    let mut log = log.borrow().clone();
    log.sort_unstable();
    log.dedup();
    let expected = producers * items;
    if total != expected || log.len() != expected as usize {
        return Err(format!(
            "{total} item(s) consumed ({} distinct), {expected} produced",
            log.len()
        ));
    }
    println!("all {expected} item(s) made it through a queue of {capacity}");
    Ok(())
}
