//! [`Handle<T>`]: the typed handle to a thread: send it tasks, call into it, stop, halt
//! and join it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::message::{CallJob, CastJob, Message};
use super::reply::reply;
use super::sender::Sender;
use super::shared::Shared;
use crate::context::Context;
use crate::control::Control;
use crate::error::{
    refused_in, CallError, CastError, JoinError, JoinTimeoutError, SendError, SendTimeoutError,
    TrySendError,
};
use crate::exit::Exit;
use crate::ids::{State, ThreadId};
use crate::info::ThreadInfo;
use crate::outcome::ExitReport;
use crate::queue::Refused;
use crate::thread::BackgroundThread;

/// A typed handle to a running thread: send it tasks, call into it, stop it, join it.
///
/// Returned by `spawn` once `startup` has finished (at once for a thread declared with
/// `delay`, whose `startup` runs later). Cheap to clone; every clone controls
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
    pub(super) sender: Sender<T>,
}

impl<T: BackgroundThread> Handle<T> {
    pub(crate) fn new(shared: Arc<Shared<T>>) -> Self {
        Self {
            sender: Sender { shared },
        }
    }

    pub(super) fn shared(&self) -> &Shared<T> {
        &self.sender.shared
    }

    pub(super) fn control(&self) -> &Control {
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
    ///
    /// # Examples
    ///
    /// Load shedding: when the thread is behind, the caller keeps the task (to retry,
    /// or to answer "busy") instead of waiting.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use threadward::{background_thread, BackgroundThread, BoxError, Context, TrySendError};
    ///
    /// #[background_thread(capacity = 1)]
    /// struct Slow {
    ///     gate: mpsc::Receiver<()>,
    /// }
    ///
    /// impl BackgroundThread for Slow {
    ///     type Task = u32;
    ///     fn handle(&mut self, _: u32, _ctx: &Context) -> Result<(), BoxError> {
    ///         Ok(self.gate.recv()?) // waits until the test lets it go
    ///     }
    /// }
    ///
    /// let (open, gate) = mpsc::channel();
    /// let slow = Slow { gate }.spawn()?;
    /// slow.send(1)?; // taken by `handle`, which waits
    /// while slow.info().queue_depth > 0 {
    ///     std::thread::yield_now();
    /// }
    /// slow.send(2)?; // fills the queue of one
    /// match slow.try_send(3) {
    ///     Err(TrySendError::Full(task)) => assert_eq!(task, 3), // handed back at once
    ///     other => panic!("expected a full queue, got {other:?}"),
    /// }
    /// open.send(())?;
    /// open.send(())?;
    /// slow.stop();
    /// assert_eq!(slow.join()?.handled(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_send(&self, task: T::Task) -> Result<(), TrySendError<T::Task>> {
        self.sender.try_send(task)
    }

    /// Queues a task, waiting at most `timeout` for room in a bounded queue.
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Timeout`] if no room was had before `timeout` ran out (the
    /// queue stayed full, or other senders took the room that was made),
    /// [`SendTimeoutError::Closed`] once the thread is stopping or has ended; both hand
    /// the task back.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadward::{background_thread, BackgroundThread, BoxError, Context, SendTimeoutError};
    ///
    /// #[background_thread(capacity = 1)]
    /// #[derive(Default)]
    /// struct Slow;
    ///
    /// impl BackgroundThread for Slow {
    ///     type Task = u32;
    ///     fn handle(&mut self, _: u32, ctx: &Context) -> Result<(), BoxError> {
    ///         ctx.sleep(Duration::from_secs(3600)); // busy until halted
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let slow = Slow::default().spawn()?;
    /// // The queue holds one task and the thread one more: the third send times out.
    /// let refused = (1..=3).find_map(|task| slow.send_timeout(task, Duration::from_millis(20)).err());
    /// assert!(matches!(refused, Some(SendTimeoutError::Timeout(_))));
    /// slow.halt();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
        let (reply, answer) = reply();
        if let Err(refused) = self.shared().queue.send(Message::job(CallJob { f, reply })) {
            return Err(CallError::Closed(
                refused.into_job::<CallJob<F, R>>().f,
                refused_in(self.state()),
            ));
        }
        // The job is dropped unanswered if the thread ends first, which ends the wait.
        answer.recv().ok_or(CallError::Ended)
    }

    /// Runs `f` on the thread, after the tasks queued before it, without waiting for it
    /// to run. Waits for room in a full bounded queue, except on the thread itself,
    /// where that wait could never end.
    ///
    /// # Errors
    ///
    /// [`CastError::Closed`] once the thread is stopping or has ended;
    /// [`CastError::Full`] when cast from the thread itself to its own full queue. Both
    /// hand the closure back.
    ///
    /// # Examples
    ///
    /// ```
    /// # use threadward::{background_thread, BackgroundThread, BoxError, Context};
    /// # #[background_thread] #[derive(Default)] struct Counter { n: u32 }
    /// # impl BackgroundThread for Counter {
    /// #     type Task = ();
    /// #     fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> { Ok(()) }
    /// # }
    /// let counter = Counter::default().spawn()?;
    /// counter.cast(|c, _ctx| c.n += 1)?;
    /// assert_eq!(counter.call(|c, _ctx| c.n)?, 1); // the cast ran before the call
    /// counter.stop();
    /// let refused = counter.cast(|c, _ctx| c.n += 1).unwrap_err();
    /// let _closure = refused.into_inner(); // handed back, never run
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cast<F>(&self, f: F) -> Result<(), CastError<F>>
    where
        F: FnOnce(&mut T, &Context) + Send + 'static,
    {
        let shared = self.shared();
        let message = Message::job(CastJob(f));
        let refused = if shared.control.is_current() {
            match shared.queue.try_send(message) {
                Ok(()) => return Ok(()),
                Err(Refused::Full(m)) => return Err(CastError::Full(m.into_job::<CastJob<F>>().0)),
                Err(Refused::Timeout(m) | Refused::Closed(m)) => m,
            }
        } else {
            match shared.queue.send(message) {
                Ok(()) => return Ok(()),
                Err(m) => m,
            }
        };
        Err(CastError::Closed(
            refused.into_job::<CastJob<F>>().0,
            refused_in(shared.control.state()),
        ))
    }

