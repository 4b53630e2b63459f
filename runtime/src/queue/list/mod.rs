//! The unbounded channel: many senders, one receiver, closable with nothing lost.
//!
//! A linked list of blocks of slots, after crossbeam-channel's list flavour (itself after
//! Dmitry Vyukov's queues), cut down to a single receiver and given a close:
//!
//! - A sender reserves a slot by advancing the tail index (one compare-and-swap), writes
//!   its item and marks the slot written. The sender that takes a block's last slot
//!   links in the next block first.
//! - The tail index's lowest bit is the `closed` mark. Closing sets it (one `fetch_or`);
//!   from then on no slot is reserved. Reserving and closing are read-modify-writes of
//!   the same word, so every send is either in the queue or refused: nothing is lost
//!   and nothing is counted twice, with no per-send atomic beyond the reservation.
//! - The one receiver owns the head: it takes items in order, waits the nanoseconds a
//!   reserving sender may still be writing, and frees each block behind it. It reads the
//!   tail only when it has caught up with the tail it last saw.

#![allow(unsafe_code)]

use std::ptr;

use super::slot::{CacheLine, Item, Pop, Refused, Slot};
use crate::sync::{AtomicPtr, AtomicUsize, Backoff, Ordering};

/// Slots per block. Small under loom, so that models cross blocks.
const BLOCK_CAP: usize = if cfg!(loom) { 2 } else { 31 };
/// Positions per block: one more than its slots, for the step past its end.
const LAP: usize = BLOCK_CAP + 1;
/// Indices count positions in steps of `1 << SHIFT`; the bit below is the mark.
const SHIFT: usize = 1;
/// The tail's `closed` mark.
const CLOSED: usize = 1;
/// A slot's word once its item is written.
const WRITTEN: usize = 1;
/// A slot's word when its item is tagged (see [`Item`]).
const TAGGED: usize = 2;

struct Block<M: Item> {
    next: AtomicPtr<Block<M>>,
    slots: [Slot<M>; BLOCK_CAP],
}

impl<M: Item> Block<M> {
    /// A new, empty block, made on the heap: built on the stack first, a block of large
    /// items could overflow it.
    #[cfg(not(loom))]
    fn boxed() -> Box<Self> {
        let layout = std::alloc::Layout::new::<Self>();
        // SAFETY: the layout is not zero-sized (it holds a pointer). All-zero bytes are
        // an empty block: a null `next`, every slot's word 0 (not written), and payloads
        // that are `MaybeUninit`.
        unsafe {
            let block = std::alloc::alloc_zeroed(layout).cast::<Self>();
            if block.is_null() {
                std::alloc::handle_alloc_error(layout);
            }
            Box::from_raw(block)
        }
    }

    /// Loom's atomics cannot be zeroed into being: built field by field (models use
    /// small items).
    #[cfg(loom)]
    fn boxed() -> Box<Self> {
        Box::new(Self {
            next: AtomicPtr::new(ptr::null_mut()),
            slots: std::array::from_fn(|_| Slot::new(0)),
        })
    }

    /// The next block, which the sender of this block's last slot links in before it
    /// publishes that slot.
    fn next(&self) -> *mut Self {
        let backoff = Backoff::new();
        loop {
            let next = self.next.load(Ordering::Acquire);
            if !next.is_null() {
                return next;
            }
            backoff.snooze();
        }
    }
}

struct Tail<M: Item> {
    /// Positions reserved so far (shifted) and the `closed` mark.
    index: AtomicUsize,
    /// The block holding the next position to reserve; null until the first send.
    block: AtomicPtr<Block<M>>,
}

struct Head<M: Item> {
    /// The next position to read (shifted). Written by the receiver only.
    index: AtomicUsize,
    /// The block holding it: null until the first sender installs the first block.
    block: AtomicPtr<Block<M>>,
    /// The tail index the receiver last read, so that it reads the tail again only when
    /// it has caught up with it.
    seen: AtomicUsize,
}

pub(super) struct List<M: Item> {
    head: CacheLine<Head<M>>,
    tail: CacheLine<Tail<M>>,
}

