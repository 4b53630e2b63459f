//! Closure threads: work without a struct, built with [`thread`], with the handle,
//! registry entry, report, stop and halt of every other thread.

use std::fmt;
use std::time::Duration;

use crate::context::Context;
use crate::error::{BoxError, SpawnError};
use crate::handle::Handle;
use crate::registry::{registry, Registry};
use crate::restart::Restart;
use crate::spawn::spawn_in;
use crate::thread::{BackgroundThread, Declaration, Declared};
use crate::timing::{MissedTicks, Timing};

/// Starts building a closure thread named `name`: work without a struct, as
/// `std::thread::spawn` runs it, but managed like every other thread (a typed handle,
/// a registry entry, stop, halt, join and its exit report).
///
/// The closure (the thread's body) gets the thread's [`Context`] and returns a
/// `Result`:
///
/// - without [`every`](ThreadBuilder::every), it runs once, and the thread ends when it
///   returns, [stopped](crate::Outcome::Stopped) (or [failed](crate::Outcome::Failed) if
///   it returned an error); a [`send(())`](Handle::send) accepted before then runs it
///   once more before the thread ends. A long body watches [`Context::is_stopping`] or waits with
///   [`Context::sleep`]/[`Context::recv`], which a stop or the
///   [`deadline`](ThreadBuilder::deadline) cuts short;
/// - with [`every`](ThreadBuilder::every), it runs at once and then at every period, as
///   a declared thread's [`tick`](crate::Ticking::tick) does, until the thread is
///   stopped. Each [`send(())`](Handle::send) runs it once more, between periods.
///
/// The name is the thread's registry and OS thread name (not a factory name: a
/// closure thread cannot be [`create`](crate::create)d).
///
/// # Examples
///
/// A health check every 200 ms, stopped after a few runs:
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let checks = Arc::new(AtomicU32::new(0));
/// let counted = Arc::clone(&checks);
/// let health = threadward::thread("health")
///     .every(Duration::from_millis(200))
///     .spawn(move |_ctx| {
///         counted.fetch_add(1, Ordering::Relaxed);
///         Ok(())
///     })?;
/// health.send(())?; // one more check, now
/// while checks.load(Ordering::Relaxed) < 3 {
///     std::thread::sleep(Duration::from_millis(10));
/// }
/// health.stop();
/// assert!(health.join()?.outcome().is_clean());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A body that runs once, until its deadline:
///
/// ```
/// use std::time::Duration;
/// use threadward::Outcome;
///
/// let poller = threadward::thread("poller")
///     .deadline(Duration::from_millis(100))
///     .spawn(|ctx| {
///         while ctx.sleep(Duration::from_millis(10)) {
///             // poll the device
///         }
///         Ok(()) // the deadline cut the sleep short
///     })?;
/// let exit = poller.join()?;
/// assert!(matches!(exit.outcome(), Outcome::DeadlineReached));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn thread(name: &'static str) -> ThreadBuilder {
    ThreadBuilder {
        name,
        timing: Timing::NONE,
        singleton: false,
        stop_last: false,
    }
}

/// How a closure thread is run: made by [`thread`], ended by
/// [`spawn`](Self::spawn) or [`build`](Self::build).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use threadward::MissedTicks;
///
/// // A heartbeat every 10 ms, for at most 50 ms; the body runs at every tick.
/// let heartbeat = threadward::thread("heartbeat")
///     .every(Duration::from_millis(10))
///     .missed(MissedTicks::Skip)
///     .deadline(Duration::from_millis(50))
///     .spawn(|_ctx| Ok(()))?;
/// assert!(heartbeat.join()?.outcome().is_clean()); // stopped at its deadline
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
#[must_use = "a builder does nothing until `spawn` is called"]
pub struct ThreadBuilder {
    name: &'static str,
    timing: Timing,
    singleton: bool,
    stop_last: bool,
}

impl ThreadBuilder {
    /// Runs the body at once and then every `period` (at a fixed rate, as
    /// `#[background_thread(every = "…")]` does), until the thread is stopped.
    /// [`Context::set_every`] changes the period from within.
    ///
    /// A zero `period` makes `spawn` fail with
    /// [`SpawnFailure::ZeroPeriod`](crate::SpawnFailure::ZeroPeriod).
    pub const fn every(self, period: Duration) -> Self {
        Self {
            timing: self.timing.with_every(period),
            ..self
        }
    }

    /// What the thread does about runs it missed while its body ran long
    /// ([`MissedTicks::Skip`] unless set).
    pub const fn missed(self, missed: MissedTicks) -> Self {
        Self {
            timing: self.timing.with_missed(missed),
            ..self
        }
    }

    /// Runs the body first only `delay` after `spawn` (which returns at once). A stop
    /// during the delay ends the thread cleanly, without running the body
    /// ([`Outcome::StoppedBeforeStart`](crate::Outcome::StoppedBeforeStart)).
    pub const fn delay(self, delay: Duration) -> Self {
        Self {
            timing: self.timing.with_delay(delay),
            ..self
        }
    }

    /// Stops the thread gracefully once it has run for `deadline` (counted from
    /// `spawn`): a waiting body ([`Context::sleep`], [`Context::recv`]) is woken, and
    /// [`Context::is_stopping`] turns true. The exit says so
    /// ([`Outcome::DeadlineReached`](crate::Outcome::DeadlineReached)).
    pub const fn deadline(self, deadline: Duration) -> Self {
        Self {
            timing: self.timing.with_deadline(deadline),
            ..self
        }
    }

