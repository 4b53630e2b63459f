use threadward::{background_thread, BackgroundThread, BoxError, Context};

// `spawn` of a delayed thread returns at once: there is no wait to bound.
#[background_thread(delay = "1s", startup_timeout = "5s")]
struct Delayed;

#[background_thread(startup_timeout = "0s")]
struct Zero;

#[background_thread(startup_timeout = "5")]
struct Unitless;

macro_rules! plain {
    ($($ty:ident),*) => {$(
        impl BackgroundThread for $ty {
            type Task = ();
            fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
                Ok(())
            }
        }
    )*};
}

plain!(Delayed, Zero, Unitless);

fn main() {}
