//! A send that waits for room as a future rather than a blocked thread (the `async`
//! feature): the queue side of `send_async`, `call_async` and `cast_async`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::waiters::Place;
use super::{Item, Queue, Refused};

/// Queues its item once there is room; resolves to `Refused::Closed` with the item if
/// the queue closes first. Dropped before it resolves, it queues nothing and drops the
/// item.
pub(crate) struct SendAsync<'a, M: Item> {
    queue: &'a Queue<M>,
    item: Option<M>,
    place: Place,
}

// The item is moved in and out by value, never pinned.
impl<M: Item> Unpin for SendAsync<'_, M> {}

impl<M: Item> Queue<M> {
    /// Queues `item`, awaiting room in a bounded queue.
    pub(crate) fn send_async(&self, item: M) -> SendAsync<'_, M> {
        SendAsync {
            queue: self,
            item: Some(item),
            place: Place::default(),
        }
    }
}

impl<M: Item> Future for SendAsync<'_, M> {
    type Output = Result<(), Refused<M>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(item) = this.item.take() else {
            panic!("a send future was polled after it resolved");
        };
        let item = if this.place.has_waited() {
            item
        } else {
            match this.queue.push(item) {
                Err(Refused::Full(item)) => item,
                done => return Poll::Ready(done),
            }
        };
        let mut item = Some(item);
        let attempt = || match item.take().map(|item| this.queue.push_quietly(item)) {
            Some(Err(Refused::Full(back))) => {
                item = Some(back);
                None
            }
            outcome => outcome,
        };
        match this
            .queue
            .senders
            .poll_wait(&mut this.place, cx.waker(), attempt)
        {
            Poll::Ready(Ok(())) => {
                this.queue.receiver.notify();
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(refused)) => Poll::Ready(Err(refused)),
            Poll::Pending => {
                this.item = item;
                Poll::Pending
            }
        }
    }
}

