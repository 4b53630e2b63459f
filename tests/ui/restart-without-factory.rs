use threadward::{background_thread, BackgroundThread, BoxError, Context};

// A restart builds a fresh value through the factory: without `factory = …`, the type
// must implement `Default`.
#[background_thread(restart = "on-failure")]
struct Connection {
    url: String,
}

impl BackgroundThread for Connection {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        let _ = &self.url;
        Ok(())
    }
}

fn main() {}
