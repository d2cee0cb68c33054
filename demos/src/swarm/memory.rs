//! Resident memory of this process, as the kernel counts it: the second field of
//! `/proc/self/statm` (resident pages) times the page size (from the auxiliary vector
//! the kernel handed the process, `/proc/self/auxv`, so no `unsafe` call is needed).

use std::fs;

/// `AT_PAGESZ` in the auxiliary vector: the system page size.
const AT_PAGESZ: u64 = 6;

/// Resident memory of this process in bytes, or `None` where `/proc` cannot tell
/// (not Linux).
///
/// # Examples
///
/// ```
/// if let Some(bytes) = demos::swarm::resident_bytes() {
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
