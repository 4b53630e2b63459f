//! The errors of starting a thread: `spawn` (the value handed back) and `create`.

use std::fmt;
use std::io;

use super::BoxError;
use crate::ids::ThreadId;

/// Why a thread could not be spawned. Part of [`SpawnError`] and
/// [`CreateError::Spawn`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnFailure {
    /// The registry already runs as many threads as its limit allows.
    #[error("the registry's limit of {limit} threads is reached")]
    LimitReached {
        /// The registry's limit.
        limit: usize,
    },
    /// A shutdown of the registry began: it takes no new threads (a thread spawned now
    /// would outlive the shutdown's report).
    #[error("the registry is shutting down")]
    ShuttingDown,
    /// The type is declared `singleton` and a thread of it is alive in the registry.
    #[error("a `{name}` thread is already running ({id}), and it is declared `singleton`")]
    AlreadyRunning {
        /// The thread's name.
        name: &'static str,
        /// The thread that is alive.
        id: ThreadId,
    },
    /// A closure thread was built with a zero `every`.
    #[error("`every` must not be zero")]
    ZeroPeriod,
    /// The operating system could not start a thread.
    #[error("the operating system could not start a thread: {0}")]
    Os(io::Error),
    /// `startup` returned an error.
    #[error("startup failed: {0}")]
    Startup(BoxError),
    /// The thread was halted while `startup` ran.
    #[error("halted during startup")]
    Halted,
    /// `startup` did not finish within the thread's `startup_timeout`: it was halted,
    /// and `spawn` returned once it ended (at its next checkpoint or interruptible
    /// wait). If it finished without seeing the halt, its `shutdown` ran before the value
    /// was handed back.
    #[error("startup did not finish within {limit:?}")]
    StartupTimedOut {
        /// The thread's `startup_timeout`.
        limit: std::time::Duration,
    },
    /// `startup` panicked.
    #[error("startup panicked: {message}")]
    StartupPanicked {
        /// The panic's message.
        message: String,
    },
    /// [`Context::spawn_child`](crate::Context::spawn_child) was called off the thread
    /// the context belongs to (or after that thread ended): a child is tied to a thread
    /// from the thread itself, which is what stops it.
    #[error("`spawn_child` must be called on the thread `{parent}` ({id}) itself")]
    NotOnParentThread {
        /// The name of the thread the context belongs to.
        parent: &'static str,
        /// Its id.
        id: ThreadId,
    },
    /// `Context::spawn_child` was called on a pool's worker. A worker takes its
    /// messages from the pool's queue, so the news of a child's exit would reach
    /// whichever worker is free: start the child from the pool's parent, or make both
    /// children of a `Supervisor`.
    #[error("`spawn_child` cannot be called on a worker of the pool `{pool}` ({id}): a child's exit would be told to whichever worker is free; start the child from the pool's parent, or make both children of a `Supervisor`")]
    OnPoolWorker {
        /// The pool's name.
        pool: &'static str,
        /// Its id.
        id: ThreadId,
    },
    /// The thread's source (given to `spawn_with`) could not be opened: a bad address,
    /// a refused connection, wrong credentials.
    #[error("its source could not be opened: {0}")]
    Source(BoxError),
    /// A pool's worker could not be made: the factory panicked (or the type declares
    /// `workers` by hand, without a factory). The workers started before it were
    /// stopped.
    #[error("a worker could not be made: {message}")]
    WorkerNotMade {
        /// What went wrong.
        message: String,
    },
}

/// The error of `spawn`: the thread did not start. Hands the thread's value back.
///
/// # Examples
///
/// ```
/// use threadward::{background_thread, BackgroundThread, BoxError, Context, SpawnFailure};
///
/// #[background_thread]
/// struct NeedsConfig { path: &'static str }
///
/// impl BackgroundThread for NeedsConfig {
///     type Task = ();
///     fn startup(&mut self, _ctx: &Context) -> Result<(), BoxError> {
///         Err(format!("{} not found", self.path).into())
///     }
///     fn handle(&mut self, _: (), _: &Context) -> Result<(), BoxError> { Ok(()) }
/// }
///
/// let err = NeedsConfig { path: "/nonexistent" }.spawn().unwrap_err();
/// assert!(matches!(err.failure(), SpawnFailure::Startup(_)));
/// assert_eq!(err.to_string(), "could not spawn thread `needs_config`: startup failed: /nonexistent not found");
/// let value = err.into_inner();
/// assert_eq!(value.path, "/nonexistent");
/// ```
pub struct SpawnError<T> {
    pub(crate) name: &'static str,
    pub(crate) failure: SpawnFailure,
    pub(crate) thread: T,
}

impl<T> SpawnError<T> {
    /// The name of the thread that did not start.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Why the thread did not start.
    pub fn failure(&self) -> &SpawnFailure {
        &self.failure
    }

    /// Returns the thread's value, as it was when spawning failed.
    pub fn into_inner(self) -> T {
        self.thread
    }

    /// Splits the error into the reason and the thread's value.
    pub fn into_parts(self) -> (SpawnFailure, T) {
        (self.failure, self.thread)
    }
}

impl<T> fmt::Debug for SpawnError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpawnError")
            .field("name", &self.name)
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for SpawnError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "could not spawn thread `{}`: {}",
            self.name, self.failure
        )
    }
}

impl<T> std::error::Error for SpawnError<T> {}

/// The error of [`create`](crate::create): no thread was started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CreateError {
    /// No `#[background_thread]` type is registered under that name.
    #[error("no background thread is registered under the name `{name}`; {}", KnownNames(.known))]
    Unknown {
        /// The name asked for.
        name: String,
        /// Every registered name, sorted.
        known: Vec<&'static str>,
    },
    /// More than one type is registered under that name.
    #[error("more than one background thread is registered under the name `{name}`: {}", types.join(", "))]
    Ambiguous {
        /// The name asked for.
        name: String,
        /// The types registered under it.
        types: Vec<&'static str>,
    },
    /// The type has neither a `factory` nor `Default`, so it can only be spawned by hand.
    #[error("thread `{name}` ({type_name}) cannot be created by name: it has no `factory` argument and does not implement `Default`")]
    NotConstructible {
        /// The name asked for.
        name: String,
        /// The type registered under it.
        type_name: &'static str,
    },
    /// The settings did not fit the type's settings type (or it takes none): see
    /// [`create_with`](crate::create_with).
    #[error("the settings of thread `{name}` do not fit: {error}")]
    Settings {
        /// The name asked for.
        name: String,
        /// What did not fit.
        error: crate::SettingsError,
    },
    /// The thread was constructed but did not start.
    #[error("could not spawn thread `{name}`: {failure}")]
    Spawn {
        /// The name asked for.
        name: String,
        /// Why it did not start.
        failure: SpawnFailure,
    },
}

struct KnownNames<'a>(&'a [&'static str]);

impl fmt::Display for KnownNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no names are registered");
        }
        f.write_str("known names: ")?;
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "`{name}`")?;
        }
        Ok(())
    }
}
