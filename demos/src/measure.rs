//! Measuring a run: percentiles of timings, and the resident memory of this process as
//! the kernel counts it. The skirmish, the swarm and the benchmarks share these.

use std::cmp::Ordering;
use std::fs;

/// `AT_PAGESZ` in the auxiliary vector: the system page size.
const AT_PAGESZ: u64 = 6;

/// The `p`-th percentile (0 to 100) of `values`, by nearest rank: the smallest value
/// that at least `p` percent of the values do not exceed. The default value (0) for no
/// values. Works for any partly ordered copyable values, `f64` and `Duration` among
/// them; values that compare with nothing (NaN) sort above all others.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use demos::measure::percentile;
///
/// assert_eq!(percentile(&[3.0, 1.0, 2.0, 4.0], 50.0), 2.0);
/// assert_eq!(percentile(&[3.0, 1.0, 2.0, 4.0], 100.0), 4.0);
/// assert_eq!(percentile::<f64>(&[], 99.0), 0.0);
/// let times = [Duration::from_millis(5), Duration::from_millis(1)];
/// assert_eq!(percentile(&times, 50.0), Duration::from_millis(1));
/// ```
pub fn percentile<T: Copy + Default + PartialOrd>(values: &[T], p: f64) -> T {
    if values.is_empty() {
        return T::default();
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(total_order);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of `values` (the 50th percentile by nearest rank).
///
/// # Examples
///
/// ```
/// assert_eq!(demos::measure::median(&[9, 1, 5]), 5);
/// ```
pub fn median<T: Copy + Default + PartialOrd>(values: &[T]) -> T {
    percentile(values, 50.0)
}

/// A total order over partly ordered values: those that compare with nothing, not even
/// themselves (NaN), come last and equal to each other. (Sorting with a comparison that
/// is not a total order may panic.)
fn total_order<T: PartialOrd>(a: &T, b: &T) -> Ordering {
    match a.partial_cmp(b) {
        Some(order) => order,
        None => {
            let unordered = |x: &T| x.partial_cmp(x).is_none();
            unordered(a).cmp(&unordered(b))
        }
    }
}

/// Resident memory of this process in bytes: the second field of `/proc/self/statm`
/// (resident pages) times the page size (from the auxiliary vector the kernel handed
/// the process, `/proc/self/auxv`, so no `unsafe` call is needed). `None` where `/proc`
/// cannot tell (not Linux).
///
/// # Examples
///
/// ```
/// if let Some(bytes) = demos::measure::resident_bytes() {
///     assert!(bytes > 0);
/// }
/// ```
pub fn resident_bytes() -> Option<u64> {
    let statm = fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

/// The page size from `/proc/self/auxv` (pairs of native-endian words: type, value),
/// 4 KiB if it cannot be read.
fn page_size() -> u64 {
    const WORD: usize = std::mem::size_of::<usize>();
    let Ok(auxv) = fs::read("/proc/self/auxv") else {
        return 4096;
    };
    auxv.chunks_exact(2 * WORD)
        .map(|pair| {
            let word = |bytes: &[u8]| {
                let mut buf = [0u8; WORD];
                buf.copy_from_slice(bytes);
                usize::from_ne_bytes(buf) as u64
            };
            (word(&pair[..WORD]), word(&pair[WORD..]))
        })
        .find(|&(kind, _)| kind == AT_PAGESZ)
        .map_or(4096, |(_, size)| size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), 50.0);
        assert_eq!(percentile(&values, 99.0), 99.0);
        assert_eq!(percentile(&values, 0.0), 1.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
    }

    #[test]
    fn nan_sorts_last_instead_of_breaking_the_sort() {
        let values = [f64::NAN, 2.0, 1.0, f64::NAN, 3.0];
        assert_eq!(percentile(&values, 20.0), 1.0);
        assert_eq!(percentile(&values, 60.0), 3.0);
        assert!(percentile(&values, 100.0).is_nan());
    }

    #[test]
    fn memory_grows_when_touched() {
        if resident_bytes().is_none() {
            return; // not Linux
        }
        assert!(page_size().is_power_of_two() && page_size() >= 4096);
        let before = resident_bytes().unwrap();
        // 64 MiB, every page written: resident memory must grow by most of it (other
        // tests in this process may free some meanwhile, hence the slack).
        let block = std::hint::black_box(vec![1u8; 64 << 20]);
        let after = resident_bytes().unwrap();
        assert!(after > before + (32 << 20), "{before} -> {after}");
        drop(block);
    }
}
