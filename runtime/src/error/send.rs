//! The errors of handing work to a thread: `send`, `try_send`, `send_timeout`, `call`
//! and `cast`. Each hands the task or closure back and says why the thread refused it.

use std::fmt;

use crate::ids::State;

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

/// Why a thread refused work: what its state (see [`refused_in`]) says, in words.
fn refusal(state: State) -> &'static str {
    match state {
        State::Failed => "sending to a background thread that failed",
        State::Stopped => "sending to a background thread that has stopped",
        _ => "sending to a background thread that is stopping",
    }
}

/// The state a refusal reports: `Stopping`, `Stopped` or `Failed`. A thread refuses work
/// while still `Starting` only when its startup failed (a stop requested during
/// startup moves it to `Stopping`), and while `Running` only for the moment between a
/// stop closing its queue and marking its state.
pub(crate) fn refused_in(state: State) -> State {
    match state {
        State::Starting => State::Failed,
        State::Running => State::Stopping,
        state => state,
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
        Self {
            task,
            state: refused_in(state),
        }
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
    /// The thread no longer accepts work: it is stopping, has stopped or failed, as the
    /// state says. The closure was not sent.
    Closed(F, State),
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
            Self::Closed(f, _) | Self::OwnThread(f) => Some(f),
            Self::Ended => None,
        }
    }
}

impl<F> fmt::Debug for CallError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed(..) => "Closed(..)",
            Self::OwnThread(_) => "OwnThread(..)",
            Self::Ended => "Ended",
        })
    }
}

impl<F> fmt::Display for CallError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed(_, State::Failed) => "calling a background thread that failed",
            Self::Closed(_, State::Stopped) => "calling a background thread that has stopped",
            Self::Closed(..) => "calling a background thread that is stopping",
            Self::OwnThread(_) => "a background thread cannot call itself and wait for the answer",
            Self::Ended => "the background thread ended before answering the call",
        })
    }
}

impl<F> std::error::Error for CallError<F> {}

/// The error of [`Handle::call_timeout`](crate::Handle::call_timeout). Holds the
/// closure wherever it never ran.
pub enum CallTimeoutError<F> {
    /// The thread no longer accepts work, as the state says. The closure was not sent.
    Closed(F, State),
    /// The call was made on the thread itself; the closure was not sent.
    OwnThread(F),
    /// The closure did not start within the timeout (the queue stayed full, or the
    /// thread was busy): it was taken back and will never run.
    Timeout(F),
    /// The closure started but did not answer within the timeout. It runs to its end
    /// on the thread; its value is dropped.
    Late,
    /// The thread ended before answering: it was halted, failed, or panicked in the
    /// closure. The closure is handed back if it never ran.
    Ended(Option<F>),
}

impl<F> CallTimeoutError<F> {
    /// Returns the closure if it never ran (and never will).
    pub fn into_inner(self) -> Option<F> {
        match self {
            Self::Closed(f, _) | Self::OwnThread(f) | Self::Timeout(f) => Some(f),
            Self::Ended(f) => f,
            Self::Late => None,
        }
    }
}

impl<F> fmt::Debug for CallTimeoutError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed(..) => "Closed(..)",
            Self::OwnThread(_) => "OwnThread(..)",
            Self::Timeout(_) => "Timeout(..)",
            Self::Late => "Late",
            Self::Ended(_) => "Ended(..)",
        })
    }
}

impl<F> fmt::Display for CallTimeoutError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed(_, State::Failed) => "calling a background thread that failed",
            Self::Closed(_, State::Stopped) => "calling a background thread that has stopped",
            Self::Closed(..) => "calling a background thread that is stopping",
            Self::OwnThread(_) => "a background thread cannot call itself and wait for the answer",
            Self::Timeout(_) => "the call timed out before it ran; it will not run",
            Self::Late => "the call ran but did not answer in time",
            Self::Ended(_) => "the background thread ended before answering the call",
        })
    }
}

impl<F> std::error::Error for CallTimeoutError<F> {}

/// The error of [`Handle::cast`](crate::Handle::cast). Holds the closure that was not
/// sent.
pub enum CastError<F> {
    /// The thread no longer accepts work: it is stopping, has stopped or failed, as the
    /// state says.
    Closed(F, State),
    /// The cast was made on the thread itself and its bounded queue is full: waiting
    /// for room would wait for the thread itself, for ever.
    Full(F),
    /// [`cast_timeout`](crate::Handle::cast_timeout) found no room in the bounded
    /// queue within its timeout.
    Timeout(F),
}

impl<F> CastError<F> {
    /// Returns the closure that was not sent.
    pub fn into_inner(self) -> F {
        match self {
            Self::Closed(f, _) | Self::Full(f) | Self::Timeout(f) => f,
        }
    }
}

opaque_debug!(CastError, Closed, Full, Timeout);

impl<F> fmt::Display for CastError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed(_, state) => refusal(*state),
            Self::Full(_) => "a background thread cannot wait for room in its own full queue",
            Self::Timeout(_) => "timed out waiting for room in a background thread's queue",
        })
    }
}

impl<F> std::error::Error for CastError<F> {}
