//! A thread's place in a tree: its parent's id, and the children tied to it (by
//! `Context::spawn_child`, or as a supervisor's children), which stop before it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use super::Control;
use crate::ids::ThreadId;

/// A child tied to a thread: stopped (then halted) before the thread's `shutdown` runs.
pub(crate) struct ChildLink {
    pub(crate) control: Arc<Control>,
    /// How long the child may take to stop before it is halted (and as long again,
    /// once halted, before it is left behind).
    pub(crate) shutdown_timeout: Duration,
    /// Set when the news of the child's exit is not to be told: its spawn failed, or
    /// this thread stops it itself.
    pub(crate) silenced: Arc<AtomicBool>,
}

impl Control {
    /// The thread this one is a child of.
    pub(crate) fn parent(&self) -> Option<ThreadId> {
        self.parent
    }

    /// Ties `child` to this thread. Children that have ended are forgotten here, so the
    /// list holds only the living (and the last to end).
    pub(crate) fn adopt(&self, child: ChildLink) {
        let mut children = self.children.lock().unwrap_or_else(PoisonError::into_inner);
        children.retain(|link| link.control.exit_report().is_none());
        children.push(child);
    }

    /// Stops the children tied to this thread, the last-started first, one after
    /// another (see [`stop_link`](Self::stop_link)). Runs on this thread, before its
    /// `shutdown`; a child tied meanwhile (by a hook) is stopped too.
    pub(crate) fn stop_children(&self) {
        loop {
            let child = self
                .children
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            match child {
                Some(child) => self.stop_link(&child),
                None => return,
            }
        }
    }

    /// Unties the child `id` and stops it (see [`stop_link`](Self::stop_link)), if it is
    /// tied to this thread.
    pub(crate) fn stop_child(&self, id: ThreadId) {
        let mut children = self.children.lock().unwrap_or_else(PoisonError::into_inner);
        let found = children.iter().position(|link| link.control.id == id);
        let child = found.map(|at| children.remove(at));
        drop(children);
        if let Some(child) = child {
            self.stop_link(&child);
        }
    }

    /// Stops one child: asks it to stop (halts it at once if this thread was halted),
    /// gives it its shutdown timeout to end, then halts it and gives it as long again.
    /// A child that still runs after that is logged and left behind.
    fn stop_link(&self, link: &ChildLink) {
        let ChildLink {
            control: child,
            shutdown_timeout,
            silenced,
        } = link;
        silenced.store(true, Ordering::Release);
        if self.halt.is_halted() {
            child.signal_halt();
        } else {
            child.signal_stop();
        }
        // The child's `on_stop` hooks run on a helper: one that blocks holds this thread
        // no longer than the child's shutdown timeout.
        child.run_stop_hooks_aside();
        if child.wait_published_timeout(*shutdown_timeout).is_some() {
            return;
        }
        tracing::warn!(
            thread = self.name,
            id = self.id.as_u64(),
            child = child.name,
            child_id = child.id.as_u64(),
            ?shutdown_timeout,
            "child did not stop in time: halting it"
        );
        child.signal_halt();
        if child.wait_published_timeout(*shutdown_timeout).is_none() {
            tracing::error!(
                thread = self.name,
                id = self.id.as_u64(),
                child = child.name,
                child_id = child.id.as_u64(),
                "halted child did not end (no checkpoint reached): leaving it behind"
            );
        }
    }
}
