//! Feeding a thread from a [`Source`]: the source is opened by `spawn_with` and
//! delivers tasks, each with its [`Receipt`], through a [`Feed`] into the thread's
//! queue, where they are handled in turn with the tasks and calls sent to it.

use std::sync::{Arc, Weak};

use crate::error::BoxError;
use crate::handle::{FedJob, Message, Shared};
use crate::queue::Refused;
use crate::source::{OpenSource, Receipt};
use crate::thread::BackgroundThread;

/// Where a thread's tasks come from besides its own queue: a stream on a broker,
/// shared by many threads and processes. Given to a thread's `spawn_with`, which opens
/// it before the thread starts; the thread then handles the tasks it delivers as it
/// handles the ones sent to it, and tells each task's [`Receipt`] how `handle` returned.
///
/// The thread's lifecycle reaches the source: a stop tells it to take no new tasks
/// ([`OpenSource::stop`]), a halt to give back what will not be handled
/// ([`OpenSource::halt`]), and the end to settle what is owed and report
/// ([`OpenSource::close`], in [`ExitReport::source`](crate::ExitReport::source)).
/// A second broker is a second implementation of this trait, in a crate of its own.
pub trait Source<Task>: Send + 'static {
    /// Connects, and starts delivering into `feed` (from threads of the source's own:
    /// the thread's `startup` has not run yet, and its tasks wait in its queue until
    /// it has).
    ///
    /// # Errors
    ///
    /// Why the source could not be opened (a bad address, a refused connection, wrong
    /// credentials): `spawn_with` then fails with
    /// [`SpawnFailure::Source`](crate::SpawnFailure::Source) and hands the value back.
    fn open(self: Box<Self>, feed: Feed<Task>) -> Result<Box<dyn OpenSource>, BoxError>;
}

/// Where a source delivers its tasks: into one thread's queue.
pub struct Feed<Task> {
    thread: Weak<dyn Deliver<Task>>,
}

impl<Task> Clone for Feed<Task> {
    fn clone(&self) -> Self {
        Self {
            thread: Weak::clone(&self.thread),
        }
    }
}

impl<Task> std::fmt::Debug for Feed<Task> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed").finish_non_exhaustive()
    }
}

impl<Task> Feed<Task> {
    /// Queues `task` for the thread's `handle`, which then tells `receipt` how it
    /// returned. Waits while a bounded queue is full (on the thread itself it does not
    /// wait: see [`DeliverError::Full`]).
    ///
    /// # Errors
    ///
    /// Hands `task` and `receipt` back when the thread takes no more work (it is
    /// stopping or has ended), or when the thread itself delivers into its own full
    /// queue.
    pub fn deliver(&self, task: Task, receipt: Box<dyn Receipt>) -> Result<(), DeliverError<Task>> {
        match self.thread.upgrade() {
            Some(thread) => thread.deliver(task, receipt),
            None => Err(DeliverError::Closed(task, receipt)),
        }
    }

    /// Queues `task` for the thread's `handle` if there is room now: never waits (for a
    /// source's own thread that must not block, such as one that renews leases).
    ///
    /// # Errors
    ///
    /// [`DeliverError::Full`] when a bounded queue is full, [`DeliverError::Closed`]
    /// when the thread takes no more work; both hand `task` and `receipt` back.
    pub fn try_deliver(
        &self,
        task: Task,
        receipt: Box<dyn Receipt>,
    ) -> Result<(), DeliverError<Task>> {
        match self.thread.upgrade() {
            Some(thread) => thread.try_deliver(task, receipt),
            None => Err(DeliverError::Closed(task, receipt)),
        }
    }

    /// Closes the thread's queue: the source delivers nothing more. A source calls it
    /// once it has stopped ([`OpenSource::stop`]) and delivered what it took before:
    /// the thread then handles what is queued and ends. (Until it is called, a stopping
    /// thread waits for the source's last deliveries.)
    pub fn close(&self) {
        if let Some(thread) = self.thread.upgrade() {
            thread.close();
        }
    }

    /// Whether the thread takes no more work: it is stopping, or has ended.
    pub fn is_closed(&self) -> bool {
        self.thread
            .upgrade()
            .map_or(true, |thread| thread.is_closed())
    }
}

