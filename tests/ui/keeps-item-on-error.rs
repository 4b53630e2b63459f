//! A bad argument is the only error: the struct and its `spawn` still exist, so code
//! that uses them does not fail as well.
use threadward::{background_thread, BackgroundThread, BoxError, Context};

#[background_thread(capacity = -1)]
#[derive(Default)]
struct Worker;

impl BackgroundThread for Worker {
    type Task = ();
    fn handle(&mut self, _task: (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

fn main() {
    let worker = Worker::default().spawn().unwrap();
    worker.send(()).unwrap();
    worker.stop();
}
