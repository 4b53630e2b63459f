//! Threads started from a configuration file: each table of `configured.toml` names a
//! thread type (registered by `#[background_thread]`) and holds its settings, which
//! `threadward::create_with` deserialises into the type's own settings type and hands
//! to its factory. A thread's `threadward` table changes its declaration: the mailer's
//! restart policy, the digest's schedule and the flusher's pool size come from the file.
//!
//! ```text
//! cargo run --example configured                  # reads examples/configured.toml
//! cargo run --example configured -- my-threads.toml
//! ```
//!
//! A name the program does not know, or settings that do not fit (a missing relay, a
//! retries count that is not a number), stop it with an error that says which thread
//! and what; nothing is started half-way.

use std::time::Duration;

use serde::Deserialize;
use threadward::{
    background_thread, registry, AnyHandle, BackgroundThread, BoxError, Context, Settings, Ticking,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MailerSettings {
    relay: String,
    #[serde(default = "one")]
    retries: u32,
}

fn one() -> u32 {
    1
}

/// Sends mail through its relay.
#[background_thread(name = "mailer", settings = MailerSettings, factory = Mailer::new)]
struct Mailer {
    relay: String,
    retries: u32,
}

impl Mailer {
    fn new(settings: MailerSettings) -> Self {
        Self {
            relay: settings.relay,
            retries: settings.retries,
        }
    }
}

impl BackgroundThread for Mailer {
    type Task = String;
    fn handle(&mut self, to: String, _ctx: &Context) -> Result<(), BoxError> {
        if to.is_empty() {
            // The configured restart policy restarts the mailer after this.
            return Err("a mail without a recipient".into());
        }
        println!(
            "mailer: mail to {to} through {} ({} retries)",
            self.relay, self.retries
        );
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DigestSettings {
    title: String,
}

/// Sums up what it saw, every second unless the configuration says otherwise.
#[background_thread(name = "digest", settings = DigestSettings, every = "1s")]
struct Digest {
    title: String,
    seen: u64,
    digests: u32,
}

impl From<DigestSettings> for Digest {
    fn from(settings: DigestSettings) -> Self {
        Self {
            title: settings.title,
            seen: 0,
            digests: 0,
        }
    }
}

impl BackgroundThread for Digest {
    type Task = u64;
    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        let every = ctx.every().unwrap_or_default();
        println!("digest: {} every {every:?}", self.title);
        Ok(())
    }
    fn handle(&mut self, events: u64, _ctx: &Context) -> Result<(), BoxError> {
        self.seen += events;
        Ok(())
    }
}

impl Ticking for Digest {
    fn tick(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        self.digests += 1;
        Ok(())
    }
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct FlusherSettings {
    batch: Option<usize>,
}

/// Flushes in batches; every setting has a default.
#[background_thread(name = "flusher", settings = FlusherSettings)]
struct Flusher {
    batch: usize,
}

impl From<FlusherSettings> for Flusher {
    fn from(settings: FlusherSettings) -> Self {
        Self {
            batch: settings.batch.unwrap_or(64),
        }
    }
}

impl BackgroundThread for Flusher {
    type Task = ();
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        println!("flusher: flushed a batch of up to {}", self.batch);
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("configured: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), BoxError> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/examples/configured.toml").to_owned()
    });
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let config: toml::Table = toml::from_str(&text).map_err(|e| format!("{path}: {e}"))?;

    // Every table is checked before any thread starts.
    let mut threads = Vec::new();
    for (name, table) in config {
        let settings = Settings::deserialize(table).map_err(|e| format!("[{name}]: {e}"))?;
        threads.push((name, settings));
    }
    let mut started: Vec<AnyHandle> = Vec::new();
    for (name, settings) in threads {
        match threadward::create_with(&name, settings) {
            Ok(thread) => {
                println!("started {name} ({})", thread.id());
                started.push(thread);
            }
            Err(error) => {
                // Nothing runs half-configured: what started is stopped again.
                registry().stop_all();
                return Err(format!("{path}: {error}").into());
            }
        }
    }

    for thread in &started {
        if let Ok(mailer) = thread.clone().downcast::<Mailer>() {
            mailer.send(String::new())?; // fails: the mailer restarts
            mailer.send("ada@example.com".into())?;
        } else if let Ok(digest) = thread.clone().downcast::<Digest>() {
            for events in 1..=10 {
                digest.send(events)?;
            }
        } else if let Ok(flusher) = thread.clone().downcast::<Flusher>() {
            println!("flusher: {} workers", flusher.info().workers);
            flusher.send(())?;
        }
    }
    // The digest's configured schedule comes round a few times (bounded: 10 s).
    for thread in &started {
        if let Ok(digest) = thread.clone().downcast::<Digest>() {
            let waited = std::time::Instant::now();
            let (seen, digests) = loop {
                let (seen, digests) = digest.call(|d, _| (d.seen, d.digests))?;
                if digests >= 3 || waited.elapsed() > Duration::from_secs(10) {
                    break (seen, digests);
                }
                std::thread::sleep(Duration::from_millis(10));
            };
            if digests >= 3 {
                println!("digest: {seen} events, 3 digests or more");
            } else {
                println!("digest: {seen} events, only {digests} digests in 10 s");
            }
        }
    }

    registry().stop_all();
    for thread in started {
        let exit = thread.join_timeout(Duration::from_secs(10))?;
        println!(
            "{}: {} ({} handled, {} restarts)",
            exit.name(),
            exit.outcome(),
            exit.handled(),
            exit.restarts()
        );
    }
    Ok(())
}
