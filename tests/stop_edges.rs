//! A stop is never waited on for ever: a `Context` cloned to another thread stops an
//! idle thread, the wake-up comes before the `on_stop` hooks run (so a hook that blocks
//! does not keep the thread from ending, nor `stop_all` from asking the others), a cast
//! from a thread to its own full queue is refused instead of waiting on itself, and a
//! thread whose ending panics still publishes its exit.

use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use threadward::{
    background_thread, BackgroundThread, BoxError, CastError, Context, Handle, Outcome, Registry,
    State,
};

const BOUND: Duration = Duration::from_secs(10);

/// Hands a clone of its context out from `startup`.
#[background_thread(name = "idler")]
struct Idler {
    contexts: mpsc::Sender<Context>,
}

impl BackgroundThread for Idler {
    type Task = ();
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        let _ = self.contexts.send(ctx.clone());
        Ok(())
    }
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

/// Waits (bounded) until the OS thread named `name` sleeps in the kernel: an idle
/// managed thread blocked on its empty queue, which only a wake-up can end.
fn wait_until_asleep(name: &str) {
    for _ in 0..10_000 {
        let asleep = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(Result::ok)
            .filter(|task| {
                std::fs::read_to_string(task.path().join("comm")).is_ok_and(|c| c.trim() == name)
            })
            .any(|task| {
                // The state follows the parenthesised name: `S` is an interruptible sleep.
                std::fs::read_to_string(task.path().join("stat"))
                    .is_ok_and(|stat| stat.rsplit(") ").next().is_some_and(|s| s.starts_with('S')))
            });
        if asleep {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("thread `{name}` never went to sleep");
}

#[test]
fn context_stop_from_another_thread_wakes_an_idle_thread() {
    let registry = Registry::new();
    let (contexts, rx) = mpsc::channel();
    let idler = Idler { contexts }.spawn_in(&registry).unwrap();
    let ctx = rx.recv_timeout(BOUND).unwrap();
    idler.send(()).unwrap();
    wait_until_asleep("idler");
    std::thread::spawn(move || ctx.stop()).join().unwrap();
    let exit = idler.join_timeout(BOUND).expect("the stop woke it");
    assert!(matches!(exit.outcome(), Outcome::Stopped));
    assert_eq!(exit.handled(), 1);
}

/// Idle; its `on_stop` hook blocks until released.
#[background_thread(name = "slow-hook")]
struct SlowHook {
    release: Arc<Mutex<mpsc::Receiver<()>>>,
}

impl BackgroundThread for SlowHook {
    type Task = ();
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        let release = Arc::clone(&self.release);
        ctx.on_stop(move || {
            let _ = release.lock().unwrap().recv_timeout(BOUND * 6);
        });
        Ok(())
    }
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn the_thread_is_woken_before_the_hooks_run() {
    let registry = Registry::new();
    let (release, rx) = mpsc::channel();
    let thread = SlowHook {
        release: Arc::new(Mutex::new(rx)),
    }
    .spawn_in(&registry)
    .unwrap();
    let stopper = thread.clone();
    // `stop` runs the hook on the caller, here a helper, where it blocks for a minute.
    let stopping = std::thread::spawn(move || stopper.stop());
    let exit = thread
        .join_timeout(BOUND)
        .expect("the thread ended while its hook still blocks");
    assert!(exit.outcome().is_clean());
    release.send(()).unwrap();
    stopping.join().unwrap();
}

/// On its first task, fills its own bounded queue, then casts to it.
#[background_thread(name = "self-caster", capacity = 1)]
struct SelfCaster {
    own: mpsc::Receiver<Handle<SelfCaster>>,
    results: mpsc::Sender<Result<(), String>>,
    casts_run: u32,
}

impl BackgroundThread for SelfCaster {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        let Ok(own) = self.own.try_recv() else {
            return Ok(()); // the task that filled the queue
        };
        let full = own.try_send(()).is_ok();
        let result = match own.cast(|me, _ctx| me.casts_run += 1) {
            Ok(()) => Ok(()),
            Err(CastError::Full(_)) => Err("full".to_owned()),
            Err(other) => Err(other.to_string()),
        };
        let _ = self
            .results
            .send(result.map_err(|e| format!("{e} (queue was full: {full})")));
        Ok(())
    }
}

#[test]
fn a_cast_to_its_own_full_queue_is_refused_not_a_deadlock() {
    let registry = Registry::new();
    let (own_tx, own) = mpsc::channel();
    let (results, result) = mpsc::channel();
    let caster = SelfCaster {
        own,
        results,
        casts_run: 0,
    }
    .spawn_in(&registry)
    .unwrap();
    own_tx.send(caster.clone()).unwrap();
    caster.send(()).unwrap();
    let outcome = result
        .recv_timeout(BOUND)
        .expect("the cast returned instead of waiting on itself");
    assert_eq!(outcome, Err("full (queue was full: true)".to_owned()));
    assert_eq!(
        caster.call(|me, _ctx| me.casts_run).unwrap(),
        0,
        "the refused cast never ran"
    );
    caster.stop();
    let exit = caster.join_timeout(BOUND).expect("ends");
    assert!(exit.outcome().is_clean());
    assert_eq!(caster.state(), State::Stopped);
}

#[test]
fn stop_all_asks_every_thread_before_running_a_hook_that_blocks() {
    let registry = Registry::new();
    let (contexts, _rx) = mpsc::channel();
    let idler = Idler { contexts }.spawn_in(&registry).unwrap();
    let (release, rx) = mpsc::channel();
    let _blocker = SlowHook {
        release: Arc::new(Mutex::new(rx)),
    }
    .spawn_in(&registry)
    .unwrap();
    // The newest thread's hook blocks for a minute; the older one is asked all the same.
    let stopping = {
        let registry = registry.clone();
        std::thread::spawn(move || registry.stop_all())
    };
    let exit = idler
        .join_timeout(BOUND)
        .expect("asked although a hook blocks");
    assert!(exit.outcome().is_clean());
    release.send(()).unwrap();
    stopping.join().unwrap();
}

/// Panics when dropped: the capture of a call still queued when its thread ends.
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("a capture that panics on drop");
    }
}

