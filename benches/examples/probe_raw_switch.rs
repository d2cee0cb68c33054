//! Instruction-count probe for the floor under `switch_cost`: one bare corosensei
//! coroutine resumed and suspended N times (`valgrind --tool=callgrind ... N`).
//! Build it with `cargo build --release -p benches --examples`.
use corosensei::{Coroutine, CoroutineResult};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let mut co = Coroutine::new(move |yielder, ()| {
        for _ in 0..n {
            yielder.suspend(());
        }
    });
    let mut count = 0u64;
    while let CoroutineResult::Yield(()) = co.resume(()) {
        count += 1;
    }
    println!("{count} round trips");
}
