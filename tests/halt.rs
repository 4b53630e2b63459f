//! The cooperative halt: checkpoints unwind out of `handle`, destructors run, nothing is
//! printed, `shutdown` still runs, queued tasks come back; interruptible waits and
//! `on_stop` hooks.

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use threadward::{
    background_thread, checkpoint, try_checkpoint, BackgroundThread, BoxError, Context, Exit,
    Handle, Outcome, Registry, SpawnFailure, State,
};

const BOUND: Duration = Duration::from_secs(10);

fn join<T: BackgroundThread>(handle: &Handle<T>) -> Exit<T> {
    handle.join_timeout(BOUND).expect("the thread ends in time")
}

/// Sets its flag when dropped: proves destructors run during the halt's unwind.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

enum Work {
    /// Loops through checkpoints (in a nested function) until halted; says when it began.
    Spin(mpsc::Sender<()>),
    /// Like `Spin`, but with `try_checkpoint()?`.
    SpinTry(mpsc::Sender<()>),
    /// Counts as handled.
    Item(u64),
}

#[background_thread(name = "spinner")]
#[derive(Default)]
struct Spinner {
    dropped: Arc<AtomicBool>,
    shutdowns: Arc<AtomicUsize>,
    items: Arc<Mutex<Vec<u64>>>,
}

fn deep_loop() {
    loop {
        checkpoint();
        std::hint::spin_loop();
    }
}

impl BackgroundThread for Spinner {
    type Task = Work;
    fn handle(&mut self, work: Work, ctx: &Context) -> Result<(), BoxError> {
        match work {
            Work::Spin(started) => {
                let _flag = DropFlag(Arc::clone(&self.dropped));
                checkpoint();
                started.send(())?;
                deep_loop();
            }
            Work::SpinTry(started) => {
                started.send(())?;
                loop {
                    ctx.try_checkpoint()?;
                }
            }
            Work::Item(n) => self.items.lock().unwrap().push(n),
        }
        Ok(())
    }
    fn shutdown(&mut self, ctx: &Context) {
        // Checkpoints do not unwind in shutdown: a halted thread still cleans up.
        ctx.checkpoint();
        self.shutdowns.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn halt_unwinds_at_a_checkpoint_and_returns_the_queue() {
    let hook_calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hook_calls);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        counted.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));

    let registry = Registry::new();
    let spinner = Spinner::default();
    let (dropped, shutdowns, items) = (
        Arc::clone(&spinner.dropped),
        Arc::clone(&spinner.shutdowns),
        Arc::clone(&spinner.items),
    );
    let handle = spinner.spawn_in(&registry).unwrap();
    let (started_tx, started) = mpsc::channel();
    handle.send(Work::Spin(started_tx)).unwrap();
    for n in 0..1_000 {
        handle.send(Work::Item(n)).unwrap();
    }
    started.recv_timeout(BOUND).unwrap();
    let info = handle.info();
    let seen = info.last_checkpoint.expect("a checkpoint was passed");
    assert!(seen.location.file().ends_with("halt.rs"), "{seen}");
    assert_eq!(info.state, State::Running);

    handle.halt();
    assert!(
        handle.send(Work::Item(9_999)).is_err(),
        "a halted thread accepts nothing"
    );
    let exit = join(&handle);
    assert!(
        matches!(exit.outcome(), Outcome::Halted),
        "{:?}",
        exit.outcome()
    );
    assert!(!exit.outcome().is_clean());
    assert_eq!(handle.state(), State::Stopped);
    assert!(
        dropped.load(Ordering::SeqCst),
        "destructors ran during the unwind"
    );
    assert_eq!(
        shutdowns.load(Ordering::SeqCst),
        1,
        "shutdown ran once, to the end"
    );
    assert_eq!(
        hook_calls.load(Ordering::SeqCst),
        0,
        "a halt prints nothing"
    );

    // Every item is handled or returned, none twice.
    let handled = items.lock().unwrap().clone();
    let returned: Vec<u64> = exit
        .undelivered()
        .iter()
        .filter_map(|w| match w {
            Work::Item(n) => Some(*n),
            _ => None,
        })
        .collect();
    let mut all: Vec<u64> = handled.iter().chain(&returned).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..1_000).collect::<Vec<_>>());
    assert_eq!(
        usize::try_from(exit.handled()).unwrap(),
        handled.len() + 1,
        "the spin task counts"
    );
    assert!(registry.is_empty());
}

