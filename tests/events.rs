//! Lifecycle transitions are `tracing` events carrying the thread's name and id. A
//! subscriber that records them is the process's global default, so this is its own
//! test binary.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use threadward::{background_thread, BackgroundThread, BoxError, Context, Registry};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// One recorded event: level and `field=value` pairs (the message under `message`).
#[derive(Debug, Clone)]
struct Recorded {
    level: Level,
    fields: Vec<(String, String)>,
}

impl Recorded {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Recorded>>>);

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _metadata: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _span: &Id, _values: &Record<'_>) {}
    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(Recorded {
            level: *event.metadata().level(),
            fields,
        });
    }
    fn enter(&self, _span: &Id) {}
    fn exit(&self, _span: &Id) {}
}

#[background_thread(name = "traced")]
#[derive(Default)]
struct Traced;

impl BackgroundThread for Traced {
    type Task = bool;
    fn handle(&mut self, fail: bool, _ctx: &Context) -> Result<(), BoxError> {
        if fail {
            return Err("refused".into());
        }
        Ok(())
    }
}

#[test]
fn lifecycle_transitions_are_tracing_events() {
    let recorder = Recorder::default();
    tracing::subscriber::set_global_default(recorder.clone()).unwrap();

    let registry = Registry::new();
    let stopped = Traced.spawn_in(&registry).unwrap();
    stopped.send(false).unwrap();
    stopped.stop();
    stopped.join_timeout(Duration::from_secs(10)).unwrap();
    let failed = Traced.spawn_in(&registry).unwrap();
    failed.send(true).unwrap();
    failed.join_timeout(Duration::from_secs(10)).unwrap();

    let events = recorder.0.lock().unwrap().clone();
    let of = |id: u64| -> Vec<(Level, String)> {
        events
            .iter()
            .filter(|e| e.field("id") == Some(&id.to_string()))
            .map(|e| {
                assert_eq!(e.field("thread"), Some("traced"), "{e:?}");
                (e.level, e.field("message").unwrap_or_default().to_owned())
            })
            .collect()
    };
    let msgs = |id| of(id).into_iter().map(|(_, m)| m).collect::<Vec<_>>();
    assert_eq!(
        msgs(stopped.id().as_u64()),
        ["starting", "started", "ended"]
    );
    assert_eq!(
        msgs(failed.id().as_u64()),
        ["starting", "started", "handle ended the thread", "ended"]
    );
    assert!(of(failed.id().as_u64()).contains(&(Level::ERROR, "handle ended the thread".into())));
    let ended = events
        .iter()
        .find(|e| {
            e.field("id") == Some(&stopped.id().as_u64().to_string())
                && e.field("message") == Some("ended")
        })
        .unwrap();
    assert_eq!(ended.field("outcome"), Some("stopped"));
    assert_eq!(ended.field("handled"), Some("1"));
    assert_eq!(ended.field("undelivered"), Some("0"));
}
