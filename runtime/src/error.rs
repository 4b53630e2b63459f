//! Error types, one per operation. Every error of an operation that was handed a value
//! (a task, a closure, the thread itself) hands that value back.

use std::fmt;
use std::io;

use crate::ids::State;
use crate::outcome::ExitReport;

/// A boxed error returned by the fallible lifecycle methods.
///
/// Any error type that is `Send + Sync + 'static` converts into it with `?` or `.into()`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

macro_rules! opaque_debug {
    ($ty:ident, $($variant:ident),+) => {
        impl<T> fmt::Debug for $ty<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Self::$variant(..) => f.write_str(concat!(stringify!($variant), "(..)")),)+
                }
            }
        }
    };
}

/// Why a thread refused work: what its state says, in words.
fn refusal(state: State) -> &'static str {
    match state {
        State::Failed => "sending to a background thread that failed",
        State::Stopped => "sending to a background thread that has stopped",
        _ => "sending to a background thread that is stopping",
    }
}

/// The error of [`Handle::send`](crate::Handle::send): the thread no longer accepts
/// tasks. Holds the task that was not sent, and says whether the thread is stopping, has
/// stopped or failed.
///
/// # Examples
///
/// ```
/// # use threadward::{background_thread, BackgroundThread, BoxError, Context, State};
/// # #[background_thread] struct Echo;
/// # impl BackgroundThread for Echo {
/// #     type Task = String;
/// #     fn handle(&mut self, _: String, _: &Context) -> Result<(), BoxError> { Ok(()) }
/// # }
/// let echo = Echo.spawn()?;
/// echo.stop();
/// echo.join()?;
/// let err = echo.send("late".to_string()).unwrap_err();
/// assert_eq!(err.state(), State::Stopped);
/// assert_eq!(err.to_string(), "sending to a background thread that has stopped");
/// assert_eq!(err.into_inner(), "late");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T> {
    task: T,
    state: State,
}

impl<T> SendError<T> {
    pub(crate) fn new(task: T, state: State) -> Self {
        Self { task, state }
    }

    /// Returns the task that was not sent.
    pub fn into_inner(self) -> T {
        self.task
    }

    /// The thread's state when it refused the task: `Stopping`, `Stopped` or `Failed`
    /// (a thread that failed refuses everything from then on).
    pub fn state(&self) -> State {
        self.state
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendError")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(refusal(self.state))
    }
}

impl<T> std::error::Error for SendError<T> {}

/// The error of [`Handle::try_send`](crate::Handle::try_send). Holds the task that was
/// not sent.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TrySendError<T> {
    /// The queue is bounded and full.
    Full(T),
    /// The thread no longer accepts tasks: it is stopping, has stopped or failed, as
    /// the state says.
    Closed(T, State),
}

impl<T> TrySendError<T> {
    /// Returns the task that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(task) | Self::Closed(task, _) => task,
        }
    }

    /// Whether the queue was full.
    pub fn is_full(&self) -> bool {
        matches!(self, Self::Full(_))
    }

    /// Whether the thread no longer accepts tasks.
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed(..))
    }
}

opaque_debug!(TrySendError, Full, Closed);

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full(_) => "sending on a full queue",
            Self::Closed(_, state) => refusal(*state),
        })
    }
}

impl<T> std::error::Error for TrySendError<T> {}

/// The error of [`Handle::send_timeout`](crate::Handle::send_timeout). Holds the task
/// that was not sent.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum SendTimeoutError<T> {
    /// The queue stayed full for the whole timeout.
    Timeout(T),
    /// The thread no longer accepts tasks: it is stopping, has stopped or failed, as
    /// the state says.
    Closed(T, State),
}

impl<T> SendTimeoutError<T> {
    /// Returns the task that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            Self::Timeout(task) | Self::Closed(task, _) => task,
        }
    }

    /// Whether the timeout elapsed.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_))
    }

    /// Whether the thread no longer accepts tasks.
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed(..))
    }
}

opaque_debug!(SendTimeoutError, Timeout, Closed);

impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Timeout(_) => "timed out sending on a full queue",
            Self::Closed(_, state) => refusal(*state),
        })
    }
}

impl<T> std::error::Error for SendTimeoutError<T> {}

/// The error of [`Handle::call`](crate::Handle::call). Holds the closure when it was not
/// sent.
pub enum CallError<F> {
    /// The thread no longer accepts work; the closure was not sent.
    Closed(F),
    /// The call was made on the thread itself, where waiting for the answer would
    /// deadlock; the closure was not sent.
    OwnThread(F),
    /// The closure was accepted, but the thread ended before answering: it was halted,
    /// failed on an earlier task, or panicked in the closure.
    Ended,
}

impl<F> CallError<F> {
    /// Returns the closure if it was not sent.
    pub fn into_inner(self) -> Option<F> {
        match self {
            Self::Closed(f) | Self::OwnThread(f) => Some(f),
            Self::Ended => None,
        }
    }
}

impl<F> fmt::Debug for CallError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed(_) => "Closed(..)",
            Self::OwnThread(_) => "OwnThread(..)",
            Self::Ended => "Ended",
        })
    }
}

impl<F> fmt::Display for CallError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed(_) => "calling a stopped background thread",
            Self::OwnThread(_) => "a background thread cannot call itself and wait for the answer",
            Self::Ended => "the background thread ended before answering the call",
        })
    }
}

impl<F> std::error::Error for CallError<F> {}

/// The error of [`Handle::cast`](crate::Handle::cast). Holds the closure that was not
/// sent.
pub enum CastError<F> {
    /// The thread no longer accepts work: it is stopping, has stopped or failed, as the
    /// state says.
    Closed(F, State),
    /// The cast was made on the thread itself and its bounded queue is full: waiting
    /// for room would wait for the thread itself, for ever.
    Full(F),
}

impl<F> CastError<F> {
    /// Returns the closure that was not sent.
    pub fn into_inner(self) -> F {
        match self {
            Self::Closed(f, _) | Self::Full(f) => f,
        }
    }
}

opaque_debug!(CastError, Closed, Full);

impl<F> fmt::Display for CastError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed(_, state) => refusal(*state),
            Self::Full(_) => "a background thread cannot wait for room in its own full queue",
        })
    }
}

impl<F> std::error::Error for CastError<F> {}

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
    /// The operating system could not start a thread.
    #[error("the operating system could not start a thread: {0}")]
    Os(io::Error),
    /// `startup` returned an error.
    #[error("startup failed: {0}")]
    Startup(BoxError),
    /// The thread was halted while `startup` ran.
    #[error("halted during startup")]
    Halted,
    /// `startup` panicked.
    #[error("startup panicked: {message}")]
    StartupPanicked {
        /// The panic's message.
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

/// The error of [`Handle::join`](crate::Handle::join).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum JoinError {
    /// `join` was called on the thread itself, which would wait forever.
    #[error("a background thread cannot join itself")]
    OwnThread,
    /// Another `join` already took the exit (and its undelivered tasks); this is the
    /// report of how the thread ended.
    #[error("the background thread was already joined")]
    AlreadyJoined(ExitReport),
}

/// The error of [`Handle::join_timeout`](crate::Handle::join_timeout).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum JoinTimeoutError {
    /// The thread was still running when the timeout elapsed.
    #[error("timed out waiting for the background thread to end")]
    Timeout,
    /// `join_timeout` was called on the thread itself.
    #[error("a background thread cannot join itself")]
    OwnThread,
    /// Another `join` already took the exit; this is the report of how it ended.
    #[error("the background thread was already joined")]
    AlreadyJoined(ExitReport),
}

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
