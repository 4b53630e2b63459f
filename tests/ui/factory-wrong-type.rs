use threadward::{background_thread, BackgroundThread, BoxError, Context};

#[background_thread(factory = make_worker)]
struct Worker;

fn make_worker() -> String {
    String::new()
}

impl BackgroundThread for Worker {
    type Task = ();
    fn handle(&mut self, _task: (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

fn main() {}