#[test]
fn try_checkpoint_with_question_mark_ends_the_thread_as_halted() {
    let handle = Spinner::default().spawn_in(&Registry::new()).unwrap();
    let (started_tx, started) = mpsc::channel();
    handle.send(Work::SpinTry(started_tx)).unwrap();
    started.recv_timeout(BOUND).unwrap();
    handle.halt();
    assert!(matches!(join(&handle).outcome(), Outcome::Halted));
}

#[test]
fn halt_between_tasks_returns_every_queued_task_without_handling_it() {
    let spinner = Spinner::default();
    let items = Arc::clone(&spinner.items);
    let handle = spinner.spawn_in(&Registry::new()).unwrap();
    // Block the thread in a call so that the tasks queue up behind it; wait until the
    // call runs, since a halt would return it too while it is still queued.
    let (release, blocked) = mpsc::channel::<()>();
    let (running_tx, running) = mpsc::channel::<()>();
    handle
        .cast(move |_, _| {
            let _ = running_tx.send(());
            let _ = blocked.recv_timeout(BOUND);
        })
        .unwrap();
    running.recv_timeout(BOUND).unwrap();
    for n in 0..10 {
        handle.send(Work::Item(n)).unwrap();
    }
    handle.halt();
    release.send(()).unwrap();
    let exit = join(&handle);
    assert!(items.lock().unwrap().is_empty());
    assert_eq!(exit.undelivered().len(), 10);
    assert_eq!(exit.handled(), 0);
}

#[test]
fn checkpoints_outside_managed_threads_do_nothing() {
    checkpoint();
    assert_eq!(try_checkpoint(), Ok(()));
}

#[test]
fn halt_and_stop_are_idempotent_in_every_state() {
    let registry = Registry::new();
    let handle = Spinner::default().spawn_in(&registry).unwrap();
    handle.halt();
    handle.halt();
    handle.stop();
    join(&handle);
    handle.halt();
    registry.halt_all();
    assert_eq!(handle.state(), State::Stopped);
}

/// Sleeps or waits on a channel, interruptibly.
#[background_thread(name = "sleeper")]
#[derive(Default)]
struct Sleeper {
    results: Arc<Mutex<Vec<String>>>,
}

enum Nap {
    Sleep(Duration),
    Recv(crossbeam_channel::Receiver<u32>),
}

impl BackgroundThread for Sleeper {
    type Task = Nap;
    fn handle(&mut self, nap: Nap, ctx: &Context) -> Result<(), BoxError> {
        let result = match nap {
            Nap::Sleep(d) => format!("slept fully: {}", ctx.sleep(d)),
            Nap::Recv(rx) => format!("received: {:?}", ctx.recv(&rx)),
        };
        self.results.lock().unwrap().push(result);
        Ok(())
    }
}

#[test]
fn sleep_runs_its_course_or_ends_at_once_on_stop() {
    let sleeper = Sleeper::default();
    let results = Arc::clone(&sleeper.results);
    let handle = sleeper.spawn_in(&Registry::new()).unwrap();
    handle.send(Nap::Sleep(Duration::from_millis(1))).unwrap();
    handle.call(|_, _| ()).unwrap();
    handle.send(Nap::Sleep(Duration::from_secs(3600))).unwrap();
    handle.send(Nap::Sleep(Duration::from_secs(3600))).unwrap();
    let asked = Instant::now();
    handle.stop();
    let exit = join(&handle);
    assert!(asked.elapsed() < BOUND, "a stop cuts an hour's sleep short");
    assert!(exit.outcome().is_clean());
    assert_eq!(
        *results.lock().unwrap(),
        [
            "slept fully: true",
            "slept fully: false",
            "slept fully: false"
        ]
    );
}

#[test]
fn recv_returns_messages_and_ends_at_once_on_stop() {
    let sleeper = Sleeper::default();
    let results = Arc::clone(&sleeper.results);
    let handle = sleeper.spawn_in(&Registry::new()).unwrap();
    let (tx, rx) = crossbeam_channel::unbounded();
    tx.send(7).unwrap();
    handle.send(Nap::Recv(rx.clone())).unwrap();
    handle.call(|_, _| ()).unwrap();
    handle.send(Nap::Recv(rx)).unwrap();
    handle.stop();
    join(&handle);
    assert_eq!(
        *results.lock().unwrap(),
        ["received: Some(7)", "received: None"]
    );
}

