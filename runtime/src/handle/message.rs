//! What travels through a thread's queue: a [`Message`], a task for `handle` or a
//! [`Job`] (the closure of a `call` or `cast`, or the news of a child's exit).

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::reply::Reply;
use crate::context::Context;
use crate::error::BoxError;
use crate::halt::Halted;
use crate::outcome::ExitReport;
use crate::queue::{Item, Part};
use crate::source::Receipt;
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
    /// Whether the job hands `handle` a task (one from a source), to be counted as
    /// handled.
    fn is_task(&self) -> bool {
        false
    }
}

/// A task from a source, with the receipt `handle`'s result is told to.
pub(crate) struct FedJob<T: BackgroundThread> {
    pub(crate) task: T::Task,
    pub(crate) receipt: Box<dyn Receipt>,
}

impl<T: BackgroundThread> Job<T> for FedJob<T> {
    fn run(self: Box<Self>, thread: &mut T, ctx: &Context) -> Result<(), BoxError> {
        let FedJob { task, receipt } = *self;
        // A panic in `handle` unwinds through here and drops the receipt: untold, the
        // source makes the task available again.
        match thread.handle(task, ctx) {
            // Halted in `handle`: the task was not handled to its end.
            Err(error) if error.is::<Halted>() => Err(error),
            result => receipt.handled(result),
        }
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }

    fn is_task(&self) -> bool {
        true
    }
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
pub(crate) struct ChildExitJob {
    pub(crate) report: ExitReport,
    pub(crate) refused: Arc<AtomicBool>,
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
