//! The task queue and its whole close protocol: what makes "nothing accepted is lost"
//! true.
//!
//! One channel carries everything a thread is sent (its tasks, and the calls and casts
//! of its handles), so the thread never `select!`s. In front of the channel stands a
//! [`Gate`]: one atomic word holding a `closed` bit and the number of items admitted so
//! far. A sender is admitted (one `fetch_add`) and pushes; a push that fails takes its
//! admission back. Once the gate is closed nobody is admitted, so the count is final,
//! and the receiving side ([`Inbox::next`]) drains until it has received that many
//! items. An item is thus either received or handed back to its sender: nothing is
//! dropped by closing, whatever senders are racing, and the hot path costs one atomic
//! operation.
//!
//! The queue knows nothing of threads: it moves items of any type `M`. The thread's
//! shared state closes it through the type-erased [`Closable`].

use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_utils::CachePadded;

use crate::sync::{yield_now, AtomicBool, AtomicUsize, Ordering};

use crate::sync::channel;

/// What travels through the channel: an admitted item, or the wake-up that a close
/// sends to a receiver blocked on an empty channel.
enum Slot<M> {
    Item(M),
    Wake,
}

/// The size of the slot an item of type `M` travels in.
#[cfg(all(test, not(loom)))]
pub(crate) fn slot_size<M>() -> usize {
    std::mem::size_of::<Slot<M>>()
}

const CLOSED: usize = 1 << (usize::BITS - 1);

/// The sender-side gate: a `closed` bit and the number of items admitted.
#[derive(Debug)]
struct Gate {
    state: AtomicUsize,
}

impl Gate {
    fn new() -> Self {
        Self {
            state: AtomicUsize::new(0),
        }
    }

    /// Admits one item, unless the gate is closed. The admission is kept by a
    /// successful push ([`Admitted::commit`]) and taken back if the guard is dropped.
    #[inline]
    fn admit(&self) -> Option<Admitted<'_>> {
        let previous = self.state.fetch_add(1, Ordering::SeqCst);
        if previous & CLOSED == 0 {
            Some(Admitted(self))
        } else {
            self.state.fetch_sub(1, Ordering::SeqCst);
            None
        }
    }

    /// Closes the gate. Returns whether this call closed it.
    fn close(&self) -> bool {
        self.state.fetch_or(CLOSED, Ordering::SeqCst) & CLOSED == 0
    }

    fn is_closed(&self) -> bool {
        self.state.load(Ordering::SeqCst) & CLOSED != 0
    }

    /// Items admitted and not taken back. Final once the gate is closed, but for a
    /// moment a refused or failed sender may still be counted.
    fn admitted(&self) -> usize {
        self.state.load(Ordering::SeqCst) & !CLOSED
    }
}

/// One admitted item; taken back when dropped, unless committed.
struct Admitted<'a>(&'a Gate);

impl Admitted<'_> {
    /// Keeps the admission: the item is in the channel.
    #[inline]
    fn commit(self) {
        std::mem::forget(self);
    }
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.0.state.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Why an item was not queued; it is handed back.
#[derive(Debug)]
pub(crate) enum Refused<M> {
    /// A bounded queue is full.
    Full(M),
    /// A bounded queue stayed full for the whole timeout.
    Timeout(M),
    /// The queue is closed.
    Closed(M),
}

/// The sending side, shared by every handle of a thread.
pub(crate) struct Queue<M> {
    /// Written by every sender: on a cache line of its own.
    gate: CachePadded<Gate>,
    tx: channel::Sender<Slot<M>>,
    /// Whether a wake-up sits in the channel (at most one is ever sent).
    wake_queued: AtomicBool,
}

/// The receiving side, owned by the thread.
pub(crate) struct Inbox<M> {
    queue: Arc<Queue<M>>,
    rx: channel::Receiver<Slot<M>>,
    /// Admitted items received so far.
    received: Cell<usize>,
}

/// What the thread's shared state needs of its queue, whatever the item type.
pub(crate) trait Closable: Send + Sync {
    /// Closes the queue: no item is admitted from now on, and a receiver blocked on the
    /// empty channel wakes. Returns whether this call closed it.
    fn close(&self) -> bool;
    /// Whether the queue no longer admits items.
    fn is_closed(&self) -> bool;
    /// How many admitted items wait in the channel.
    fn len(&self) -> usize;
}

