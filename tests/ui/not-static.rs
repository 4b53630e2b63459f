use threadward::{background_thread, BackgroundThread, BoxError, Context};

#[background_thread]
struct Worker<'a> {
    prefix: &'a str,
}

impl<'a> BackgroundThread for Worker<'a> {
    type Task = String;
    fn handle(&mut self, task: String, _ctx: &Context) -> Result<(), BoxError> {
        println!("{}{task}", self.prefix);
        Ok(())
    }
}

fn main() {}
