//! `#[checkpointed]` on an `async fn` and an `async` method: the checkpoints run when the
//! future is polled, the future stays `Send`, and a polled loop that never ends is
//! haltable.
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Wake, Waker};

use threadward::{background_thread, checkpointed, BackgroundThread, BoxError, Context, Outcome};

struct Noop;

impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = TaskContext::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

#[checkpointed]
async fn sum_to(n: u64) -> u64 {
    let mut sum = 0;
    for i in 1..=n {
        sum += i;
    }
    sum
}

#[background_thread]
#[derive(Default)]
struct Spinner {
    turns: u64,
}

const LOOP_LINE: u32 = line!() + 5;

impl Spinner {
    #[checkpointed]
    async fn spin(&mut self) {
        loop {
            self.turns += 1;
            std::thread::yield_now();
        }
    }
}

impl BackgroundThread for Spinner {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        block_on(assert_send(self.spin()));
        Ok(())
    }
}

fn main() {
    // outside a managed thread: checkpoints do nothing
    assert_eq!(block_on(assert_send(sum_to(100))), 5050);
    let spinner = Spinner::default().spawn().unwrap();
    spinner.send(()).unwrap();
    let started = std::time::Instant::now();
    let last_line = || {
        spinner
            .info()
            .last_checkpoint
            .map(|last| last.location.line())
    };
    while last_line() != Some(LOOP_LINE) {
        let waited = started.elapsed();
        assert!(
            waited.as_secs() < 10,
            "the checkpoint is located at the loop"
        );
        std::thread::yield_now();
    }
    spinner.halt();
    let exit = spinner.join().unwrap();
    assert!(matches!(exit.outcome(), Outcome::Halted));
}
