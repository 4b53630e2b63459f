//! Loom models of the `async` send (the `async` feature): a task awaiting room follows
//! the same announce-then-look protocol as a thread asleep on a full queue, with its
//! waker in place of the condition variable. A missed wake-up leaves `block_on` parked
//! for ever, which loom reports as a deadlock.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p threadward-runtime --features async --lib --release loom_models
//! ```

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use loom::future::block_on;
use loom::thread;

use crate::queue::{Closable, Queue, Refused};

#[test]
fn loom_models_an_async_sender_waiting_for_room_is_woken_when_room_is_made() {
    loom::model(|| {
        let (queue, inbox) = Queue::<u32>::new(Some(1));
        queue.send(1).unwrap();
        let sender = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || block_on(queue.send_async(2)).is_ok())
        };
        assert_eq!(inbox.next(|| ()), Some(1));
        assert_eq!(inbox.next(|| ()), Some(2));
        assert!(sender.join().unwrap());
    });
}

#[test]
fn loom_models_a_close_alone_wakes_an_async_sender_and_hands_its_item_back() {
    loom::model(|| {
        let (queue, inbox) = Queue::<u32>::new(Some(1));
        queue.send(1).unwrap();
        let sender = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || block_on(queue.send_async(2)))
        };
        queue.close();
        match sender.join().unwrap() {
            Err(Refused::Closed(2)) => {}
            other => panic!("expected item 2 handed back, got {other:?}"),
        }
        assert_eq!(inbox.next(|| ()), Some(1));
        assert_eq!(inbox.next(|| ()), None);
    });
}

#[test]
fn loom_models_an_async_sender_and_a_blocked_one_both_get_room() {
    // Each item received wakes one waiter, a thread or a task: neither may be left
    // waiting. (Bounded as the threads-only model is, to stay within loom's limits.)
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = builder.preemption_bound.or(Some(2));
    builder.check(|| {
        let (queue, inbox) = Queue::<u32>::new(Some(1));
        queue.send(1).unwrap();
        let task = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || block_on(queue.send_async(2)).is_ok())
        };
        let blocked = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || queue.send(3).is_ok())
        };
        let mut received = vec![
            inbox.next(|| ()).unwrap(),
            inbox.next(|| ()).unwrap(),
            inbox.next(|| ()).unwrap(),
        ];
        received.sort_unstable();
        assert_eq!(received, [1, 2, 3]);
        assert!(task.join().unwrap() && blocked.join().unwrap());
    });
}
