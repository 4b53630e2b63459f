//! What the workers of a pool leave when they end. The pool's handles hold the pool's
//! own [`Shared`]; each worker's holds the pool's tally, and the last of them to end
//! (or the pool's `spawn`, if it comes last) ends the pool with the totals.

use std::sync::{Arc, Mutex, PoisonError};

use super::shared::{Message, Shared};
use crate::outcome::Outcome;
use crate::queue::Inbox;
use crate::thread::BackgroundThread;

/// A pool's running totals.
pub(crate) struct Tally<T: BackgroundThread> {
    /// What the pool's handles share.
    pub(crate) pool: Arc<Shared<T>>,
    left: Mutex<Left<T>>,
}

struct Left<T: BackgroundThread> {
    /// Workers that have not ended, and one for the pool's `spawn` until it is done
    /// starting them: the pool ends when this reaches 0.
    live: usize,
    /// The gravest of the workers' outcomes so far (the first of equals).
    outcome: Option<Outcome>,
    handled: u64,
    /// The tasks the workers set aside (a halted one's current task).
    undelivered: Vec<T::Task>,
    /// Of the pool's queue: the last to end receives what is left in it.
    inbox: Inbox<Message<T>>,
}

/// How a pool ended, once its last worker did.
pub(crate) struct Totals<T: BackgroundThread> {
    pub(crate) outcome: Outcome,
    pub(crate) handled: u64,
    pub(crate) undelivered: Vec<T::Task>,
}

impl<T: BackgroundThread> Tally<T> {
    /// The tally of a pool whose `spawn` is about to start its workers.
    pub(crate) fn new(pool: Arc<Shared<T>>, inbox: Inbox<Message<T>>) -> Self {
        Self {
            pool,
            left: Mutex::new(Left {
                live: 1,
                outcome: None,
                handled: 0,
                undelivered: Vec::new(),
                inbox,
            }),
        }
    }

    fn left(&self) -> std::sync::MutexGuard<'_, Left<T>> {
        self.left.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a worker about to start.
    pub(crate) fn add_worker(&self) {
        self.left().live += 1;
    }

    /// Adds a worker's end (or, with no outcome, the end of the pool's `spawn`): the
    /// totals if that was the last.
    pub(crate) fn ended(
        &self,
        outcome: Option<&Outcome>,
        handled: u64,
        undelivered: Vec<T::Task>,
    ) -> Option<Totals<T>> {
        let mut left = self.left();
        left.live -= 1;
        left.handled += handled;
        left.undelivered.extend(undelivered);
        if let Some(outcome) = outcome {
            let graver = left
                .outcome
                .as_ref()
                .map_or(true, |so_far| gravity(outcome) > gravity(so_far));
            if graver {
                left.outcome = Some(outcome.clone());
            }
        }
        if left.live > 0 {
            return None;
        }
        Some(Totals {
            outcome: left.outcome.take().unwrap_or(Outcome::StoppedBeforeStart),
            handled: left.handled,
            undelivered: std::mem::take(&mut left.undelivered),
        })
    }

    /// Receives what is left in the pool's closed queue, once every worker has ended:
    /// the tasks are returned, the calls dropped unanswered.
    pub(crate) fn collect_rest(&self, undelivered: &mut Vec<T::Task>) {
        let left = self.left();
        while let Some(message) = left.inbox.next(|| ()) {
            if let Message::Task(task) = message {
                undelivered.push(task);
            }
        }
    }
}

/// How grave an outcome is, for a pool's: a failure, then a halt, then a deadline,
/// then a stop.
fn gravity(outcome: &Outcome) -> u8 {
    match outcome {
        _ if outcome.is_failure() => 4,
        Outcome::Halted => 3,
        Outcome::DeadlineReached => 2,
        Outcome::Stopped => 1,
        _ => 0,
    }
}
