use serde::Deserialize;
use threadward::{background_thread, BackgroundThread, BoxError, Context};

#[derive(Deserialize)]
struct RelaySettings {
    host: String,
}

// Without `factory = …`, the value is made with `From<RelaySettings>`.
#[background_thread(settings = RelaySettings)]
struct Relay {
    host: String,
}

// A factory takes the settings.
#[background_thread(settings = RelaySettings, factory = Mailer::new)]
struct Mailer {
    host: String,
}

impl Mailer {
    fn new() -> Self {
        Self { host: String::new() }
    }
}

macro_rules! handles_nothing {
    ($($ty:ty),*) => {$(
        impl BackgroundThread for $ty {
            type Task = ();
            fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
                let _ = &self.host;
                Ok(())
            }
        }
    )*};
}

handles_nothing!(Relay, Mailer);

fn main() {
    let _ = |s: RelaySettings| s.host;
}
