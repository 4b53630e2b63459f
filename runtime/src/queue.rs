//! The task queue and its close protocol.
//!
//! One channel carries tasks and control messages (calls, casts, wake-ups), so the
//! thread never `select!`s. In front of it stands a [`Gate`]: one atomic word holding a
//! `closed` bit and the number of senders inside the gate. A sender enters, pushes, and
//! leaves; once the gate is closed nobody enters, and when the count reaches zero every
//! accepted message is in the channel. The receiving side ([`Inbox::next`]) drains until
//! that moment, so a task is either received or handed back to its sender: nothing is
//! dropped by closing, whatever senders are racing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crossbeam_channel as channel;

use crate::context::Context;
use crate::thread::BackgroundThread;

/// A closure run on the thread between tasks (`call` and `cast`).
pub(crate) type Job<T> = Box<dyn FnOnce(&mut T, &Context) + Send>;

/// What travels through a thread's channel.
pub(crate) enum Message<T: BackgroundThread> {
    Task(T::Task),
    Job(Job<T>),
    /// Wakes a receiver blocked on an empty channel so that it sees the gate closed.
    Wake,
}

impl<T: BackgroundThread> Message<T> {
    /// The task of a message that a task push handed back.
    pub(crate) fn into_task(self) -> T::Task {
        match self {
            Self::Task(task) => task,
            // A push hands back exactly the message it was given.
            Self::Job(_) | Self::Wake => unreachable!("a task push handed back a non-task"),
        }
    }
}

const CLOSED: usize = 1 << (usize::BITS - 1);

/// The sender-side gate: a `closed` bit and the number of senders inside.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    state: AtomicUsize,
}

impl Gate {
    /// Enters the gate, unless it is closed. The sender is counted as inside until the
    /// returned guard is dropped, which it drops once its push finished.
    #[inline]
    pub(crate) fn admit(&self) -> Option<Admitted<'_>> {
        let previous = self.state.fetch_add(1, Ordering::SeqCst);
        if previous & CLOSED == 0 {
            Some(Admitted(self))
        } else {
            self.leave();
            None
        }
    }

    #[inline]
    fn leave(&self) {
        self.state.fetch_sub(1, Ordering::SeqCst);
    }

    /// Closes the gate. Returns whether this call closed it.
    pub(crate) fn close(&self) -> bool {
        self.state.fetch_or(CLOSED, Ordering::SeqCst) & CLOSED == 0
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Ordering::SeqCst) & CLOSED != 0
    }

    fn in_flight(&self) -> usize {
        self.state.load(Ordering::SeqCst) & !CLOSED
    }
}

/// A sender inside the gate; leaves when dropped, even if pushing unwinds.
pub(crate) struct Admitted<'a>(&'a Gate);

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

/// Why a push failed; the message is handed back.
pub(crate) enum PushError<M> {
    Full(M),
    Timeout(M),
    Closed(M),
}

/// The sending half: the channel's sender behind the gate.
pub(crate) struct Outbox<T: BackgroundThread> {
    tx: channel::Sender<Message<T>>,
}

/// The receiving half, owned by the thread.
pub(crate) struct Inbox<T: BackgroundThread> {
    rx: channel::Receiver<Message<T>>,
}

/// A new queue: bounded when `capacity` is given (a capacity of 0 is raised to 1, since
/// a rendezvous queue could not hold the wake-up a stop sends).
pub(crate) fn queue<T: BackgroundThread>(capacity: Option<usize>) -> (Outbox<T>, Inbox<T>) {
    let (tx, rx) = match capacity {
        Some(capacity) => channel::bounded(capacity.max(1)),
        None => channel::unbounded(),
    };
    (Outbox { tx }, Inbox { rx })
}

impl<T: BackgroundThread> Outbox<T> {
    // The pushes take the admission as proof that the caller is inside the gate. While a
    // sender is inside, the thread keeps its receiver (it waits for `in_flight == 0`), so
    // a push never finds the channel disconnected; `Closed` covers it all the same.

    /// Pushes, blocking while a bounded queue is full.
    #[inline]
    pub(crate) fn push(
        &self,
        _admitted: &Admitted<'_>,
        message: Message<T>,
    ) -> Result<(), Message<T>> {
        self.tx.send(message).map_err(|channel::SendError(m)| m)
    }

    pub(crate) fn try_push(
        &self,
        _admitted: &Admitted<'_>,
        message: Message<T>,
    ) -> Result<(), PushError<Message<T>>> {
        self.tx.try_send(message).map_err(|e| match e {
            channel::TrySendError::Full(m) => PushError::Full(m),
            channel::TrySendError::Disconnected(m) => PushError::Closed(m),
        })
    }

    pub(crate) fn push_timeout(
        &self,
        _admitted: &Admitted<'_>,
        message: Message<T>,
        timeout: Duration,
    ) -> Result<(), PushError<Message<T>>> {
        self.tx.send_timeout(message, timeout).map_err(|e| match e {
            channel::SendTimeoutError::Timeout(m) => PushError::Timeout(m),
            channel::SendTimeoutError::Disconnected(m) => PushError::Closed(m),
        })
    }

    /// Closes the gate and wakes the receiver if it waits on an empty channel.
    ///
    /// The wake-up bypasses the gate and never blocks: if a bounded channel is full, the
    /// receiver is not waiting, and it sees the closed gate once it has drained.
    pub(crate) fn close(&self, gate: &Gate) {
        if gate.close() {
            let _ = self.tx.try_send(Message::Wake);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.tx.len()
    }
}

impl<T: BackgroundThread> Inbox<T> {
    /// The next message, or `None` once the gate is closed and every message that was
    /// accepted before has been received. Blocks (in the kernel, no polling) while the
    /// queue is open and empty.
    #[inline]
    pub(crate) fn next(&self, gate: &Gate) -> Option<Message<T>> {
        // Draining with `try_recv` first keeps the common, busy case off the blocking path.
        if let Ok(message) = self.rx.try_recv() {
            return Some(message);
        }
        if !gate.is_closed() {
            // A `close` after this check sends a wake-up, or finds the channel full, in
            // which case this `recv` returns at once.
            return self.rx.recv().ok();
        }
        self.drain_closed(gate)
    }

    #[cold]
    fn drain_closed(&self, gate: &Gate) -> Option<Message<T>> {
        loop {
            if let Ok(message) = self.rx.try_recv() {
                return Some(message);
            }
            if gate.in_flight() == 0 {
                // Everyone who entered before the close has pushed; one last look.
                return self.rx.try_recv().ok();
            }
            // A sender inside the gate is between its check and its push (nanoseconds),
            // or blocked on a full channel that the `try_recv` above just made room in.
            std::thread::yield_now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_gate_refuses_and_counts_nobody() {
        let gate = Gate::default();
        let admitted = gate.admit();
        assert!(admitted.is_some());
        assert_eq!(gate.in_flight(), 1);
        assert!(gate.close());
        assert!(!gate.close(), "only the first close reports closing");
        assert!(gate.admit().is_none());
        assert_eq!(gate.in_flight(), 1, "a refused sender is not counted");
        drop(admitted);
        assert_eq!(gate.in_flight(), 0);
        assert!(gate.is_closed());
    }
}
