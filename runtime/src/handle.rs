//! Handles to a running thread: [`Handle<T>`] (typed, full control), [`Sender<T>`]
//! (sending only) and [`AnyHandle`] (type-erased, from the registry or the factory).

use std::any::Any;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crossbeam_channel as channel;

use crate::context::Context;
use crate::control::Control;
use crate::error::{
    CallError, JoinError, JoinTimeoutError, SendError, SendTimeoutError, TrySendError,
};
use crate::exit::{Exit, ExitReport};
use crate::queue::{Job, Message, Outbox, PushError};
use crate::registry::{Managed, State, ThreadId, ThreadInfo};
use crate::thread::BackgroundThread;

/// What the handles of one thread share with it.
pub(crate) struct Shared<T: BackgroundThread> {
    pub(crate) control: Arc<Control>,
    pub(crate) outbox: Outbox<T>,
    /// Filled by the thread when it ends, taken by the first `join`.
    pub(crate) undelivered: Mutex<Option<Vec<T::Task>>>,
}

impl<T: BackgroundThread> Managed for Shared<T> {
    fn control(&self) -> &Control {
        &self.control
    }

    fn queue_depth(&self) -> usize {
        self.outbox.len()
    }

    fn stop(&self) {
        self.control.request_stop();
        self.outbox.wake();
    }

    fn halt(&self) {
        self.control.request_halt();
        self.outbox.wake();
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

/// Sends tasks to a thread, and nothing else: what to give a producer that must not
/// stop or join the thread. Cheap to clone.
///
/// # Examples
///
/// ```
/// # use threadward::{background_thread, BackgroundThread, BoxError, Context};
/// # #[background_thread] #[derive(Default)] struct Log { lines: usize }
/// # impl BackgroundThread for Log {
/// #     type Task = String;
/// #     fn handle(&mut self, _: String, _: &Context) -> Result<(), BoxError> { self.lines += 1; Ok(()) }
/// # }
/// let log = Log::default().spawn()?;
/// let sender = log.sender();
/// std::thread::spawn(move || sender.send("from a producer".to_string())).join().unwrap()?;
/// log.stop();
/// assert_eq!(log.join()?.handled(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Sender<T: BackgroundThread> {
    shared: Arc<Shared<T>>,
}

impl<T: BackgroundThread> Sender<T> {
    /// Queues a task, blocking while a bounded queue is full.
    ///
    /// # Errors
    ///
    /// Fails, handing the task back, once the thread is stopping or has ended.
    #[inline]
    pub fn send(&self, task: T::Task) -> Result<(), SendError<T::Task>> {
        let shared = &*self.shared;
        let Some(admitted) = shared.control.gate.admit() else {
            return Err(SendError(task));
        };
        shared
            .outbox
            .push(admitted, Message::Task(task))
            .map_err(|message| SendError(message.into_task()))
    }

    /// Queues a task if the queue has room now.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] if a bounded queue is full, [`TrySendError::Closed`] once
    /// the thread is stopping or has ended; both hand the task back.
    pub fn try_send(&self, task: T::Task) -> Result<(), TrySendError<T::Task>> {
        let shared = &*self.shared;
        let Some(admitted) = shared.control.gate.admit() else {
            return Err(TrySendError::Closed(task));
        };
        shared
            .outbox
            .try_push(admitted, Message::Task(task))
            .map_err(|e| match e {
                PushError::Full(m) => TrySendError::Full(m.into_task()),
                PushError::Timeout(m) | PushError::Closed(m) => TrySendError::Closed(m.into_task()),
            })
    }

