//! `#[checkpointed]` on free functions and methods: results are unchanged, and a loop
//! that never ends is haltable.
use threadward::{background_thread, checkpointed, BackgroundThread, BoxError, Context, Outcome};

#[checkpointed]
fn sum_to(n: u64) -> u64 {
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

impl Spinner {
    #[checkpointed]
    fn spin(&mut self) {
        loop {
            self.turns += 1;
            std::thread::yield_now();
        }
    }
}

impl BackgroundThread for Spinner {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        self.spin();
        Ok(())
    }
}

fn main() {
    assert_eq!(sum_to(100), 5050); // outside a managed thread: checkpoints do nothing
    let spinner = Spinner::default().spawn().unwrap();
    spinner.send(()).unwrap();
    let started = std::time::Instant::now();
    while spinner.info().last_checkpoint.is_none() {
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        std::thread::yield_now();
    }
    let line = spinner.info().last_checkpoint.unwrap().location.line();
    assert!(line == 22 || line == 23, "the checkpoint is located at the loop: {line}");
    spinner.halt();
    let exit = spinner.join().unwrap();
    assert!(matches!(exit.outcome(), Outcome::Halted));
}
