//! Pools: several workers, each an instance of the same thread type, serving one
//! queue. The pool is an entry of its own in the registry, with the handle its `spawn`
//! returns; each worker is an entry too, a child of the pool.

use std::num::NonZeroUsize;
use std::sync::Arc;

use crate::ending::{end_before_start, worker_ended};
use crate::error::{SpawnError, SpawnFailure};
use crate::feed;
use crate::handle::{AnyHandle, Handle, Managed, Message, Shared, Tally};
use crate::ids::{State, ThreadId};
use crate::launch::{launch, queue_first_runs, shared_on};
use crate::lives::{make_fresh, Making, Rebuild};
use crate::outcome::Outcome;
use crate::queue::{Inbox, Queue};
use crate::registry::{registry, Registry};
use crate::thread::{BackgroundThread, Declaration};
use crate::timing::Timing;

/// Several workers of one thread type serving one queue: the runtime form of
/// `#[background_thread(workers = N)]`, with instances from a closure of yours.
///
/// Each worker is a thread with its own instance (its own `startup`, `handle` and
/// `shutdown`), and every task sent to the pool is handled by exactly one of them, the
/// first that is free. The handle `spawn` returns is the pool's: [`send`](Handle::send)
/// queues a task for the pool, [`call`](Handle::call) runs on whichever worker takes it,
/// [`stop`](Handle::stop) stops them all (the queue is handled once, by all of them,
/// and every worker's `on_stop` hooks run), [`halt`](Handle::halt) halts them all, and
/// [`join`](Handle::join) waits for every worker and returns the pool's exit: the
/// outcome (the gravest of the workers'), the tasks handled by all of them, and every
/// task accepted and not handled.
///
/// - **Failures.** A worker declared with `restart` is restarted in place when it fails,
///   as a thread is: the queue is not touched, so nothing queued is lost (the fresh
///   instance comes from `make`). A
///   worker that ends for good (it failed and may not restart, or a stop or halt
///   reached it) stops the pool: the others handle what is queued, then end.
/// - **In the registry.** The pool is one entry (its handle, its name, the sum of its
///   workers in [`ThreadInfo`](crate::ThreadInfo)), and each worker one more, with the
///   pool as its `parent`: a pool of `n` takes `n + 1` places in a registry with a
///   limit. A stop or halt of any worker is one of the whole pool.
/// - **Children.** A worker cannot tie children to itself with
///   [`Context::spawn_child`](crate::Context::spawn_child) (it fails with
///   [`SpawnFailure::OnPoolWorker`]): the news of a child's exit comes through the
///   queue, which every worker serves.
/// - **Spawning.** `spawn` makes the instances, starts the workers one after another and
///   returns once every `startup` has finished. If one fails, the workers started
///   before it are stopped, and the error hands back the first instance made.
///
/// # Examples
///
/// ```
/// use std::num::NonZeroUsize;
/// use threadward::{background_thread, BackgroundThread, BoxError, Context, Pool};
///
/// #[background_thread]
/// struct Resizer { quality: u8 }
///
/// impl BackgroundThread for Resizer {
///     type Task = u32;
///     fn handle(&mut self, _image: u32, _ctx: &Context) -> Result<(), BoxError> {
///         Ok(()) // CPU-bound work
///     }
/// }
///
/// let quality = 90;
/// let workers = NonZeroUsize::new(4).expect("not zero");
/// let pool = Pool::new(workers, move || Resizer { quality }).spawn()?;
/// for image in 0..100 {
///     pool.send(image)?;
/// }
/// assert_eq!(pool.info().workers, 4);
/// pool.stop(); // every queued image is still resized
/// let exit = pool.join()?;
/// assert_eq!(exit.handled(), 100);
/// assert!(exit.undelivered().is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Pool<T> {
    workers: NonZeroUsize,
    make: Arc<dyn Fn() -> T + Send + Sync>,
}

