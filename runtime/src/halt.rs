//! The cooperative halt: checkpoints, the `Halted` unwind, interruptible waits.
//!
//! `halt` sets a flag. Code on the thread calls [`checkpoint`] (or
//! [`Context::checkpoint`](crate::Context::checkpoint)) at points where stopping is safe;
//! once the flag is set, the next checkpoint unwinds out of `handle` with a [`Halted`]
//! payload (`std::panic::resume_unwind`: destructors run, no panic message is printed).
//! Every checkpoint records where and when it was passed, so a thread that cannot be
//! halted can be named in the shutdown report with the last place it was seen.

use std::cell::RefCell;
use std::fmt;
use std::panic::Location;
use std::ptr;
use std::sync::atomic::AtomicPtr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::stamp::Stamp;
use crate::sync::{AtomicBool, Ordering};

/// The payload a halted checkpoint unwinds with, and the error of
/// [`try_checkpoint`]. The run loop catches it and reports the thread as halted.
///
/// # Examples
///
/// ```
/// // Outside a managed thread nothing is ever halted.
/// assert_eq!(threadward::try_checkpoint(), Ok(()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the background thread was halted")]
pub struct Halted;

/// Where a thread last passed a checkpoint, and how long ago.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastCheckpoint {
    /// The source location of the checkpoint.
    pub location: &'static Location<'static>,
    /// How long ago it was passed (when the snapshot was taken).
    pub ago: Duration,
}

impl fmt::Display for LastCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{} ({:.1?} ago)",
            self.location.file(),
            self.location.line(),
            self.ago
        )
    }
}

/// The halt state of one thread.
#[derive(Debug)]
pub(crate) struct HaltState {
    /// When the thread started: checkpoint times are stored relative to it.
    pub(crate) started: Instant,
    halted: AtomicBool,
    /// Cleared while `shutdown` runs: a halted thread still gets to clean up.
    disarmed: AtomicBool,
    location: AtomicPtr<Location<'static>>,
    at: Stamp,
}

impl HaltState {
    pub(crate) fn new(started: Instant) -> Self {
        Self {
            started,
            halted: AtomicBool::new(false),
            disarmed: AtomicBool::new(false),
            location: AtomicPtr::new(ptr::null_mut()),
            at: Stamp::default(),
        }
    }

    /// Sets the flag; returns whether this call set it.
    pub(crate) fn halt(&self) -> bool {
        !self.halted.swap(true, Ordering::SeqCst)
    }

    pub(crate) fn is_halted(&self) -> bool {
        self.halted.load(Ordering::Relaxed)
    }

    pub(crate) fn disarm(&self) {
        self.disarmed.store(true, Ordering::Relaxed);
    }

    /// Arms the checkpoints again: for the fresh value of a restart.
    pub(crate) fn rearm(&self) {
        self.disarmed.store(false, Ordering::Relaxed);
    }

    /// Records the checkpoint and says whether it must unwind.
    #[inline]
    fn passes(&self, location: &'static Location<'static>) -> bool {
        self.location
            .store(ptr::from_ref(location).cast_mut(), Ordering::Relaxed);
        self.at.mark(self.started);
        self.is_halted() && !self.disarmed.load(Ordering::Relaxed)
    }

    /// Passes a checkpoint; unwinds with [`Halted`] if the thread was halted.
    #[inline]
    pub(crate) fn pass(&self, location: &'static Location<'static>) {
        if self.passes(location) {
            std::panic::resume_unwind(Box::new(Halted));
        }
    }

    /// Like [`pass`](Self::pass), returning the halt as an error.
    #[inline]
    pub(crate) fn try_pass(&self, location: &'static Location<'static>) -> Result<(), Halted> {
        if self.passes(location) {
            Err(Halted)
        } else {
            Ok(())
        }
    }

    pub(crate) fn last_checkpoint(&self) -> Option<LastCheckpoint> {
        let ago = self.at.ago(self.started)?;
        let location = self.location.load(Ordering::Relaxed);
        // SAFETY: the pointer is null or was made from a `&'static Location<'static>` in
        // `pass`; it is never written any other way, so it is valid for `'static`.
        #[allow(unsafe_code)]
        let location = unsafe { location.as_ref() }?;
        Some(LastCheckpoint { location, ago })
    }
}

thread_local! {
    /// The managed thread running on this OS thread, if any.
    static CURRENT: RefCell<Option<Arc<HaltState>>> = const { RefCell::new(None) };
}

/// Marks this OS thread as running the thread `halt` belongs to, for the free
/// [`checkpoint`] function.
pub(crate) fn set_current(halt: Arc<HaltState>) {
    CURRENT.with(|current| *current.borrow_mut() = Some(halt));
}

/// A checkpoint, from any depth of code: if the managed thread this runs on was halted,
/// unwinds out of `handle` (running destructors, printing nothing) and the thread ends
/// as halted. Records the caller's location, so a thread that never gets here again can
/// be named with the last place it was seen. Outside a managed thread it does nothing.
///
/// Costs a thread-local lookup, two relaxed stores and a clock read; put it where a
/// loop does real work per iteration, or use `#[checkpointed]`.
///
/// # Panics
///
/// Unwinds with a [`Halted`] payload when the thread was halted (this is not a panic:
/// no hook runs and nothing is printed). Under `panic = "abort"` unwinding is not
/// possible; use [`try_checkpoint`] there.
///
/// # Examples
///
/// ```
/// fn crunch(rows: &[u64]) -> u64 {
///     let mut sum = 0;
///     for row in rows {
///         threadward::checkpoint(); // haltable here when run on a managed thread
///         sum += row;
///     }
///     sum
/// }
/// assert_eq!(crunch(&[1, 2, 3]), 6);
/// ```
#[track_caller]
#[inline]
pub fn checkpoint() {
    if let Err(Halted) = try_checkpoint_at(Location::caller()) {
        std::panic::resume_unwind(Box::new(Halted));
    }
}

/// Like [`checkpoint`], returning `Err(Halted)` instead of unwinding: for `?`-style code
/// and for builds with `panic = "abort"`.
///
/// # Errors
///
/// [`Halted`] when the managed thread this runs on was halted.
///
/// # Examples
///
/// A library function that can be halted when a managed thread calls it, and runs to
/// its end anywhere else:
///
/// ```
/// fn checksum(blocks: &[Vec<u8>]) -> Result<u32, threadward::Halted> {
///     let mut sum = 0u32;
///     for block in blocks {
///         threadward::try_checkpoint()?;
///         sum = block.iter().fold(sum, |s, &b| s.wrapping_mul(31).wrapping_add(u32::from(b)));
///     }
///     Ok(sum)
/// }
///
/// // Outside a managed thread, nothing is ever halted.
/// assert!(checksum(&[vec![1, 2], vec![3]]).is_ok());
/// ```
#[track_caller]
#[inline]
pub fn try_checkpoint() -> Result<(), Halted> {
    try_checkpoint_at(Location::caller())
}

fn try_checkpoint_at(location: &'static Location<'static>) -> Result<(), Halted> {
    CURRENT.with(|current| match &*current.borrow() {
        Some(halt) => halt.try_pass(location),
        None => Ok(()),
    })
}
