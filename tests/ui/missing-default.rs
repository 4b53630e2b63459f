use threadward::{background_thread, BackgroundThread, BoxError, Context};

#[background_thread]
struct Worker {
    limit: usize,
}

impl BackgroundThread for Worker {
    type Task = ();
    fn handle(&mut self, _task: (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

fn main() {}