impl<T: BackgroundThread> Pool<T> {
    /// A pool of `workers` instances, each made by `make`.
    pub fn new(workers: NonZeroUsize, make: impl Fn() -> T + Send + Sync + 'static) -> Self {
        Self {
            workers,
            make: Arc::new(make),
        }
    }

    /// How many workers the pool runs.
    pub fn workers(&self) -> NonZeroUsize {
        self.workers
    }

    /// Starts the pool in the process-wide [`registry()`]: returns once every worker's
    /// `startup` has finished.
    ///
    /// # Errors
    ///
    /// As a thread's `spawn` (the registry refused the pool or a worker, a `startup`
    /// failed, the OS could not start a thread), and
    /// [`SpawnFailure::WorkerNotMade`] if `make` panicked. The workers started before
    /// the failure are stopped; the error hands back the first instance made.
    pub fn spawn(&self) -> Result<Handle<T>, SpawnError<T>> {
        self.spawn_in(registry())
    }

    /// Starts the pool in `registry`; see [`spawn`](Self::spawn).
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn).
    pub fn spawn_in(&self, registry: &Registry) -> Result<Handle<T>, SpawnError<T>> {
        let first = (self.make)();
        let mut declaration = first.__declaration();
        declaration.workers = self.workers.get();
        let make = Arc::clone(&self.make);
        let rebuild: Rebuild<T> = Arc::new(move || Some(make()));
        let making = Making {
            rebuild: Some(rebuild),
            source: None,
        };
        spawn_pool(first, declaration, registry, (None, |_| {}), making)
    }
}

impl<T> std::fmt::Debug for Pool<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

/// Spawns a pool of `declaration.workers` workers: `first` and instances from `rebuild`
/// (the type's factory if `None`), as a child of `parent` if given, telling `registered`
/// the pool's handle once it is in the registry. A restarted worker is made by
/// `rebuild` too.
/// The instances from `more` start first, `first` last, so that a failure before it
/// hands `first` back untouched.
pub(crate) fn spawn_pool<T: BackgroundThread>(
    first: T,
    declaration: Declaration,
    registry: &Registry,
    (parent, registered): (Option<ThreadId>, impl FnOnce(AnyHandle)),
    making: Making<T>,
) -> Result<Handle<T>, SpawnError<T>> {
    let Making { rebuild, source } = making;
    let rebuild = rebuild.as_ref();
    let Declaration {
        name,
        capacity,
        timing,
        singleton,
        restart,
        workers,
        run_at_once,
        stop_last,
    } = declaration;
    let (queue, mut inbox) = Queue::<Message<T>>::new(capacity);
    // A pool of closure threads runs the body once per worker, on whichever is free.
    if run_at_once {
        queue_first_runs(&queue, workers);
    }
    // The pool's own entry has no time of its own: its workers have it.
    let pool = shared_on(Arc::clone(&queue), name, &Timing::NONE, parent, None);
    let inboxes: Vec<Inbox<Message<T>>> = (0..workers).map(|_| inbox.share()).collect();
    let tally = Arc::new(Tally::new(Arc::clone(&pool), inbox));
    let crew = crew(&pool, &tally, &queue, workers, &timing);
    if stop_last {
        pool.control.set_stop_last();
    }
    // Only now can the pool be found: a stop or halt of it reaches every worker.
    if let Err(failure) = registry.insert(Arc::clone(&pool) as Arc<dyn Managed>, singleton) {
        return Err(SpawnError {
            name,
            failure,
            thread: first,
        });
    }
    registered(AnyHandle::new(Arc::clone(&pool) as Arc<dyn Managed>));

    let mut first = Some(first);
    // A source that cannot be opened ends the pool before any worker starts.
    let mut failed = source
        .and_then(|source| feed::open(source, &pool).err())
        .map(SpawnFailure::Source);
    for (index, (worker, inbox)) in crew.iter().zip(inboxes).enumerate() {
        tally.add_worker();
        if failed.is_some() {
            // Never started: it ends at once, and the pool's end counts it.
            end_unlaunched(worker, &inbox, registry);
            continue;
        }
        let last = index + 1 == workers;
        let instance = match first.take() {
            Some(first) if last => Ok(first),
            unused => {
                first = unused;
                make(rebuild)
            }
        };
        let started = match instance {
            Ok(instance) => {
                let rebuild = rebuild.cloned();
                start_worker(
                    instance,
                    worker,
                    inbox,
                    registry,
                    (timing, restart),
                    rebuild,
                )
            }
            Err(failure) => {
                end_unlaunched(worker, &inbox, registry);
                Err(failure)
            }
        };
        if let Err((failure, instance)) = started {
            // The instance that failed goes back only if it is the caller's own.
            if last {
                first = first.or(instance);
            }
            failed = Some(failure);
        }
    }
    if let Some(failure) = failed {
        pool.control.mark_exit_taken();
        pool.control.signal_stop();
        pool.control.run_stop_hooks_aside();
        worker_ended(&tally, registry, None, 0, Vec::new());
        let _ = pool.control.wait_exit();
        return match first {
            Some(thread) => Err(SpawnError {
                name,
                failure,
                thread,
            }),
            None => unreachable!("the first instance is handed back on every failure"),
        };
    }
    // A stop requested meanwhile has already moved the state to `Stopping`.
    pool.control.transition(State::Starting, State::Running);
    worker_ended(&tally, registry, None, 0, Vec::new());
    Ok(Handle::new(pool))
}