    /// At most one thread of this name (among closure threads) may be alive in the
    /// registry: a second `spawn` fails with
    /// [`SpawnFailure::AlreadyRunning`](crate::SpawnFailure::AlreadyRunning).
    pub const fn singleton(self) -> Self {
        Self {
            singleton: true,
            ..self
        }
    }

    /// A [`Shutdown`](crate::Shutdown) stops the thread only once every other thread
    /// of its registry has ended and the report is written, as
    /// [`Context::stop_last`] asks, but from before the thread starts: no shutdown can
    /// come first. For a thread that watches the others.
    pub const fn stop_last(self) -> Self {
        Self {
            stop_last: true,
            ..self
        }
    }

    /// The thread's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The thread, not yet started: for [`Manager::push`](crate::Manager::push), or to
    /// spawn later with [`ClosureThread::spawn`].
    pub fn build<F>(self, body: F) -> ClosureThread
    where
        F: FnMut(&Context) -> Result<(), BoxError> + Send + 'static,
    {
        ClosureThread(Box::new(Closure {
            builder: self,
            body: Box::new(body),
        }))
    }

    /// Spawns the thread into the global [`registry`] and returns its handle at once
    /// (the body runs on the new thread).
    ///
    /// # Errors
    ///
    /// As [`ClosureThread::spawn_in`].
    pub fn spawn<F>(self, body: F) -> Result<Handle<ClosureThread>, SpawnError<ClosureThread>>
    where
        F: FnMut(&Context) -> Result<(), BoxError> + Send + 'static,
    {
        self.build(body).spawn()
    }

    /// Spawns the thread into `registry` and returns its handle at once.
    ///
    /// # Errors
    ///
    /// As [`ClosureThread::spawn_in`].
    pub fn spawn_in<F>(
        self,
        registry: &Registry,
        body: F,
    ) -> Result<Handle<ClosureThread>, SpawnError<ClosureThread>>
    where
        F: FnMut(&Context) -> Result<(), BoxError> + Send + 'static,
    {
        self.build(body).spawn_in(registry)
    }
}

/// A closure thread: a body and how it is run (see [`thread`]). Its handle is a
/// [`Handle<ClosureThread>`]; its task is `()`, and each one runs the body once.
// Boxed: a `SpawnError` that hands it back stays small.
pub struct ClosureThread(Box<Closure>);

/// A closure thread's body.
type Body = Box<dyn FnMut(&Context) -> Result<(), BoxError> + Send>;

struct Closure {
    builder: ThreadBuilder,
    body: Body,
}

impl ClosureThread {
    /// Spawns the thread into the global [`registry`] and returns its handle at once.
    ///
    /// # Errors
    ///
    /// As [`spawn_in`](Self::spawn_in).
    pub fn spawn(self) -> Result<Handle<Self>, SpawnError<Self>> {
        self.spawn_in(registry())
    }

    /// Spawns the thread into `registry` and returns its handle at once (the body runs
    /// on the new thread, after the `delay` if there is one).
    ///
    /// # Errors
    ///
    /// Hands the thread back with the [`SpawnFailure`](crate::SpawnFailure): the
    /// registry is shutting down or at its limit, a `singleton` of this name is alive,
    /// `every` is zero, or the OS could not start a thread.
    pub fn spawn_in(self, registry: &Registry) -> Result<Handle<Self>, SpawnError<Self>> {
        if self.0.builder.timing.every() == Some(Duration::ZERO) {
            return Err(SpawnError {
                name: self.0.builder.name,
                failure: crate::SpawnFailure::ZeroPeriod,
                thread: self,
            });
        }
        spawn_in(self, registry)
    }

    /// The thread's name.
    pub fn name(&self) -> &'static str {
        self.0.builder.name
    }
}

// Kept out of rustc's "implemented for" notes on a user's missing impl.
#[diagnostic::do_not_recommend]
impl Declared for ClosureThread {
    const NAME: &'static str = "closure";
    const CAPACITY: Option<usize> = None;

    fn __declaration(&self) -> Declaration {
        let builder = &self.0.builder;
        Declaration {
            name: builder.name,
            capacity: None,
            timing: builder.timing,
            singleton: builder.singleton,
            run_at_once: true,
            restart: Restart::NEVER,
            workers: 1,
            stop_last: builder.stop_last,
        }
    }

    fn __tick(&mut self, ctx: &Context) -> Result<(), BoxError> {
        (self.0.body)(ctx)
    }
}

#[diagnostic::do_not_recommend]
impl BackgroundThread for ClosureThread {
    type Task = ();

    fn handle(&mut self, (): (), ctx: &Context) -> Result<(), BoxError> {
        (self.0.body)(ctx)?;
        // A body without a period runs once: the thread ends when it returns.
        if self.0.builder.timing.every().is_none() {
            ctx.stop();
        }
        Ok(())
    }
}

impl fmt::Debug for ClosureThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClosureThread")
            .field("name", &self.0.builder.name)
            .field("timing", &self.0.builder.timing)
            .finish_non_exhaustive()
    }
}
