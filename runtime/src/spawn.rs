//! Spawning: a thread's queue, shared state and registry entry are made, its OS thread
//! started, and `spawn` returns once `startup` has finished (or, with `delay`, once the
//! thread is waiting out its delay).

use std::any::Any;
use std::panic;
use std::sync::Arc;

use crossbeam_channel as channel;

use crate::control::Control;
use crate::error::{SpawnError, SpawnFailure};
use crate::handle::{AnyHandle, Handle, Managed, Message, Shared};
use crate::ids::ThreadId;
use crate::queue::{Closable, Inbox, Queue};
use crate::registry::Registry;
use crate::run_loop::{abandon, end_unstarted, run, Start, Started, StartupGate};
use crate::thread::{BackgroundThread, Declaration};
use crate::timing::Timing;

/// Spawns `thread` into `registry` as it is declared, and returns once its `startup`
/// has finished (at once for a thread with a `delay`: the run loop answers before its
/// delay).
pub(crate) fn spawn_in<T: BackgroundThread>(
    thread: T,
    registry: &Registry,
) -> Result<Handle<T>, SpawnError<T>> {
    spawn_in_with(thread, registry, None, |_| {})
}

/// [`spawn_in`], as a child of `parent` if given, telling `registered` the thread's
/// handle as soon as it is in the registry, before its `startup` runs: for a caller who
/// must be able to stop it meanwhile, or to learn of its exit whenever it comes.
pub(crate) fn spawn_in_with<T: BackgroundThread>(
    thread: T,
    registry: &Registry,
    parent: Option<ThreadId>,
    registered: impl FnOnce(AnyHandle),
) -> Result<Handle<T>, SpawnError<T>> {
    let Declaration {
        name,
        capacity,
        timing,
        singleton,
        run_at_once,
        restart,
    } = thread.__declaration();
    let fail = |failure, thread| {
        Err(SpawnError {
            name,
            failure,
            thread,
        })
    };
    let (shared, inbox) = make_shared::<T>(name, capacity, &timing, run_at_once, parent);
    let control = Arc::clone(&shared.control);
    if let Err(failure) = registry.insert(Arc::clone(&shared) as Arc<dyn Managed>, singleton) {
        return fail(failure, thread);
    }
    registered(AnyHandle::new(Arc::clone(&shared) as Arc<dyn Managed>));

    // The value and the inbox are handed over only once the OS thread exists, so that a
    // failure to create one can hand the value back and return what was sent meanwhile.
    let (handoff_tx, handoff_rx) = channel::bounded::<(T, _)>(1);
    let (started_tx, started_rx) = channel::bounded::<Started<T>>(1);
    let gate = Arc::new(StartupGate::default());
    let start = Start {
        timing,
        restart,
        answer: started_tx,
        gate: Arc::clone(&gate),
    };
    let run_shared = Arc::clone(&shared);
    let run_registry = registry.clone();
    let os_thread = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            // However the thread ends, a bounded join learns it has finished.
            let _finished = Finished(&run_shared.control);
            let handed = handoff_rx.recv();
            // Both channels are freed once used, not kept for the thread's life.
            drop(handoff_rx);
            if let Ok((thread, inbox)) = handed {
                run(thread, &run_shared, &inbox, &run_registry, start);
            }
        });
    match os_thread {
        // Whoever joins, through any handle, waits for the OS thread too.
        Ok(os_thread) => control.set_join_handle(os_thread),
        Err(error) => {
            let failure = SpawnFailure::Os(error);
            end_unstarted(&shared, &inbox, registry, &failure, true);
            control.mark_finished();
            return fail(failure, thread);
        }
    }
    let join_os_thread = || {
        control
            .take_join_handle()
            .map(std::thread::JoinHandle::join)
    };
    if let Err(channel::SendError((thread, inbox))) = handoff_tx.send((thread, inbox)) {
        let _ = join_os_thread();
        let error = std::io::Error::other("the new thread ended before it was started");
        let failure = SpawnFailure::Os(error);
        end_unstarted(&shared, &inbox, registry, &failure, true);
        return fail(failure, thread);
    }
    let answer = wait_started(&started_rx, &timing, &gate, &control, name);
    match answer {
        Ok(Ok(())) => Ok(Handle::new(shared)),
        Ok(Err((failure, thread))) => {
            let _ = join_os_thread();
            fail(failure, thread)
        }
        // `run` answers on every path it returns from; a thread that ended without
        // answering unwound past it: its exit is published here, and its panic is handed
        // on to the caller.
        Err(channel::RecvError) => {
            let joined = join_os_thread();
            abandon(
                &shared,
                registry,
                0,
                "the thread ended without reporting its startup",
            );
            match joined {
                Some(Err(payload)) => panic::resume_unwind(payload),
                _ => panic::resume_unwind(Box::new(format!(
                    "threadward: thread `{name}` ended without reporting its startup"
                ))),
            }
        }
    }
}

/// Waits for the thread's answer to `spawn`; with a `startup_timeout`, halts a startup
/// still running when it runs out, and waits for the answer that then comes.
fn wait_started<T>(
    started: &channel::Receiver<Started<T>>,
    timing: &Timing,
    gate: &StartupGate,
    control: &Control,
    name: &'static str,
) -> Result<Started<T>, channel::RecvError> {
    let Some(limit) = timing.startup_timeout() else {
        return started.recv();
    };
    match started.recv_timeout(limit) {
        Ok(answer) => Ok(answer),
        Err(channel::RecvTimeoutError::Timeout) => {
            // Halted only if `startup` is still running; either way its answer comes
            // once it returns.
            if gate.time_out() {
                tracing::warn!(
                    thread = name,
                    id = control.id.as_u64(),
                    ?limit,
                    "startup timed out: halting it"
                );
                control.request_halt();
            }
            started.recv()
        }
        Err(channel::RecvTimeoutError::Disconnected) => Err(channel::RecvError),
    }
}

/// Marks the thread finished when the OS thread's work for it ends, by return or unwind.
struct Finished<'a>(&'a Control);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.0.mark_finished();
    }
}

/// A new thread's queue and shared state, as declared; a closure thread's first run
/// (its task is `()`) queued already.
fn make_shared<T: BackgroundThread>(
    name: &'static str,
    capacity: Option<usize>,
    timing: &Timing,
    run_at_once: bool,
    parent: Option<ThreadId>,
) -> (Arc<Shared<T>>, Inbox<Message<T>>) {
    let (queue, inbox) = Queue::<Message<T>>::new(capacity);
    if run_at_once {
        // The queue is new and empty: it has room.
        if let Ok(task) = (Box::new(()) as Box<dyn Any>).downcast::<T::Task>() {
            let _ = queue.try_send(Message::Task(*task));
        }
    }
    let closable: Arc<dyn Closable> = Arc::clone(&queue) as Arc<dyn Closable>;
    let control = Arc::new(
        Control::new(
            name,
            std::any::type_name::<T>(),
            closable,
            timing.deadline(),
        )
        .with_parent(parent),
    );
    if let Some(every) = timing.every() {
        control.set_every(every);
    }
    (Arc::new(Shared::new(control, queue)), inbox)
}
