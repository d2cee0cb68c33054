//! Remote channels: `RemoteSender`s on other OS threads deliver to tasklets, an idle
//! scheduler blocked in `run()` wakes when a message arrives, the receiver is closed once
//! every sender is gone, a send to a dropped receiver returns the value, and remote waits
//! time out, select and die like any other wait.

mod support;

use std::rc::Rc;
use std::time::{Duration, Instant};

use support::{hang_guard, manual, ms, Drops};
use uthread::{select, BlockedOn, ChannelError, RemoteSender, RunOutcome, TryRecvError};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn remote_senders_are_send_and_clone() {
    fn assert_send<T: Send>() {}
    assert_send::<RemoteSender<String>>();
    let sched = manual();
    let (tx, rx) = sched.remote_channel::<u8>();
    let tx2 = tx.clone();
    tx.send(1).unwrap();
    tx2.send(2).unwrap();
    assert_eq!(rx.try_recv().unwrap(), 1);
    assert_eq!(rx.try_recv().unwrap(), 2);
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
}

#[test]
fn messages_from_several_threads_all_arrive_in_each_senders_order() {
    let _guard = hang_guard(LIMIT);
    const THREADS: u32 = 4;
    const EACH: u32 = 500;
    let sched = support::scheduler();
    let (tx, rx) = sched.remote_channel::<(u32, u32)>();
    let listener = sched
        .spawn(move || {
            let mut next = vec![0u32; THREADS as usize];
            let mut total = 0;
            for (thread, seq) in rx.iter() {
                assert_eq!(seq, next[thread as usize], "thread {thread} out of order");
                next[thread as usize] += 1;
                total += 1;
                if total % 7 == 0 {
                    uthread::schedule().unwrap();
                }
            }
            total
        })
        .unwrap();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for seq in 0..EACH {
                    tx.send((t, seq)).unwrap();
                    if seq % 100 == 0 {
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    drop(tx);
    // Waits (idle, not spinning) until every sender is gone and the buffer is drained.
    assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(listener.join().unwrap(), THREADS * EACH);
}

#[test]
fn an_idle_scheduler_blocked_in_run_wakes_when_a_remote_message_arrives() {
    let _guard = hang_guard(LIMIT);
    // A real clock only: a manual-clock scheduler belongs to a frame loop and never blocks
    // its thread in `run` (see the manual-clock test below).
    {
        let sched = support::scheduler();
        let (tx, rx) = sched.remote_channel::<&'static str>();
        let listener = sched.spawn(move || rx.recv()).unwrap();
        let started = Instant::now();
        let worker = std::thread::spawn(move || {
            std::thread::sleep(ms(5));
            tx.send("contact").unwrap();
            std::thread::sleep(ms(5));
            // Keeps the sender alive a little after: the listener must not need the close.
            drop(tx);
        });
        assert!(matches!(sched.run().unwrap(), RunOutcome::Finished));
        assert!(started.elapsed() >= ms(5));
        assert_eq!(listener.join().unwrap().unwrap(), "contact");
        worker.join().unwrap();
    }
}

#[test]
fn the_receiver_is_closed_once_every_sender_is_gone_and_the_buffer_drained() {
    let _guard = hang_guard(LIMIT);
    let sched = support::scheduler();
    let (tx, rx) = sched.remote_channel::<u32>();
    let rx = Rc::new(rx);
    let r = rx.clone();
    let listener = sched
        .spawn(move || {
            let first = r.recv();
            let second = r.recv();
            let third = r.recv();
            (first, second, third)
        })
        .unwrap();
    let tx2 = tx.clone();
    drop(tx);
    std::thread::spawn(move || {
        tx2.send(1).unwrap();
        std::thread::sleep(ms(2));
        tx2.send(2).unwrap();
        // The last sender goes with the thread.
    })
    .join()
    .unwrap();
    sched.run().unwrap();
    let (first, second, third) = listener.join().unwrap();
    assert_eq!(first.unwrap(), 1);
    assert_eq!(second.unwrap(), 2);
    assert!(matches!(third, Err(ChannelError::Closed)));
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Closed)));

    // A receiver already waiting when the last sender goes is woken with Closed.
    let (tx, rx) = sched.remote_channel::<u32>();
    let waiting = sched.spawn(move || rx.recv()).unwrap();
    let worker = std::thread::spawn(move || {
        std::thread::sleep(ms(3));
        drop(tx);
    });
    sched.run().unwrap();
    worker.join().unwrap();
    assert!(matches!(waiting.join().unwrap(), Err(ChannelError::Closed)));
}

#[test]
fn a_send_after_the_receiver_is_dropped_returns_the_value() {
    let sched = manual();
    let (tx, rx) = sched.remote_channel::<String>();
    assert!(!tx.is_closed());
    drop(rx);
    assert!(tx.is_closed());
    let back = std::thread::spawn(move || tx.send(String::from("lost cargo")))
        .join()
        .unwrap();
    assert_eq!(back.unwrap_err(), "lost cargo");
}

