use threadward::{background_thread, BackgroundThread, BoxError, Context};

#[background_thread(name = "worker")]
struct Worker<T> {
    items: Vec<T>,
}

impl<T: Send + 'static> BackgroundThread for Worker<T> {
    type Task = T;
    fn handle(&mut self, task: T, _ctx: &Context) -> Result<(), BoxError> {
        self.items.push(task);
        Ok(())
    }
}

fn main() {}
