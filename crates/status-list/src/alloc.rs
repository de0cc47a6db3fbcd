//! Index allocation for issuers: each new referenced token gets an unused index chosen
//! uniformly at random among the free ones, so neither the index nor the set of revoked
//! indices reveals the order in which tokens were issued (draft §12.4, §12.5.1), and no index
//! is ever handed out twice (draft §13.3).
//!
//! The allocator only tracks which indices are taken; the statuses live in the
//! [`StatusList`](crate::StatusList). Randomness is injected through [`RandomSource`];
//! [`SystemRandom`] is the operating system's generator.

use crate::error::AllocError;

/// A source of uniformly random 64-bit values.
pub trait RandomSource {
    /// The next random value; `Err` if the source cannot produce one.
    fn next_u64(&mut self) -> Result<u64, AllocError>;
}

impl<R: RandomSource + ?Sized> RandomSource for &mut R {
    fn next_u64(&mut self) -> Result<u64, AllocError> {
        (**self).next_u64()
    }
}

/// The operating system's cryptographically secure generator.
#[derive(Clone, Debug, Default)]
pub struct SystemRandom(jose::SystemRandom);

impl SystemRandom {
    /// The system generator.
    pub fn new() -> Self {
        Self::default()
    }
}

impl RandomSource for SystemRandom {
    fn next_u64(&mut self) -> Result<u64, AllocError> {
        FromRandom(&self.0).next_u64()
    }
}

/// Draws from any [`jose::Random`] (a role's injected generator).
#[derive(Debug)]
pub struct FromRandom<'a>(pub &'a dyn jose::Random);

impl RandomSource for FromRandom<'_> {
    fn next_u64(&mut self) -> Result<u64, AllocError> {
        let mut b = [0u8; 8];
        self.0.fill(&mut b).map_err(|_| AllocError::Random)?;
        Ok(u64::from_le_bytes(b))
    }
}

/// A uniform value in `0..n` (`n > 0`), without modulo bias.
fn below(rng: &mut dyn RandomSource, n: usize) -> Result<usize, AllocError> {
    let n64 = u64::try_from(n).map_err(|_| AllocError::Random)?;
    if n64 == 0 {
        return Err(AllocError::Random);
    }
    // Values below 2^64 mod n would make the low residues more likely: draw again. Each
    // draw is accepted with probability above 1/2, so a working source never gets near the
    // bound; a broken one (stuck at a rejected value) ends in an error, not a hang.
    let reject_below = n64.wrapping_neg() % n64;
    for _ in 0..128 {
        let x = rng.next_u64()?;
        if x >= reject_below {
            return usize::try_from(x % n64).map_err(|_| AllocError::Random);
        }
    }
    Err(AllocError::Random)
}

/// Random probes before falling back to a scan; with a list at most 1 − 2^-5 full, 32
/// probes fail with probability below 1/e.
const PROBES: usize = 32;

/// Tracks which indices of a list of `capacity` entries are allocated and hands out free
/// ones at random.
#[derive(Clone, PartialEq, Eq)]
pub struct IndexAllocator {
    capacity: usize,
    allocated: usize,
    used: Vec<u64>,
}

impl std::fmt::Debug for IndexAllocator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexAllocator")
            .field("capacity", &self.capacity)
            .field("allocated", &self.allocated)
            .finish()
    }
}

impl IndexAllocator {
    /// An allocator for a list of `capacity` entries, none allocated.
    pub fn new(capacity: usize) -> Result<Self, AllocError> {
        let words = capacity.div_ceil(64);
        let mut used = Vec::new();
        used.try_reserve_exact(words)
            .map_err(|_| AllocError::CapacityTooLarge(capacity))?;
        used.resize(words, 0);
        Ok(IndexAllocator {
            capacity,
            allocated: 0,
            used,
        })
    }

    /// An allocator that knows `allocated` are taken (e.g. rebuilt from storage).
    pub fn with_allocated(
        capacity: usize,
        allocated: impl IntoIterator<Item = usize>,
    ) -> Result<Self, AllocError> {
        let mut a = Self::new(capacity)?;
        for idx in allocated {
            a.mark_allocated(idx)?;
        }
        Ok(a)
    }

