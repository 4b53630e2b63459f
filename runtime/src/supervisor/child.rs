//! A supervisor's child: how to start it (again), when to, and how long it is given to
//! stop.

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use crate::children::spawn_child;
use crate::context::Context;
use crate::feed::Source;
use crate::handle::AnyHandle;
use crate::panics::{describe, panic_message};
use crate::restart::RestartPolicy;
use crate::thread::BackgroundThread;

/// Starts one generation of a child under the supervisor whose context it gets.
type Start = Arc<dyn Fn(&Context, Duration) -> Result<AnyHandle, String> + Send + Sync>;

/// A child of a [`Supervisor`](crate::Supervisor): a way to make its value, the
/// [`RestartPolicy`] the supervisor applies to it, and how long it is given to stop.
///
/// The supervisor starts every generation of the child as a new thread with a value
/// from `make`: a new id, a new, empty queue, and the supervisor as its `parent`. (Tasks
/// left in a failed generation's queue are returned to whoever joins its handle, as for
/// any thread that ended.) A thread type that declares `restart = "on-failure"` also
/// restarts itself in place first, keeping its queue and handle: the supervisor sees it
/// end only once it gave up.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use threadward::{background_thread, BackgroundThread, BoxError, Child, Context, RestartPolicy};
///
/// #[background_thread]
/// #[derive(Default)]
/// struct Indexer;
/// impl BackgroundThread for Indexer {
///     type Task = String;
///     fn handle(&mut self, _: String, _: &Context) -> Result<(), BoxError> { Ok(()) }
/// }
///
/// let child = Child::new(Indexer::default)
///     .restart(RestartPolicy::Always)
///     .shutdown_timeout(Duration::from_secs(2));
/// assert_eq!(child.name(), "indexer");
/// assert_eq!(child.restart_policy(), RestartPolicy::Always);
/// ```
#[derive(Clone)]
pub struct Child {
    name: &'static str,
    restart: RestartPolicy,
    shutdown_timeout: Duration,
    start: Start,
}

impl Child {
    /// A child whose every generation is a value from `make`, restarted after a failure
    /// ([`RestartPolicy::OnFailure`]), with the type's declared `shutdown_timeout` (5 s
    /// unless declared). A panic in `make` counts as a failed start.
    pub fn new<T, F>(make: F) -> Self
    where
        T: BackgroundThread,
        F: Fn() -> T + Send + Sync + 'static,
    {
        Self {
            name: T::NAME,
            restart: RestartPolicy::OnFailure,
            shutdown_timeout: T::TIMING.shutdown_timeout(),
            start: Arc::new(move |ctx, shutdown_timeout| {
                let value = panic::catch_unwind(AssertUnwindSafe(&make)).map_err(|payload| {
                    format!("making its value panicked: {}", panic_message(payload))
                })?;
                spawn_child(ctx, value, shutdown_timeout, None)
                    .map(AnyHandle::from)
                    .map_err(|error| describe(&error.failure))
            }),
        }
    }

    /// A child fed from a source (see `spawn_with`): every generation is a value from
    /// `make`, fed from a source from `source` (a fresh consumer: what the failed one
    /// held is given back, or claimed, as its source says). Otherwise as
    /// [`new`](Self::new).
    ///
    /// # Examples
    ///
    /// A supervisor that keeps a stream's consumer running, with the `redis` feature:
    ///
    /// ```ignore
    /// use threadward::redis::Stream;
    ///
    /// let url = "redis://127.0.0.1:6379/";
    /// let mailers = Supervisor::new("mailers").child(Child::fed(Mailer::default, move || {
    ///     Stream::<Email>::connect(url).expect("a Redis URL").key("mail").group("mailers")
    /// }));
    /// ```
    pub fn fed<T, F, S, G>(make: F, source: G) -> Self
    where
        T: BackgroundThread,
        F: Fn() -> T + Send + Sync + 'static,
        S: Source<T::Task>,
        G: Fn() -> S + Send + Sync + 'static,
    {
        Self {
            name: T::NAME,
            restart: RestartPolicy::OnFailure,
            shutdown_timeout: T::TIMING.shutdown_timeout(),
            start: Arc::new(move |ctx, shutdown_timeout| {
                let both = panic::catch_unwind(AssertUnwindSafe(|| (make(), source()))).map_err(
                    |payload| format!("making its value panicked: {}", panic_message(payload)),
                )?;
                let (value, source): (T, Box<dyn Source<T::Task>>) = (both.0, Box::new(both.1));
                spawn_child(ctx, value, shutdown_timeout, Some(source))
                    .map(AnyHandle::from)
                    .map_err(|error| describe(&error.failure))
            }),
        }
    }

    /// A child started by `start`, with the supervisor's context and the child's
    /// shutdown timeout: for a nested supervisor.
    pub(crate) fn started_by(
        name: &'static str,
        shutdown_timeout: Duration,
        start: impl Fn(&Context, Duration) -> Result<AnyHandle, String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            name,
            restart: RestartPolicy::OnFailure,
            shutdown_timeout,
            start: Arc::new(start),
        }
    }

    /// The same, restarted as `policy` says: [`Never`](RestartPolicy::Never) (OTP's
    /// `temporary`), [`OnFailure`](RestartPolicy::OnFailure) (`transient`, the default)
    /// or [`Always`](RestartPolicy::Always) (`permanent`).
    #[must_use]
    pub fn restart(self, policy: RestartPolicy) -> Self {
        Self {
            restart: policy,
            ..self
        }
    }

    /// The same, given `limit` to stop when the supervisor stops it (on its own stop,
    /// or to restart it with a sibling); then it is halted, and given as long again.
    #[must_use]
    pub fn shutdown_timeout(self, limit: Duration) -> Self {
        Self {
            shutdown_timeout: limit,
            ..self
        }
    }

    /// The name its threads run under.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// When the supervisor starts it again.
    pub fn restart_policy(&self) -> RestartPolicy {
        self.restart
    }

    /// How long it is given to stop.
    pub(crate) fn stop_limit(&self) -> Duration {
        self.shutdown_timeout
    }

    /// Starts a generation under the supervisor `ctx` belongs to.
    pub(crate) fn start(&self, ctx: &Context) -> Result<AnyHandle, String> {
        (self.start)(ctx, self.shutdown_timeout)
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("name", &self.name)
            .field("restart", &self.restart)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish_non_exhaustive()
    }
}