impl<M: Item> Drop for SendAsync<'_, M> {
    fn drop(&mut self) {
        self.queue.senders.leave(&mut self.place);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    #![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

    use std::future::Future;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    use super::super::tests::{asleep_sender, join_within};
    use super::super::{Closable, Queue, Refused};

    /// A waker that records that it was woken: no executor, so the test sees exactly
    /// which future a change woke.
    #[derive(Default)]
    struct Flag(AtomicBool);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    impl Flag {
        fn new() -> (Arc<Self>, Waker) {
            let flag = Arc::new(Self::default());
            let waker = Waker::from(Arc::clone(&flag));
            (flag, waker)
        }

        fn woken(&self) -> bool {
            self.0.swap(false, Ordering::SeqCst)
        }
    }

    fn poll<F: Future + Unpin>(future: &mut F, waker: &Waker) -> Poll<F::Output> {
        Pin::new(future).poll(&mut Context::from_waker(waker))
    }

    #[test]
    fn a_task_waits_for_room_and_is_woken_when_the_receiver_makes_it() {
        let (queue, inbox) = Queue::<u64>::new(Some(1));
        queue.send(1).unwrap();
        let (flag, waker) = Flag::new();
        let mut second = queue.send_async(2);
        assert!(poll(&mut second, &waker).is_pending());
        assert!(poll(&mut second, &waker).is_pending(), "a second poll");
        assert_eq!(queue.senders.tasks_waiting(), 1, "listed once");
        assert!(!flag.woken());

        assert_eq!(inbox.next(|| ()), Some(1));
        assert!(flag.woken(), "the room made woke the task");
        assert!(matches!(poll(&mut second, &waker), Poll::Ready(Ok(()))));
        drop(second);
        assert_eq!(inbox.next(|| ()), Some(2));
        assert_eq!(
            (queue.senders.tasks_waiting(), queue.senders.asleep()),
            (0, 0)
        );
    }

    #[test]
    fn a_woken_task_dropped_before_it_looked_passes_the_wake_up_on() {
        let (queue, inbox) = Queue::<u64>::new(Some(1));
        queue.send(1).unwrap();
        let ((first_flag, first_waker), (second_flag, second_waker)) = (Flag::new(), Flag::new());
        let mut first = queue.send_async(2);
        let mut second = queue.send_async(3);
        assert!(poll(&mut first, &first_waker).is_pending());
        assert!(poll(&mut second, &second_waker).is_pending());

        assert_eq!(inbox.next(|| ()), Some(1));
        assert!(first_flag.woken(), "the first in line is woken");
        assert!(!second_flag.woken(), "one room, one wake-up");
        drop(first); // cancelled, as by a timeout, before it used the room
        assert!(
            second_flag.woken(),
            "the unused wake-up went to the next task"
        );
        assert!(matches!(
            poll(&mut second, &second_waker),
            Poll::Ready(Ok(()))
        ));
        assert_eq!(inbox.next(|| ()), Some(3));
    }

    #[test]
    fn a_task_dropped_while_it_waits_leaves_no_trace_and_queues_nothing() {
        let (queue, inbox) = Queue::<u64>::new(Some(1));
        queue.send(1).unwrap();
        let (flag, waker) = Flag::new();
        let mut waiting = queue.send_async(2);
        assert!(poll(&mut waiting, &waker).is_pending());
        drop(waiting);
        assert_eq!(
            (queue.senders.tasks_waiting(), queue.senders.asleep()),
            (0, 0)
        );
        assert_eq!(inbox.next(|| ()), Some(1));
        assert!(!flag.woken());
        assert_eq!(queue.len(), 0, "the dropped send queued nothing");
    }

    #[test]
    fn a_close_wakes_every_waiting_task_and_hands_each_its_item_back() {
        let (queue, _inbox) = Queue::<u64>::new(Some(1));
        queue.send(1).unwrap();
        let mut waiting: Vec<_> = (2..5).map(|n| (queue.send_async(n), Flag::new())).collect();
        for (future, (_, waker)) in &mut waiting {
            assert!(poll(future, waker).is_pending());
        }
        assert!(queue.close());
        for (n, (future, (flag, waker))) in (2..).zip(&mut waiting) {
            assert!(flag.woken());
            match poll(future, waker) {
                Poll::Ready(Err(Refused::Closed(item))) => assert_eq!(item, n),
                other => panic!("expected the item back, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_thread_and_a_task_waiting_together_are_both_served() {
        let (queue, inbox) = Queue::<u64>::new(Some(1));
        queue.send(1).unwrap();
        let (flag, waker) = Flag::new();
        let mut task = queue.send_async(2);
        assert!(poll(&mut task, &waker).is_pending());
        let thread = asleep_sender(&queue, 3);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        // Two rooms made, one at a time: each waiter gets one, whichever goes first.
        let mut received = vec![inbox.next(|| ()).unwrap()];
        let mut sent = false;
        while received.len() < 3 {
            // Woken, it may find the room taken by the thread: it then waits again.
            if !sent && flag.woken() {
                sent = matches!(poll(&mut task, &waker), Poll::Ready(Ok(())));
            }
            assert!(
                std::time::Instant::now() < deadline,
                "a waiter was never woken"
            );
            if queue.len() > 0 {
                received.push(inbox.next(|| ()).unwrap());
            } else {
                std::thread::yield_now();
            }
        }
        join_within(thread).unwrap();
        received.sort_unstable();
        assert_eq!(received, [1, 2, 3]);
    }

    #[test]
    fn rooms_made_back_to_back_reach_a_blocked_thread_and_a_task() {
        // The thread woken by the first room may not have taken the lock back when the
        // second is made: the task must be woken anyway. Each run is deterministic; a
        // few runs meet the thread at different points.
        for _ in 0..20 {
            let (queue, inbox) = Queue::<u64>::new(Some(2));
            queue.send(1).unwrap();
            queue.send(2).unwrap();
            let (flag, waker) = Flag::new();
            let mut task = queue.send_async(20);
            assert!(poll(&mut task, &waker).is_pending());
            let thread = asleep_sender(&queue, 30);
            assert_eq!(inbox.next(|| ()), Some(1));
            assert_eq!(inbox.next(|| ()), Some(2));
            join_within(thread).unwrap();
            assert!(
                flag.woken(),
                "a room was free and the waiting task was not woken"
            );
            assert!(matches!(poll(&mut task, &waker), Poll::Ready(Ok(()))));
            let mut rest = vec![inbox.next(|| ()).unwrap(), inbox.next(|| ()).unwrap()];
            rest.sort_unstable();
            assert_eq!(rest, [20, 30]);
        }
    }
}
