//! The slot both channel flavours keep an item in, and what their operations report.
//!
//! This module and the two flavours (`list/`, `array.rs`) are the crate's second
//! audited use of `unsafe`: a slot's item is written by the one sender that reserved it
//! and read by the one receiver, and the atomic word beside it says when each may.

#![allow(unsafe_code)]

use std::mem::{ManuallyDrop, MaybeUninit};

use crate::sync::{AtomicUsize, UnsafeCell};

/// What a queue carries: one of two kinds of value, the kind kept as a bit of the slot's
/// atomic word rather than beside the value. A thread's messages are its tasks (plain)
/// or the jobs of `call` and `cast` (tagged), so a `u64` task travels in an 8-byte slot
/// payload instead of a 16-byte enum.
pub(crate) trait Item: Sized {
    type Plain;
    type Tagged;
    fn into_part(self) -> Part<Self::Plain, Self::Tagged>;
    fn from_part(part: Part<Self::Plain, Self::Tagged>) -> Self;
}

/// One of the two kinds of value an [`Item`] is.
pub(crate) enum Part<P, T> {
    Plain(P),
    Tagged(T),
}

/// Items of a single kind (for the queue's own tests and models).
#[cfg(any(test, loom))]
macro_rules! plain_items {
    ($($item:ty),*) => {$(
        impl Item for $item {
            type Plain = $item;
            type Tagged = std::convert::Infallible;
            fn into_part(self) -> Part<Self, std::convert::Infallible> {
                Part::Plain(self)
            }
            fn from_part(part: Part<Self, std::convert::Infallible>) -> Self {
                match part {
                    Part::Plain(item) => item,
                    Part::Tagged(never) => match never {},
                }
            }
        }
    )*};
}

#[cfg(any(test, loom))]
plain_items!(u32, u64, std::sync::Arc<()>);

/// A value of either kind, without its kind: the slot's word holds that.
union Payload<P, T> {
    plain: ManuallyDrop<P>,
    tagged: ManuallyDrop<T>,
}

/// One item's place in a channel: the item, once written, and the atomic word that
/// publishes it and says which kind it is (a `written` flag in the list, a stamp in the
/// array; each with a bit for the kind).
pub(super) struct Slot<M: Item> {
    pub(super) word: AtomicUsize,
    payload: UnsafeCell<MaybeUninit<Payload<M::Plain, M::Tagged>>>,
}

impl<M: Item> Slot<M> {
    pub(super) fn new(word: usize) -> Self {
        Self {
            word: AtomicUsize::new(word),
            payload: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// Puts `item` in the slot; returns whether it is tagged, which the caller records
    /// in the word it publishes the write with.
    ///
    /// # Safety
    ///
    /// The caller reserved the slot, which holds no item, and publishes the write (a
    /// release store of `word`) before anyone reads it.
    #[inline]
    pub(super) unsafe fn write(&self, item: M) -> bool {
        let (payload, tagged) = match item.into_part() {
            Part::Plain(plain) => (
                Payload {
                    plain: ManuallyDrop::new(plain),
                },
                false,
            ),
            Part::Tagged(tagged) => (
                Payload {
                    tagged: ManuallyDrop::new(tagged),
                },
                true,
            ),
        };
        // SAFETY: the caller reserved the slot, so nobody else accesses it.
        self.payload
            .with_mut(|cell| unsafe { (*cell).write(payload) });
        tagged
    }

    /// Takes the item out of the slot, leaving it empty.
    ///
    /// # Safety
    ///
    /// The slot holds an item whose write the caller has acquired, `tagged` is what
    /// that write returned, and nobody else reads the item.
    #[inline]
    pub(super) unsafe fn read(&self, tagged: bool) -> M {
        // SAFETY: the item was written and published; this is its one read.
        let payload = self
            .payload
            .with(|cell| unsafe { (*cell).assume_init_read() });
        // SAFETY: `tagged` says which field the write filled.
        M::from_part(unsafe {
            if tagged {
                Part::Tagged(ManuallyDrop::into_inner(payload.tagged))
            } else {
                Part::Plain(ManuallyDrop::into_inner(payload.plain))
            }
        })
    }
}

#[cfg(all(test, not(loom)))]
pub(crate) fn slot_size<M: Item>() -> usize {
    std::mem::size_of::<Slot<M>>()
}

/// A value on a cache line of its own, so that what the senders write and what the
/// receiver writes do not share one. 64 bytes, not the 128 that would also keep the
/// adjacent line apart: measured no slower here, and a queue (one per thread) then takes
/// 320 bytes instead of 640.
#[repr(align(64))]
pub(super) struct CacheLine<T>(T);

impl<T> CacheLine<T> {
    pub(super) const fn new(value: T) -> Self {
        Self(value)
    }
}

impl<T> std::ops::Deref for CacheLine<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// What taking an item from a channel found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Pop<M> {
    Item(M),
    /// Nothing is queued, and the channel is open.
    Empty,
    /// Nothing is queued, and the channel is closed: nothing will be.
    Closed,
}

/// Why an item was not queued; it is handed back.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused<M> {
    /// A bounded queue is full.
    Full(M),
    /// A bounded queue stayed full for the whole timeout.
    Timeout(M),
    /// The queue is closed.
    Closed(M),
}

impl<M> Refused<M> {
    /// The item handed back, whatever the reason.
    pub(crate) fn into_item(self) -> M {
        match self {
            Self::Full(item) | Self::Timeout(item) | Self::Closed(item) => item,
        }
    }
}
