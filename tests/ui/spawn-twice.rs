//! `spawn` takes the value: the same thread cannot be started twice, and there is no
//! handle (so nothing to join) before it started.
use threadward::{background_thread, BackgroundThread, BoxError, Context};

#[background_thread]
#[derive(Default)]
struct Worker;

impl BackgroundThread for Worker {
    type Task = ();
    fn handle(&mut self, _task: (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

fn main() {
    let worker = Worker;
    let first = worker.spawn().unwrap();
    let second = worker.spawn().unwrap();
    first.stop();
    second.stop();
}
