//! Instruction-count probe for the spawn path: N times spawn a trivial tasklet on a
//! warmed-up scheduler, run it, join it (as `spawn/tasklet_pooled` does):
//! `valgrind --tool=callgrind target/release/examples/probe_spawn 10000`.
//! Build it with `cargo build --release -p benches --examples`.
fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let sched = uthread::Scheduler::new();
    let mut sum = 0u64;
    for i in 0..n {
        let handle = sched.spawn(move || i).unwrap();
        sched.run().unwrap();
        sum += handle.join().unwrap();
    }
    println!("{n} spawns, sum {sum}");
}