    /// Number of entries in the list.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Number of allocated indices.
    pub fn allocated(&self) -> usize {
        self.allocated
    }

    /// Number of free indices.
    pub fn remaining(&self) -> usize {
        self.capacity - self.allocated
    }

    fn slot(&self, idx: usize) -> Result<(usize, u64), AllocError> {
        if idx >= self.capacity {
            return Err(AllocError::IndexOutOfBounds {
                idx,
                len: self.capacity,
            });
        }
        Ok((idx / 64, 1u64 << (idx % 64)))
    }

    /// Whether `idx` is allocated (`false` outside the list).
    pub fn is_allocated(&self, idx: usize) -> bool {
        self.slot(idx)
            .ok()
            .and_then(|(w, bit)| self.used.get(w).map(|word| word & bit != 0))
            .unwrap_or(false)
    }

    /// Records `idx` as allocated; an index allocated before is an error.
    pub fn mark_allocated(&mut self, idx: usize) -> Result<(), AllocError> {
        let (w, bit) = self.slot(idx)?;
        let len = self.capacity;
        let word = self
            .used
            .get_mut(w)
            .ok_or(AllocError::IndexOutOfBounds { idx, len })?;
        if *word & bit != 0 {
            return Err(AllocError::AlreadyAllocated(idx));
        }
        *word |= bit;
        self.allocated += 1;
        Ok(())
    }

    /// Allocates a free index chosen uniformly at random.
    pub fn allocate(&mut self, rng: &mut dyn RandomSource) -> Result<usize, AllocError> {
        if self.remaining() == 0 {
            return Err(AllocError::Full {
                capacity: self.capacity,
            });
        }
        // Rejection sampling over all indices is uniform over the free ones and cheap
        // while the list is not nearly full.
        for _ in 0..PROBES {
            let idx = below(rng, self.capacity)?;
            if !self.is_allocated(idx) {
                self.mark_allocated(idx)?;
                return Ok(idx);
            }
        }
        // Nearly full: pick the k-th free index, which is just as uniform.
        let k = below(rng, self.remaining())?;
        let idx = self.nth_free(k).ok_or(AllocError::Full {
            capacity: self.capacity,
        })?;
        self.mark_allocated(idx)?;
        Ok(idx)
    }

    /// The `k`-th free index in ascending order.
    fn nth_free(&self, mut k: usize) -> Option<usize> {
        for (w, word) in self.used.iter().enumerate() {
            let base = w * 64;
            // Bits past the capacity in the last word are not indices.
            let valid = self.capacity.saturating_sub(base).min(64);
            let mask = if valid == 64 {
                u64::MAX
            } else {
                (1u64 << valid) - 1
            };
            let mut free = !word & mask;
            let n = free.count_ones() as usize;
            if k >= n {
                k -= n;
                continue;
            }
            for _ in 0..k {
                free &= free - 1;
            }
            return Some(base + free.trailing_zeros() as usize);
        }
        None
    }

