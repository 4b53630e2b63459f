use threadward::{background_thread, BackgroundThread, BoxError, Context};

#[derive(Default)]
struct JobSettings;

fn _uses(_: JobSettings) {}

// `settings` names a type, not a string.
#[background_thread(settings = "JobSettings")]
struct Quoted;

// A generic struct has no factory entry to create it by name.
#[background_thread(settings = JobSettings)]
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

handles_nothing!(Quoted);

fn main() {}
