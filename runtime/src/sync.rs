//! The synchronisation primitives the queue and the close protocol are built from:
//! std's, or loom's when the crate is built with `--cfg loom` to model-check them (see
//! `loom_models.rs`). `Arc` stays std's everywhere: loom's cannot hold a `dyn` value.

use std::cell::Cell;

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
#[cfg(loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{
    fence, AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
#[cfg(not(loom))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};

/// `std`'s `UnsafeCell` with loom's closure-based surface, so that one body of code
/// compiles against both (loom's tracks every access to find data races).
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Placed before a `SeqCst` load that must be ordered after an earlier `SeqCst`
/// read-modify-write or store of another location: the C++ memory model that Rust
/// follows orders them, but loom models `SeqCst` accesses as acquire/release only (it
/// does model `SeqCst` fences), so a model would report a missed wake-up that cannot
/// happen. Under loom this is that fence; otherwise nothing. (Where the real code needs
/// a fence, because the later load is not `SeqCst`, it has a real one.)
#[inline(always)]
pub(crate) fn model_fence() {
    #[cfg(loom)]
    fence(Ordering::SeqCst);
}

#[cfg(not(loom))]
pub(crate) fn yield_now() {
    std::thread::yield_now();
}

#[cfg(loom)]
pub(crate) fn yield_now() {
    loom::thread::yield_now();
}

/// Exponential back-off for a short wait on another thread: spin, then yield. Under loom
/// every step yields to the model's scheduler, which a spin would never reach.
#[derive(Debug)]
pub(crate) struct Backoff {
    step: Cell<u32>,
}

const SPIN_LIMIT: u32 = 6;
const YIELD_LIMIT: u32 = 10;

impl Backoff {
    pub(crate) const fn new() -> Self {
        Self { step: Cell::new(0) }
    }

    /// Backs off in a lock-free retry loop that another thread made fail.
    #[inline]
    pub(crate) fn spin(&self) {
        if cfg!(loom) {
            yield_now();
        } else {
            for _ in 0..1u32 << self.step.get().min(SPIN_LIMIT) {
                std::hint::spin_loop();
            }
        }
        if self.step.get() <= SPIN_LIMIT {
            self.step.set(self.step.get() + 1);
        }
    }

    /// Backs off while waiting for another thread to finish a step: spinning at first,
    /// then yielding the processor.
    pub(crate) fn snooze(&self) {
        if cfg!(loom) || self.step.get() > SPIN_LIMIT {
            yield_now();
        } else {
            for _ in 0..1u32 << self.step.get() {
                std::hint::spin_loop();
            }
        }
        if self.step.get() <= YIELD_LIMIT {
            self.step.set(self.step.get() + 1);
        }
    }

    /// Whether waiting any longer should block instead. At once under loom: a model
    /// yields to every other thread on each step, so a back-off before blocking would
    /// hide from it the interleavings where the thread does block.
    pub(crate) fn is_completed(&self) -> bool {
        cfg!(loom) || self.step.get() > YIELD_LIMIT
    }
}
