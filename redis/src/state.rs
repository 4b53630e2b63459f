//! What a stream's reader, its keeper and the thread's receipts share: the entries held
//! (delivered, or waiting for another attempt), the work owed to Redis (acks, retries,
//! dead letters, releases), the counts, and whether the thread stops.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use threadward_runtime::{BoxError, Receipt, SourceCounts};

/// The settings of a stream's consumer that its parts read.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) prefetch: usize,
    pub(crate) max_attempts: u32,
    pub(crate) max_deliveries: u32,
    pub(crate) retry_backoff: Duration,
    pub(crate) claim_idle: Duration,
    pub(crate) end_on_error: bool,
}

/// What is owed to Redis for one entry.
#[derive(Debug)]
pub(crate) enum Owed {
    /// Handled: acknowledge and delete it.
    Ack(String),
    /// Failed in `handle`: deliver it again at `due`, as delivery `delivery`.
    Retry {
        id: String,
        due: Instant,
        delivery: u32,
    },
    /// Attempts used up, or unreadable: move it to the dead-letter stream.
    DeadLetter {
        id: String,
        error: String,
        deliveries: u32,
    },
    /// Not handled here: make it available to other consumers at once.
    Release(String),
}

/// The mutable part of the shared state.
// Independent flags, each set once by one party and read under the same lock.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Default)]
pub(crate) struct Inner {
    /// Entries taken and not settled: their delivery counts.
    pub(crate) held: HashMap<String, u32>,
    pub(crate) owed: Vec<Owed>,
    /// Entries handled whose acknowledgement Redis has not confirmed yet.
    pub(crate) acks_owed: u64,
    /// Whether the reader waits in Redis (then the keeper acknowledges what is owed).
    pub(crate) reading: bool,
    pub(crate) stopping: bool,
    pub(crate) halted: bool,
    /// The reader ended.
    pub(crate) reader_done: bool,
    /// The keeper ended.
    pub(crate) keeper_done: bool,
    /// The thread's end stopped waiting for Redis: the keeper ends too.
    pub(crate) given_up: bool,
    /// The client id of the reader's connection, for `CLIENT UNBLOCK`.
    pub(crate) reader_client: Option<i64>,
    /// The reader connected again: the keeper reads this consumer's own pending
    /// entries, to deliver what a lost read took.
    pub(crate) reread: bool,
    /// The last claims found more than there was room for: claim again once there is.
    pub(crate) claim_more: bool,
    /// The thread ended: the keeper settles what is owed and ends.
    pub(crate) closing: bool,
    pub(crate) connected: bool,
    pub(crate) counts: SourceCounts,
    pub(crate) pending: Option<u64>,
    pub(crate) lag: Option<u64>,
}

/// Shared by the reader, the keeper and the receipts.
#[derive(Debug)]
pub(crate) struct State {
    inner: Mutex<Inner>,
    /// The reader waits here for room (an entry settled) or the stop.
    pub(crate) room: Condvar,
    /// The keeper waits here for work.
    pub(crate) work: Condvar,
    /// `close` waits here for the reader and the keeper to end.
    pub(crate) ended: Condvar,
    pub(crate) limits: Limits,
}

impl State {
    pub(crate) fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Inner {
                connected: true,
                ..Inner::default()
            }),
            room: Condvar::new(),
            work: Condvar::new(),
            ended: Condvar::new(),
            limits,
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Owes `owed`, and wakes whoever pays it: the reader if it can carry acks with its
    /// next read, the keeper otherwise.
    pub(crate) fn owe(&self, owed: Owed) {
        let mut inner = self.lock();
        let ack = matches!(owed, Owed::Ack(_));
        inner.acks_owed += u64::from(ack);
        inner.owed.push(owed);
        let reader_pays = ack && !inner.reading && !inner.stopping && !inner.reader_done;
        // The reader carries the acks with its next read: woken once it would read.
        let read = reader_pays && self.room(&inner).is_some();
        let claim = inner.claim_more;
        drop(inner);
        if read {
            self.room.notify_all();
        }
        if !reader_pays || claim {
            self.work.notify_all();
        }
    }

    /// How many entries the reader may read now, if it should: once at least half the
    /// prefetch is free (the acks it would carry count as free), so that reads come in
    /// batches and not one per settled entry.
    pub(crate) fn room(&self, inner: &Inner) -> Option<usize> {
        let acks = inner
            .owed
            .iter()
            .filter(|owed| matches!(owed, Owed::Ack(_)))
            .count();
        let unsettled = inner.held.len().saturating_sub(acks);
        let free = self.limits.prefetch.saturating_sub(unsettled);
        (free >= (self.limits.prefetch / 2).max(1)).then_some(free)
    }

    /// Stops taking entries: the thread takes no more work.
    pub(crate) fn stop(&self) {
        self.lock().stopping = true;
        self.wake_all();
    }

    pub(crate) fn wake_all(&self) {
        self.room.notify_all();
        self.work.notify_all();
        self.ended.notify_all();
    }

    /// The backoff before delivery `delivery` (the second is the first retry): doubling
    /// from `retry_backoff`, up to 32 times it, each drawn between half and all of it.
    pub(crate) fn backoff(&self, delivery: u32) -> Duration {
        let doublings = delivery.saturating_sub(2).min(5);
        jittered(self.limits.retry_backoff.saturating_mul(1 << doublings))
    }
}

/// Between half and all of `full`.
pub(crate) fn jittered(full: Duration) -> Duration {
    let half = full / 2;
    let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    half + Duration::from_nanos(jitter() % nanos.saturating_add(1))
}

/// A number that differs between calls and processes (no dependency for it).
fn jitter() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    hasher.finish()
}

/// The receipt of one delivered entry.
pub(crate) struct EntryReceipt {
    pub(crate) state: Arc<State>,
    pub(crate) id: String,
    /// Which delivery of the entry this is (1 for the first).
    pub(crate) delivery: u32,
    pub(crate) told: bool,
}

impl Receipt for EntryReceipt {
    fn handled(mut self: Box<Self>, result: Result<(), BoxError>) -> Result<(), BoxError> {
        self.told = true;
        let id = std::mem::take(&mut self.id);
        let error = match result {
            Ok(()) => {
                self.state.owe(Owed::Ack(id));
                return Ok(());
            }
            Err(error) => error,
        };
        let delivery = self.delivery;
        if delivery < self.state.limits.max_attempts {
            let due = Instant::now() + self.state.backoff(delivery + 1);
            self.state.lock().counts.retried += 1;
            self.state.owe(Owed::Retry {
                id,
                due,
                delivery: delivery + 1,
            });
        } else {
            self.state.owe(Owed::DeadLetter {
                id,
                error: error.to_string(),
                deliveries: delivery,
            });
        }
        if self.state.limits.end_on_error {
            Err(error)
        } else {
            Ok(())
        }
    }
}

impl Drop for EntryReceipt {
    fn drop(&mut self) {
        if self.told {
            return;
        }
        // Not handled to its end: a halt, the thread's end, or a panic in `handle`.
        // A running thread (restarted after the panic) gets it again, as its next
        // delivery; a stopping one gives it back.
        let id = std::mem::take(&mut self.id);
        let stopping = self.state.lock().stopping;
        if stopping {
            self.state.owe(Owed::Release(id));
        } else {
            let delivery = self.delivery + 1;
            let due = Instant::now() + self.state.backoff(delivery);
            self.state.owe(Owed::Retry { id, due, delivery });
        }
    }
}
