use threadward::background_thread;

#[background_thread(deadline = "0s")]
struct Zero;

#[background_thread(deadline = "30")]
struct NoUnit;

#[background_thread(delay = "0ms")]
struct NoDelay;

// Each is a complete thread but for its attribute's mistake.
macro_rules! threads {
    ($($ty:ident),*) => {$(
        impl threadward::BackgroundThread for $ty {
            type Task = ();
            fn handle(&mut self, _: (), _: &threadward::Context) -> Result<(), threadward::BoxError> {
                Ok(())
            }
        }
    )*};
}

threads!(Zero, NoUnit, NoDelay);

fn main() {}
