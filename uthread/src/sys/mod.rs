//! The only place with `unsafe` code: stacks, the coroutine wrapper, stack copying, the
//! overflow handler, and the watchdog thread's timer slack.
//!
//! Everything above this module is safe Rust. Each submodule opts in to `unsafe_code`
//! with a reason, and every `unsafe` block carries a `// SAFETY:` comment.

pub(crate) mod calibration;
pub(crate) mod copying;
pub(crate) mod fiber;
#[cfg(feature = "bench-internals")]
pub(crate) mod floor;
pub(crate) mod overflow;
pub(crate) mod prefetch;
pub(crate) mod stack;
pub(crate) mod switch;
pub(crate) mod timer_slack;
pub(crate) mod valgrind;