/// Why [`Feed::deliver`] did not queue a task; both hand the task and its receipt
/// back.
pub enum DeliverError<Task> {
    /// The thread takes no more work: it is stopping, or has ended.
    Closed(Task, Box<dyn Receipt>),
    /// The thread's bounded queue is full, and the delivery could not wait: from
    /// [`Feed::try_deliver`], or from the thread itself (where waiting would never end).
    Full(Task, Box<dyn Receipt>),
}

impl<Task> DeliverError<Task> {
    /// The task and its receipt.
    pub fn into_parts(self) -> (Task, Box<dyn Receipt>) {
        match self {
            Self::Closed(task, receipt) | Self::Full(task, receipt) => (task, receipt),
        }
    }
}

impl<Task> std::fmt::Debug for DeliverError<Task> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Closed(..) => "Closed(..)",
            Self::Full(..) => "Full(..)",
        })
    }
}

impl<Task> std::fmt::Display for DeliverError<Task> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Closed(..) => "the thread takes no more tasks",
            Self::Full(..) => "the thread's own queue is full",
        })
    }
}

impl<Task> std::error::Error for DeliverError<Task> {}

/// A thread's queue, as a source delivers into it (whatever the thread's type).
trait Deliver<Task>: Send + Sync {
    fn deliver(&self, task: Task, receipt: Box<dyn Receipt>) -> Result<(), DeliverError<Task>>;
    fn try_deliver(&self, task: Task, receipt: Box<dyn Receipt>) -> Result<(), DeliverError<Task>>;
    fn is_closed(&self) -> bool;
    fn close(&self);
}

impl<T: BackgroundThread> Deliver<T::Task> for Shared<T> {
    fn deliver(
        &self,
        task: T::Task,
        receipt: Box<dyn Receipt>,
    ) -> Result<(), DeliverError<T::Task>> {
        self.push(task, receipt, self.control.is_current())
    }

    fn try_deliver(
        &self,
        task: T::Task,
        receipt: Box<dyn Receipt>,
    ) -> Result<(), DeliverError<T::Task>> {
        self.push(task, receipt, true)
    }

    fn is_closed(&self) -> bool {
        self.control.is_closed()
    }

    fn close(&self) {
        self.control.close_queue();
    }
}

impl<T: BackgroundThread> Shared<T> {
    /// Queues a task from a source; without waiting for room if `at_once`.
    fn push(
        &self,
        task: T::Task,
        receipt: Box<dyn Receipt>,
        at_once: bool,
    ) -> Result<(), DeliverError<T::Task>> {
        let message = Message::job(FedJob::<T> { task, receipt });
        let (refused, full) = if at_once {
            match self.queue.try_send(message) {
                Ok(()) => return Ok(()),
                Err(Refused::Full(m)) => (m, true),
                Err(Refused::Timeout(m) | Refused::Closed(m)) => (m, false),
            }
        } else {
            match self.queue.send(message) {
                Ok(()) => return Ok(()),
                Err(m) => (m, false),
            }
        };
        let FedJob { task, receipt } = refused.into_job::<FedJob<T>>();
        Err(if full {
            DeliverError::Full(task, receipt)
        } else {
            DeliverError::Closed(task, receipt)
        })
    }
}

/// Opens `source` to feed the thread of `shared`, and ties it to the thread's
/// lifecycle.
pub(crate) fn open<T: BackgroundThread>(
    source: Box<dyn Source<T::Task>>,
    shared: &Arc<Shared<T>>,
) -> Result<(), BoxError> {
    let thread: Arc<dyn Deliver<T::Task>> = Arc::clone(shared) as Arc<dyn Deliver<T::Task>>;
    let feed = Feed {
        thread: Arc::downgrade(&thread),
    };
    drop(thread);
    let open = source.open(feed)?;
    shared.control.set_source(Arc::from(open));
    Ok(())
}

/// How the generated `spawn_with` names a source of the thread's tasks (a bound that
/// does not project `Self::Task` where the type may not implement the trait yet).
#[doc(hidden)]
pub trait SourceFor<T: BackgroundThread>: Source<T::Task> {
    fn boxed(self) -> Box<dyn Source<T::Task>>;
}

impl<T: BackgroundThread, S: Source<T::Task>> SourceFor<T> for S {
    fn boxed(self) -> Box<dyn Source<T::Task>> {
        Box::new(self)
    }
}
