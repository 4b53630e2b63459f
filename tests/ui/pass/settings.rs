use serde::Deserialize;
use threadward::{background_thread, BackgroundThread, BoxError, Context};

#[derive(Deserialize)]
struct RelaySettings {
    host: String,
}

// Made by `From`, or by a factory that takes the settings.
#[background_thread(settings = RelaySettings)]
struct Relay {
    host: String,
}

impl From<RelaySettings> for Relay {
    fn from(settings: RelaySettings) -> Self {
        Self { host: settings.host }
    }
}

#[background_thread(name = "mailer", settings = RelaySettings, factory = Mailer::new)]
struct Mailer {
    host: String,
}

impl Mailer {
    fn new(settings: RelaySettings) -> Self {
        Self { host: settings.host }
    }
}

// Restarted, and pooled, from the settings it was created with.
#[background_thread(name = "relays", settings = RelaySettings, restart = "on-failure", workers = 2)]
struct Relays {
    host: String,
}

impl From<RelaySettings> for Relays {
    fn from(settings: RelaySettings) -> Self {
        Self { host: settings.host }
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

handles_nothing!(Relay, Mailer, Relays);

fn main() {
    let settings: threadward::Settings = serde_json::from_str(r#"{"host": "relay"}"#).unwrap();
    let mailer = threadward::create_with("mailer", settings).unwrap();
    mailer.stop();
    mailer.join().unwrap();
}