    /// Queues a task, waiting at most `timeout` for room in a bounded queue.
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Timeout`] if the queue stayed full,
    /// [`SendTimeoutError::Closed`] once the thread is stopping or has ended; both hand
    /// the task back.
    pub fn send_timeout(
        &self,
        task: T::Task,
        timeout: Duration,
    ) -> Result<(), SendTimeoutError<T::Task>> {
        let shared = &*self.shared;
        let Some(admitted) = shared.control.gate.admit() else {
            return Err(SendTimeoutError::Closed(task));
        };
        shared
            .outbox
            .push_timeout(admitted, Message::Task(task), timeout)
            .map_err(|e| match e {
                PushError::Full(m) | PushError::Timeout(m) => {
                    SendTimeoutError::Timeout(m.into_task())
                }
                PushError::Closed(m) => SendTimeoutError::Closed(m.into_task()),
            })
    }

    /// Whether the thread no longer accepts tasks.
    pub fn is_closed(&self) -> bool {
        self.shared.control.gate.is_closed()
    }
}

impl<T: BackgroundThread> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T: BackgroundThread> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("name", &self.shared.control.name)
            .field("id", &self.shared.control.id)
            .finish_non_exhaustive()
    }
}

/// A typed handle to a running thread: send it tasks, call into it, stop it, join it.
///
/// Returned by `spawn` once `startup` has finished. Cheap to clone; every clone controls
/// the same thread. Dropping handles does not stop the thread: it runs until it is
/// stopped (through a handle, its registry or its own [`Context::stop`]), or fails.
///
/// # Examples
///
/// ```
/// use threadward::{background_thread, BackgroundThread, BoxError, Context, Outcome};
///
/// #[background_thread(capacity = 64)]
/// #[derive(Default)]
/// struct Counter { seen: Vec<u32> }
///
/// impl BackgroundThread for Counter {
///     type Task = u32;
///     fn handle(&mut self, task: u32, _ctx: &Context) -> Result<(), BoxError> {
///         self.seen.push(task);
///         Ok(())
///     }
/// }
///
/// let counter = Counter::default().spawn()?;
/// counter.send(1)?;
/// counter.send(2)?;
/// // `call` runs on the thread, between tasks, and returns the closure's value.
/// assert_eq!(counter.call(|c, _ctx| c.seen.clone())?, [1, 2]);
///
/// counter.stop(); // no new tasks; the queued ones are still handled
/// assert!(counter.send(3).is_err());
/// let exit = counter.join()?;
/// assert!(matches!(exit.outcome(), Outcome::Stopped));
/// assert_eq!(exit.handled(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Handle<T: BackgroundThread> {
    sender: Sender<T>,
}

impl<T: BackgroundThread> Handle<T> {
    pub(crate) fn new(shared: Arc<Shared<T>>) -> Self {
        Self {
            sender: Sender { shared },
        }
    }

    fn shared(&self) -> &Shared<T> {
        &self.sender.shared
    }

    fn control(&self) -> &Control {
        &self.sender.shared.control
    }

    /// Queues a task, blocking while a bounded queue is full. (On the thread itself, a
    /// full bounded queue would never drain while it waits: use
    /// [`try_send`](Self::try_send) there.)
    ///
    /// # Errors
    ///
    /// Fails, handing the task back, once the thread is stopping or has ended.
    #[inline]
    pub fn send(&self, task: T::Task) -> Result<(), SendError<T::Task>> {
        self.sender.send(task)
    }

    /// Queues a task if the queue has room now.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] if a bounded queue is full, [`TrySendError::Closed`] once
    /// the thread is stopping or has ended; both hand the task back.
    pub fn try_send(&self, task: T::Task) -> Result<(), TrySendError<T::Task>> {
        self.sender.try_send(task)
    }

