//! Shared pieces of the benchmarks (which live in `benches/`) and the `scaling` binary.

use uthread::StackStrategy;

/// Stack copying for the benchmark tasklets, which are measured on both strategies.
#[allow(unsafe_code, reason = "the benchmarks' opt-in to stack copying")]
pub fn copying_stacks() -> StackStrategy {
    // SAFETY: every benchmark body (a counter bump, a yield, a channel round trip, a
    // sleep) keeps no pointer into its tasklet's stack across a blocking call: nothing is
    // lent to another thread or tasklet, and no future is pinned on a tasklet's stack.
    unsafe { StackStrategy::copying() }
}
