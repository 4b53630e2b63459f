use threadward::{background_thread, BackgroundThread, BoxError, Context, Declared};

#[background_thread(name = "db-flush.v2", capacity = 16, factory = Flusher::with_batch)]
struct Flusher {
    batch: usize,
}

impl Flusher {
    fn with_batch() -> Self {
        Self { batch: 64 }
    }
}

impl BackgroundThread for Flusher {
    type Task = u32;
    fn handle(&mut self, _row: u32, _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

fn main() {
    assert_eq!(Flusher::NAME, "db-flush.v2");
    assert_eq!(Flusher::CAPACITY, Some(16));
    let flusher = threadward::create("db-flush.v2")
        .unwrap()
        .downcast::<Flusher>()
        .unwrap();
    assert_eq!(flusher.call(|f, _| f.batch).unwrap(), 64);
    flusher.stop();
    flusher.join().unwrap();
}