/// Fails on its first task.
#[background_thread(name = "fails-once")]
struct FailsOnce {
    hook_capture: Arc<()>,
}

impl BackgroundThread for FailsOnce {
    type Task = mpsc::Receiver<()>;
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        let capture = Arc::clone(&self.hook_capture);
        ctx.on_stop(move || drop(capture));
        Ok(())
    }
    fn handle(&mut self, go: mpsc::Receiver<()>, _ctx: &Context) -> Result<(), BoxError> {
        let _ = go.recv_timeout(BOUND);
        Err("broken".into())
    }
}

#[test]
fn a_thread_whose_ending_panics_still_publishes_its_exit() {
    let registry = Registry::new();
    let thread = FailsOnce {
        hook_capture: Arc::new(()),
    }
    .spawn_in(&registry)
    .unwrap();
    let (go, rx) = mpsc::channel();
    thread.send(rx).unwrap();
    for _ in 0..10_000 {
        if thread.info().handled == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(thread.info().handled, 1, "the thread is in its first task");
    let bomb = PanicOnDrop;
    let caller = thread.clone();
    let call = std::thread::spawn(move || {
        let result = caller.call(move |_, _| drop(bomb));
        result.is_err()
    });
    for _ in 0..10_000 {
        if thread.info().queue_depth == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(
        thread.info().queue_depth,
        1,
        "the call waits behind the task"
    );
    go.send(()).unwrap();
    let exit = thread.join_timeout(BOUND).expect("the exit is published");
    assert!(
        matches!(exit.outcome(), Outcome::Panicked { message } if message.contains("panics on drop")),
        "{:?}",
        exit.outcome()
    );
    assert!(
        call.join().unwrap(),
        "the call learns that the thread ended"
    );
    assert!(registry.is_empty());
}

#[test]
fn a_remembered_exit_keeps_nothing_of_the_thread_alive() {
    let registry = Registry::new();
    let capture = Arc::new(());
    let thread = FailsOnce {
        hook_capture: Arc::clone(&capture),
    }
    .spawn_in(&registry)
    .unwrap();
    let (go, rx) = mpsc::channel();
    thread.send(rx).unwrap();
    go.send(()).unwrap();
    for _ in 0..10_000 {
        if !thread.is_alive() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(thread.state(), State::Failed);
    // Once the state says it ended, the registry remembers the exit nobody joined.
    assert_eq!(registry.unjoined_exits().len(), 1);
    assert_eq!(Arc::strong_count(&capture), 2, "the handle holds the hook");
    drop(thread);
    // The registry keeps only the report: the hook (and the queue, and whatever else
    // the thread held) goes with the last handle.
    assert_eq!(Arc::strong_count(&capture), 1);
    assert_eq!(registry.unjoined_exits().len(), 1);
}
