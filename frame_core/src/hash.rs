//! A stable hasher for determinism checks: the same bytes hash the same in every run
//! and on every platform.

use std::hash::Hasher;

/// FNV-1a, 64 bits: a hasher whose output depends only on the bytes written (no random
/// keys, integers written little-endian), so the same world hashes the same in every run
/// and on every platform.
///
/// # Examples
///
/// ```
/// use std::hash::{Hash, Hasher};
/// let mut a = frame_core::StableHasher::new();
/// let mut b = frame_core::StableHasher::new();
/// (1u32, "x").hash(&mut a);
/// (1u32, "x").hash(&mut b);
/// assert_eq!(a.finish(), b.finish());
/// ```
#[derive(Clone, Debug)]
pub struct StableHasher {
    state: u64,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl StableHasher {
    /// A hasher in its initial state.
    pub fn new() -> StableHasher {
        StableHasher { state: FNV_OFFSET }
    }
}

impl Default for StableHasher {
    fn default() -> Self {
        StableHasher::new()
    }
}

impl Hasher for StableHasher {
    fn finish(&self) -> u64 {
        self.state
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.state = (self.state ^ u64::from(b)).wrapping_mul(FNV_PRIME);
        }
    }

    fn write_u16(&mut self, i: u16) {
        self.write(&i.to_le_bytes());
    }

    fn write_u32(&mut self, i: u32) {
        self.write(&i.to_le_bytes());
    }

    fn write_u64(&mut self, i: u64) {
        self.write(&i.to_le_bytes());
    }

    fn write_u128(&mut self, i: u128) {
        self.write(&i.to_le_bytes());
    }

    fn write_usize(&mut self, i: usize) {
        // usize differs in width across platforms; hash it as 64 bits everywhere.
        self.write_u64(i as u64);
    }
}