/// The workers' shared state, tied to the pool's both ways.
fn crew<T: BackgroundThread>(
    pool: &Shared<T>,
    tally: &Arc<Tally<T>>,
    queue: &Arc<Queue<Message<T>>>,
    workers: usize,
    timing: &Timing,
) -> Vec<Arc<Shared<T>>> {
    let crew: Vec<Arc<Shared<T>>> = (0..workers)
        .map(|_| {
            let pool_of = Some(Arc::clone(tally));
            let parent = Some(pool.control.id);
            let worker = shared_on(
                Arc::clone(queue),
                pool.control.name,
                timing,
                parent,
                pool_of,
            );
            worker.control.serve_pool(&pool.control);
            worker
        })
        .collect();
    let controls = crew.iter().map(|worker| Arc::clone(&worker.control));
    pool.control.set_workers(controls.collect());
    crew
}

/// Starts one worker with `instance`: how that failed, with the instance.
fn start_worker<T: BackgroundThread>(
    instance: T,
    worker: &Arc<Shared<T>>,
    inbox: Inbox<Message<T>>,
    registry: &Registry,
    time: (Timing, crate::restart::Restart),
    rebuild: Option<Rebuild<T>>,
) -> Result<(), (SpawnFailure, Option<T>)> {
    if let Err(failure) = registry.insert(Arc::clone(worker) as Arc<dyn Managed>, false) {
        end_unlaunched(worker, &inbox, registry);
        return Err((failure, Some(instance)));
    }
    // A worker that fails to start has ended, counted in the pool's end.
    launch(instance, worker, inbox, registry, time, rebuild)
        .map_err(|(failure, instance)| (failure, Some(instance)))
}

/// Ends a worker that never started (a worker before it failed to).
fn end_unlaunched<T: BackgroundThread>(
    worker: &Shared<T>,
    inbox: &Inbox<Message<T>>,
    registry: &Registry,
) {
    end_before_start(worker, inbox, registry, Outcome::StoppedBeforeStart);
    worker.control.mark_finished();
}

/// One more instance: from `rebuild`, or the type's factory.
fn make<T: BackgroundThread>(rebuild: Option<&Rebuild<T>>) -> Result<T, (SpawnFailure, Option<T>)> {
    make_fresh(rebuild).map_err(|message| (SpawnFailure::WorkerNotMade { message }, None))
}
