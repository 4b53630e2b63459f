//! The bounded channel: many senders, one receiver, a fixed ring of slots, closable with
//! nothing lost.
//!
//! After crossbeam-channel's array flavour (Dmitry Vyukov's bounded queue), cut down to
//! a single receiver and given a close. Head and tail hold a lap number and an index;
//! each slot's stamp says whose turn it is: `tail` when free for the sender reserving
//! position `tail`, `tail + 1` once that sender wrote it. A sender reserves with one
//! compare-and-swap of the tail, whose `closed` mark a close sets (one `fetch_or`), so a
//! send is either queued or refused, never lost. The receiver owns the head.

#![allow(unsafe_code)]

use super::slot::{CacheLine, Item, Pop, Refused, Slot};
use crate::sync::{fence, AtomicUsize, Backoff, Ordering};

pub(super) struct Array<M: Item> {
    /// Written by the receiver only; read by senders that find their slot taken.
    head: CacheLine<AtomicUsize>,
    /// Reserved by senders; holds the `closed` mark.
    tail: CacheLine<AtomicUsize>,
    slots: Box<[Slot<M>]>,
    /// The bit above every index: in the tail, the `closed` mark; in the stamp of a
    /// written slot, the item's tag (see [`Item`]).
    closed: usize,
    /// One lap: the bit above the mark.
    lap: usize,
}

// SAFETY: the array owns its items' parts and hands each to one thread.
unsafe impl<M: Item> Send for Array<M>
where
    M::Plain: Send,
    M::Tagged: Send,
{
}
// SAFETY: as above; `pop`, the one operation that is not thread-safe, is `unsafe`.
unsafe impl<M: Item> Sync for Array<M>
where
    M::Plain: Send,
    M::Tagged: Send,
{
}

