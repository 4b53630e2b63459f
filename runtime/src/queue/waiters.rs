//! Threads blocked until a channel changes: the receiver waiting for an item, senders
//! waiting for room. They sleep in the kernel (a condition variable); nothing polls.
//!
//! The fast path of whoever changes the channel is one load: [`Waiters::notify`] locks
//! and wakes only when a waiter has announced itself. That is race-free because both
//! sides follow the same order: a waiter announces itself (a `SeqCst` increment and a
//! `SeqCst` fence), then looks at the channel again; a changer changes the channel (a
//! `SeqCst` read-modify-write or store), then looks for waiters (a `SeqCst` load).
//! Whichever comes second sees the other.
//!
//! With the `async` feature, a task can wait here too ([`Waiters::poll_wait`]): it
//! announces itself the same way and leaves its [`Waker`] in the list under the lock. A
//! notification takes wakers out of the list (one, or all) and wakes them; a waiting
//! future that was woken and is dropped unused passes its wake-up on, as a thread that
//! times out does.

use std::task::Waker;
use std::time::Instant;

use crate::sync::AtomicUsize;
use crate::sync::{fence, model_fence, Condvar, Mutex, MutexGuard, Ordering};

#[derive(Debug)]
pub(super) struct Waiters {
    /// Threads and tasks between announcing themselves and leaving the wait (a woken
    /// task has left: its notifier took it out).
    count: AtomicUsize,
    lock: Mutex<Tasks>,
    changed: Condvar,
}

/// Tasks waiting, in the order they came: a key each (held by the waiting future) and
/// the waker to wake.
#[derive(Debug, Default)]
struct Tasks {
    waiting: std::collections::VecDeque<(u64, Waker)>,
    #[cfg(feature = "async")]
    next_key: u64,
}

/// A waiting future's place in a [`Waiters`]' list: the key of its entry, from its
/// first `Pending` until it is ready. An entry no longer listed was taken out and woken.
#[cfg(feature = "async")]
#[derive(Debug, Default)]
pub(super) struct Place {
    key: Option<u64>,
}

#[cfg(feature = "async")]
impl Place {
    /// Whether it has waited (and not yet been ready).
    pub(super) fn has_waited(&self) -> bool {
        self.key.is_some()
    }
}

impl Waiters {
    pub(super) fn new() -> Self {
        Self {
            count: AtomicUsize::new(0),
            lock: Mutex::new(Tasks::default()),
            changed: Condvar::new(),
        }
    }

