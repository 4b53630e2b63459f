use threadward::{background_thread, BackgroundThread, BoxError, Context, Declared, RestartPolicy};

#[background_thread(restart = "on-failure")]
#[derive(Default)]
struct Defaults;

#[background_thread(restart = "on-failure", max_restarts = 5, within = "1m30s", backoff = "250ms", factory = Built::new)]
struct Built {
    url: String,
}

impl Built {
    fn new() -> Self {
        Self { url: "db://".into() }
    }
}

#[background_thread(restart = "never")]
struct Never;

macro_rules! threads {
    ($($ty:ident),*) => {$(
        impl BackgroundThread for $ty {
            type Task = ();
            fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
                Ok(())
            }
        }
    )*};
}

threads!(Defaults, Built, Never);

fn main() {
    assert_eq!(Defaults::RESTART.max_restarts(), 3);
    assert_eq!(Built::RESTART.max_restarts(), 5);
    assert_eq!(Built::RESTART.within().as_secs(), 90);
    assert_eq!(Never::RESTART.policy(), RestartPolicy::Never);
    let _ = Built::new().url;
}
