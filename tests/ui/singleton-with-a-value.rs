use threadward::{background_thread, BackgroundThread, BoxError, Context};

#[background_thread(singleton = true)]
#[derive(Default)]
struct Janitor;

impl BackgroundThread for Janitor {
    type Task = ();
    fn handle(&mut self, _task: (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

fn main() {}
