use threadward::{background_thread, BackgroundThread, BoxError, Context};

#[derive(Default)]
struct JobSettings;

// `settings` names a type, not a string.
#[background_thread(settings = "JobSettings")]
struct Quoted;

// A generic struct has no factory entry to create it by name.
#[background_thread(settings = JobSettings)]
struct Generic<T: Send + 'static> {
    item: Option<T>,
}

// A restart makes a fresh value through a factory without arguments.
#[background_thread(settings = JobSettings, restart = "on-failure")]
#[derive(Default)]
struct Restarted;

// So does a pool for its other workers.
#[background_thread(settings = JobSettings, workers = 2)]
#[derive(Default)]
struct Pooled;

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

handles_nothing!(Quoted, Restarted, Pooled);

fn main() {}
