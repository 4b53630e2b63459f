//! The unbounded channel alone: order, blocks, close, drop, and many senders.

use super::super::slot::Part;
use super::*;

fn pop<M: Item>(list: &List<M>) -> Pop<M> {
    // SAFETY: one receiver: this test.
    unsafe { list.pop() }
}

#[test]
fn items_come_out_in_order_across_blocks_and_len_counts_them() {
    let list = List::<u32>::new();
    assert_eq!(list.len(), 0);
    assert_eq!(pop(&list), Pop::Empty);
    for n in 0..100 {
        list.push(n).unwrap();
        assert_eq!(list.len(), n as usize + 1);
    }
    for n in 0..100 {
        assert_eq!(list.len(), 100 - n as usize);
        assert_eq!(pop(&list), Pop::Item(n));
    }
    assert_eq!(list.len(), 0);
    assert_eq!(pop(&list), Pop::Empty);
}

#[test]
fn a_closed_list_refuses_and_drains() {
    let list = List::<u64>::new();
    for n in 0..40 {
        list.push(n).unwrap();
    }
    assert!(list.close());
    assert!(!list.close(), "only the first close reports closing");
    assert!(list.is_closed());
    assert_eq!(list.push(99), Err(Refused::Closed(99)));
    assert_eq!(list.len(), 40);
    for n in 0..40 {
        assert_eq!(pop(&list), Pop::Item(n));
    }
    assert_eq!(pop(&list), Pop::Closed);
}

#[test]
fn items_left_in_a_dropped_list_are_dropped_once() {
    use std::sync::Arc;
    let token = Arc::new(());
    let list = List::new();
    for _ in 0..(3 * BLOCK_CAP + 5) {
        list.push(Arc::clone(&token)).unwrap();
    }
    for _ in 0..(BLOCK_CAP + 2) {
        assert!(matches!(pop(&list), Pop::Item(_)));
    }
    drop(list);
    assert_eq!(Arc::strong_count(&token), 1);
}

/// An item of 64 KiB: a block of them is 2 MiB.
struct Big([u8; 1 << 16]);

impl Item for Big {
    type Plain = Self;
    type Tagged = std::convert::Infallible;
    fn into_part(self) -> Part<Self, std::convert::Infallible> {
        Part::Plain(self)
    }
    fn from_part(part: Part<Self, std::convert::Infallible>) -> Self {
        match part {
            Part::Plain(big) => big,
            Part::Tagged(never) => match never {},
        }
    }
}

#[test]
#[allow(clippy::large_stack_arrays)] // large items are what it is about
fn a_block_of_large_items_is_not_built_on_the_stack() {
    // 1.75 MiB of stack holds the copies of one item a debug build makes, but not a
    // 2 MiB block.
    let sender = std::thread::Builder::new()
        .stack_size(1792 * 1024)
        .spawn(|| {
            let list = List::new();
            list.push(Big([7; 1 << 16])).map_err(|_| "refused").unwrap();
            match pop(&list) {
                Pop::Item(Big(bytes)) => bytes[0],
                _ => 0,
            }
        })
        .unwrap();
    assert_eq!(sender.join().unwrap(), 7);
}

#[test]
fn items_between_skips_the_ends_of_blocks() {
    // Positions 0..31 are block one's slots, 31 its end, 32.. block two's.
    assert_eq!(items_between(0, 0), 0);
    assert_eq!(items_between(0, 31), 31);
    assert_eq!(items_between(0, 32), 31);
    assert_eq!(items_between(0, 33), 32);
    assert_eq!(items_between(30, 33), 2);
    assert_eq!(items_between(32, 33), 1);
    assert_eq!(items_between(5, 5 + 3 * LAP), 3 * BLOCK_CAP);
}

#[test]
fn many_senders_lose_and_repeat_nothing() {
    use std::sync::Arc;
    let list = Arc::new(List::new());
    let senders: Vec<_> = (0..4)
        .map(|s| {
            let list = Arc::clone(&list);
            std::thread::spawn(move || {
                for n in 0..20_000u64 {
                    list.push(s * 1_000_000 + n).unwrap();
                }
            })
        })
        .collect();
    let mut previous = [None::<u64>; 4];
    let mut received = 0;
    while received < 80_000 {
        if let Pop::Item(item) = pop(&list) {
            let (sender, n) = ((item / 1_000_000) as usize, item % 1_000_000);
            assert!(previous[sender].map_or(true, |p| p < n), "order per sender");
            previous[sender] = Some(n);
            received += 1;
        }
    }
    for sender in senders {
        sender.join().unwrap();
    }
    assert_eq!(pop(&*list), Pop::Empty);
}
