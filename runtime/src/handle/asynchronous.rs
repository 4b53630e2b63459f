//! The `async` counterparts of the handles' waiting operations (the `async` feature):
//! an async task awaits room in a bounded queue, the answer of a call, or the thread's
//! exit, where a thread would block. They work on any executor: a waiting future
//! leaves its task's waker with what it waits on, is woken when that changes, and takes
//! the waker back if it is dropped first.

use std::future::poll_fn;
use std::task::Poll;

use super::message::{CallJob, CastJob, Message};
use super::reply::reply;
use super::{Handle, Sender};
use crate::context::Context;
use crate::control::Control;
use crate::error::{refused_in, CallError, CastError, JoinError, SendError};
use crate::exit::Exit;
use crate::thread::BackgroundThread;

#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
impl<T: BackgroundThread> Sender<T> {
    /// Queues a task, awaiting room while a bounded queue is full: [`send`](Self::send)
    /// for async code, which must not block its executor's thread.
    ///
    /// Needs the `async` feature.
    ///
    /// Dropping the future before it resolves queues nothing; the task is dropped
    /// with it. (Wrap it in your runtime's timeout to bound the wait.)
    ///
    /// # Errors
    ///
    /// Fails, handing the task back, once the thread is stopping or has ended.
    ///
    /// # Examples
    ///
    /// ```
    /// # use threadward::{background_thread, BackgroundThread, BoxError, Context};
    /// # #[background_thread(capacity = 1)] #[derive(Default)] struct Log { lines: usize }
    /// # impl BackgroundThread for Log {
    /// #     type Task = String;
    /// #     fn handle(&mut self, _: String, _: &Context) -> Result<(), BoxError> { self.lines += 1; Ok(()) }
    /// # }
    /// let log = Log::default().spawn()?;
    /// let sender = log.sender();
    /// let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    /// runtime.block_on(async {
    ///     for line in ["a", "b", "c"] {
    ///         // A full queue (capacity 1) suspends this task, not the executor's thread.
    ///         sender.send_async(line.to_string()).await?;
    ///     }
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })?;
    /// log.stop();
    /// assert_eq!(log.join()?.handled(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn send_async(&self, task: T::Task) -> Result<(), SendError<T::Task>> {
        self.shared
            .queue
            .send_async(Message::Task(task))
            .await
            .map_err(|refused| {
                self.shared.control.count_refused();
                SendError::new(refused.into_item().into_task(), self.shared.control.state())
            })
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
impl<T: BackgroundThread> Handle<T> {
    /// Queues a task, awaiting room while a bounded queue is full. See
    /// [`Sender::send_async`].
    ///
    /// Needs the `async` feature.
    ///
    /// # Errors
    ///
    /// Fails, handing the task back, once the thread is stopping or has ended.
    pub async fn send_async(&self, task: T::Task) -> Result<(), SendError<T::Task>> {
        self.sender.send_async(task).await
    }

    /// Runs `f` on the thread, after the tasks queued before it, and resolves to its
    /// value: [`call`](Self::call) for async code, awaiting room in a full bounded
    /// queue and then the answer, without blocking the executor's thread.
    ///
    /// Needs the `async` feature.
    ///
    /// Dropping the future before the closure was queued queues nothing; dropping it
    /// after does not unqueue it: the closure still runs and its value is dropped.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call): [`CallError::Closed`] (closure handed back) once the
    /// thread is stopping or has ended; [`CallError::OwnThread`] (closure handed back)
    /// from the thread itself; [`CallError::Ended`] if the thread ended before
    /// answering.
    ///
    /// # Examples
    ///
    /// ```
    /// # use threadward::{background_thread, BackgroundThread, BoxError, Context};
    /// # #[background_thread] #[derive(Default)] struct Counter { n: u64 }
    /// # impl BackgroundThread for Counter {
    /// #     type Task = u64;
    /// #     fn handle(&mut self, n: u64, _: &Context) -> Result<(), BoxError> { self.n += n; Ok(()) }
    /// # }
    /// let counter = Counter::default().spawn()?;
    /// counter.send(40)?;
    /// let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    /// let n = runtime.block_on(counter.call_async(|counter, _ctx| counter.n + 2))?;
    /// assert_eq!(n, 42);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn call_async<F, R>(&self, f: F) -> Result<R, CallError<F>>
    where
        F: FnOnce(&mut T, &Context) -> R + Send + 'static,
        R: Send + 'static,
    {
        let shared = &self.sender.shared;
        if shared.control.is_current() {
            return Err(CallError::OwnThread(f));
        }
        let (reply, answer) = reply();
        let job = Message::job(CallJob { f, reply });
        if let Err(refused) = shared.queue.send_async(job).await {
            return Err(CallError::Closed(
                refused.into_item().into_job::<CallJob<F, R>>().f,
                refused_in(shared.control.state()),
            ));
        }
        // The job is dropped unanswered if the thread ends first, which ends the wait.
        answer.await.ok_or(CallError::Ended)
    }

