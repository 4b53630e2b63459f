use threadward::background_thread;

#[background_thread(every = "1s", missed = "catch-up")]
struct UnknownPolicy;

#[background_thread(missed = "burst")]
struct WithoutEvery;

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

threads!(UnknownPolicy, WithoutEvery);

fn main() {}