impl<M> Queue<M> {
    /// A new queue: bounded when `capacity` is given (a capacity of 0 is raised to 1,
    /// since a rendezvous channel could not hold the wake-up a close sends).
    pub(crate) fn new(capacity: Option<usize>) -> (Arc<Self>, Inbox<M>) {
        let (tx, rx) = match capacity {
            Some(capacity) => channel::bounded(capacity.max(1)),
            None => channel::unbounded(),
        };
        let queue = Arc::new(Self {
            gate: CachePadded::new(Gate::new()),
            tx,
            wake_queued: AtomicBool::new(false),
        });
        let inbox = Inbox {
            queue: Arc::clone(&queue),
            rx,
            received: Cell::new(0),
        };
        (queue, inbox)
    }

    /// Queues `item`, blocking while a bounded queue is full.
    ///
    /// # Errors
    ///
    /// Hands `item` back when the queue is closed.
    #[inline]
    pub(crate) fn send(&self, item: M) -> Result<(), M> {
        self.push(item, |tx, slot| {
            tx.send(slot)
                .map_err(|channel::SendError(slot)| Refused::Closed(slot))
        })
        .map_err(Refused::into_item)
    }

    /// Queues `item` if there is room now.
    pub(crate) fn try_send(&self, item: M) -> Result<(), Refused<M>> {
        self.push(item, |tx, slot| {
            tx.try_send(slot).map_err(|error| match error {
                channel::TrySendError::Full(slot) => Refused::Full(slot),
                channel::TrySendError::Disconnected(slot) => Refused::Closed(slot),
            })
        })
    }

    /// Queues `item`, waiting at most `timeout` for room in a bounded queue.
    pub(crate) fn send_timeout(&self, item: M, timeout: Duration) -> Result<(), Refused<M>> {
        self.push(item, |tx, slot| {
            tx.send_timeout(slot, timeout).map_err(|error| match error {
                channel::SendTimeoutError::Timeout(slot) => Refused::Timeout(slot),
                channel::SendTimeoutError::Disconnected(slot) => Refused::Closed(slot),
            })
        })
    }

    /// The protocol every push follows: be admitted, push, and keep the admission only
    /// once the item is in the channel (a failed push takes it back). The inbox keeps
    /// its receiver until it has received every admitted item, so a push never finds
    /// the channel disconnected; `Closed` covers it all the same.
    #[inline]
    fn push(
        &self,
        item: M,
        push: impl FnOnce(&channel::Sender<Slot<M>>, Slot<M>) -> Result<(), Refused<Slot<M>>>,
    ) -> Result<(), Refused<M>> {
        let Some(admitted) = self.gate.admit() else {
            return Err(Refused::Closed(item));
        };
        match push(&self.tx, Slot::Item(item)) {
            Ok(()) => {
                admitted.commit();
                Ok(())
            }
            Err(refused) => Err(refused.map(Slot::into_item)),
        }
    }
}

impl<M> Refused<M> {
    /// The item handed back, whatever the reason.
    pub(crate) fn into_item(self) -> M {
        match self {
            Self::Full(item) | Self::Timeout(item) | Self::Closed(item) => item,
        }
    }

    fn map<N>(self, f: impl FnOnce(M) -> N) -> Refused<N> {
        match self {
            Self::Full(item) => Refused::Full(f(item)),
            Self::Timeout(item) => Refused::Timeout(f(item)),
            Self::Closed(item) => Refused::Closed(f(item)),
        }
    }
}

impl<M> Slot<M> {
    /// The item of a slot that a push handed back: pushes only ever carry items.
    fn into_item(self) -> M {
        match self {
            Self::Item(item) => item,
            Self::Wake => unreachable!("a push handed back a wake-up"),
        }
    }
}

impl<M: Send> Closable for Queue<M> {
    fn close(&self) -> bool {
        if !self.gate.close() {
            return false;
        }
        // Only the closing call wakes: once the receiver has seen the gate closed it
        // never blocks again, and a wake-up that finds a bounded channel full is not
        // needed, since the receiver is not waiting then.
        // Flagged before it is sent, so that the receiver's clearing comes after.
        self.wake_queued.store(true, Ordering::Relaxed);
        if self.tx.try_send(Slot::Wake).is_err() {
            self.wake_queued.store(false, Ordering::Relaxed);
        }
        true
    }

    fn is_closed(&self) -> bool {
        self.gate.is_closed()
    }

