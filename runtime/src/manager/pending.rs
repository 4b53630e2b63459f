//! What the manager holds of a thread it has not started: the value, type-erased until
//! it is spawned, and handed back as a [`Pending`].

use std::any::Any;
use std::fmt;

use crate::error::SpawnFailure;
use crate::handle::AnyHandle;
use crate::registry::Registry;
use crate::spawn::spawn_in_with;
use crate::thread::BackgroundThread;

/// A thread's value that the manager has not started, as
/// [`Manager::stop`](crate::Manager::stop) and [`Manager::halt`](crate::Manager::halt)
/// hand it back.
pub struct Pending {
    pub(super) name: &'static str,
    pub(super) value: Box<dyn Launch>,
    pub(super) failure: Option<SpawnFailure>,
}

impl Pending {
    /// The thread's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Why it did not start, if the manager tried: `None` for a value that was still
    /// waiting for a slot.
    pub fn failure(&self) -> Option<&SpawnFailure> {
        self.failure.as_ref()
    }

    /// The value, if it is a `T`; otherwise the same `Pending`, back.
    ///
    /// # Errors
    ///
    /// Returns `self` unchanged when the value is not a `T`.
    pub fn downcast<T: BackgroundThread>(self) -> Result<T, Self> {
        if !self.value.as_any().is::<T>() {
            return Err(self);
        }
        match self.value.into_any().downcast::<T>() {
            Ok(value) => Ok(*value),
            Err(_) => unreachable!("the value was just found to be a `T`"),
        }
    }
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending")
            .field("name", &self.name)
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

/// A thread's value, type-erased until it is spawned.
pub(super) trait Launch: Send {
    /// Spawns the value; `registered` gets its handle before its `startup` runs.
    fn launch(
        self: Box<Self>,
        registry: &Registry,
        registered: &mut dyn FnMut(AnyHandle),
    ) -> Result<AnyHandle, Pending>;
    fn as_any(&self) -> &dyn Any;
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<T: BackgroundThread> Launch for T {
    fn launch(
        self: Box<Self>,
        registry: &Registry,
        registered: &mut dyn FnMut(AnyHandle),
    ) -> Result<AnyHandle, Pending> {
        match spawn_in_with(*self, registry, None, registered, None) {
            Ok(handle) => Ok(handle.into()),
            Err(error) => Err(Pending {
                name: error.name,
                value: Box::new(error.thread),
                failure: Some(error.failure),
            }),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}