#[test]
fn sleep_is_a_checkpoint_for_halt() {
    let handle = Sleeper::default().spawn_in(&Registry::new()).unwrap();
    handle.send(Nap::Sleep(Duration::from_secs(3600))).unwrap();
    // `sleep` records a checkpoint as it starts: halt once it is asleep.
    let deadline = Instant::now() + BOUND;
    while handle.info().last_checkpoint.is_none() {
        assert!(Instant::now() < deadline, "the sleep never started");
        std::thread::yield_now();
    }
    let asked = Instant::now();
    handle.halt();
    let exit = join(&handle);
    assert!(matches!(exit.outcome(), Outcome::Halted));
    assert!(asked.elapsed() < BOUND, "the halt cut the sleep short");
    assert_eq!(exit.handled(), 1);
}

/// Serves a TCP listener in `handle`, with `on_stop` to unblock `accept`.
#[background_thread(name = "acceptor")]
#[derive(Default)]
struct Acceptor {
    accepted: Arc<AtomicUsize>,
}

impl BackgroundThread for Acceptor {
    type Task = (TcpListener, mpsc::Sender<()>);
    fn handle(&mut self, (listener, ready): Self::Task, ctx: &Context) -> Result<(), BoxError> {
        let address = listener.local_addr()?;
        ctx.on_stop(move || drop(TcpStream::connect(address)));
        ready.send(())?;
        for stream in listener.incoming() {
            if ctx.is_stopping() {
                break;
            }
            drop(stream?);
            self.accepted.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

#[test]
fn on_stop_unblocks_a_thread_blocked_in_accept() {
    let acceptor = Acceptor::default();
    let accepted = Arc::clone(&acceptor.accepted);
    let handle = acceptor.spawn_in(&Registry::new()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (ready_tx, ready) = mpsc::channel();
    handle.send((listener, ready_tx)).unwrap();
    ready.recv_timeout(BOUND).unwrap();
    drop(TcpStream::connect(address).unwrap());
    let deadline = Instant::now() + BOUND;
    while accepted.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the client was never accepted");
        std::thread::yield_now();
    }
    // Now parked in `accept` again; only the hook can wake it.
    handle.stop();
    let exit = join(&handle);
    assert!(exit.outcome().is_clean());
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[test]
fn on_stop_hooks_run_once_on_the_requesting_thread_or_at_once_when_late() {
    let handle = Sleeper::default().spawn_in(&Registry::new()).unwrap();
    let runs = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&runs);
    handle
        .call(move |_, ctx| {
            ctx.on_stop(move || {
                let on = std::thread::current().name().map(str::to_owned);
                record.lock().unwrap().push(on);
            });
        })
        .unwrap();
    let requester = std::thread::Builder::new()
        .name("requester".into())
        .spawn({
            let handle = handle.clone();
            move || {
                handle.stop();
                handle.stop();
                handle.halt();
            }
        })
        .unwrap();
    requester.join().unwrap();
    assert_eq!(*runs.lock().unwrap(), [Some("requester".to_owned())]);
    join(&handle);

    // Registered after the stop was requested: runs at once, where it is registered.
    let late = Arc::new(AtomicBool::new(false));
    let handle = Sleeper::default().spawn_in(&Registry::new()).unwrap();
    let flag = Arc::clone(&late);
    handle
        .call(move |_, ctx| {
            ctx.stop();
            ctx.on_stop(move || flag.store(true, Ordering::SeqCst));
        })
        .unwrap();
    assert!(
        late.load(Ordering::SeqCst),
        "a hook registered after the stop runs at once"
    );
    join(&handle);
}

#[test]
fn halt_during_startup_fails_the_spawn() {
    #[background_thread(name = "halting-start")]
    #[derive(Default)]
    struct HaltingStart;

    impl BackgroundThread for HaltingStart {
        type Task = ();
        fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
            let registry_handle = threadward::registry().get(ctx.id()).unwrap();
            registry_handle.halt();
            ctx.checkpoint();
            Ok(())
        }
        fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
            Ok(())
        }
    }

    let err = HaltingStart.spawn().unwrap_err();
    assert!(matches!(err.failure(), SpawnFailure::Halted), "{err}");
}
