//! The `#[preemptible]` attribute of the `uthread` crate: a preempt point at every loop
//! back-edge of a function, so that uthread's hard watchdog can interrupt it while it
//! spins.
//!
//! Use it through uthread, as `#[uthread::preemptible]`; the attribute's own docs say
//! what it covers and what it cannot.

mod expand;
mod points;

use proc_macro::TokenStream;

/// Makes a function preemptible by uthread's hard watchdog: puts a call to
/// `uthread::preempt_point()` first in the body of every `loop`, `while`, `while let` and
/// `for` of the function, so every iteration checks, wherever it `continue`s from.
///
/// A spinning loop that makes no uthread call cannot otherwise be interrupted: native
/// code has no safe point to stop at but the ones it calls. With the attribute, a run
/// under a hard watchdog (`Scheduler::run_watchdog(Watchdog::per_slice(limit))`, or
/// `Watchdog::total`) takes the tasklet out of the run queue at the first iteration after
/// its deadline and returns `RunOutcome::Interrupted { tasklet, removed: true }`: the
/// tasklet is paused where it was, and `tasklet.insert()` lets a later run carry on from
/// there. Atomic tasklets (`uthread::set_atomic(true)`, `Builder::atomic(true)`) are never
/// interrupted, and outside a tasklet (the main context, another thread) a point does
/// nothing, so an annotated function can be called from anywhere.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uthread::{RunOutcome, Scheduler, Watchdog};
///
/// /// The longest Collatz chain below `limit`: plain arithmetic, no uthread call.
/// #[uthread::preemptible]
/// fn longest_chain(limit: u64) -> (u64, u32) {
///     let mut best = (1, 0);
///     for start in 1..limit {
///         let (mut n, mut steps) = (start, 0);
///         while n != 1 {
///             n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
///             steps += 1;
///         }
///         if steps > best.1 {
///             best = (start, steps);
///         }
///     }
///     best
/// }
///
/// let sched = Scheduler::new();
/// let chain = sched.spawn(|| longest_chain(10_000)).unwrap();
/// let mut interruptions = 0;
/// loop {
///     match sched.run_watchdog(Watchdog::per_slice(Duration::from_millis(1))).unwrap() {
///         // Interrupted at a loop iteration: paused, out of the queue. Carry on later.
///         RunOutcome::Interrupted { tasklet, removed: true } => {
///             interruptions += 1;
///             tasklet.insert().unwrap();
///         }
///         RunOutcome::Finished => break,
///         other => panic!("{other:?}"),
///     }
/// }
/// assert_eq!(chain.join().unwrap(), (6_171, 261));
/// println!("finished after {interruptions} interruptions");
/// ```
///
/// It works on methods too, in impl blocks and as a trait's default body:
///
/// ```
/// struct Counter(u64);
///
/// impl Counter {
///     #[uthread::preemptible]
///     fn count_to(&mut self, n: u64) {
///         while self.0 < n {
///             self.0 += 1;
///         }
///     }
/// }
/// # let mut c = Counter(0);
/// # c.count_to(10);
/// # assert_eq!(c.0, 10);
/// ```
///
/// # What gets a point
///
/// Every loop in the function's body, however deeply nested: in blocks, `match` arms,
/// `let ... else`, loop conditions, and in the closures and async blocks written in the
/// body (their loops run on the function's behalf, as iterator callbacks or spawned
/// tasklets). Labelled loops too: a `continue 'outer` starts the outer body again, whose
/// first statement is its point. A loop that never iterates pays nothing.
///
/// # Limits
///
/// The points are where the attribute can see loops; anything else runs unchecked:
///
/// - **Calls into code that is not annotated.** A helper function, a library routine, or
///   an iterator adapter's own loop (`(0..n).map(f).sum()`, `v.sort()`) runs to its end
///   without a check. Annotate your helpers, write long iterator chains as `for` loops,
///   or call `uthread::preempt_point()` inside the closure.
/// - **Blocking system calls.** A tasklet inside the kernel (`std::thread::sleep`, a
///   blocking read, waiting on an OS mutex) holds the whole scheduler's thread, and
///   nothing in the process can interrupt it safely. Use uthread's own waits instead
///   (`uthread::sleep`, channels, its locks): they are switch points already.
/// - **Recursion without a loop** gets no point: call `uthread::preempt_point()` first in
///   the recursive function.
/// - **Functions declared inside the body** (and impl blocks, modules) are items of their
///   own: they get points only where they carry the attribute themselves.
/// - **Loops written inside macro invocations** (`my_macro!(loop { ... })`) are tokens to
///   the attribute, not loops, and get no point.
/// - **Const contexts** (`const { ... }`, array lengths, const generic arguments) run at
///   compile time and get no point; a `const fn` is refused.
///
/// # Options
///
/// `#[preemptible(crate = "path")]` names where the `uthread` crate is, for a crate that
/// renamed or re-exported it: the points call `path::preempt_point()` instead of
/// `::uthread::preempt_point()`.
///
/// # Errors
///
/// A compile error on anything but a fn with a body, on a `const fn`, and on unknown
/// options:
///
/// ```compile_fail
/// #[uthread::preemptible]
/// struct NotAFunction;
/// ```
///
/// ```compile_fail
/// #[uthread::preemptible]
/// const fn cannot_call_the_point() {}
/// ```
///
/// ```compile_fail
/// #[uthread::preemptible(fast)]
/// fn unknown_option() {}
/// ```
#[proc_macro_attribute]
pub fn preemptible(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::preemptible(args.into(), input.into()).into()
}
