//! Starting a thread whose shared state is made and registered: its OS thread is
//! created, handed the value and the inbox, and waited for until its `startup` has
//! finished (or its delay began).

use std::any::Any;
use std::panic;
use std::sync::Arc;

use crossbeam_channel as channel;

use crate::control::Control;
use crate::ending::{abandon_lost, end_unstarted};
use crate::error::SpawnFailure;
use crate::handle::{Message, Shared, Tally};
use crate::ids::ThreadId;
use crate::lives::Rebuild;
use crate::queue::{Closable, Inbox, Queue};
use crate::registry::Registry;
use crate::restart::Restart;
use crate::run_loop::{run, Start, Started, StartupGate};
use crate::thread::BackgroundThread;
use crate::timing::Timing;

/// Starts the OS thread of `shared` (made by [`make_shared`], and in the registry) with
/// `thread`, and waits for its `startup` to finish: or how that failed, with the value
/// handed back. On failure the thread has published its exit.
pub(crate) fn launch<T: BackgroundThread>(
    thread: T,
    shared: &Arc<Shared<T>>,
    inbox: Inbox<Message<T>>,
    registry: &Registry,
    (timing, restart): (Timing, Restart),
    rebuild: Option<Rebuild<T>>,
) -> Result<(), (SpawnFailure, T)> {
    let name = shared.control.name;
    // The value and the inbox are handed over only once the OS thread exists, so that a
    // failure to create one can hand the value back and return what was sent meanwhile.
    let (handoff_tx, handoff_rx) = channel::bounded::<(T, _)>(1);
    let (started_tx, started_rx) = channel::bounded::<Started<T>>(1);
    let gate = Arc::new(StartupGate::default());
    let start = Start {
        timing,
        restart,
        rebuild,
        answer: started_tx,
        gate: Arc::clone(&gate),
    };
    let run_shared = Arc::clone(shared);
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
        Ok(os_thread) => shared.control.set_join_handle(os_thread),
        Err(error) => {
            let failure = SpawnFailure::Os(error);
            end_unstarted(shared, &inbox, registry, &failure, true);
            shared.control.mark_finished();
            return Err((failure, thread));
        }
    }
    let control = &shared.control;
    let join_os_thread = || {
        control
            .take_join_handle()
            .map(std::thread::JoinHandle::join)
    };
    if let Err(channel::SendError((thread, inbox))) = handoff_tx.send((thread, inbox)) {
        let _ = join_os_thread();
        let error = std::io::Error::other("the new thread ended before it was started");
        let failure = SpawnFailure::Os(error);
        end_unstarted(shared, &inbox, registry, &failure, true);
        return Err((failure, thread));
    }
    let answer = wait_started(&started_rx, &timing, &gate, control, name);
    match answer {
        Ok(Ok(())) => Ok(()),
        Ok(Err((failure, thread))) => {
            let _ = join_os_thread();
            Err((failure, thread))
        }
        // `run` answers on every path it returns from; a thread that ended without
        // answering unwound past it: its exit is published here, and its panic is handed
        // on to the caller.
        Err(channel::RecvError) => {
            let joined = join_os_thread();
            abandon_lost(
                shared,
                registry,
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
pub(crate) fn make_shared<T: BackgroundThread>(
    name: &'static str,
    capacity: Option<usize>,
    timing: &Timing,
    run_at_once: bool,
    parent: Option<ThreadId>,
) -> (Arc<Shared<T>>, Inbox<Message<T>>) {
    let (queue, inbox) = Queue::<Message<T>>::new(capacity);
    if run_at_once {
        queue_first_runs(&queue, 1);
    }
    (shared_on(queue, name, timing, parent, None), inbox)
}

/// Queues `runs` first runs of a closure thread (whose task is `()`) in its new queue.
pub(crate) fn queue_first_runs<T: BackgroundThread>(queue: &Queue<Message<T>>, runs: usize) {
    for _ in 0..runs {
        // A closure thread's queue is unbounded: it has room.
        if let Ok(task) = (Box::new(()) as Box<dyn Any>).downcast::<T::Task>() {
            let _ = queue.try_send(Message::Task(*task));
        }
    }
}

/// The shared state of a thread that serves `queue`: a pool's worker if `pool` is
/// given.
pub(crate) fn shared_on<T: BackgroundThread>(
    queue: Arc<Queue<Message<T>>>,
    name: &'static str,
    timing: &Timing,
    parent: Option<ThreadId>,
    pool: Option<Arc<Tally<T>>>,
) -> Arc<Shared<T>> {
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
    Arc::new(Shared::new(control, queue, pool))
}
