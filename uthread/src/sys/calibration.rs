//! Calibration for stack copying: how far below the suspend mark a suspended fiber's
//! frames reach, measured once per process by running the real suspend path.
//!
//! [`switch::suspend_marked`] records the address of one of its locals and then switches;
//! everything the suspended fiber needs lies between its stack pointer and the stack base,
//! and its stack pointer is below the mark by a fixed distance (the rest of that frame,
//! corosensei's `Yielder::suspend` and the registers `switch_yield` pushes). That distance
//! is a property of the compiled binary (about 40 bytes in release builds, several hundred
//! in debug builds), so it is measured rather than guessed: a coroutine runs the suspend
//! path on a stack filled with a pattern, and the lowest byte that changed bounds the
//! stack pointer from below. Two patterns (a written byte may equal one of them) and
//! several caller depths (the figure must not depend on the callers); the largest
//! measurement plus a little slack is the margin.
#![allow(
    unsafe_code,
    reason = "fills and scans a calibration stack, and calls the suspend path directly"
)]

use std::ptr;
use std::sync::OnceLock;

use corosensei::stack::Stack;
use corosensei::{Coroutine, CoroutineResult, Yielder};

use super::stack::{round_stack_size, GuardedStack};
use super::switch::{self, FiberExit};
use super::valgrind;

/// Extra bytes copied below the calibrated bound (the bound is also rounded down to 16).
const MARGIN_SLACK: usize = 16;

/// The calibrated margin for this process (measured on first use).
pub(crate) fn suspend_margin() -> Result<usize, String> {
    static MARGIN: OnceLock<Result<usize, String>> = OnceLock::new();
    MARGIN.get_or_init(|| calibrate().map(|c| c.margin)).clone()
}

/// What the calibration measured (for the self-check test).
#[derive(Clone, Debug)]
pub(crate) struct Calibration {
    /// The margin in use: the largest measurement, plus slack, rounded up to 16.
    pub(crate) margin: usize,
    /// Each measurement: fill pattern, caller depth, bytes written below the mark.
    #[cfg_attr(not(test), allow(dead_code, reason = "read by the self-check test only"))]
    pub(crate) measurements: Vec<(u8, usize, usize)>,
}

/// Measures how far below its mark the suspend path writes, by running it on a stack
/// filled with a pattern, for two patterns and several caller depths.
///
/// # Errors
///
/// A description of what looked wrong (no stack, no mark, nothing written below it).
pub(crate) fn calibrate() -> Result<Calibration, String> {
    let mut stack =
        Some(GuardedStack::new(round_stack_size(32 * 1024)).map_err(|e| e.to_string())?);
    let mut measurements = Vec::new();
    for pattern in [0xa5u8, 0x5a] {
        for depth in [0, 1, 5] {
            let (margin, back) = measure_once(stack.take().expect("returned"), pattern, depth)?;
            stack = Some(back);
            measurements.push((pattern, depth, margin));
        }
    }
    let worst = measurements.iter().map(|m| m.2).max().unwrap_or(0);
    Ok(Calibration {
        margin: (worst + MARGIN_SLACK).next_multiple_of(16),
        measurements,
    })
}

