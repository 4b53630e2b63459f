//! Handles to a thread: [`Sender<T>`] (sending only), [`Handle<T>`] (typed, full
//! control) and [`AnyHandle`] (type-erased, as the registry and the factory give it),
//! and [`Shared`], what they share with the thread and what the registry stores.

mod any;
#[cfg(feature = "async")]
mod asynchronous;
mod message;
mod reply;
mod sender;
mod shared;
mod timeouts;
mod typed;

pub use any::AnyHandle;
pub(crate) use message::{FedJob, Message};
pub use sender::Sender;
pub(crate) use shared::{Managed, Shared, Tally};
pub use typed::Handle;
