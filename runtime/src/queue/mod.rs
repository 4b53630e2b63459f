//! The task queue and its whole close protocol: what makes "nothing accepted is lost"
//! true.
//!
//! One channel carries everything a thread is sent (its tasks, and the calls and casts
//! of its handles), so the thread never `select!`s. The channel is the crate's own:
//! many senders and the thread as its one receiver, unbounded ([`list`]) or bounded
//! ([`array`]), and closable. (A pool's workers share one queue: their inboxes take
//! turns, one receive at a time, under a lock of their own; see [`Inbox::share`].)
//! Closing sets a mark in the same atomic word that a send advances to reserve its place, so every send is either queued, and then received
//! before the receiver sees the end, or refused with its item handed back; whatever
//! senders race the close, nothing is dropped. A send costs one compare-and-swap (the
//! reservation), the store that publishes the slot and the load that finds whether the
//! receiver sleeps; no other read-modify-write. Closing wakes a receiver asleep on the
//! empty channel and senders asleep on a full one ([`waiters`]); an item received wakes
//! one sender asleep on a full one.
//!
//! The queue knows nothing of threads: it moves any [`Item`], a value of one of two
//! kinds (a task, or a job), whose kind rides in the slot's word. The thread's shared
//! state closes it through the type-erased [`Closable`].

mod array;
mod list;
#[cfg(feature = "async")]
mod send_async;
mod slot;
mod waiters;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::sync::{Backoff, Mutex};

use self::array::Array;
use self::list::List;
#[cfg(all(test, not(loom)))]
pub(crate) use self::slot::slot_size;
use self::slot::Pop;
pub(crate) use self::slot::{Item, Part, Refused};
use self::waiters::Waiters;

/// Boxed when bounded: a queue is then no larger than its unbounded channel, which
/// most threads have.
enum Channel<M: Item> {
    Unbounded(List<M>),
    Bounded(Box<Array<M>>),
}

/// The sending side, shared by every handle of a thread.
pub(crate) struct Queue<M: Item> {
    channel: Channel<M>,
    /// The receiver, when it sleeps on the empty channel.
    receiver: Waiters,
    /// Senders sleeping on a full bounded channel.
    senders: Waiters,
}

/// What [`Inbox::next_until`] found.
pub(crate) enum Next<M> {
    Item(M),
    Closed,
    Timeout,
}

/// The receiving side, owned by the thread. There is one per queue, and it is not
/// `Sync`: the channel's receiving operations need a single receiver. The inboxes of a
/// pool's workers share the queue, and a lock makes them one receiver at a time.
pub(crate) struct Inbox<M: Item> {
    queue: Arc<Queue<M>>,
    /// Held across each receive when the queue has several inboxes.
    turn: Option<Arc<Mutex<()>>>,
    /// Not `Sync`.
    _receiver: std::marker::PhantomData<std::cell::Cell<()>>,
}

/// What a receiver's wait tells its thread: that it goes to sleep for want of items,
/// and how the sleep ended. A closure is told only of a wake-up by an item or a close.
pub(crate) trait Watch {
    /// The receiver is about to sleep: the queue is open and empty.
    fn sleeps(&mut self) {}
    /// An item, or the close, ended the sleep.
    fn woke(&mut self);
    /// The deadline ended the sleep.
    fn timed_out(&mut self) {}
}

impl<F: FnMut()> Watch for F {
    fn woke(&mut self) {
        self();
    }
}

/// What the thread's shared state needs of its queue, whatever the item type.
pub(crate) trait Closable: Send + Sync {
    /// Closes the queue: no item is accepted from now on, and a receiver (or sender)
    /// asleep on it wakes. Returns whether this call closed it.
    fn close(&self) -> bool;
    /// Whether the queue no longer accepts items.
    fn is_closed(&self) -> bool;
    /// How many accepted items wait to be received.
    fn len(&self) -> usize;
    /// How many items it holds at most, if it is bounded.
    fn capacity(&self) -> Option<usize>;
}

