//! What the handles of one thread share with it: its [`Control`], its queue of
//! [`Message`]s, and the slot its undelivered tasks are left in. [`Managed`] is the
//! type-erased view of it that the registry stores. A pool's handles hold the pool's
//! own `Shared`; each of its workers' holds the pool's [`Tally`], and the last of them
//! to end (or the pool's `spawn`, if it comes last) ends the pool with the totals.

use std::any::Any;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};

use super::message::{ChildExitJob, Message};
use crate::control::Control;
use crate::outcome::{ExitReport, Outcome};
use crate::queue::{Inbox, Queue, Refused};
use crate::thread::BackgroundThread;

/// What the handles of one thread share with it.
pub(crate) struct Shared<T: BackgroundThread> {
    pub(crate) control: Arc<Control>,
    pub(crate) queue: Arc<Queue<Message<T>>>,
    /// Filled by the thread when it ends, taken by the first typed `join`.
    undelivered: Mutex<Option<Vec<T::Task>>>,
    /// For a pool's worker: the pool's tally.
    pub(crate) pool: Option<Arc<Tally<T>>>,
}

impl<T: BackgroundThread> Shared<T> {
    pub(crate) fn new(
        control: Arc<Control>,
        queue: Arc<Queue<Message<T>>>,
        pool: Option<Arc<Tally<T>>>,
    ) -> Self {
        Self {
            control,
            queue,
            undelivered: Mutex::new(None),
            pool,
        }
    }

    /// Leaves the undelivered tasks for the first typed `join`.
    pub(crate) fn leave_undelivered(&self, undelivered: Vec<T::Task>) {
        *self
            .undelivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(undelivered);
    }

    /// Makes sure a typed join finds a slot, if the end went wrong before it was left
    /// (nobody can have taken it: joins take it only once the exit is published).
    pub(crate) fn ensure_undelivered(&self) {
        self.undelivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(Vec::new);
    }

    /// How many undelivered tasks wait for a join (0 once taken, or before the end).
    pub(crate) fn undelivered_len(&self) -> usize {
        self.undelivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or(0, Vec::len)
    }

    /// Takes the undelivered tasks; `None` if another join took them.
    pub(crate) fn take_undelivered(&self) -> Option<Vec<T::Task>> {
        self.undelivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// What the registry holds of a thread, whatever its type.
pub(crate) trait Managed: Send + Sync + 'static {
    fn control(&self) -> &Arc<Control>;
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    /// Queues the news that a child ended (unless `refused` is set by then: its spawn
    /// failed). Dropped if the thread takes no more messages: it is stopping, and
    /// stops its children itself.
    fn tell_child_exit(&self, report: ExitReport, refused: Arc<AtomicBool>);
}

impl<T: BackgroundThread> Managed for Shared<T> {
    fn control(&self) -> &Arc<Control> {
        &self.control
    }

    fn tell_child_exit(&self, report: ExitReport, refused: Arc<AtomicBool>) {
        let message = Message::job(ChildExitJob { report, refused });
        // The child's end never waits for room in this queue (its joiners wait for its
        // end, and this thread may be one of them): a full queue gets the news from a
        // helper that waits for room instead.
        let Err(Refused::Full(message)) = self.queue.try_send(message) else {
            return; // queued, or the thread takes no more messages
        };
        if self.control.is_current() {
            return; // the spawn's caller learns of the end anyway
        }
        let queue = Arc::clone(&self.queue);
        let helper = std::thread::Builder::new()
            .name("threadward-notice".into())
            .spawn(move || drop(queue.send(message)));
        if let Err(error) = helper {
            tracing::error!(thread = self.control.name, %error, "could not tell of a child's exit");
        }
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

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

    /// Runs `f` with the pool's own inbox: for the last to end, which receives what is
    /// left in the queue.
    pub(crate) fn with_inbox<R>(&self, f: impl FnOnce(&Inbox<Message<T>>) -> R) -> R {
        f(&self.left().inbox)
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
