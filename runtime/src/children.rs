//! Children tied to a thread: [`Context::spawn_child`] spawns a thread into the same
//! registry as a child of the one it runs on, which learns of its exit and stops it
//! before its own `shutdown`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::context::Context;
use crate::control::ChildLink;
use crate::error::{SpawnError, SpawnFailure};
use crate::family::Family;
use crate::feed::Source;
use crate::handle::Handle;
use crate::lives::Making;
use crate::registry::registry;
use crate::spawn::spawn_declared;
use crate::thread::BackgroundThread;

impl Context {
    /// Spawns `child` into this thread's registry as a child of this thread, and
    /// returns once its `startup` has finished, as `spawn` does. The child:
    ///
    /// - shows this thread as its `parent` (in [`ThreadInfo`](crate::ThreadInfo), its
    ///   [`ExitReport`](crate::ExitReport) and the shutdown report);
    /// - stops before this thread: when this thread's instance ends (stopped, halted,
    ///   failed, or replaced by a restart), its children are stopped, the last-started
    ///   first, each given its declared `shutdown_timeout` (5 s by default) before it is
    ///   halted, and only then does this thread's `shutdown` run (a child tied in
    ///   `shutdown` itself is stopped right after it);
    /// - reports its exit to this thread: [`BackgroundThread::child_exited`] runs here
    ///   with its exit report, between tasks. By default a child's failure fails this
    ///   thread too.
    ///
    /// Call it on the thread itself (from `startup`, `handle`, `shutdown` or a
    /// `call`/`cast` closure).
    ///
    /// # Errors
    ///
    /// As `spawn`: hands the child back if it did not start (its `startup` failed, the
    /// registry's limit is reached or a shutdown began, ...). A child that did not start
    /// is not reported to `child_exited`. Called off the thread (through a `Context`
    /// kept elsewhere), it fails with [`SpawnFailure::NotOnParentThread`]; on a
    /// [`Pool`](crate::Pool)'s worker, with [`SpawnFailure::OnPoolWorker`].
    ///
    /// # Examples
    ///
    /// ```
    /// use threadward::{background_thread, BackgroundThread, BoxError, Context, Handle};
    ///
    /// #[background_thread]
    /// struct Writer;
    /// impl BackgroundThread for Writer {
    ///     type Task = String;
    ///     fn handle(&mut self, _line: String, _: &Context) -> Result<(), BoxError> { Ok(()) }
    /// }
    ///
    /// #[background_thread]
    /// #[derive(Default)]
    /// struct Logger {
    ///     writer: Option<Handle<Writer>>,
    /// }
    /// impl BackgroundThread for Logger {
    ///     type Task = String;
    ///     fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
    ///         self.writer = Some(ctx.spawn_child(Writer)?);
    ///         Ok(())
    ///     }
    ///     fn handle(&mut self, line: String, _: &Context) -> Result<(), BoxError> {
    ///         if let Some(writer) = &self.writer {
    ///             writer.send(line)?;
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let logger = Logger::default().spawn()?;
    /// let writer = logger.call(|logger, _| logger.writer.clone())?.ok_or("no writer")?;
    /// assert_eq!(writer.info().parent, Some(logger.id()));
    ///
    /// logger.stop();
    /// logger.join()?;
    /// assert!(!writer.is_alive()); // the child ended first
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn_child<C: BackgroundThread>(&self, child: C) -> Result<Handle<C>, SpawnError<C>> {
        let shutdown_timeout = child.__declaration().timing.shutdown_timeout();
        spawn_child(self, child, shutdown_timeout, None)
    }
}

/// [`Context::spawn_child`], giving the child `shutdown_timeout` to stop.
/// Fed from `source` too, if given.
pub(crate) fn spawn_child<C: BackgroundThread>(
    ctx: &Context,
    child: C,
    shutdown_timeout: Duration,
    source: Option<Box<dyn Source<C::Task>>>,
) -> Result<Handle<C>, SpawnError<C>> {
    let parent = Arc::clone(ctx.control_arc());
    let refuse = |failure, child: C| {
        Err(SpawnError {
            name: child.__declaration().name,
            failure,
            thread: child,
        })
    };
    if !parent.is_current() {
        let (parent, id) = (parent.name, parent.id);
        return refuse(SpawnFailure::NotOnParentThread { parent, id }, child);
    }
    // A worker's messages come from its pool's queue: a child's exit would be told to
    // whichever worker is free, not to this one.
    if let Some(pool) = parent.pool() {
        let (pool, id) = (pool.name, pool.id);
        return refuse(SpawnFailure::OnPoolWorker { pool, id }, child);
    }
    let family = Family::of_context(ctx);
    let in_registry = family.map_or_else(|| registry().clone(), |f| f.registry.clone());
    let me = family.map(|family| family.me.clone());
    let refused = Arc::new(AtomicBool::new(false));
    let told = Arc::clone(&refused);
    let silenced = Arc::clone(&refused);
    // Tied before the child's OS thread starts: no exit can come before the hook.
    let registered = |handle: crate::handle::AnyHandle| {
        let control = Arc::clone(handle.control());
        parent.adopt(ChildLink {
            control: Arc::clone(&control),
            shutdown_timeout,
            silenced: Arc::clone(&told),
        });
        if let Some(me) = me {
            control.on_exit(Box::new(move |report| {
                if let Some(parent) = me.upgrade() {
                    parent.tell_child_exit(report.clone(), silenced);
                }
            }));
        }
    };
    let declaration = child.__declaration();
    let making = Making {
        rebuild: None,
        source,
    };
    let at = (Some(parent.id), registered);
    let spawned = spawn_declared(child, declaration, &in_registry, at, making);
    if spawned.is_err() {
        refused.store(true, Ordering::Release);
    }
    spawned
}
