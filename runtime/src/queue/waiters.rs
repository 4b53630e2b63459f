//! Threads blocked until a channel changes: the receiver waiting for an item, senders
//! waiting for room. They sleep in the kernel (a condition variable); nothing polls.
//!
//! The fast path of whoever changes the channel is one load: [`Waiters::notify`] locks
//! and wakes only when a waiter has announced itself. That is race-free because both
//! sides follow the same order: a waiter announces itself (a `SeqCst` increment and a
//! `SeqCst` fence), then looks at the channel again; a changer changes the channel (a
//! `SeqCst` read-modify-write or store), then looks for waiters (a `SeqCst` load).
//! Whichever comes second sees the other.

use std::time::Instant;

use crate::sync::AtomicUsize;
use crate::sync::{fence, model_fence, Condvar, Mutex, Ordering};

#[derive(Debug)]
pub(super) struct Waiters {
    /// Threads between announcing themselves and leaving the wait.
    count: AtomicUsize,
    lock: Mutex<()>,
    changed: Condvar,
}

impl Waiters {
    pub(super) fn new() -> Self {
        Self {
            count: AtomicUsize::new(0),
            lock: Mutex::new(()),
            changed: Condvar::new(),
        }
    }

    /// Blocks until `ready` returns `Some`, and returns that; or, given a `deadline`,
    /// returns `None` once it passed. `ready` is first tried after announcing, so a
    /// change made before the announcement is seen. It runs under this set's lock, so
    /// it must not notify another set (a receiver and a sender doing so could each hold
    /// the lock the other waits for).
    pub(super) fn wait_until<R>(
        &self,
        deadline: Option<Instant>,
        mut ready: impl FnMut() -> Option<R>,
    ) -> Option<R> {
        let mut guard = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.count.fetch_add(1, Ordering::SeqCst);
        // The announcement is ordered before every load of the re-check, whatever their
        // own ordering (a bounded queue's sender reads the tail relaxed): a change made
        // after it sees the count. Slow path only.
        fence(Ordering::SeqCst);
        let outcome = loop {
            if let Some(outcome) = ready() {
                break Some(outcome);
            }
            match deadline {
                None => {
                    guard = self
                        .changed
                        .wait(guard)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
                // Loom has no clock: a model's deadline has always passed.
                Some(_) if cfg!(loom) => break None,
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        // A wake-up for one waiter may have come as the time ran out:
                        // it is passed on, since this waiter leaves without using it.
                        self.changed.notify_one();
                        break None;
                    }
                    guard = self
                        .changed
                        .wait_timeout(guard, deadline - now)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0;
                }
            }
        };
        self.count.fetch_sub(1, Ordering::SeqCst);
        drop(guard);
        outcome
    }

    /// How many threads sleep on the condition variable: those counted while nobody
    /// holds the lock (a waiter holds it from its count to its sleep).
    #[cfg(all(test, not(loom)))]
    pub(super) fn asleep(&self) -> usize {
        self.lock
            .try_lock()
            .map_or(0, |_guard| self.count.load(Ordering::SeqCst))
    }

    /// Wakes every waiter; called after a change that may be what they all wait for
    /// (an item for the one receiver, a close for everyone).
    #[inline]
    pub(super) fn notify(&self) {
        model_fence();
        if self.count.load(Ordering::SeqCst) != 0 {
            self.wake(true);
        }
    }

    /// Wakes one waiter; called after a change that one waiter can use (the room one
    /// received item made). A woken waiter that cannot use it waits again, and the next
    /// change wakes another; one that leaves at its deadline passes its wake-up on.
    #[inline]
    pub(super) fn notify_one(&self) {
        model_fence();
        if self.count.load(Ordering::SeqCst) != 0 {
            self.wake(false);
        }
    }

    #[cold]
    fn wake(&self, all: bool) {
        // Taken and released so that a waiter between its check and its sleep is not
        // missed: it holds the lock until the condition variable releases it, so once
        // the lock is had, every counted waiter sleeps or has left. The notification
        // comes after the release, so the woken thread does not wait for this lock.
        drop(
            self.lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if all {
            self.changed.notify_all();
        } else {
            self.changed.notify_one();
        }
    }
}
