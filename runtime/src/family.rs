//! What a thread's [`Context`] needs to tie children to it: the registry it runs in,
//! and a way to its own queue for the news of their exits.

use std::sync::{Arc, Weak};

use crate::context::Context;
use crate::handle::Managed;
use crate::registry::Registry;

/// The registry a thread runs in, and the thread itself.
pub(crate) struct Family {
    pub(crate) registry: Registry,
    /// Weak: a `Context` kept somewhere keeps no queue alive.
    pub(crate) me: Weak<dyn Managed>,
}

impl Family {
    /// The family of the thread `me` in `registry`, for its `Context`.
    pub(crate) fn of(me: &Arc<dyn Managed>, registry: &Registry) -> Arc<Self> {
        Arc::new(Self {
            registry: registry.clone(),
            me: Arc::downgrade(me),
        })
    }

    /// The family `ctx` was made with (every context of a running thread has one).
    pub(crate) fn of_context(ctx: &Context) -> Option<&Self> {
        ctx.family()?.downcast_ref()
    }
}