    /// Asks the thread to stop: from now on it accepts no tasks (fed from a source, once
    /// the source delivered what it took), handles the ones it accepted, runs
    /// `shutdown` and ends. Does not wait for that ([`join`](Self::join) does), but the
    /// first request runs the thread's [`Context::on_stop`] hooks here. Idempotent.
    pub fn stop(&self) {
        self.control().request_stop();
    }

    /// Halts the thread: it accepts no tasks, the next checkpoint (or interruptible wait)
    /// in `handle` unwinds, tasks still queued are not handled but returned in the
    /// [`Exit`], and `shutdown` runs. Code that never reaches a checkpoint cannot be
    /// halted; it finishes its current task first. Idempotent, and valid in every state.
    ///
    /// See [`Context::checkpoint`] for an example.
    pub fn halt(&self) {
        self.control().request_halt();
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
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadward::{background_thread, BackgroundThread, BoxError, Context, JoinTimeoutError};
    ///
    /// #[background_thread]
    /// struct Idle;
    ///
    /// impl BackgroundThread for Idle {
    ///     type Task = ();
    ///     fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> { Ok(()) }
    /// }
    ///
    /// let idle = Idle.spawn()?;
    /// // Not stopped: it is still running when the wait runs out.
    /// let waited = idle.join_timeout(Duration::from_millis(10));
    /// assert!(matches!(waited, Err(JoinTimeoutError::Timeout)));
    ///
    /// idle.stop();
    /// let exit = idle.join_timeout(Duration::from_secs(10))?;
    /// assert!(exit.outcome().is_clean());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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

    pub(super) fn take_exit(&self, report: ExitReport) -> Result<Exit<T>, ExitReport> {
        self.control().mark_exit_taken();
        match self.shared().take_undelivered() {
            Some(undelivered) => Ok(Exit {
                report,
                undelivered,
            }),
            None => Err(report),
        }
    }

    /// Runs `f` with the thread's exit report once it has ended: once, on the ending
    /// thread (keep it short: joiners wait for it), or at once, here, if it already
    /// ended. No polling; [`monitor`](Self::monitor) gives the report as a channel.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let brief = threadward::thread("brief").spawn(|_ctx| Ok(()))?;
    /// let exit = brief.monitor().recv_timeout(Duration::from_secs(10))?;
    /// assert!(exit.outcome().is_clean());
    /// // Subscribed after the end: told at once.
    /// let (told, heard) = std::sync::mpsc::channel();
    /// brief.on_exit(move |exit| told.send(exit.id()).unwrap());
    /// assert_eq!(heard.try_recv()?, brief.id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_exit(&self, f: impl FnOnce(&ExitReport) + Send + 'static) {
        self.control().on_exit(Box::new(f));
    }

    /// A channel that receives the thread's exit report once it has ended (at once if
    /// it already has).
    pub fn monitor(&self) -> std::sync::mpsc::Receiver<ExitReport> {
        self.to_any().monitor()
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
        ThreadInfo::of(self.control())
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