    /// The allocated indices in ascending order (e.g. for storage).
    pub fn allocated_indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.used.iter().enumerate().flat_map(|(w, word)| {
            let mut bits = *word;
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                Some(w * 64 + b)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SplitMix64: a small deterministic generator for tests.
    struct TestRng(u64);

    impl RandomSource for TestRng {
        fn next_u64(&mut self) -> Result<u64, AllocError> {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            Ok(z ^ (z >> 31))
        }
    }

    struct Stuck(u64);

    impl RandomSource for Stuck {
        fn next_u64(&mut self) -> Result<u64, AllocError> {
            Ok(self.0)
        }
    }

    struct Broken;

    impl RandomSource for Broken {
        fn next_u64(&mut self) -> Result<u64, AllocError> {
            Err(AllocError::Random)
        }
    }

    #[test]
    fn allocates_every_index_once_then_reports_full() {
        for capacity in [1usize, 2, 63, 64, 65, 200] {
            let mut a = IndexAllocator::new(capacity).unwrap();
            let mut rng = TestRng(capacity as u64);
            let mut seen = vec![false; capacity];
            for _ in 0..capacity {
                let idx = a.allocate(&mut rng).unwrap();
                assert!(!seen[idx], "index {idx} handed out twice");
                seen[idx] = true;
            }
            assert!(seen.iter().all(|s| *s));
            assert_eq!(a.remaining(), 0);
            assert_eq!(a.allocate(&mut rng), Err(AllocError::Full { capacity }));
            assert_eq!(a.allocated_indices().count(), capacity);
        }
    }

    #[test]
    fn allocation_order_is_not_sequential() {
        let mut a = IndexAllocator::new(1 << 16).unwrap();
        let mut rng = TestRng(7);
        let got: Vec<usize> = (0..16).map(|_| a.allocate(&mut rng).unwrap()).collect();
        let mut sorted = got.clone();
        sorted.sort_unstable();
        assert_ne!(got, sorted, "indices came out in ascending order: {got:?}");
        assert!(got.iter().any(|i| *i > 1 << 12), "{got:?}");
    }

    #[test]
    fn allocation_is_roughly_uniform() {
        // 4000 single allocations from a list of 8 with index 3 taken: each of the 7 free
        // indices should come up about 571 times.
        let mut rng = TestRng(42);
        let mut counts = [0usize; 8];
        for _ in 0..4000 {
            let mut a = IndexAllocator::with_allocated(8, [3]).unwrap();
            counts[a.allocate(&mut rng).unwrap()] += 1;
        }
        assert_eq!(counts[3], 0);
        for (i, c) in counts.iter().enumerate().filter(|(i, _)| *i != 3) {
            assert!((450..700).contains(c), "index {i}: {c} {counts:?}");
        }
    }

    #[test]
    fn nearly_full_list_falls_back_to_scan() {
        // Only index 100 is free: probes almost surely miss, the scan finds it.
        let mut a = IndexAllocator::with_allocated(130, (0..130).filter(|i| *i != 100)).unwrap();
        assert_eq!(a.allocate(&mut TestRng(1)).unwrap(), 100);
    }

    #[test]
    fn rejects_double_allocation() {
        let mut a = IndexAllocator::new(10).unwrap();
        a.mark_allocated(4).unwrap();
        assert!(a.is_allocated(4));
        assert_eq!(a.mark_allocated(4), Err(AllocError::AlreadyAllocated(4)));
        assert_eq!(
            IndexAllocator::with_allocated(10, [1, 2, 1]),
            Err(AllocError::AlreadyAllocated(1))
        );
        assert_eq!(a.allocated(), 1);
    }

    #[test]
    fn rejects_index_outside_allocator() {
        let mut a = IndexAllocator::new(10).unwrap();
        assert_eq!(
            a.mark_allocated(10),
            Err(AllocError::IndexOutOfBounds { idx: 10, len: 10 })
        );
        assert!(!a.is_allocated(10));
    }

    #[test]
    fn rejects_empty_allocator() {
        let mut a = IndexAllocator::new(0).unwrap();
        assert_eq!(
            a.allocate(&mut TestRng(0)),
            Err(AllocError::Full { capacity: 0 })
        );
    }

    #[test]
    fn rejects_broken_random_source() {
        let mut a = IndexAllocator::new(10).unwrap();
        assert_eq!(a.allocate(&mut Broken), Err(AllocError::Random));
        // 0 is below 2^64 mod 10 = 6 and is always rejected: an error, not a hang.
        assert_eq!(a.allocate(&mut Stuck(0)), Err(AllocError::Random));
        assert_eq!(a.allocated(), 0);
    }

    #[test]
    fn rejects_absurd_capacity() {
        assert_eq!(
            IndexAllocator::new(usize::MAX),
            Err(AllocError::CapacityTooLarge(usize::MAX))
        );
    }

    #[test]
    fn system_random_allocates() {
        let mut a = IndexAllocator::new(1000).unwrap();
        let mut rng = SystemRandom::new();
        let i = a.allocate(&mut rng).unwrap();
        assert!(i < 1000 && a.is_allocated(i));
    }
}