    fn tasks(&self) -> MutexGuard<'_, Tasks> {
        self.lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
        let mut guard = self.tasks();
        self.count.fetch_add(1, Ordering::SeqCst);
        // The announcement is ordered before every load of the re-check, whatever their
        // own ordering (a bounded queue's sender reads the tail relaxed): a change made
        // after it sees the count. Slow path only.
        fence(Ordering::SeqCst);
        let mut passed = None;
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
                        passed = self.pass_on(&mut guard, 1);
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
        if let Some(waker) = passed {
            waker.wake();
        }
        outcome
    }

    /// Polls a task's wait: `ready`'s value, or `Pending` with the task's waker left in
    /// the list (the same waker is not left twice). As in [`wait_until`](Self::wait_until),
    /// `ready` runs after the announcement and under the lock. The future that owns
    /// `place` must call [`leave`](Self::leave) when it is dropped.
    #[cfg(feature = "async")]
    pub(super) fn poll_wait<R>(
        &self,
        place: &mut Place,
        waker: &Waker,
        ready: impl FnOnce() -> Option<R>,
    ) -> std::task::Poll<R> {
        let mut tasks = self.tasks();
        let listed = place
            .key
            .and_then(|key| tasks.waiting.iter_mut().find(|(listed, _)| *listed == key));
        if let Some((_, listed)) = listed {
            listed.clone_from(waker);
        } else {
            // New, or taken out (and uncounted) by a notification.
            self.count.fetch_add(1, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            let key = tasks.next_key;
            tasks.next_key += 1;
            tasks.waiting.push_back((key, waker.clone()));
            place.key = Some(key);
        }
        match ready() {
            Some(outcome) => {
                self.unlist(&mut tasks, place);
                std::task::Poll::Ready(outcome)
            }
            None => std::task::Poll::Pending,
        }
    }

    /// Takes a waiting future out of the list when it is dropped before it was ready. A
    /// wake-up it was given and did not use is passed on.
    #[cfg(feature = "async")]
    pub(super) fn leave(&self, place: &mut Place) {
        if place.key.is_none() {
            return;
        }
        let mut tasks = self.tasks();
        if !self.unlist(&mut tasks, place) {
            // Woken, and gone before it looked.
            let passed = self.pass_on(&mut tasks, 0);
            drop(tasks);
            if let Some(waker) = passed {
                waker.wake();
            }
        }
    }

    /// Removes `place`'s entry, if it is still listed, and uncounts it; returns whether
    /// it was listed.
    #[cfg(feature = "async")]
    fn unlist(&self, tasks: &mut Tasks, place: &mut Place) -> bool {
        let Some(key) = place.key.take() else {
            return false;
        };
        let before = tasks.waiting.len();
        tasks.waiting.retain(|(listed, _)| *listed != key);
        let listed = tasks.waiting.len() != before;
        if listed {
            self.count.fetch_sub(1, Ordering::SeqCst);
        }
        listed
    }

    /// How many threads sleep on the condition variable: those counted while nobody
    /// holds the lock (a waiter holds it from its count to its sleep), less the tasks.
    #[cfg(all(test, not(loom)))]
    pub(super) fn asleep(&self) -> usize {
        self.lock.try_lock().map_or(0, |tasks| {
            self.count.load(Ordering::SeqCst) - tasks.waiting.len()
        })
    }

    /// How many tasks wait.
    #[cfg(all(test, not(loom), feature = "async"))]
    pub(super) fn tasks_waiting(&self) -> usize {
        self.tasks().waiting.len()
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

    /// Wakes one waiter of each kind: a thread and a task; called after a change that one
    /// waiter can use (the room one received item made). A woken waiter that cannot use
    /// it waits again, and the next change wakes another; one that leaves at its
    /// deadline, or is dropped, passes its wake-up on. (Both kinds are woken because a
    /// counted thread may be one already woken that has not yet taken the lock back:
    /// the count cannot tell whether a sleeping thread is left to take the change.)
    #[inline]
    pub(super) fn notify_one(&self) {
        model_fence();
        if self.count.load(Ordering::SeqCst) != 0 {
            self.wake(false);
        }
    }

    #[cold]
    fn wake(&self, all: bool) {
        // Taken so that a waiter between its check and its sleep is not missed: it holds
        // the lock until the condition variable releases it, so once the lock is had,
        // every counted waiter sleeps, is a listed task, or has left. The notification
        // comes after the release, so the woken thread does not wait for this lock.
        let mut tasks = self.tasks();
        let threads = self.count.load(Ordering::SeqCst) - tasks.waiting.len();
        // Taken out without allocating: all the tasks (the list itself), or one.
        let (every, one) = if all {
            (std::mem::take(&mut tasks.waiting), None)
        } else {
            (std::collections::VecDeque::new(), self.take_one(&mut tasks))
        };
        if !every.is_empty() {
            self.count.fetch_sub(every.len(), Ordering::SeqCst);
        }
        drop(tasks);
        for (_, waker) in every {
            waker.wake();
        }
        if let Some(waker) = one {
            waker.wake();
        }
        // Only threads sleep on the condition variable: no system call without one.
        match (threads, all) {
            (0, _) => {}
            (_, true) => self.changed.notify_all(),
            (_, false) => self.changed.notify_one(),
        }
    }

    /// Passes a wake-up on, from a waiter that leaves without using it and holds the
    /// lock: to a thread at once, and to a task through the waker returned, to be woken
    /// once the lock is released. `leaving` is 1 if it is a thread still counted.
    #[must_use = "the task's waker must be woken"]
    fn pass_on(&self, tasks: &mut Tasks, leaving: usize) -> Option<Waker> {
        let threads = self.count.load(Ordering::SeqCst) - tasks.waiting.len() - leaving;
        if threads != 0 {
            self.changed.notify_one();
        }
        self.take_one(tasks)
    }

    /// Takes the first listed task out, uncounted, for waking.
    fn take_one(&self, tasks: &mut Tasks) -> Option<Waker> {
        let (_, waker) = tasks.waiting.pop_front()?;
        self.count.fetch_sub(1, Ordering::SeqCst);
        Some(waker)
    }
}
