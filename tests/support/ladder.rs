//! The in-process side of the ladder tests: one shutdown at a time, run on a thread of
//! its own.

use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use threadward::{Context, Registry, Shutdown, ShutdownReport};

/// What a hook that blocks waits on: it returns once released (or the sender dropped).
pub(crate) type Release = Arc<Mutex<mpsc::Receiver<()>>>;

/// A release for [`block_on_stop`] and the sender that releases it.
pub(crate) fn release() -> (mpsc::Sender<()>, Release) {
    let (tx, rx) = mpsc::channel();
    (tx, Arc::new(Mutex::new(rx)))
}

/// Registers an `on_stop` hook that blocks (for up to a minute) until released, like a
/// connect to a dead peer.
pub(crate) fn block_on_stop(ctx: &Context, release: &Release) {
    let release = Arc::clone(release);
    ctx.on_stop(move || {
        let _ = release
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv_timeout(BOUND * 6);
    });
}

pub(crate) const BOUND: Duration = Duration::from_secs(10);

/// One shutdown at a time in this process.
pub(crate) fn take_turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Triggers a shutdown of `registry` and runs its ladder on a thread of its own.
pub(crate) fn shut_down(registry: &Registry, shutdown: Shutdown) -> mpsc::Receiver<ShutdownReport> {
    let handle = shutdown.registry(registry).install().expect("installed");
    handle.trigger();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(handle.wait());
    });
    rx
}

pub(crate) fn patient() -> Shutdown {
    Shutdown::without_signals()
        .grace(Duration::from_secs(100))
        .halt_grace(Duration::from_secs(100))
}