impl<M: Item> Queue<M> {
    /// A new queue: bounded when `capacity` is given (a capacity of 0 is raised to 1: a
    /// queue always holds what it accepted until the thread receives it).
    pub(crate) fn new(capacity: Option<usize>) -> (Arc<Self>, Inbox<M>) {
        let channel = match capacity {
            Some(capacity) => Channel::Bounded(Box::new(Array::new(capacity))),
            None => Channel::Unbounded(List::new()),
        };
        let queue = Arc::new(Self {
            channel,
            receiver: Waiters::new(),
            senders: Waiters::new(),
        });
        let inbox = Inbox {
            queue: Arc::clone(&queue),
            turn: None,
            _receiver: std::marker::PhantomData,
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
        self.push_or_wait(item, None).map_err(Refused::into_item)
    }

    /// Queues `item` if there is room now.
    #[inline]
    pub(crate) fn try_send(&self, item: M) -> Result<(), Refused<M>> {
        self.push(item)
    }

    /// Queues `item`, waiting at most `timeout` for room in a bounded queue.
    pub(crate) fn send_timeout(&self, item: M, timeout: Duration) -> Result<(), Refused<M>> {
        // A timeout too long to represent is waited for as for ever.
        let deadline = Instant::now().checked_add(timeout);
        self.push_or_wait(item, deadline)
            .map_err(|refused| match refused {
                Refused::Full(item) => Refused::Timeout(item),
                other => other,
            })
    }

    /// One push, and the receiver woken if it sleeps.
    #[inline]
    fn push(&self, item: M) -> Result<(), Refused<M>> {
        self.push_quietly(item)?;
        self.receiver.notify();
        Ok(())
    }

    /// One push, without waking the receiver: for a sender inside `senders`' wait,
    /// which must not take the receiver's lock while holding its own.
    #[inline]
    fn push_quietly(&self, item: M) -> Result<(), Refused<M>> {
        match &self.channel {
            Channel::Unbounded(list) => list.push(item),
            Channel::Bounded(array) => array.push(item),
        }
    }

    /// Pushes, waiting for room while the queue is full: until `deadline`, or for ever.
    #[inline]
    fn push_or_wait(&self, item: M, deadline: Option<Instant>) -> Result<(), Refused<M>> {
        match self.push(item) {
            Err(Refused::Full(item)) => self.wait_for_room(item, deadline),
            done => done,
        }
    }

    #[cold]
    fn wait_for_room(&self, item: M, deadline: Option<Instant>) -> Result<(), Refused<M>> {
        let mut item = Some(item);
        let attempt = |item: &mut Option<M>| match item.take().map(|item| self.push_quietly(item)) {
            Some(Err(Refused::Full(back))) => {
                *item = Some(back);
                None
            }
            outcome => outcome,
        };
        // The receiver is usually about to make room: a short back-off first.
        let backoff = Backoff::new();
        let mut outcome = None;
        while outcome.is_none() && !backoff.is_completed() {
            backoff.snooze();
            outcome = attempt(&mut item);
        }
        if outcome.is_none() {
            outcome = self.senders.wait_until(deadline, || attempt(&mut item));
        }
        match (outcome, item) {
            (Some(Ok(())), _) => {
                self.receiver.notify();
                Ok(())
            }
            (Some(Err(refused)), _) => Err(refused),
            (None, Some(item)) => Err(Refused::Full(item)),
            (None, None) => unreachable!("an attempt that gave no outcome kept the item"),
        }
    }
}

impl<M: Item> Closable for Queue<M>
where
    M::Plain: Send,
    M::Tagged: Send,
{
    fn close(&self) -> bool {
        let closed = match &self.channel {
            Channel::Unbounded(list) => list.close(),
            Channel::Bounded(array) => array.close(),
        };
        if closed {
            self.receiver.notify();
            self.senders.notify();
        }
        closed
    }

    fn is_closed(&self) -> bool {
        match &self.channel {
            Channel::Unbounded(list) => list.is_closed(),
            Channel::Bounded(array) => array.is_closed(),
        }
    }

    fn len(&self) -> usize {
        match &self.channel {
            Channel::Unbounded(list) => list.len(),
            Channel::Bounded(array) => array.len(),
        }
    }

    fn capacity(&self) -> Option<usize> {
        match &self.channel {
            Channel::Unbounded(_) => None,
            Channel::Bounded(array) => Some(array.capacity()),
        }
    }
}

impl<M: Item> Inbox<M> {
    /// Another inbox of the same queue, for another receiver: from now on, each of
    /// them receives in turn (an item goes to exactly one of them; a close reaches
    /// them all).
    pub(crate) fn share(&mut self) -> Self {
        let turn = self.turn.get_or_insert_with(Arc::default);
        Self {
            queue: Arc::clone(&self.queue),
            turn: Some(Arc::clone(turn)),
            _receiver: std::marker::PhantomData,
        }
    }

