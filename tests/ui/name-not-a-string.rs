use threadward::{background_thread, BackgroundThread, BoxError, Context};

#[background_thread(name = worker)]
#[derive(Default)]
struct Worker;

impl BackgroundThread for Worker {
    type Task = ();
    fn handle(&mut self, _task: (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

fn main() {}