// SAFETY: the list owns its items' parts and hands each to one thread; the blocks are
// reached only through its atomics.
unsafe impl<M: Item> Send for List<M>
where
    M::Plain: Send,
    M::Tagged: Send,
{
}
// SAFETY: as above; `pop`, the one operation that is not thread-safe, is `unsafe`.
unsafe impl<M: Item> Sync for List<M>
where
    M::Plain: Send,
    M::Tagged: Send,
{
}

impl<M: Item> List<M> {
    pub(super) fn new() -> Self {
        Self {
            head: CacheLine::new(Head {
                index: AtomicUsize::new(0),
                block: AtomicPtr::new(ptr::null_mut()),
                seen: AtomicUsize::new(0),
            }),
            tail: CacheLine::new(Tail {
                index: AtomicUsize::new(0),
                block: AtomicPtr::new(ptr::null_mut()),
            }),
        }
    }

    /// Queues `item`, or hands it back if the list is closed.
    #[inline]
    pub(super) fn push(&self, item: M) -> Result<(), Refused<M>> {
        let backoff = Backoff::new();
        let mut tail = self.tail.index.load(Ordering::Acquire);
        let mut block = self.tail.block.load(Ordering::Acquire);
        let mut next_block = None;
        loop {
            if tail & CLOSED != 0 {
                return Err(Refused::Closed(item));
            }
            let offset = (tail >> SHIFT) % LAP;
            if offset == BLOCK_CAP {
                // The sender of the last slot is linking in the next block.
                backoff.snooze();
                tail = self.tail.index.load(Ordering::Acquire);
                block = self.tail.block.load(Ordering::Acquire);
                continue;
            }
            // About to take the block's last slot: have the next block ready.
            if offset + 1 == BLOCK_CAP && next_block.is_none() {
                next_block = Some(Block::boxed());
            }
            if block.is_null() {
                // The first send: install the first block.
                let first = Box::into_raw(Block::boxed());
                if self
                    .tail
                    .block
                    .compare_exchange(block, first, Ordering::Release, Ordering::Relaxed)
                    .is_ok()
                {
                    self.head.block.store(first, Ordering::Release);
                    block = first;
                } else {
                    // SAFETY: `first` was never shared; it comes back to be freed.
                    drop(unsafe { Box::from_raw(first) });
                    tail = self.tail.index.load(Ordering::Acquire);
                    block = self.tail.block.load(Ordering::Acquire);
                    continue;
                }
            }
            match self.tail.index.compare_exchange_weak(
                tail,
                tail + (1 << SHIFT),
                Ordering::SeqCst,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    // SAFETY: the position was reserved while `block` held it, and a
                    // block is freed only once all its slots were read.
                    let block = unsafe { &*block };
                    if offset + 1 == BLOCK_CAP {
                        if let Some(next) = next_block.take() {
                            let next = Box::into_raw(next);
                            self.tail.block.store(next, Ordering::Release);
                            self.tail.index.fetch_add(1 << SHIFT, Ordering::Release);
                            block.next.store(next, Ordering::Release);
                        }
                    }
                    let slot = &block.slots[offset];
                    // SAFETY: reserved above; published by the store below.
                    let tagged = unsafe { slot.write(item) };
                    let word = if tagged { WRITTEN | TAGGED } else { WRITTEN };
                    slot.word.store(word, Ordering::Release);
                    return Ok(());
                }
                Err(current) => {
                    tail = current;
                    block = self.tail.block.load(Ordering::Acquire);
                    backoff.spin();
                }
            }
        }
    }

    /// Takes the next item.
    ///
    /// # Safety
    ///
    /// Only one thread at a time may pop (the list's one receiver).
    #[inline]
    pub(super) unsafe fn pop(&self) -> Pop<M> {
        let head = self.head.index.load(Ordering::Relaxed);
        let mut tail = self.head.seen.load(Ordering::Relaxed);
        if head >> SHIFT >= tail >> SHIFT {
            // Caught up with the tail last seen: look again. (`SeqCst`: a receiver about
            // to sleep announced itself first; see `Waiters`.)
            tail = self.tail.index.load(Ordering::SeqCst);
            self.head.seen.store(tail, Ordering::Relaxed);
            if head >> SHIFT >= tail >> SHIFT {
                return if tail & CLOSED == 0 {
                    Pop::Empty
                } else {
                    Pop::Closed
                };
            }
        }
        // The position at `head` is reserved; its block was installed before it was.
        let backoff = Backoff::new();
        let mut block = self.head.block.load(Ordering::Acquire);
        while block.is_null() {
            backoff.snooze();
            block = self.head.block.load(Ordering::Acquire);
        }
        // SAFETY: the receiver frees blocks, and this one still holds unread slots.
        let current = unsafe { &*block };
        let offset = (head >> SHIFT) % LAP;
        let slot = &current.slots[offset];
        let word = loop {
            let word = slot.word.load(Ordering::Acquire);
            if word & WRITTEN != 0 {
                break word;
            }
            // The reserving sender is between its reservation and its write.
            backoff.snooze();
        };
        // SAFETY: written and published (acquired above); the one receiver reads it once.
        let item = unsafe { slot.read(word & TAGGED != 0) };
        let mut next_head = head + (1 << SHIFT);
        if offset + 1 == BLOCK_CAP {
            // The block's last slot: move to the next block (linked in before this slot
            // was written), stepping over the end position, and free this one.
            let next = current.next();
            next_head += 1 << SHIFT;
            self.head.block.store(next, Ordering::Relaxed);
            // SAFETY: every slot of the block was read and no sender holds it any more:
            // the last one to use it linked `next` before writing its slot.
            drop(unsafe { Box::from_raw(block) });
        }
        self.head.index.store(next_head, Ordering::Release);
        Pop::Item(item)
    }

    /// Closes the list. Returns whether this call closed it.
    pub(super) fn close(&self) -> bool {
        self.tail.index.fetch_or(CLOSED, Ordering::SeqCst) & CLOSED == 0
    }

    pub(super) fn is_closed(&self) -> bool {
        self.tail.index.load(Ordering::SeqCst) & CLOSED != 0
    }

    /// How many items are queued (a snapshot).
    pub(super) fn len(&self) -> usize {
        loop {
            let tail = self.tail.index.load(Ordering::SeqCst);
            let head = self.head.index.load(Ordering::SeqCst);
            // A consistent pair: the tail did not move while the head was read.
            if self.tail.index.load(Ordering::SeqCst) == tail {
                return items_between(head >> SHIFT, tail >> SHIFT);
            }
        }
    }
}

