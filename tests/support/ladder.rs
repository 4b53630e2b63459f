//! The in-process side of the ladder tests: one shutdown at a time, run on a thread of
//! its own.

use std::sync::{mpsc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use threadward::{Registry, Shutdown, ShutdownReport};

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