    /// Queues a task, waiting at most `timeout` for room in a bounded queue.
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Timeout`] if the queue stayed full,
    /// [`SendTimeoutError::Closed`] once the thread is stopping or has ended; both hand
    /// the task back.
    pub fn send_timeout(
        &self,
        task: T::Task,
        timeout: Duration,
    ) -> Result<(), SendTimeoutError<T::Task>> {
        self.sender.send_timeout(task, timeout)
    }

    /// A handle that can only send tasks.
    pub fn sender(&self) -> Sender<T> {
        self.sender.clone()
    }

    /// Runs `f` on the thread, after the tasks queued before it, and returns its value.
    ///
    /// The closure gets the thread's value and its [`Context`], as `handle` does. It
    /// waits in the same queue as tasks (so on a full bounded queue, `call` waits for
    /// room), and a stopping thread still runs the calls it accepted.
    ///
    /// # Errors
    ///
    /// [`CallError::Closed`] (closure handed back) once the thread is stopping or has
    /// ended; [`CallError::OwnThread`] (closure handed back) when called from the thread
    /// itself, where waiting would deadlock; [`CallError::Ended`] if the thread ended
    /// before answering — a panic in `f` ends the thread like a panic in `handle`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use threadward::{background_thread, BackgroundThread, BoxError, Context};
    /// # #[background_thread] #[derive(Default)] struct Cache { entries: Vec<String> }
    /// # impl BackgroundThread for Cache {
    /// #     type Task = String;
    /// #     fn handle(&mut self, task: String, _: &Context) -> Result<(), BoxError> { self.entries.push(task); Ok(()) }
    /// # }
    /// let cache = Cache::default().spawn()?;
    /// cache.send("a".into())?;
    /// let (len, thread_name) = cache.call(|cache, ctx| (cache.entries.len(), ctx.name()))?;
    /// assert_eq!((len, thread_name), (1, "cache"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn call<F, R>(&self, f: F) -> Result<R, CallError<F>>
    where
        F: FnOnce(&mut T, &Context) -> R + Send + 'static,
        R: Send + 'static,
    {
        if self.control().is_current() {
            return Err(CallError::OwnThread(f));
        }
        let shared = self.shared();
        let Some(admitted) = shared.control.gate.admit() else {
            return Err(CallError::Closed(f));
        };
        let (reply_tx, reply_rx) = channel::bounded(1);
        let job: Job<T> = Box::new(move |thread: &mut T, ctx: &Context| {
            // The caller may have given up waiting; the answer is then not needed.
            let _ = reply_tx.send(f(thread, ctx));
        });
        if shared
            .outbox
            .push(admitted, Message::Job(Box::new(job)))
            .is_err()
        {
            return Err(CallError::Ended);
        }
        // The job is dropped unanswered if the thread ends first, which disconnects.
        reply_rx.recv().map_err(|_| CallError::Ended)
    }

    /// Runs `f` on the thread, after the tasks queued before it, without waiting.
    ///
    /// # Errors
    ///
    /// Fails, handing the closure back, once the thread is stopping or has ended.
    pub fn cast<F>(&self, f: F) -> Result<(), SendError<F>>
    where
        F: FnOnce(&mut T, &Context) + Send + 'static,
    {
        let shared = self.shared();
        let Some(admitted) = shared.control.gate.admit() else {
            return Err(SendError(f));
        };
        // The channel cannot be disconnected while we are admitted (see `queue`), so a
        // failed push only happens if the thread is gone, and then the job is moot.
        let job: Job<T> = Box::new(f);
        let _ = shared.outbox.push(admitted, Message::Job(Box::new(job)));
        Ok(())
    }

    /// Asks the thread to stop: from now on it accepts no tasks, handles the ones it
    /// accepted, runs `shutdown` and ends. Does not wait for that ([`join`](Self::join)
    /// does), but the first request runs the thread's [`Context::on_stop`] hooks here,
    /// before returning. Idempotent, and valid in every state.
    pub fn stop(&self) {
        self.shared().stop();
    }

    /// Halts the thread: it accepts no tasks, the next checkpoint (or interruptible wait)
    /// in `handle` unwinds, tasks still queued are not handled but returned in the
    /// [`Exit`], and `shutdown` runs. Code that never reaches a checkpoint cannot be
    /// halted; it finishes its current task first. Idempotent, and valid in every state.
    ///
    /// See [`Context::checkpoint`] for an example.
    pub fn halt(&self) {
        self.shared().halt();
    }

    /// Waits for the thread to end and takes its [`Exit`]: the report and the tasks it
    /// accepted but did not handle.
    ///
    /// When it returns, `shutdown` has run, the thread's value has been dropped and the
    /// OS thread has exited. `join` does not stop the thread; call [`stop`](Self::stop)
    /// first.
    ///
    /// # Errors
    ///
    /// [`JoinError::OwnThread`] when called from the thread itself;
    /// [`JoinError::AlreadyJoined`] (with the report) when another `join` already took
    /// the exit.
    pub fn join(&self) -> Result<Exit<T>, JoinError> {
        if self.control().is_current() {
            return Err(JoinError::OwnThread);
        }
        let report = self.control().wait_exit();
        self.take_exit(report).map_err(JoinError::AlreadyJoined)
    }

    /// Like [`join`](Self::join), waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`JoinTimeoutError::Timeout`] if the thread is still running after `timeout`, and
    /// the errors of [`join`](Self::join).
    pub fn join_timeout(&self, timeout: Duration) -> Result<Exit<T>, JoinTimeoutError> {
        if self.control().is_current() {
            return Err(JoinTimeoutError::OwnThread);
        }
        let report = self
            .control()
            .wait_exit_timeout(timeout)
            .ok_or(JoinTimeoutError::Timeout)?;
        self.take_exit(report)
            .map_err(JoinTimeoutError::AlreadyJoined)
    }

    fn take_exit(&self, report: ExitReport) -> Result<Exit<T>, ExitReport> {
        let undelivered = self
            .shared()
            .undelivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match undelivered {
            Some(undelivered) => Ok(Exit {
                report,
                undelivered,
            }),
            None => Err(report),
        }
    }

    /// Where the thread is in its lifecycle.
    pub fn state(&self) -> State {
        self.control().state()
    }

    /// Whether the thread has not ended yet.
    pub fn is_alive(&self) -> bool {
        self.state().is_alive()
    }

    /// The thread's name.
    pub fn name(&self) -> &'static str {
        self.control().name
    }

    /// The thread's id.
    pub fn id(&self) -> ThreadId {
        self.control().id
    }

    /// A snapshot of the thread.
    pub fn info(&self) -> ThreadInfo {
        self.shared().info()
    }

    /// A type-erased handle to the same thread.
    pub fn to_any(&self) -> AnyHandle {
        AnyHandle::from_managed(Arc::clone(&self.sender.shared) as Arc<dyn Managed>)
    }
}

impl<T: BackgroundThread> Clone for Handle<T> {
    fn clone(&self) -> Self {
        Self {
            sender: self.sender.clone(),
        }
    }
}

impl<T: BackgroundThread> fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("name", &self.name())
            .field("id", &self.id())
            .field("state", &self.state())
            .finish()
    }
}

impl<T: BackgroundThread> From<Handle<T>> for AnyHandle {
    fn from(handle: Handle<T>) -> Self {
        AnyHandle::from_managed(handle.sender.shared)
    }
}

/// A handle to a thread of any type, as the registry and [`create`](crate::create) give
/// it. It can observe, stop and join the thread; [`downcast`](Self::downcast) gives the
/// typed [`Handle`] back for sending tasks.
///
/// # Examples
///
/// ```
/// # use threadward::{background_thread, BackgroundThread, BoxError, Context};
/// # #[background_thread(name = "pinger")] #[derive(Default)] struct Pinger;
/// # impl BackgroundThread for Pinger {
/// #     type Task = ();
/// #     fn handle(&mut self, _: (), _: &Context) -> Result<(), BoxError> { Ok(()) }
/// # }
/// let any = threadward::create("pinger")?;
/// assert_eq!(any.name(), "pinger");
/// let pinger = any.downcast::<Pinger>().expect("created as a Pinger");
/// pinger.send(())?;
/// pinger.stop();
/// assert_eq!(pinger.join()?.handled(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct AnyHandle {
    managed: Arc<dyn Managed>,
}

impl AnyHandle {
    pub(crate) fn from_managed(managed: Arc<dyn Managed>) -> Self {
        Self { managed }
    }

