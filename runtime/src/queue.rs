//! The task queue and its close protocol.
//!
//! One channel carries tasks and control messages (calls, casts, wake-ups), so the
//! thread never `select!`s. In front of it stands a [`Gate`]: one atomic word holding a
//! `closed` bit and the number of messages admitted so far. A sender is admitted (one
//! `fetch_add`) and pushes; a push that fails takes its admission back. Once the gate is
//! closed nobody is admitted, so the count is final, and the receiving side
//! ([`Inbox::next`]) drains until it has received that many messages. A task is thus
//! either received or handed back to its sender: nothing is dropped by closing, whatever
//! senders are racing, and the hot path costs one atomic operation.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crossbeam_channel as channel;

use crate::context::Context;
use crate::control::Control;
use crate::thread::BackgroundThread;

/// A closure run on the thread between tasks (`call` and `cast`).
pub(crate) type Job<T> = Box<dyn FnOnce(&mut T, &Context) + Send>;

/// What travels through a thread's channel.
///
/// The job is boxed twice so that it is a thin pointer: a message is then no larger than
/// a small task plus a tag (16 bytes for a `u64` instead of 24), which the channel moves
/// on every send. Jobs are rare next to tasks; the extra allocation is theirs.
#[allow(clippy::redundant_allocation)]
pub(crate) enum Message<T: BackgroundThread> {
    Task(T::Task),
    Job(Box<Job<T>>),
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

/// The sender-side gate: a `closed` bit and the number of messages admitted.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    state: AtomicUsize,
}

impl Gate {
    /// Admits one message, unless the gate is closed. The admission is kept by a
    /// successful push ([`Admitted::commit`]) and taken back if the guard is dropped.
    #[inline]
    pub(crate) fn admit(&self) -> Option<Admitted<'_>> {
        let previous = self.state.fetch_add(1, Ordering::SeqCst);
        if previous & CLOSED == 0 {
            Some(Admitted(self))
        } else {
            self.state.fetch_sub(1, Ordering::SeqCst);
            None
        }
    }

    /// Closes the gate. Returns whether this call closed it.
    pub(crate) fn close(&self) -> bool {
        self.state.fetch_or(CLOSED, Ordering::SeqCst) & CLOSED == 0
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Ordering::SeqCst) & CLOSED != 0
    }

    /// Messages admitted and not taken back. Final once the gate is closed, but for a
    /// moment a refused or failed sender may still be counted.
    fn admitted(&self) -> usize {
        self.state.load(Ordering::SeqCst) & !CLOSED
    }
}

/// One admitted message; taken back when dropped, unless committed.
pub(crate) struct Admitted<'a>(&'a Gate);

impl Admitted<'_> {
    /// Keeps the admission: the message is in the channel.
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
    /// Admitted messages (tasks and jobs, not wake-ups) received so far.
    received: Cell<usize>,
}

/// A new queue: bounded when `capacity` is given (a capacity of 0 is raised to 1, since
/// a rendezvous queue could not hold the wake-up a stop sends).
pub(crate) fn queue<T: BackgroundThread>(capacity: Option<usize>) -> (Outbox<T>, Inbox<T>) {
    let (tx, rx) = match capacity {
        Some(capacity) => channel::bounded(capacity.max(1)),
        None => channel::unbounded(),
    };
    (
        Outbox { tx },
        Inbox {
            rx,
            received: Cell::new(0),
        },
    )
}

impl<T: BackgroundThread> Outbox<T> {
    // The pushes take the admission and commit it once the message is in the channel.
    // The thread keeps its receiver until it has received every admitted message, so a
    // push never finds the channel disconnected; `Closed` covers it all the same.

    /// Pushes, blocking while a bounded queue is full.
    #[inline]
    pub(crate) fn push(
        &self,
        admitted: Admitted<'_>,
        message: Message<T>,
    ) -> Result<(), Message<T>> {
        self.tx.send(message).map_err(|channel::SendError(m)| m)?;
        admitted.commit();
        Ok(())
    }

    pub(crate) fn try_push(
        &self,
        admitted: Admitted<'_>,
        message: Message<T>,
    ) -> Result<(), PushError<Message<T>>> {
        self.tx.try_send(message).map_err(|e| match e {
            channel::TrySendError::Full(m) => PushError::Full(m),
            channel::TrySendError::Disconnected(m) => PushError::Closed(m),
        })?;
        admitted.commit();
        Ok(())
    }

    pub(crate) fn push_timeout(
        &self,
        admitted: Admitted<'_>,
        message: Message<T>,
        timeout: Duration,
    ) -> Result<(), PushError<Message<T>>> {
        self.tx
            .send_timeout(message, timeout)
            .map_err(|e| match e {
                channel::SendTimeoutError::Timeout(m) => PushError::Timeout(m),
                channel::SendTimeoutError::Disconnected(m) => PushError::Closed(m),
            })?;
        admitted.commit();
        Ok(())
    }

    /// Wakes the receiver if it waits on an empty channel, so that it sees the gate
    /// closed (call after closing it).
    ///
    /// The wake-up bypasses the gate and never blocks: if a bounded channel is full, the
    /// receiver is not waiting, and it sees the closed gate once it has drained.
    pub(crate) fn wake(&self) {
        let _ = self.tx.try_send(Message::Wake);
    }

    pub(crate) fn len(&self) -> usize {
        self.tx.len()
    }
}

impl<T: BackgroundThread> Inbox<T> {
    /// The next message, or `None` once the gate is closed and every message it admitted
    /// has been received. Blocks (in the kernel, no polling) while the queue is open and
    /// empty.
    #[inline]
    pub(crate) fn next(&self, control: &Control) -> Option<Message<T>> {
        let gate = &control.gate;
        // Draining with `try_recv` first keeps the common, busy case off the blocking path.
        if let Ok(message) = self.rx.try_recv() {
            return Some(self.count(message));
        }
        if !gate.is_closed() {
            // A `close` after this check sends a wake-up, or finds the channel full, in
            // which case this `recv` returns at once.
            let message = self.rx.recv().ok().map(|message| self.count(message));
            // Only here, on the idle path: the busy path stays free of clock reads.
            control.mark_woken();
            return message;
        }
        self.drain_closed(gate)
    }

    #[inline]
    fn count(&self, message: Message<T>) -> Message<T> {
        if !matches!(message, Message::Wake) {
            self.received.set(self.received.get() + 1);
        }
        message
    }

    #[cold]
    fn drain_closed(&self, gate: &Gate) -> Option<Message<T>> {
        loop {
            if let Ok(message) = self.rx.try_recv() {
                return Some(self.count(message));
            }
            if self.received.get() >= gate.admitted() {
                return None;
            }
            // An admitted sender is between its admission and its push (nanoseconds), or
            // blocked on a full channel that the `try_recv` above just made room in, or
            // was refused and is about to take back its admission.
            std::thread::yield_now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_counts_committed_admissions_and_refuses_once_closed() {
        let gate = Gate::default();
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
}
