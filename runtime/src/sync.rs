//! The synchronisation primitives the close protocol is built from: std's and
//! crossbeam's, or loom's when the crate is built with `--cfg loom` to model-check that
//! protocol (see `loom_models.rs`). `Arc` stays std's everywhere: loom's cannot hold a `dyn` value.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

/// The channel under a thread's queue.
#[cfg(not(loom))]
pub(crate) use crossbeam_channel as channel;

#[cfg(not(loom))]
pub(crate) fn yield_now() {
    std::thread::yield_now();
}

#[cfg(loom)]
pub(crate) fn yield_now() {
    loom::thread::yield_now();
}

/// A loom-visible stand-in for the crossbeam channel (which loom cannot see into), with
/// the same surface: enough to model-check the gate around it.
#[cfg(loom)]
#[allow(clippy::unwrap_used)] // a poisoned lock in a model is a failed model
#[allow(clippy::unnecessary_wraps)] // the same signatures as crossbeam's
pub(crate) mod channel {
    use std::collections::VecDeque;
    use std::sync::Arc;
    use std::time::Duration;

    use loom::sync::{Condvar, Mutex};

    pub(crate) struct SendError<T>(pub(crate) T);
    pub(crate) enum TrySendError<T> {
        Full(T),
        #[allow(dead_code)]
        Disconnected(T),
    }
    pub(crate) enum SendTimeoutError<T> {
        Timeout(T),
        #[allow(dead_code)]
        Disconnected(T),
    }

    struct Shared<T> {
        items: Mutex<VecDeque<T>>,
        changed: Condvar,
        capacity: Option<usize>,
    }

    pub(crate) struct Sender<T>(Arc<Shared<T>>);
    pub(crate) struct Receiver<T>(Arc<Shared<T>>);

    pub(crate) fn bounded<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
        channel(Some(capacity))
    }

    pub(crate) fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
        channel(None)
    }

    fn channel<T>(capacity: Option<usize>) -> (Sender<T>, Receiver<T>) {
        let shared = Arc::new(Shared {
            items: Mutex::new(VecDeque::new()),
            changed: Condvar::new(),
            capacity,
        });
        (Sender(Arc::clone(&shared)), Receiver(shared))
    }

    impl<T> Sender<T> {
        pub(crate) fn send(&self, item: T) -> Result<(), SendError<T>> {
            let mut items = self.0.items.lock().unwrap();
            while self.0.capacity.is_some_and(|c| items.len() >= c) {
                items = self.0.changed.wait(items).unwrap();
            }
            items.push_back(item);
            self.0.changed.notify_all();
            Ok(())
        }

        pub(crate) fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
            let mut items = self.0.items.lock().unwrap();
            if self.0.capacity.is_some_and(|c| items.len() >= c) {
                return Err(TrySendError::Full(item));
            }
            items.push_back(item);
            self.0.changed.notify_all();
            Ok(())
        }

        /// Loom has no clock: a timeout is modelled as an immediate one.
        pub(crate) fn send_timeout(&self, item: T, _: Duration) -> Result<(), SendTimeoutError<T>> {
            self.try_send(item).map_err(|e| match e {
                TrySendError::Full(item) | TrySendError::Disconnected(item) => {
                    SendTimeoutError::Timeout(item)
                }
            })
        }

        pub(crate) fn len(&self) -> usize {
            self.0.items.lock().unwrap().len()
        }
    }

    impl<T> Receiver<T> {
        pub(crate) fn try_recv(&self) -> Result<T, ()> {
            let mut items = self.0.items.lock().unwrap();
            let item = items.pop_front().ok_or(())?;
            self.0.changed.notify_all();
            Ok(item)
        }

        pub(crate) fn recv(&self) -> Result<T, ()> {
            let mut items = self.0.items.lock().unwrap();
            loop {
                if let Some(item) = items.pop_front() {
                    self.0.changed.notify_all();
                    return Ok(item);
                }
                items = self.0.changed.wait(items).unwrap();
            }
        }
    }
}
