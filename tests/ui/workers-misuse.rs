use threadward::{background_thread, BackgroundThread, BoxError, Context};

// A pool needs at least one worker.
#[background_thread(workers = 0)]
#[derive(Default)]
struct Zero;

// `workers` is a number, not a string.
#[background_thread(workers = "4")]
#[derive(Default)]
struct Quoted;

// Negative counts are refused with the same words.
#[background_thread(workers = -2)]
#[derive(Default)]
struct Negative;

// A generic struct has no factory to make the other workers with.
#[background_thread(workers = 2)]
#[derive(Default)]
struct Generic<T: Send + 'static> {
    item: Option<T>,
}

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

handles_nothing!(Zero, Quoted, Negative);

fn main() {}