    fn len(&self) -> usize {
        let wake = usize::from(self.wake_queued.load(Ordering::Relaxed));
        self.tx.len().saturating_sub(wake)
    }
}

impl<M> Inbox<M> {
    /// The next item, or `None` once the queue is closed and every item it admitted has
    /// been received. Blocks (in the kernel, no polling) while the queue is open and
    /// empty; `woke` runs when such a wait ends.
    #[inline]
    pub(crate) fn next(&self, woke: impl FnOnce()) -> Option<M> {
        // Draining with `try_recv` first keeps the common, busy case off the blocking
        // path.
        if let Ok(slot) = self.rx.try_recv() {
            if let Some(item) = self.receive(slot) {
                return Some(item);
            }
        }
        if !self.queue.gate.is_closed() {
            // A close after this check sends a wake-up, or finds the channel full, in
            // which case this `recv` returns at once.
            let slot = self.rx.recv().ok();
            woke();
            if let Some(item) = slot.and_then(|slot| self.receive(slot)) {
                return Some(item);
            }
        }
        self.drain_closed()
    }

    #[inline]
    fn receive(&self, slot: Slot<M>) -> Option<M> {
        match slot {
            Slot::Item(item) => {
                self.received.set(self.received.get() + 1);
                Some(item)
            }
            Slot::Wake => {
                self.queue.wake_queued.store(false, Ordering::Relaxed);
                None
            }
        }
    }

    /// Once closed: the remaining items, until every admitted one was received.
    #[cold]
    fn drain_closed(&self) -> Option<M> {
        loop {
            if let Ok(slot) = self.rx.try_recv() {
                if let Some(item) = self.receive(slot) {
                    return Some(item);
                }
                continue;
            }
            if self.received.get() >= self.queue.gate.admitted() {
                return None;
            }
            // An admitted sender is between its admission and its push (nanoseconds),
            // or blocked on a full channel that the `try_recv` above just made room in,
            // or was refused and is about to take back its admission.
            yield_now();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_gate_counts_committed_admissions_and_refuses_once_closed() {
        let gate = Gate::new();
        gate.admit().unwrap().commit();
        let taken_back = gate.admit().unwrap();
        assert_eq!(gate.admitted(), 2);
        drop(taken_back);
        assert_eq!(gate.admitted(), 1, "a failed push takes its admission back");
        assert!(gate.close());
        assert!(!gate.close(), "only the first close reports closing");
        assert!(gate.admit().is_none());
        assert_eq!(gate.admitted(), 1, "a refused sender is not counted");
        assert!(gate.is_closed());
    }

    #[test]
    fn a_closed_queue_hands_items_back_and_drains_what_it_admitted() {
        let (queue, inbox) = Queue::<u32>::new(Some(2));
        queue.send(1).unwrap();
        assert!(matches!(queue.try_send(2), Ok(())));
        assert!(matches!(queue.try_send(3), Err(Refused::Full(3))));
        assert_eq!(queue.len(), 2);
        assert!(queue.close());
        assert_eq!(
            queue.len(),
            2,
            "the wake-up is not counted (and found no room)"
        );
        assert_eq!(queue.send(4), Err(4));
        assert!(matches!(queue.try_send(5), Err(Refused::Closed(5))));
        assert_eq!(inbox.next(|| ()), Some(1));
        assert_eq!(inbox.next(|| ()), Some(2));
        assert_eq!(inbox.next(|| ()), None);
    }

    #[test]
    fn closing_wakes_a_receiver_blocked_on_an_empty_queue() {
        let (queue, inbox) = Queue::<u32>::new(None);
        let closer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            queue.close();
            queue
        });
        let mut woke = false;
        assert_eq!(inbox.next(|| woke = true), None);
        assert!(woke);
        let queue = closer.join().unwrap();
        assert_eq!(queue.len(), 0, "the wake-up was received");
    }

    #[test]
    fn a_queued_wake_up_is_not_counted_as_an_item() {
        let (queue, inbox) = Queue::<u32>::new(None);
        queue.send(1).unwrap();
        assert!(queue.close());
        assert_eq!(queue.len(), 1, "one item, and the wake-up behind it");
        assert_eq!(inbox.next(|| ()), Some(1));
        assert_eq!(queue.len(), 0);
        assert_eq!(inbox.next(|| ()), None);
        assert_eq!(
            queue.len(),
            0,
            "the wake-up was received and is no longer counted"
        );
    }
}