    /// The typed handle, if the thread is a `T`; otherwise this handle, back.
    ///
    /// # Errors
    ///
    /// Returns `self` unchanged when the thread is not a `T`.
    pub fn downcast<T: BackgroundThread>(self) -> Result<Handle<T>, AnyHandle> {
        if !self.is::<T>() {
            return Err(self);
        }
        Arc::clone(&self.managed)
            .into_any()
            .downcast::<Shared<T>>()
            .map(Handle::new)
            .map_err(|_| self)
    }

    /// Whether the thread is a `T`.
    pub fn is<T: BackgroundThread>(&self) -> bool {
        let any: &dyn Any = &*Arc::clone(&self.managed).into_any();
        any.is::<Shared<T>>()
    }

    /// Asks the thread to stop, as [`Handle::stop`] does.
    pub fn stop(&self) {
        self.managed.stop();
    }

    /// Halts the thread, as [`Handle::halt`] does.
    pub fn halt(&self) {
        self.managed.halt();
    }

    /// Waits for the thread to end and returns how it ended. The undelivered tasks stay
    /// for a typed [`Handle::join`].
    ///
    /// # Errors
    ///
    /// [`JoinError::OwnThread`] when called from the thread itself.
    pub fn join(&self) -> Result<ExitReport, JoinError> {
        if self.managed.control().is_current() {
            return Err(JoinError::OwnThread);
        }
        Ok(self.managed.control().wait_exit())
    }

    /// Like [`join`](Self::join), waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`JoinTimeoutError::Timeout`] if the thread is still running after `timeout`;
    /// [`JoinTimeoutError::OwnThread`] when called from the thread itself.
    pub fn join_timeout(&self, timeout: Duration) -> Result<ExitReport, JoinTimeoutError> {
        if self.managed.control().is_current() {
            return Err(JoinTimeoutError::OwnThread);
        }
        self.managed
            .control()
            .wait_exit_timeout(timeout)
            .ok_or(JoinTimeoutError::Timeout)
    }

    /// Where the thread is in its lifecycle.
    pub fn state(&self) -> State {
        self.managed.control().state()
    }

    /// Whether the thread has not ended yet.
    pub fn is_alive(&self) -> bool {
        self.state().is_alive()
    }

    /// The thread's name.
    pub fn name(&self) -> &'static str {
        self.managed.control().name
    }

    /// The thread's id.
    pub fn id(&self) -> ThreadId {
        self.managed.control().id
    }

    /// The Rust type of the thread.
    pub fn type_name(&self) -> &'static str {
        self.managed.control().type_name
    }

    /// A snapshot of the thread.
    pub fn info(&self) -> ThreadInfo {
        self.managed.info()
    }
}

impl fmt::Debug for AnyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnyHandle")
            .field("name", &self.name())
            .field("id", &self.id())
            .field("type", &self.type_name())
            .field("state", &self.state())
            .finish()
    }
}
