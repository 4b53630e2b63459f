use threadward::{background_thread, BackgroundThread, BoxError, Context};

// A pool of four, the others made by the factory; `workers = 1` is a plain thread.
#[background_thread(workers = 4, factory = Resizer::new, restart = "on-failure")]
struct Resizer {
    quality: u8,
}

impl Resizer {
    fn new() -> Self {
        Self { quality: 90 }
    }
}

#[background_thread(workers = 1)]
struct Single;

macro_rules! handles_nothing {
    ($($ty:ty),*) => {$(
        impl BackgroundThread for $ty {
            type Task = ();
            fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
                Ok(())
            }
        }
    )*};
}

handles_nothing!(Resizer, Single);

fn main() {
    let pool = Resizer::new().spawn().unwrap();
    assert_eq!(pool.info().workers, 4);
    assert_eq!(pool.call(|resizer, _| resizer.quality).unwrap(), 90);
    pool.stop();
    pool.join().unwrap();
    let single = Single.spawn().unwrap();
    assert_eq!(single.info().workers, 0);
    single.stop();
    single.join().unwrap();
}
