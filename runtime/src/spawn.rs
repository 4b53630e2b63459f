//! Spawning: a thread's queue, shared state and registry entry are made, its OS thread
//! started (see [`launch`](crate::launch)), and `spawn` returns once `startup` has
//! finished (or, with `delay`, once the thread is waiting out its delay). A type
//! declared with `workers` is spawned as a [pool](crate::pool).

use std::sync::Arc;

use crate::ending::end_unstarted;
use crate::error::{SpawnError, SpawnFailure};
use crate::feed::{self, Source};

use crate::handle::{AnyHandle, Handle, Managed};
use crate::ids::ThreadId;
use crate::launch::{launch, make_shared};
use crate::lives::{Making, Rebuild};
use crate::pool::spawn_pool;
use crate::registry::Registry;
use crate::thread::{BackgroundThread, Declaration};

/// Spawns `thread` into `registry` as it is declared, and returns once its `startup`
/// has finished (at once for a thread with a `delay`: the run loop answers before its
/// delay).
pub(crate) fn spawn_in<T: BackgroundThread>(
    thread: T,
    registry: &Registry,
) -> Result<Handle<T>, SpawnError<T>> {
    spawn_in_with(thread, registry, None, |_| {}, None)
}

/// [`spawn_in`], as a child of `parent` if given, telling `registered` the thread's
/// handle as soon as it is in the registry, before its `startup` runs: for a caller who
/// must be able to stop it meanwhile, or to learn of its exit whenever it comes. A
/// restart (and a pool's other workers) makes fresh values with `rebuild` if given,
/// else with the type's factory.
pub(crate) fn spawn_in_with<T: BackgroundThread>(
    thread: T,
    registry: &Registry,
    parent: Option<ThreadId>,
    registered: impl FnOnce(AnyHandle),
    rebuild: Option<Rebuild<T>>,
) -> Result<Handle<T>, SpawnError<T>> {
    let declaration = thread.__declaration();
    let making = Making {
        rebuild,
        source: None,
    };
    spawn_declared(thread, declaration, registry, (parent, registered), making)
}

/// Spawns `thread` into `registry` as it is declared, fed from `source` too: the body
/// of the generated `spawn_with_in`.
pub(crate) fn spawn_fed<T: BackgroundThread>(
    thread: T,
    source: Box<dyn Source<T::Task>>,
    registry: &Registry,
) -> Result<Handle<T>, SpawnError<T>> {
    let declaration = thread.__declaration();
    let making = Making {
        rebuild: None,
        source: Some(source),
    };
    spawn_declared(thread, declaration, registry, (None, |_| {}), making)
}

/// [`spawn_in_with`], as `declaration` says rather than the type (a configuration
/// changed it).
pub(crate) fn spawn_declared<T: BackgroundThread>(
    thread: T,
    declaration: Declaration,
    registry: &Registry,
    (parent, registered): (Option<ThreadId>, impl FnOnce(AnyHandle)),
    making: Making<T>,
) -> Result<Handle<T>, SpawnError<T>> {
    if declaration.workers > 1 {
        return spawn_pool(thread, declaration, registry, (parent, registered), making);
    }
    let Making { rebuild, source } = making;
    let Declaration {
        name,
        capacity,
        timing,
        singleton,
        run_at_once,
        restart,
        workers: _,
        stop_last,
    } = declaration;
    let (shared, inbox) = make_shared::<T>(name, capacity, &timing, run_at_once, parent);
    if stop_last {
        shared.control.set_stop_last();
    }
    if let Err(failure) = registry.insert(Arc::clone(&shared) as Arc<dyn Managed>, singleton) {
        return Err(SpawnError {
            name,
            failure,
            thread,
        });
    }
    registered(AnyHandle::new(Arc::clone(&shared) as Arc<dyn Managed>));
    // Opened once the thread is in the registry: a source that fails ends it there,
    // as an OS thread that fails to start does.
    if let Some(source) = source {
        if let Err(error) = feed::open(source, &shared) {
            let failure = SpawnFailure::Source(error);
            end_unstarted(&shared, &inbox, registry, &failure, true);
            return Err(SpawnError {
                name,
                failure,
                thread,
            });
        }
    }
    match launch(thread, &shared, inbox, registry, (timing, restart), rebuild) {
        Ok(()) => Ok(Handle::new(shared)),
        Err((failure, thread)) => Err(SpawnError {
            name,
            failure,
            thread,
        }),
    }
}
