use threadward::{background_thread, BackgroundThread, BoxError, Context};

// A child given no time to stop would be halted at once: a stop needs some time.
#[background_thread(shutdown_timeout = "0s")]
struct Zero;

#[background_thread(shutdown_timeout = 5)]
struct NotAString;

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

plain!(Zero, NotAString);

fn main() {}
