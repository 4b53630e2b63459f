use threadward::{background_thread, BackgroundThread, BoxError, Context};

#[background_thread(every = "200ms")]
#[derive(Default)]
struct Flusher;

impl BackgroundThread for Flusher {
    type Task = ();
    fn handle(&mut self, _task: (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

fn main() {}
