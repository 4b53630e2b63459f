//! What the handles of one thread share with it: its [`Control`], its queue of
//! [`Message`]s, and the slot its undelivered tasks are left in. [`Managed`] is the
//! type-erased view of it that the registry stores.

use std::any::Any;
use std::sync::{Arc, Mutex, PoisonError};

use std::sync::atomic::{AtomicBool, Ordering};

use super::reply::Reply;
use super::tally::Tally;
use crate::context::Context;
use crate::control::Control;
use crate::error::BoxError;
use crate::outcome::ExitReport;
use crate::queue::{Item, Part, Queue, Refused};
use crate::thread::BackgroundThread;

/// What travels through a thread's queue: a task for `handle`, or a closure of `call`
/// or `cast`.
///
/// In the queue, which of the two a message is lives in the slot's atomic word (see
/// [`Item`]), and the job is boxed twice so that it is a thin pointer: a `u64` task then
/// travels in 8 bytes of payload, as it would in a raw channel. Jobs are rare next to
/// tasks; the extra allocation is theirs.
#[allow(clippy::redundant_allocation)]
pub(crate) enum Message<T: BackgroundThread> {
    Task(T::Task),
    Job(Box<Box<dyn Job<T>>>),
}

/// A closure run on the thread between tasks.
pub(crate) trait Job<T>: Send {
    /// Runs it; an error fails the instance, as an error from `handle` does.
    fn run(self: Box<Self>, thread: &mut T, ctx: &Context) -> Result<(), BoxError>;
    /// For handing a refused job's closure back to its sender.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

/// The job of a `cast`.
pub(crate) struct CastJob<F>(pub(crate) F);

impl<T, F> Job<T> for CastJob<F>
where
    F: FnOnce(&mut T, &Context) + Send + 'static,
{
    fn run(self: Box<Self>, thread: &mut T, ctx: &Context) -> Result<(), BoxError> {
        (self.0)(thread, ctx);
        Ok(())
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// The job of a `call`: the closure and where its answer goes.
pub(crate) struct CallJob<F, R> {
    pub(crate) f: F,
    pub(crate) reply: Reply<R>,
}

impl<T, F, R> Job<T> for CallJob<F, R>
where
    F: FnOnce(&mut T, &Context) -> R + Send + 'static,
    R: Send + 'static,
{
    fn run(self: Box<Self>, thread: &mut T, ctx: &Context) -> Result<(), BoxError> {
        let CallJob { f, reply } = *self;
        reply.send(f(thread, ctx));
        Ok(())
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// The job of a `call_timeout`: the closure sits in a slot its caller shares, so that a
/// caller who stops waiting before it ran can take it back (and it never runs).
pub(crate) struct TimedCallJob<F, R> {
    pub(crate) f: Arc<Mutex<Option<F>>>,
    pub(crate) reply: Reply<R>,
}

impl<T, F, R> Job<T> for TimedCallJob<F, R>
where
    F: FnOnce(&mut T, &Context) -> R + Send + 'static,
    R: Send + 'static,
{
    fn run(self: Box<Self>, thread: &mut T, ctx: &Context) -> Result<(), BoxError> {
        let TimedCallJob { f, reply } = *self;
        let f = f.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(f) = f {
            reply.send(f(thread, ctx));
        }
        Ok(())
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// The news that a child tied to the thread ended, for its
/// [`child_exited`](BackgroundThread::child_exited). Not told if the child's `spawn`
/// failed: its caller has the error already.
struct ChildExitJob {
    report: ExitReport,
    refused: Arc<AtomicBool>,
}

impl<T: BackgroundThread> Job<T> for ChildExitJob {
    fn run(self: Box<Self>, thread: &mut T, ctx: &Context) -> Result<(), BoxError> {
        if self.refused.load(Ordering::Acquire) {
            return Ok(());
        }
        thread.child_exited(&self.report, ctx)
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

impl<T: BackgroundThread> Item for Message<T> {
    type Plain = T::Task;
    type Tagged = Box<Box<dyn Job<T>>>;

    fn into_part(self) -> Part<T::Task, Self::Tagged> {
        match self {
            Self::Task(task) => Part::Plain(task),
            Self::Job(job) => Part::Tagged(job),
        }
    }

    fn from_part(part: Part<T::Task, Self::Tagged>) -> Self {
        match part {
            Part::Plain(task) => Self::Task(task),
            Part::Tagged(job) => Self::Job(job),
        }
    }
}

impl<T: BackgroundThread> Message<T> {
    pub(crate) fn job<J: Job<T> + 'static>(job: J) -> Self {
        Self::Job(Box::new(Box::new(job)))
    }

    /// The task of a message that a task push handed back.
    pub(crate) fn into_task(self) -> T::Task {
        match self {
            Self::Task(task) => task,
            // A push hands back exactly the message it was given.
            Self::Job(_) => unreachable!("a task push handed back a job"),
        }
    }

    /// The job of a message that a push of a `J` handed back.
    pub(crate) fn into_job<J: 'static>(self) -> J {
        match self {
            Self::Job(job) => match (*job).into_any().downcast::<J>() {
                Ok(job) => *job,
                Err(_) => unreachable!("a job push handed back another job"),
            },
            Self::Task(_) => unreachable!("a job push handed back a task"),
        }
    }
}

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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    struct Ticks;
    impl crate::thread::Declared for Ticks {
        const NAME: &'static str = "ticks";
        const CAPACITY: Option<usize> = None;
    }
    impl BackgroundThread for Ticks {
        type Task = u64;
        fn handle(&mut self, _: u64, _: &Context) -> Result<(), BoxError> {
            Ok(())
        }
    }

    #[test]
    fn a_small_task_travels_in_a_sixteen_byte_slot() {
        // 8 bytes of payload (the task, or the job's thin pointer) and the slot's word,
        // which holds the tag: what a raw channel's slot of `u64` takes.
        assert_eq!(crate::queue::slot_size::<Message<Ticks>>(), 16);
    }
}
