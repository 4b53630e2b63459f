//! Loom models of a pool's queue: several inboxes made by `Inbox::share`, which receive
//! in turn under one lock. Whatever order the workers, the senders and the close run
//! in, each accepted item is received by exactly one inbox, every inbox ends, and what
//! no worker received is left for the last receiver (the pool's tally) to collect.
//!
//! Run with the others:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p threadward-runtime --features async --lib --release loom_models
//! ```

use loom::thread;

use crate::loom_models::{assert_nothing_lost, check, closer, drain, sender};
use crate::queue::{Closable, Queue};

/// Two workers receive while a sender sends; the queue is closed after the sends.
fn two_workers_drain(capacity: Option<usize>) {
    check(Some(2), move || {
        let (queue, mut inbox) = Queue::<u32>::new(capacity);
        let (first, second) = (inbox.share(), inbox.share());
        drop(inbox);
        let first = thread::spawn(move || drain(&first));
        let second = thread::spawn(move || drain(&second));
        let offers = sender(&queue, &[1, 2]).join().unwrap();
        queue.close();
        let mut received = first.join().unwrap();
        received.extend(second.join().unwrap());
        assert_nothing_lost(&offers, &received);
    });
}

#[test]
fn two_workers_share_an_unbounded_queue() {
    two_workers_drain(None);
}

#[test]
fn two_workers_share_a_bounded_queue() {
    two_workers_drain(Some(1));
}

#[test]
fn a_close_racing_a_sender_and_two_workers_leaves_the_rest_to_the_tally() {
    check(Some(2), || {
        let (queue, mut inbox) = Queue::<u32>::new(None);
        let (first, second) = (inbox.share(), inbox.share());
        let first = thread::spawn(move || drain(&first));
        let second = thread::spawn(move || drain(&second));
        let sent = sender(&queue, &[1, 2]);
        let closed = closer(&queue);
        let offers = sent.join().unwrap();
        closed.join().unwrap();
        let mut received = first.join().unwrap();
        received.extend(second.join().unwrap());
        // The pool's own inbox receives last, once every worker has ended.
        received.extend(drain(&inbox));
        assert_nothing_lost(&offers, &received);
    });
}
