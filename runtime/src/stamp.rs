//! Moments in a thread's life, cheap enough to record on every checkpoint and wake-up.

use std::time::{Duration, Instant};

use crate::sync::{AtomicU64, Ordering};

/// A moment in a thread's life, stored in one atomic: nanoseconds after the thread
/// started, plus one (0: never). Written with a relaxed store.
#[derive(Debug, Default)]
pub(crate) struct Stamp(AtomicU64);

impl Stamp {
    #[inline]
    pub(crate) fn mark(&self, started: Instant) {
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
        self.0.store(nanos + 1, Ordering::Relaxed);
    }

    /// How long ago it was marked, if ever.
    pub(crate) fn ago(&self, started: Instant) -> Option<Duration> {
        let at = self.0.load(Ordering::Relaxed).checked_sub(1)?;
        Some(started.elapsed().saturating_sub(Duration::from_nanos(at)))
    }
}
