//! The traits a background thread type implements: [`BackgroundThread`] (written by the
//! user) and [`Declared`] (written by `#[background_thread]`).

use crate::context::Context;
use crate::error::{BoxError, ChildFailed};
use crate::outcome::ExitReport;
use crate::restart::Restart;
use crate::timing::Timing;

/// The work a background thread does: set up, handle each task, clean up.
///
/// The runtime calls the methods on the thread it owns, in this order and each call
/// exactly once except `handle`:
///
/// 1. [`startup`](Self::startup): `spawn` returns only after it finished. If it fails
///    or panics, `spawn` returns the error and neither `handle` nor `shutdown` runs;
///    tasks sent meanwhile through a handle from the registry are returned to whoever
///    joins it. (A thread declared with `delay` runs it that long after `spawn`, which
///    returns at once: its failure is then told by the exit.)
/// 2. [`handle`](Self::handle) for every task sent to the thread, in the order they were
///    sent, until the thread is stopped. Returning an error or panicking ends the thread:
///    no further task is handled and the ones still queued are returned to whoever joins.
/// 3. [`shutdown`](Self::shutdown), whatever ended the thread (after `startup`
///    succeeded).
///
/// The type must also carry `#[background_thread]`, which declares its name and queue
/// and gives it `spawn`.
///
/// # Examples
///
/// ```
/// use threadward::{background_thread, BackgroundThread, BoxError, Context};
///
/// #[background_thread]
/// #[derive(Default)]
/// struct Summer {
///     total: u64,
/// }
///
/// impl BackgroundThread for Summer {
///     type Task = u64;
///
///     fn handle(&mut self, task: u64, _ctx: &Context) -> Result<(), BoxError> {
///         self.total += task;
///         Ok(())
///     }
/// }
///
/// let summer = Summer::default().spawn()?;
/// for n in 1..=10 {
///     summer.send(n)?;
/// }
/// assert_eq!(summer.call(|s, _ctx| s.total)?, 55);
/// summer.stop();
/// let exit = summer.join()?;
/// assert_eq!(exit.handled(), 10);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `BackgroundThread`",
    label = "`#[background_thread]` needs `impl BackgroundThread for {Self}`",
    note = "implement `threadward::BackgroundThread` for `{Self}`: `type Task` and `fn handle` are required"
)]
pub trait BackgroundThread: Declared + Sized + Send + 'static {
    /// What is sent to the thread and handed to [`handle`](Self::handle).
    type Task: Send + 'static;

    /// Runs first, on the new thread, before `spawn` returns.
    ///
    /// # Errors
    ///
    /// An error makes `spawn` fail with it; the thread ends without running `handle` or
    /// `shutdown`.
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        let _ = ctx;
        Ok(())
    }

    /// Handles one task.
    ///
    /// # Errors
    ///
    /// An error ends the thread: `shutdown` runs, the tasks still queued are returned in
    /// the exit report and the report's outcome carries the error. Errors that the thread
    /// should survive are to be handled here (logged, retried) and not returned.
    ///
    /// The runtime reports the failure as a `tracing` event (install a subscriber to
    /// see it as it happens), in the exit that `join` returns, in the errors of later
    /// sends, and, if nobody joins the thread, in
    /// [`Registry::unjoined_exits`](crate::Registry::unjoined_exits) and the shutdown
    /// report.
    fn handle(&mut self, task: Self::Task, ctx: &Context) -> Result<(), BoxError>;

    /// Runs last, on the thread, after the last task was handled, whatever ended the
    /// thread.
    fn shutdown(&mut self, ctx: &Context) {
        let _ = ctx;
    }

    /// A child tied to this thread by [`Context::spawn_child`] ended. Runs on this
    /// thread, between tasks, once per child, in the order the children ended. Not
    /// called for a child whose `spawn_child` failed (that call returned the error), nor
    /// for one this thread stopped itself: when an instance ends (stopped, halted,
    /// failed, or replaced by a restart) its children are stopped, the last-started
    /// first, before its `shutdown` runs, and the next instance is not told of them.
    ///
    /// # Errors
    ///
    /// An error fails this thread, as one from `handle` does. The default passes a
    /// child's failure on ([`Outcome::is_failure`](crate::Outcome::is_failure): an error
    /// or panic, or a failed delayed `startup`) as a [`ChildFailed`], the way a crash
    /// propagates along OTP's links; a child that was stopped or halted is no failure.
    /// Override it to restart the child, log the failure or ignore it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use threadward::{background_thread, BackgroundThread, BoxError, Context, ExitReport};
    ///
    /// #[background_thread]
    /// struct Fetch;
    /// impl BackgroundThread for Fetch {
    ///     type Task = ();
    ///     fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
    ///         Err("connection refused".into())
    ///     }
    /// }
    ///
    /// #[background_thread]
    /// struct Crawler {
    ///     told: mpsc::Sender<String>,
    /// }
    /// impl BackgroundThread for Crawler {
    ///     type Task = ();
    ///     fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
    ///         ctx.spawn_child(Fetch)?.send(())?;
    ///         Ok(())
    ///     }
    ///     fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> { Ok(()) }
    ///     fn child_exited(&mut self, child: &ExitReport, _: &Context) -> Result<(), BoxError> {
    ///         let _ = self.told.send(child.outcome().to_string()); // logged, not passed on
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let (told, news) = mpsc::channel();
    /// let crawler = Crawler { told }.spawn()?;
    /// let news = news.recv_timeout(std::time::Duration::from_secs(10))?;
    /// assert_eq!(news, "failed: connection refused");
    /// assert!(crawler.is_alive());
    /// crawler.stop();
    /// assert!(crawler.join()?.outcome().is_clean());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn child_exited(&mut self, child: &ExitReport, ctx: &Context) -> Result<(), BoxError> {
        let _ = ctx;
        if child.outcome().is_failure() {
            return Err(ChildFailed::new(child.clone()).into());
        }
        Ok(())
    }
}