    /// Runs `f` on the thread, after the tasks queued before it, without waiting for it
    /// to run; awaits room in a full bounded queue. [`cast`](Self::cast) for async
    /// code.
    ///
    /// Needs the `async` feature.
    ///
    /// # Errors
    ///
    /// [`CastError::Closed`] once the thread is stopping or has ended;
    /// [`CastError::Full`] when cast from the thread itself to its own full queue. Both
    /// hand the closure back.
    pub async fn cast_async<F>(&self, f: F) -> Result<(), CastError<F>>
    where
        F: FnOnce(&mut T, &Context) + Send + 'static,
    {
        let shared = &self.sender.shared;
        if shared.control.is_current() {
            // Awaiting room on the thread itself could never end: as `cast` does.
            return self.cast(f);
        }
        match shared.queue.send_async(Message::job(CastJob(f))).await {
            Ok(()) => Ok(()),
            Err(refused) => Err(CastError::Closed(
                refused.into_item().into_job::<CastJob<F>>().0,
                refused_in(shared.control.state()),
            )),
        }
    }

    /// Resolves once the thread has ended, to its [`Exit`]: [`join`](Self::join) for
    /// async code. Like `join`, it does not stop the thread.
    ///
    /// Needs the `async` feature.
    ///
    /// When it resolves, `shutdown` has run and the thread's value has been dropped.
    /// Unlike `join`, it does not wait for the OS thread to exit: the thread publishes
    /// its exit as its last act, and only its thread-local destructors can still be
    /// running then (waiting for them would block the executor's thread).
    ///
    /// # Errors
    ///
    /// As [`join`](Self::join): [`JoinError::OwnThread`] from the thread itself;
    /// [`JoinError::AlreadyJoined`] (with the report) when another join already took
    /// the exit.
    ///
    /// # Examples
    ///
    /// ```
    /// # use threadward::{background_thread, BackgroundThread, BoxError, Context, Outcome};
    /// # #[background_thread] #[derive(Default)] struct Worker;
    /// # impl BackgroundThread for Worker {
    /// #     type Task = ();
    /// #     fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> { Ok(()) }
    /// # }
    /// let worker = Worker.spawn()?;
    /// worker.send(())?;
    /// worker.stop();
    /// let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    /// let exit = runtime.block_on(worker.join_async())?;
    /// assert!(matches!(exit.outcome(), Outcome::Stopped));
    /// assert_eq!(exit.handled(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn join_async(&self) -> Result<Exit<T>, JoinError> {
        let control = &self.sender.shared.control;
        if control.is_current() {
            return Err(JoinError::OwnThread);
        }
        let mut waiting = ExitWait { control, key: None };
        let report = poll_fn(|cx| match control.poll_exit(&mut waiting.key, cx.waker()) {
            Some(report) => Poll::Ready(report),
            None => Poll::Pending,
        })
        .await;
        self.take_exit(report).map_err(JoinError::AlreadyJoined)
    }
}

/// A `join_async`'s waker left with the thread's exit slot, taken back when the future
/// is dropped before the exit: a join given up on (a timeout, a `select!`) leaves
/// nothing behind.
struct ExitWait<'a> {
    control: &'a Control,
    key: Option<u64>,
}

impl Drop for ExitWait<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.control.forget_exit_waker(key);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    #![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context as TaskContext, Wake, Waker};

    use crate::context::Context;
    use crate::error::BoxError;
    use crate::thread::{BackgroundThread, Declared};

    struct Idle;

    /// A waker that does nothing: the test polls by hand.
    struct Noop;

    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }

    impl BackgroundThread for Idle {
        type Task = ();
        fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
            Ok(())
        }
    }

    impl Declared for Idle {
        const NAME: &'static str = "idle";
        const CAPACITY: Option<usize> = None;
    }

    #[test]
    fn a_join_async_given_up_on_takes_its_waker_back() {
        let idle = crate::spawn::spawn_in(Idle, &crate::registry::Registry::new()).unwrap();
        let control = &idle.sender.shared.control;
        let waker = Waker::from(Arc::new(Noop));
        let mut cx = TaskContext::from_waker(&waker);
        for _ in 0..1000 {
            let mut join = pin!(idle.join_async());
            assert!(join.as_mut().poll(&mut cx).is_pending());
            assert!(
                join.as_mut().poll(&mut cx).is_pending(),
                "polled twice, listed once"
            );
            assert_eq!(control.exit_wakers(), 1);
        }
        assert_eq!(control.exit_wakers(), 0, "dropped joins left their wakers");
        idle.stop();
        let mut join = pin!(idle.join_async());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while join.as_mut().poll(&mut cx).is_pending() {
            assert!(std::time::Instant::now() < deadline, "never ended");
            std::thread::yield_now();
        }
    }
}