impl<M: Item> Array<M> {
    /// A channel with room for `capacity` items (at least one).
    pub(super) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let closed = (capacity + 1).next_power_of_two();
        Self {
            head: CacheLine::new(AtomicUsize::new(0)),
            tail: CacheLine::new(AtomicUsize::new(0)),
            // Lap 0: slot `i` is free for position `i`.
            slots: (0..capacity).map(Slot::new).collect(),
            closed,
            lap: closed << 1,
        }
    }

    pub(super) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The position after `position`: the next index, or index 0 of the next lap.
    fn after(&self, position: usize) -> usize {
        let index = position & (self.closed - 1);
        if index + 1 < self.capacity() {
            position + 1
        } else {
            (position & !(self.lap - 1)).wrapping_add(self.lap)
        }
    }

    /// Queues `item` if there is room.
    #[inline]
    pub(super) fn push(&self, item: M) -> Result<(), Refused<M>> {
        let backoff = Backoff::new();
        let mut tail = self.tail.load(Ordering::Relaxed);
        loop {
            if tail & self.closed != 0 {
                return Err(Refused::Closed(item));
            }
            let slot = &self.slots[tail & (self.closed - 1)];
            let stamp = slot.word.load(Ordering::Acquire);
            if stamp == tail {
                // Free for this position: reserve it.
                match self.tail.compare_exchange_weak(
                    tail,
                    self.after(tail),
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: reserved above; published by the store below.
                        let tagged = unsafe { slot.write(item) };
                        let stamp = if tagged {
                            (tail + 1) | self.closed
                        } else {
                            tail + 1
                        };
                        slot.word.store(stamp, Ordering::Release);
                        return Ok(());
                    }
                    Err(current) => {
                        tail = current;
                        backoff.spin();
                    }
                }
            } else if (stamp & !self.closed).wrapping_add(self.lap) == tail + 1 {
                // The slot still holds the previous lap's item: full, unless the
                // receiver has just moved on (then, having acquired its head, the next
                // look at the slot finds it free).
                fence(Ordering::SeqCst);
                let head = self.head.load(Ordering::Acquire);
                if head.wrapping_add(self.lap) == tail {
                    return Err(Refused::Full(item));
                }
                backoff.spin();
                tail = self.tail.load(Ordering::Relaxed);
            } else {
                // Another sender reserved this position and the tail moved on.
                backoff.snooze();
                tail = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// Takes the next item.
    ///
    /// # Safety
    ///
    /// Only one thread at a time may pop (the channel's one receiver).
    #[inline]
    pub(super) unsafe fn pop(&self) -> Pop<M> {
        let head = self.head.load(Ordering::Relaxed);
        let slot = &self.slots[head & (self.closed - 1)];
        let backoff = Backoff::new();
        loop {
            let stamp = slot.word.load(Ordering::Acquire);
            if stamp & !self.closed == head + 1 {
                // SAFETY: written and published (acquired above); read once, here.
                let item = unsafe { slot.read(stamp & self.closed != 0) };
                slot.word
                    .store(head.wrapping_add(self.lap), Ordering::Release);
                // `SeqCst`: ordered before the load of waiting senders that follows.
                self.head.store(self.after(head), Ordering::SeqCst);
                return Pop::Item(item);
            }
            fence(Ordering::SeqCst);
            let tail = self.tail.load(Ordering::SeqCst);
            if tail & !self.closed == head {
                return if tail & self.closed == 0 {
                    Pop::Empty
                } else {
                    Pop::Closed
                };
            }
            // Reserved, and the sender is writing it.
            backoff.snooze();
        }
    }

    /// Closes the channel. Returns whether this call closed it.
    pub(super) fn close(&self) -> bool {
        self.tail.fetch_or(self.closed, Ordering::SeqCst) & self.closed == 0
    }

    pub(super) fn is_closed(&self) -> bool {
        self.tail.load(Ordering::SeqCst) & self.closed != 0
    }

    /// How many items are queued (a snapshot).
    pub(super) fn len(&self) -> usize {
        loop {
            let tail = self.tail.load(Ordering::SeqCst);
            let head = self.head.load(Ordering::SeqCst);
            if self.tail.load(Ordering::SeqCst) == tail {
                return self.between(head, tail & !self.closed);
            }
        }
    }

    /// The positions from `head` up to `tail`.
    fn between(&self, head: usize, tail: usize) -> usize {
        let (head_index, tail_index) = (head & (self.closed - 1), tail & (self.closed - 1));
        if head_index < tail_index {
            tail_index - head_index
        } else if head_index > tail_index {
            self.capacity() - head_index + tail_index
        } else if tail == head {
            0
        } else {
            self.capacity()
        }
    }
}

impl<M: Item> Drop for Array<M> {
    fn drop(&mut self) {
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Relaxed) & !self.closed;
        let first = head & (self.closed - 1);
        for i in 0..self.between(head, tail) {
            let index = (first + i) % self.capacity();
            // SAFETY: no sender or receiver is left, and every reserved slot between
            // head and tail was written and not read.
            let slot = &self.slots[index];
            let tagged = slot.word.load(Ordering::Relaxed) & self.closed != 0;
            drop(unsafe { slot.read(tagged) });
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn pop<M: Item>(array: &Array<M>) -> Pop<M> {
        // SAFETY: one receiver: this test.
        unsafe { array.pop() }
    }

    #[test]
    fn a_full_array_refuses_until_an_item_is_taken() {
        let array = Array::<u32>::new(3);
        for n in 0..3 {
            array.push(n).unwrap();
        }
        assert_eq!(array.push(3), Err(Refused::Full(3)));
        assert_eq!(array.len(), 3);
        for lap in 0..5 {
            assert_eq!(pop(&array), Pop::Item(lap));
            array.push(lap + 3).unwrap();
            assert_eq!(array.len(), 3);
        }
        for n in 5..8 {
            assert_eq!(pop(&array), Pop::Item(n));
        }
        assert_eq!(pop(&array), Pop::Empty);
        assert_eq!(array.len(), 0);
    }

    #[test]
    fn a_closed_array_refuses_and_drains() {
        let array = Array::<u32>::new(4);
        array.push(1).unwrap();
        array.push(2).unwrap();
        assert!(array.close());
        assert!(!array.close());
        assert_eq!(array.push(3), Err(Refused::Closed(3)));
        assert_eq!(array.len(), 2);
        assert_eq!(pop(&array), Pop::Item(1));
        assert_eq!(pop(&array), Pop::Item(2));
        assert_eq!(pop(&array), Pop::Closed);
    }

    #[test]
    fn items_left_in_a_dropped_array_are_dropped_once() {
        use std::sync::Arc;
        let token = Arc::new(());
        let array = Array::new(4);
        for _ in 0..3 {
            array.push(Arc::clone(&token)).unwrap();
        }
        assert!(matches!(pop(&array), Pop::Item(_)));
        array.push(Arc::clone(&token)).unwrap();
        array.push(Arc::clone(&token)).unwrap();
        drop(array);
        assert_eq!(Arc::strong_count(&token), 1);
    }
}
