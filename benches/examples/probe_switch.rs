//! Instruction-count probe for the switch path: two tasklets taking turns with
//! `schedule()` N times each. Run under callgrind with two N to get the cost per switch:
//! `valgrind --tool=callgrind target/release/examples/probe_switch 100000`.
//! Build it with `cargo build --release -p benches --examples`.
fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let sched = uthread::Scheduler::new();
    for _ in 0..2 {
        sched
            .spawn(move || {
                for _ in 0..n {
                    uthread::schedule().unwrap();
                }
            })
            .unwrap();
    }
    sched.run().unwrap();
    println!("{} switches", 2 * n);
}
