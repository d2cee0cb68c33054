//! Cache prefetch hints: the pump asks for the next tasklets' records and stack frames
//! while the current one runs, so that with thousands of tasklets the memory latency of
//! a resume overlaps the slice before it instead of stalling the switch.
#![allow(unsafe_code, reason = "the prefetch intrinsic")]

/// One cache line on every x86-64 part we target.
pub(crate) const LINE: usize = 64;

/// Asks the CPU to bring `[start, start + len)` into the cache, one hint per line.
///
/// A hint only: it never faults and changes no program state, whatever the address, so
/// any address is fine (a stale one only wastes a little bandwidth).
#[inline]
pub(crate) fn prefetch_range(start: *const u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let first = start as usize & !(LINE - 1);
        let end = start as usize + len;
        let mut line = first;
        while line < end {
            // SAFETY: a prefetch is a hint with no effect on program state and never
            // faults, whatever the address. SSE, which it needs, is part of the x86-64
            // baseline.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line as *const i8) };
            line += LINE;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (start, len);
    }
}

/// Asks for the start of a reference-counted record: its counts and its first `bytes`
/// (records lay out the fields a switch touches first).
#[inline]
pub(crate) fn prefetch_record<T>(record: &std::rc::Rc<T>, bytes: usize) {
    /// The two counts in front of an `Rc`'s value.
    const COUNTS: usize = 2 * std::mem::size_of::<usize>();
    let value = std::rc::Rc::as_ptr(record).cast::<u8>();
    let len = std::mem::size_of::<T>().min(bytes) + COUNTS;
    prefetch_range(value.wrapping_sub(COUNTS), len);
}
