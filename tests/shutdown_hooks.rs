//! `on_stop` hooks that block do not hold the ladder up: not its timers, not another
//! thread's hooks (each thread's hooks run on a helper thread of their own).

mod support;

use std::sync::mpsc;
use std::time::Duration;

use support::ladder::{block_on_stop, patient, release, shut_down, take_turn, Release, BOUND};
use threadward::{
    background_thread, BackgroundThread, BoxError, Context, Outcome, Registry, Shutdown, StopOrder,
};

/// Loops through checkpoints for ever (only a halt ends it); its `on_stop` hook blocks
/// until released.
#[background_thread(name = "hooked")]
struct Hooked {
    hook_release: Release,
}

impl BackgroundThread for Hooked {
    type Task = ();
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        block_on_stop(ctx, &self.hook_release);
        Ok(())
    }
    fn handle(&mut self, (): (), ctx: &Context) -> Result<(), BoxError> {
        loop {
            ctx.checkpoint();
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[test]
fn a_blocking_on_stop_hook_does_not_hold_up_the_timers() {
    let _turn = take_turn();
    let registry = Registry::new();
    let (hook_release, waits) = release();
    let hooked = Hooked {
        hook_release: waits,
    }
    .spawn_in(&registry)
    .unwrap();
    hooked.send(()).unwrap();
    let shutdown = Shutdown::without_signals()
        .grace(Duration::from_millis(100))
        .halt_grace(Duration::from_secs(100));
    let reports = shut_down(&registry, shutdown);
    // The hook blocks for a minute; the grace of 100 ms still halts the thread.
    let report = reports
        .recv_timeout(BOUND)
        .expect("the ladder halts on time");
    assert!(
        matches!(report.threads()[0].outcome(), Outcome::Halted),
        "{report}"
    );
    drop(hook_release);
}

/// Waits for work; its `on_stop` hook blocks until released, though it ends at once.
#[background_thread(name = "ends-but-blocks")]
struct EndsButBlocks {
    hook_release: Release,
}

impl BackgroundThread for EndsButBlocks {
    type Task = ();
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        block_on_stop(ctx, &self.hook_release);
        Ok(())
    }
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

/// Parked in a blocking wait that only its `on_stop` hook ends.
#[background_thread(name = "parked")]
struct Parked {
    unpark: Option<mpsc::Sender<()>>,
    parked: Option<mpsc::Receiver<()>>,
}

impl BackgroundThread for Parked {
    type Task = ();
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        if let Some(unpark) = self.unpark.take() {
            ctx.on_stop(move || {
                let _ = unpark.send(());
            });
        }
        Ok(())
    }
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        if let Some(parked) = self.parked.take() {
            let _ = parked.recv_timeout(BOUND * 6); // like a blocking accept
        }
        Ok(())
    }
}

#[test]
fn a_hook_that_blocks_holds_up_no_other_threads_hook() {
    let _turn = take_turn();
    for order in [StopOrder::OneByOne, StopOrder::AllAtOnce] {
        let registry = Registry::new();
        let (unpark, parked) = mpsc::channel();
        let parked = Parked {
            unpark: Some(unpark),
            parked: Some(parked),
        }
        .spawn_in(&registry)
        .unwrap();
        parked.send(()).unwrap();
        let (hook_release, waits) = release();
        EndsButBlocks {
            hook_release: waits,
        }
        .spawn_in(&registry)
        .unwrap();
        // The newest thread ends at once while its hook blocks for a minute; the parked
        // thread's own hook must still run, long before the grace of 100 s.
        let report = shut_down(&registry, patient().stop_order(order))
            .recv_timeout(BOUND)
            .expect("the shutdown ends");
        assert!(report.is_clean(), "{order:?}: {report}");
        drop(hook_release);
    }
}