/// The items between positions `head` and `tail`: the positions, less the ends of
/// blocks among them.
fn items_between(head: usize, tail: usize) -> usize {
    if tail <= head {
        return 0;
    }
    // Count whole laps from the start of the head's lap.
    let start = head - head % LAP;
    let ends = |position: usize| (position - start) / LAP;
    // The end positions before `tail` hold no item (`tail` itself may be one; it is
    // not counted either way). The head never rests on one.
    (tail - start) - ends(tail) - (head - start)
}

impl<M: Item> Drop for List<M> {
    fn drop(&mut self) {
        let mut head = self.head.index.load(Ordering::Relaxed) >> SHIFT;
        let tail = self.tail.index.load(Ordering::Relaxed) >> SHIFT;
        let mut block = self.head.block.load(Ordering::Relaxed);
        // SAFETY: no sender or receiver is left; every reserved slot was written, and
        // each block between head and tail is still linked and owned by the list.
        unsafe {
            while head < tail {
                let offset = head % LAP;
                if offset < BLOCK_CAP {
                    let slot = &(*block).slots[offset];
                    drop(slot.read(slot.word.load(Ordering::Relaxed) & TAGGED != 0));
                } else {
                    let next = (*block).next.load(Ordering::Relaxed);
                    drop(Box::from_raw(block));
                    block = next;
                }
                head += 1;
            }
            if !block.is_null() {
                drop(Box::from_raw(block));
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
