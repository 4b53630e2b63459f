// Each literal is its own error, in one build.
use threadward::background_thread;

#[background_thread(every = "5")]
struct NoUnit;

#[background_thread(every = "-1s")]
struct Negative;

#[background_thread(every = "0s")]
struct Zero;

#[background_thread(every = "1y")]
struct UnknownUnit;

#[background_thread(every = "30s1m")]
struct SmallestFirst;

#[background_thread(every = 200)]
struct NotAString;

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

threads!(NoUnit, Negative, Zero, UnknownUnit, SmallestFirst, NotAString);

fn main() {}