/// The declaration `#[background_thread]` writes for a type: its name, queue, time and
/// whether it is a singleton.
///
/// Implemented by the attribute; do not implement it by hand. It is a supertrait of
/// [`BackgroundThread`] so that a type cannot be run without the attribute.
///
/// # Examples
///
/// ```
/// use threadward::{background_thread, Declared};
///
/// #[background_thread(name = "mailer", capacity = 16)]
/// struct Mailer;
/// # impl threadward::BackgroundThread for Mailer {
/// #     type Task = ();
/// #     fn handle(&mut self, _: (), _: &threadward::Context) -> Result<(), threadward::BoxError> { Ok(()) }
/// # }
///
/// assert_eq!(Mailer::NAME, "mailer");
/// assert_eq!(Mailer::CAPACITY, Some(16));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not declared as a background thread",
    label = "`{Self}` needs the `#[background_thread]` attribute",
    note = "add `#[threadward::background_thread]` to the definition of `{Self}`"
)]
pub trait Declared {
    /// The thread's name: its factory name, its registry name and its OS thread name.
    const NAME: &'static str;
    /// The queue's capacity: `None` for an unbounded queue. Never `Some(0)`.
    const CAPACITY: Option<usize>;
    /// Its time (`every`, `missed`, `delay`, `deadline`): none unless declared.
    const TIMING: Timing = Timing::NONE;
    /// When a failed thread is replaced by a fresh value (`restart`, `max_restarts`,
    /// `within`, `backoff`): never unless declared.
    const RESTART: Restart = Restart::NEVER;
    /// Whether at most one thread of the type may be alive in a registry
    /// (`singleton`): a second `spawn` fails with
    /// [`SpawnFailure::AlreadyRunning`](crate::SpawnFailure::AlreadyRunning).
    const SINGLETON: bool = false;
    /// How many workers serve the type's queue (`workers`): 1, a thread, unless
    /// declared; more make a [`Pool`](crate::Pool), the extra instances built as a
    /// restart builds them (the `factory`, or `Default`).
    const WORKERS: usize = 1;

    /// How this value is spawned: what the type declares, or (for a closure thread)
    /// what its builder said. Not a public API.
    #[doc(hidden)]
    fn __declaration(&self) -> Declaration
    where
        Self: Sized,
    {
        Declaration::of::<Self>()
    }

    /// A fresh value for a restart, through the type's factory; written by the
    /// attribute for a thread declared with `restart`. Not a public API.
    #[doc(hidden)]
    fn __rebuild() -> Option<Self>
    where
        Self: Sized,
    {
        None
    }