/// One calibration run: returns the mark minus the lowest byte that changed, and the
/// stack for the next run.
fn measure_once(
    stack: GuardedStack,
    pattern: u8,
    depth: usize,
) -> Result<(usize, GuardedStack), String> {
    let (_, bottom) = stack.guard_range();
    let base = stack.base().get();
    // Under valgrind, the last run's dead frames are off limits until we say otherwise.
    valgrind::make_undefined(bottom, base - bottom);
    // SAFETY: `[bottom, base)` is the usable part of a mapping we own, below the header;
    // no coroutine runs on it (the previous run finished).
    unsafe { ptr::write_bytes(bottom as *mut u8, pattern, base - bottom) };
    // Fetched here rather than in the coroutine: a thread-local access there could run
    // (and leave dead frames) below the suspend path's frame and inflate the measurement.
    let slot = switch::mark_slot();
    let mut co = Coroutine::with_stack(stack, move |yielder: &Yielder<(), ()>, ()| {
        descend(depth, yielder, slot);
        FiberExit::Returned
    });
    switch::take_suspend_mark();
    let first = co.resume(());
    let mark = switch::take_suspend_mark();
    // The scan reads the suspended coroutine's stack from outside, dead bytes included.
    valgrind::make_defined(bottom, base - bottom);
    let lowest = lowest_change(bottom, base, pattern);
    let finished = matches!(co.resume(()), CoroutineResult::Return(_));
    let stack = co.into_stack();
    if !matches!(first, CoroutineResult::Yield(())) || !finished {
        return Err("the calibration coroutine did not suspend exactly once".into());
    }
    if mark == 0 || mark <= lowest || mark >= base {
        return Err(format!(
            "implausible suspend mark {mark:#x} (stack {bottom:#x}..{base:#x}, lowest write \
             {lowest:#x})"
        ));
    }
    Ok((mark - lowest, stack))
}

/// The lowest address in `[bottom, base)` whose byte is no longer `pattern`.
fn lowest_change(bottom: usize, base: usize, pattern: u8) -> usize {
    let word = usize::from_ne_bytes([pattern; size_of::<usize>()]);
    let mut at = bottom;
    // SAFETY: every address read lies in `[bottom, base)`, readable memory of a
    // suspended coroutine's stack that nothing writes while we look (this thread is here,
    // the coroutine is suspended); `bottom` and `base` are page- and 16-aligned, so the
    // word reads are aligned and in bounds. Volatile reads make no assumption about what
    // the coroutine left there.
    while at < base && unsafe { ptr::read_volatile(at as *const usize) } == word {
        at += size_of::<usize>();
    }
    // SAFETY: as above.
    while at < base && unsafe { ptr::read_volatile(at as *const u8) } == pattern {
        at += 1;
    }
    at
}

/// Calls the suspend path `depth` frames down, each frame holding a little data, to show
/// that the margin does not depend on the callers.
#[inline(never)]
fn descend(depth: usize, yielder: &Yielder<(), ()>, slot: *mut usize) {
    if depth == 0 {
        // SAFETY: `slot` is this thread's mark cell (we run on the thread that fetched
        // it), and `yielder` belongs to the calibration coroutine, which is running.
        unsafe { switch::suspend_marked(yielder, slot) };
    } else {
        let pad = std::hint::black_box([depth as u8; 96]);
        descend(depth - 1, yielder, slot);
        std::hint::black_box(pad);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_self_check() {
        let cal = calibrate().expect("calibration runs");
        eprintln!("stack copying calibration: {cal:?}");
        // The suspend path pushes at least RIP, RBX and RBP below its frame.
        assert!(cal.margin >= 24, "{cal:?}");
        assert!(cal.margin < 16 * 1024, "implausibly large margin: {cal:?}");
        assert_eq!(cal.margin % 16, 0, "{cal:?}");
        // The mark lives in the suspend path's own frame, so what is written below it cannot
        // depend on how deep the caller is: one figure per fill pattern, whatever the depth.
        for pattern in [0xa5, 0x5a] {
            let per_depth: Vec<usize> = cal
                .measurements
                .iter()
                .filter(|m| m.0 == pattern)
                .map(|m| m.2)
                .collect();
            assert!(per_depth.len() >= 2, "{cal:?}");
            assert!(
                per_depth.iter().all(|&m| m == per_depth[0]),
                "the margin depends on the caller: {cal:?}"
            );
            assert!(per_depth[0] < cal.margin, "{cal:?}");
        }
        // Calibrating again measures the same thing (the process-wide margin is reused).
        let again = calibrate().unwrap();
        assert_eq!(again.margin, cal.margin);
    }
}
