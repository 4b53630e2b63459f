use threadward::background_thread;

#[background_thread(restart = "permanent")]
#[derive(Default)]
struct OtpName;

#[background_thread(restart = "always")]
#[derive(Default)]
struct Unknown;

#[background_thread(restart = "on-failure", max_restarts = 3)]
#[derive(Default)]
struct NoWindow;

#[background_thread(restart = "on-failure", within = "10s")]
#[derive(Default)]
struct NoCount;

#[background_thread(restart = "on-failure", max_restarts = 0, within = "10s")]
#[derive(Default)]
struct Zero;

#[background_thread(backoff = "100ms")]
#[derive(Default)]
struct NoPolicy;

#[background_thread(restart = "on-failure", backoff = "0s")]
#[derive(Default)]
struct NoBackoff;

#[background_thread(restart = "on-failure")]
struct Generic<T: Send + 'static>(T);

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

threads!(OtpName, Unknown, NoWindow, NoCount, Zero, NoPolicy, NoBackoff);

impl<T: Send + 'static> threadward::BackgroundThread for Generic<T> {
    type Task = ();
    fn handle(&mut self, _: (), _: &threadward::Context) -> Result<(), threadward::BoxError> {
        Ok(())
    }
}

fn main() {}
