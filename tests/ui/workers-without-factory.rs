use threadward::{background_thread, BackgroundThread, BoxError, Context};

// A pool makes its other workers through the factory: without `factory = …`, the type
// must implement `Default`.
#[background_thread(workers = 4)]
struct Resizer {
    quality: u8,
}

impl BackgroundThread for Resizer {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        let _ = self.quality;
        Ok(())
    }
}

fn main() {}