    /// The next item, or `None` once the queue is closed and every item it accepted has
    /// been received. Blocks (in the kernel, no polling) while the queue is open and
    /// empty; `watch` is told when such a wait begins and ends.
    #[inline]
    pub(crate) fn next(&self, watch: impl Watch) -> Option<M> {
        match self.take() {
            Pop::Item(item) => Some(item),
            Pop::Closed => None,
            Pop::Empty => self.wait(watch),
        }
    }

    #[cold]
    fn wait(&self, mut watch: impl Watch) -> Option<M> {
        // A sender is often a moment away: a short back-off before sleeping.
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            backoff.snooze();
            match self.take() {
                Pop::Item(item) => return Some(item),
                Pop::Closed => return None,
                Pop::Empty => {}
            }
        }
        watch.sleeps();
        // Popped quietly: the receiver must not take the senders' lock inside its own.
        let item = self.queue.receiver.wait_until(None, || match self.pop() {
            Pop::Item(item) => Some(Some(item)),
            Pop::Closed => Some(None),
            Pop::Empty => None,
        });
        watch.woke();
        let item = item.flatten();
        if item.is_some() {
            self.made_room();
        }
        item
    }

    /// The next item, `Closed` once the queue is closed and drained, or `Timeout` once
    /// `deadline` has passed with the queue open and empty. An item already queued is
    /// taken whatever the time: the deadline bounds only the wait.
    #[inline]
    pub(crate) fn next_until(&self, deadline: Instant, watch: impl Watch) -> Next<M> {
        match self.take() {
            Pop::Item(item) => Next::Item(item),
            Pop::Closed => Next::Closed,
            Pop::Empty => self.wait_until(deadline, watch),
        }
    }

    #[cold]
    fn wait_until(&self, deadline: Instant, mut watch: impl Watch) -> Next<M> {
        // As in `wait`: a sender is often a moment away. (The deadline is first read
        // after the back-off, by the waiters: a wait past it returns at once.)
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            backoff.snooze();
            match self.take() {
                Pop::Item(item) => return Next::Item(item),
                Pop::Closed => return Next::Closed,
                Pop::Empty => {}
            }
        }
        watch.sleeps();
        // Popped quietly: the receiver must not take the senders' lock inside its own.
        let item = self
            .queue
            .receiver
            .wait_until(Some(deadline), || match self.pop() {
                Pop::Item(item) => Some(Some(item)),
                Pop::Closed => Some(None),
                Pop::Empty => None,
            });
        // Only work wakes a thread from idleness: a tick's deadline does not.
        match item {
            Some(Some(item)) => {
                watch.woke();
                self.made_room();
                Next::Item(item)
            }
            Some(None) => {
                watch.woke();
                Next::Closed
            }
            None => {
                watch.timed_out();
                Next::Timeout
            }
        }
    }

    /// One pop, and a sender asleep on the full queue woken.
    #[inline]
    fn take(&self) -> Pop<M> {
        let popped = self.pop();
        if matches!(popped, Pop::Item(_)) {
            self.made_room();
        }
        popped
    }

    #[inline]
    fn made_room(&self) {
        if matches!(self.queue.channel, Channel::Bounded(_)) {
            self.queue.senders.notify_one();
        }
    }

    #[inline]
    fn pop(&self) -> Pop<M> {
        match &self.turn {
            None => self.pop_alone(),
            Some(turn) => {
                // Nothing in a pop panics: the lock is never poisoned by one.
                let _turn = turn
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                self.pop_alone()
            }
        }
    }

    #[inline]
    #[allow(unsafe_code)]
    fn pop_alone(&self) -> Pop<M> {
        // SAFETY: the inbox is the queue's one receiver (there is one per queue, and it
        // is neither `Clone` nor `Sync`), or it shares the queue with the inboxes made
        // by `share`, and they all pop under the same lock: one receiver at a time, each
        // pop ordered after the one before.
        unsafe {
            match &self.queue.channel {
                Channel::Unbounded(list) => list.pop(),
                Channel::Bounded(array) => array.pop(),
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
