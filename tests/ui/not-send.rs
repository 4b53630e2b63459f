use std::rc::Rc;

use threadward::{background_thread, BackgroundThread, BoxError, Context};

#[background_thread]
#[derive(Default)]
struct Worker {
    shared: Rc<String>,
}

impl BackgroundThread for Worker {
    type Task = ();
    fn handle(&mut self, _task: (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

fn main() {}
