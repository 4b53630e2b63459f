//! The queue's protocol: closing, waking, and items of both kinds.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use super::*;

/// An item of both kinds: the tag travels in the slot's word.
#[derive(Debug, PartialEq)]
enum Mixed {
    Number(u64),
    Shared(Arc<u64>),
}

impl Item for Mixed {
    type Plain = u64;
    type Tagged = Arc<u64>;
    fn into_part(self) -> Part<u64, Arc<u64>> {
        match self {
            Self::Number(n) => Part::Plain(n),
            Self::Shared(s) => Part::Tagged(s),
        }
    }
    fn from_part(part: Part<u64, Arc<u64>>) -> Self {
        match part {
            Part::Plain(n) => Self::Number(n),
            Part::Tagged(s) => Self::Shared(s),
        }
    }
}

#[test]
fn both_kinds_of_item_come_out_as_they_went_in_and_leftovers_are_dropped() {
    // On a thread of its own: a tag misread would leave the receiver spinning.
    join_within(std::thread::spawn(both_kinds));
}

fn both_kinds() {
    for capacity in [Some(100), None] {
        let shared = Arc::new(7);
        let (queue, inbox) = Queue::<Mixed>::new(capacity);
        let sent: Vec<Mixed> = (0..90u64)
            .map(|n| {
                if n % 3 == 0 {
                    Mixed::Shared(Arc::clone(&shared))
                } else {
                    Mixed::Number(n)
                }
            })
            .collect();
        for item in sent {
            queue.send(item).unwrap();
        }
        for n in 0..45u64 {
            let expected = if n % 3 == 0 {
                Mixed::Shared(Arc::clone(&shared))
            } else {
                Mixed::Number(n)
            };
            assert_eq!(inbox.next(|| ()), Some(expected));
        }
        assert_eq!(
            Arc::strong_count(&shared),
            1 + 15,
            "15 tagged items are left"
        );
        drop((queue, inbox));
        assert_eq!(
            Arc::strong_count(&shared),
            1,
            "leftovers were dropped as tagged"
        );
    }
}

#[test]
fn a_closed_queue_hands_items_back_and_drains_what_it_accepted() {
    for capacity in [Some(2), None] {
        let (queue, inbox) = Queue::<u32>::new(capacity);
        queue.send(1).unwrap();
        assert!(matches!(queue.try_send(2), Ok(())));
        if capacity.is_some() {
            assert!(matches!(queue.try_send(3), Err(Refused::Full(3))));
            assert!(matches!(
                queue.send_timeout(3, Duration::from_millis(1)),
                Err(Refused::Timeout(3))
            ));
        }
        assert_eq!(queue.len(), 2);
        assert!(queue.close());
        assert!(!queue.close(), "only the first close reports closing");
        assert!(queue.is_closed());
        assert_eq!(queue.len(), 2);
        assert_eq!(queue.send(4), Err(4));
        assert!(matches!(queue.try_send(5), Err(Refused::Closed(5))));
        assert!(matches!(
            queue.send_timeout(6, Duration::from_secs(1)),
            Err(Refused::Closed(6))
        ));
        assert_eq!(inbox.next(|| ()), Some(1));
        assert_eq!(inbox.next(|| ()), Some(2));
        assert_eq!(inbox.next(|| ()), None);
        assert_eq!(queue.len(), 0);
    }
}

/// Waits (at most ten seconds) until `count` threads sleep in `waiters`, so that a test
/// exercises the wake-up of a sleeping thread, not a check that came first.
pub(super) fn until_asleep(waiters: &Waiters, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while waiters.asleep() < count {
        assert!(Instant::now() < deadline, "the thread never went to sleep");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Joins `thread`, failing the test instead of hanging if it does not end in ten
/// seconds (a missed wake-up).
pub(super) fn join_within<R: Send + 'static>(thread: std::thread::JoinHandle<R>) -> R {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !thread.is_finished() {
        assert!(
            Instant::now() < deadline,
            "the sleeping thread was never woken"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    thread.join().unwrap()
}

/// A thread sending `item` to `queue`, once it sleeps on the full queue.
pub(super) fn asleep_sender<M: Item + Send + 'static>(
    queue: &Arc<Queue<M>>,
    item: M,
) -> std::thread::JoinHandle<Result<(), M>>
where
    M::Plain: Send,
    M::Tagged: Send,
{
    let sending = Arc::clone(queue);
    let sender = std::thread::spawn(move || sending.send(item));
    until_asleep(&queue.senders, 1);
    sender
}

#[test]
fn closing_wakes_a_receiver_asleep_on_an_empty_queue() {
    for capacity in [Some(1), None] {
        let (queue, inbox) = Queue::<u32>::new(capacity);
        let receiver = std::thread::spawn(move || {
            let mut woke = false;
            (inbox.next(|| woke = true), woke)
        });
        until_asleep(&queue.receiver, 1);
        assert!(queue.close());
        assert_eq!(join_within(receiver), (None, true));
    }
}

#[test]
fn closing_wakes_a_sender_asleep_on_a_full_queue_and_hands_its_item_back() {
    let (queue, inbox) = Queue::<u32>::new(Some(1));
    queue.send(1).unwrap();
    let sender = asleep_sender(&queue, 2);
    assert!(queue.close());
    assert_eq!(join_within(sender), Err(2));
    assert_eq!(inbox.next(|| ()), Some(1));
    assert_eq!(inbox.next(|| ()), None);
}

#[test]
fn a_sender_asleep_on_a_full_queue_wakes_when_an_item_is_received() {
    let (queue, inbox) = Queue::<u32>::new(Some(1));
    queue.send(1).unwrap();
    let sender = asleep_sender(&queue, 2);
    assert_eq!(inbox.next(|| ()), Some(1));
    assert_eq!(join_within(sender), Ok(()));
    assert_eq!(inbox.next(|| ()), Some(2));
}

#[test]
fn a_receiver_asleep_on_an_empty_queue_wakes_for_an_item() {
    for capacity in [Some(1), None] {
        let (queue, inbox) = Queue::<u32>::new(capacity);
        let receiver = std::thread::spawn(move || inbox.next(|| ()));
        until_asleep(&queue.receiver, 1);
        queue.send(7).unwrap();
        assert_eq!(join_within(receiver), Some(7));
    }
}

#[test]
fn many_senders_racing_a_close_lose_nothing() {
    for capacity in [Some(8), None] {
        let (queue, inbox) = Queue::<u64>::new(capacity);
        let senders: Vec<_> = (0..3u64)
            .map(|s| {
                let queue = Arc::clone(&queue);
                std::thread::spawn(move || {
                    (0..50_000u64)
                        .filter(|n| queue.send(s << 32 | n).is_ok())
                        .count()
                })
            })
            .collect();
        let closer = {
            let queue = Arc::clone(&queue);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(5));
                queue.close();
            })
        };
        let mut received = std::collections::HashSet::new();
        while let Some(item) = inbox.next(|| ()) {
            assert!(received.insert(item), "{item} received twice");
        }
        closer.join().unwrap();
        let accepted: usize = senders.into_iter().map(|s| s.join().unwrap()).sum();
        assert_eq!(received.len(), accepted);
    }
}