    /// Runs the thread's [`Ticking::tick`]; written by the attribute for a thread
    /// declared with `every` (which makes `Ticking` required). Not a public API.
    #[doc(hidden)]
    fn __tick(&mut self, ctx: &Context) -> Result<(), BoxError> {
        let _ = ctx;
        Ok(())
    }
}

/// How a value is spawned (see [`Declared`]). Not a public API.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Declaration {
    pub(crate) name: &'static str,
    pub(crate) capacity: Option<usize>,
    pub(crate) timing: Timing,
    pub(crate) singleton: bool,
    /// Whether a `()` task is queued before the thread starts (a closure thread's
    /// first run).
    pub(crate) run_at_once: bool,
    pub(crate) restart: Restart,
    pub(crate) workers: usize,
    /// Whether a shutdown stops it after the others (see `Context::stop_last`).
    pub(crate) stop_last: bool,
}

impl Declaration {
    /// What the type `T` declares.
    pub(crate) const fn of<T: Declared>() -> Self {
        Self {
            name: T::NAME,
            capacity: T::CAPACITY,
            timing: T::TIMING,
            singleton: T::SINGLETON,
            run_at_once: false,
            restart: T::RESTART,
            workers: T::WORKERS,
            stop_last: false,
        }
    }
}

/// What a thread declared with `every = "…"` does at each tick: between tasks, on its
/// own thread, at a fixed rate.
///
/// The run loop waits for the next task or the next tick, whichever comes first (no
/// extra thread, no polling); a thread busy with tasks still ticks, reading the clock
/// about 16 times a period and at least every 64 tasks (so a tick is late by at most
/// a sixteenth of a period while task costs are steady, and by at most 64 tasks when
/// small tasks suddenly give way to slow ones). When a tick comes due while the thread
/// is busy, [`MissedTicks`](crate::MissedTicks) (`missed = "skip"`, the default,
/// `"burst"` or `"delay"`) says what happens. [`Context::set_every`] changes the period
/// at run time. Ticks stop once the thread is stopping: it then handles the tasks it
/// accepted, runs `shutdown` (the place for a last flush) and ends. `tick` runs only for
/// a thread declared with `every`.
///
/// # Examples
///
/// A log shipper that flushes every 100 lines, or every 200 ms:
///
/// ```
/// use threadward::{background_thread, BackgroundThread, BoxError, Context, Ticking};
///
/// #[background_thread(every = "200ms")]
/// #[derive(Default)]
/// struct Shipper {
///     batch: Vec<String>,
///     shipped: usize,
/// }
///
/// impl Shipper {
///     fn flush(&mut self) {
///         self.shipped += self.batch.len();
///         self.batch.clear();
///     }
/// }
///
/// impl BackgroundThread for Shipper {
///     type Task = String;
///     fn handle(&mut self, line: String, _ctx: &Context) -> Result<(), BoxError> {
///         self.batch.push(line);
///         if self.batch.len() == 100 {
///             self.flush();
///         }
///         Ok(())
///     }
///     fn shutdown(&mut self, _ctx: &Context) {
///         self.flush();
///     }
/// }
///
/// impl Ticking for Shipper {
///     fn tick(&mut self, _ctx: &Context) -> Result<(), BoxError> {
///         self.flush();
///         Ok(())
///     }
/// }
///
/// let shipper = Shipper::default().spawn()?;
/// shipper.send("hello".into())?;
/// // One line: no batch of 100, but the next tick ships it.
/// let waited = std::time::Instant::now();
/// while shipper.call(|s, _ctx| s.shipped)? == 0 {
///     assert!(waited.elapsed().as_secs() < 10, "never ticked");
///     std::thread::sleep(std::time::Duration::from_millis(10));
/// }
/// shipper.stop();
/// shipper.join()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is declared with `every` but does not implement `Ticking`",
    label = "`every` needs `impl Ticking for {Self}`",
    note = "implement `threadward::Ticking` for `{Self}`: `fn tick(&mut self, ctx: &Context) -> Result<(), BoxError>` runs at every period"
)]
pub trait Ticking: BackgroundThread {
    /// Runs at every period, between tasks.
    ///
    /// # Errors
    ///
    /// An error ends the thread, as one from [`handle`](BackgroundThread::handle) does.
    fn tick(&mut self, ctx: &Context) -> Result<(), BoxError>;
}
