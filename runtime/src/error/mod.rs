//! Error types, one per operation. Every error of an operation that was handed a value
//! (a task, a closure, the thread itself) hands that value back.

mod child;
mod join;
mod manager;
mod send;
mod spawn;
mod timing;

pub use child::ChildFailed;
pub use join::{JoinError, JoinTimeoutError};
pub use manager::{PushError, RunError, WatchError};
pub(crate) use send::refused_in;
pub use send::{CallError, CallTimeoutError, CastError, SendError, SendTimeoutError, TrySendError};
pub use spawn::{CreateError, SpawnError, SpawnFailure};
pub use timing::SetEveryError;

/// A boxed error returned by the fallible lifecycle methods.
///
/// Any error type that is `Send + Sync + 'static` converts into it with `?` or `.into()`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
