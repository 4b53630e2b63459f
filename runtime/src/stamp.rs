//! Moments in a thread's life, cheap enough to record on every checkpoint and wake-up.

use std::time::{Duration, Instant};

use crate::sync::{AtomicU64, Ordering};

/// A moment in a thread's life, stored in one atomic: nanoseconds after the thread
/// started, plus one (0: never). Written with a relaxed store. The top bit is a flag
/// kept beside it (the wake-up stamp's: the thread sleeps now, waiting for work).
#[derive(Debug, Default)]
pub(crate) struct Stamp(AtomicU64);

/// The flag bit; 2^63 ns is 292 years, so no moment reaches it.
const FLAG: u64 = 1 << 63;

impl Stamp {
    /// Marks now, and clears the flag.
    #[inline]
    pub(crate) fn mark(&self, started: Instant) {
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(FLAG - 2);
        self.0.store(nanos.min(FLAG - 2) + 1, Ordering::Relaxed);
    }

    /// How long ago it was marked, if ever.
    pub(crate) fn ago(&self, started: Instant) -> Option<Duration> {
        let at = (self.0.load(Ordering::Relaxed) & !FLAG).checked_sub(1)?;
        Some(started.elapsed().saturating_sub(Duration::from_nanos(at)))
    }

    /// Sets or clears the flag, keeping the moment.
    pub(crate) fn flag(&self, on: bool) {
        if on {
            self.0.fetch_or(FLAG, Ordering::Relaxed);
        } else {
            self.0.fetch_and(!FLAG, Ordering::Relaxed);
        }
    }

    pub(crate) fn is_flagged(&self) -> bool {
        self.0.load(Ordering::Relaxed) & FLAG != 0
    }
}
