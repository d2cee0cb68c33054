//! Instruction-count probe for channel round trips between two tasklets
//! (`valgrind --tool=callgrind target/release/examples/probe_pingpong N`).
//! Build it with `cargo build --release -p benches --examples`.
fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let sched = uthread::Scheduler::new();
    let (ping, pong) = (
        uthread::Channel::<u64>::new(),
        uthread::Channel::<u64>::new(),
    );
    let (ping2, pong2) = (ping.clone(), pong.clone());
    sched
        .spawn(move || {
            for i in 0..n {
                ping.send(i).unwrap();
                pong.receive().unwrap();
            }
        })
        .unwrap();
    sched
        .spawn(move || {
            for _ in 0..n {
                let v = ping2.receive().unwrap();
                pong2.send(v).unwrap();
            }
        })
        .unwrap();
    sched.run().unwrap();
    println!("{n} round trips");
}