#[test]
fn a_remote_receive_times_out_on_the_manual_clock_but_a_message_before_the_tick_wins() {
    let _guard = hang_guard(LIMIT);
    let sched = manual();
    let (tx, rx) = sched.remote_channel::<u32>();
    let rx = Rc::new(rx);
    let r = rx.clone();
    let t = sched.spawn(move || r.recv_timeout(ms(10))).unwrap();
    sched.run().unwrap();
    assert!(matches!(
        t.tasklet().blocked_on(),
        Some(BlockedOn::Receive(_))
    ));
    sched.advance(ms(10));
    sched.run().unwrap();
    assert!(matches!(t.join().unwrap(), Err(ChannelError::Timeout)));

    // The message lands (from another thread) before the tick that reaches the deadline:
    // the tick delivers it first, so the wait succeeds.
    let r = rx.clone();
    let t = sched.spawn(move || r.recv_timeout(ms(10))).unwrap();
    sched.run().unwrap();
    let tx2 = tx.clone();
    std::thread::spawn(move || tx2.send(42).unwrap())
        .join()
        .unwrap();
    sched.advance(ms(10));
    sched.run().unwrap();
    assert_eq!(t.join().unwrap().unwrap(), 42);
    assert_eq!(sched.timer_count(), 0);
    drop(tx);
}

#[test]
fn a_select_receives_from_a_remote_channel_fed_by_another_thread() {
    let _guard = hang_guard(LIMIT);
    let sched = support::scheduler();
    let (tx, rx) = sched.remote_channel::<u32>();
    let local = uthread::Channel::<u32>::new();
    let l = local.clone();
    let chooser = sched
        .spawn(move || {
            let mut got = Vec::new();
            loop {
                match select().recv(&rx, Some).recv(&l, |v| Some(v + 1000)).wait() {
                    Ok(v) => got.push(v.unwrap()),
                    Err(ChannelError::Closed) => break,
                    Err(e) => panic!("{e:?}"),
                }
            }
            got
        })
        .unwrap();
    let worker = std::thread::spawn(move || {
        for v in 0..20 {
            tx.send(v).unwrap();
            if v % 5 == 0 {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    });
    sched.run_for(uthread::Budget::Resumes(1)).unwrap();
    local.close(); // the local arm is closed; the select goes on with the remote one
    sched.run().unwrap();
    worker.join().unwrap();
    assert_eq!(chooser.join().unwrap(), (0..20).collect::<Vec<_>>());
}

#[test]
fn killing_a_remote_receiver_takes_it_off_and_the_next_one_is_served() {
    let sched = manual();
    let drops = Drops::new();
    let (tx, rx) = sched.remote_channel::<u32>();
    let rx = Rc::new(rx);
    let (r, d) = (rx.clone(), drops.clone());
    let victim = sched
        .spawn(move || {
            let _t = d.token();
            let _ = r.recv();
            unreachable!("killed while waiting");
        })
        .unwrap();
    // A timer keeps the manual-clock run from waiting on the live sender.
    let ticker = sched.spawn(|| uthread::sleep(ms(100))).unwrap();
    sched.run().unwrap();
    victim.tasklet().kill().unwrap();
    assert_eq!(drops.count(), 1);
    let r = rx.clone();
    let next = sched.spawn(move || r.recv()).unwrap();
    sched.run().unwrap();
    tx.send(5).unwrap();
    sched.tick();
    sched.run().unwrap();
    assert_eq!(next.join().unwrap().unwrap(), 5);
    ticker.tasklet().kill().unwrap();
}

#[test]
fn the_main_context_can_wait_on_a_remote_receiver() {
    let _guard = hang_guard(LIMIT);
    let sched = support::scheduler();
    let (tx, rx) = sched.remote_channel::<u32>();
    let worker = std::thread::spawn(move || {
        std::thread::sleep(ms(3));
        tx.send(8).unwrap();
    });
    assert_eq!(rx.recv().unwrap(), 8);
    worker.join().unwrap();
    assert!(matches!(rx.recv(), Err(ChannelError::Closed)));
}

#[test]
fn a_live_remote_sender_does_not_keep_run_waiting_when_nobody_waits_remotely() {
    let _guard = hang_guard(LIMIT);
    let sched = support::scheduler();
    // Main keeps a sender alive, but the only blocked tasklet waits on a local channel.
    let (_tx, _rx) = sched.remote_channel::<u8>();
    let local = uthread::Channel::<u8>::new();
    let rx = local.clone();
    sched.spawn(move || drop(rx.receive())).unwrap();
    match sched.run().unwrap() {
        RunOutcome::Deadlock(report) => {
            assert_eq!(report.blocked.len(), 1);
            assert!(matches!(report.blocked[0].1, BlockedOn::Receive(_)));
        }
        other => panic!("expected a deadlock report, got {other:?}"),
    }
    // Main feeds the channel itself: not a deadlock after all.
    local.send(7).unwrap();
    assert_eq!(sched.alive_count(), 0);
}

#[test]
fn a_manual_clock_run_with_a_remote_wait_returns_idle_instead_of_blocking() {
    let _guard = hang_guard(LIMIT);
    let sched = manual();
    let (tx, rx) = sched.remote_channel::<u8>();
    let t = sched.spawn(move || rx.recv().unwrap()).unwrap();
    // A frame driver's run must not block its thread waiting for another thread.
    assert!(matches!(sched.run().unwrap(), RunOutcome::Idle { .. }));
    tx.send(9).unwrap();
    sched.tick(); // the next frame drains remote messages
    sched.run().unwrap();
    assert_eq!(t.join().unwrap(), 9);
}
