//! Threads created by name from their settings: `settings = Type` on the attribute,
//! `create_with(name, settings)` with the table a configuration file has for the name.
//! The settings are deserialised into the type's settings type and handed to its
//! factory (or `From`); what does not fit is an error that says what, and nothing
//! starts.

use serde::Deserialize;
use threadward::{
    background_thread, create_with_in, BackgroundThread, BoxError, Context, CreateError, Registry,
    Settings,
};

/// Every kind of value a configuration has.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct IndexerSettings {
    path: String,
    #[serde(default)]
    depth: Option<u16>,
    ratio: f64,
    follow_links: bool,
    include: Vec<String>,
    limits: Limits,
    mode: Mode,
    #[serde(default)]
    schedule: Option<Schedule>,
}

#[derive(Deserialize, Debug, Clone, PartialEq)]
struct Limits {
    files: u64,
    bytes: i64,
}

#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "kebab-case")]
enum Mode {
    Full,
    Incremental,
}

#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "kebab-case")]
enum Schedule {
    EverySeconds(u64),
    Window { from: u8, to: u8 },
}

#[background_thread(name = "indexer", settings = IndexerSettings, factory = Indexer::new)]
struct Indexer {
    settings: IndexerSettings,
}

impl Indexer {
    fn new(settings: IndexerSettings) -> Self {
        Self { settings }
    }
}

impl BackgroundThread for Indexer {
    type Task = ();
    fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

fn settings(json: &str) -> Settings {
    serde_json::from_str(json).unwrap()
}

fn indexer_settings(registry: &Registry, json: &str) -> Result<IndexerSettings, CreateError> {
    let thread = create_with_in("indexer", settings(json), registry)?;
    let indexer = thread.downcast::<Indexer>().ok().unwrap();
    let seen = indexer.call(|i, _| i.settings.clone()).unwrap();
    indexer.stop();
    indexer.join().unwrap();
    Ok(seen)
}

const FULL: &str = r#"{
    "path": "/var/index", "depth": 3, "ratio": 0.5, "follow_links": true,
    "include": ["*.rs", "*.md"], "limits": {"files": 1000, "bytes": -1},
    "mode": "incremental", "schedule": {"window": {"from": 1, "to": 5}}
}"#;

#[test]
fn the_factory_gets_the_settings_as_written() {
    let registry = Registry::new();
    let seen = indexer_settings(&registry, FULL).unwrap();
    assert_eq!(
        seen,
        IndexerSettings {
            path: "/var/index".into(),
            depth: Some(3),
            ratio: 0.5,
            follow_links: true,
            include: vec!["*.rs".into(), "*.md".into()],
            limits: Limits {
                files: 1000,
                bytes: -1
            },
            mode: Mode::Incremental,
            schedule: Some(Schedule::Window { from: 1, to: 5 }),
        }
    );
    // Optional values may be left out; an integer reads as a float.
    let seen = indexer_settings(
        &registry,
        r#"{"path": "/", "ratio": 1, "follow_links": false, "include": [],
            "limits": {"files": 1, "bytes": 1}, "mode": "full",
            "schedule": {"every-seconds": 30}}"#,
    )
    .unwrap();
    assert_eq!(seen.depth, None);
    assert!((seen.ratio - 1.0).abs() < f64::EPSILON);
    assert_eq!(seen.schedule, Some(Schedule::EverySeconds(30)));
    assert!(registry.is_empty());
}

#[test]
fn settings_that_do_not_fit_say_why_and_start_nothing() {
    let registry = Registry::new();
    for (json, says) in [
        (r#"{"path": "/"}"#, "missing field `ratio`"),
        (
            &FULL.replace(r#""depth": 3"#, r#""depth": 70000"#) as &str,
            "70000",
        ),
        (
            &FULL.replace(r#""mode": "incremental""#, r#""mode": "sometimes""#),
            "unknown variant `sometimes`",
        ),
        (
            &FULL.replace(r#""path""#, r#""paht""#),
            "unknown field `paht`",
        ),
        (
            &FULL.replace(r#""follow_links": true"#, r#""follow_links": "yes""#),
            "invalid type",
        ),
    ] {
        let error = indexer_settings(&registry, json).unwrap_err();
        assert!(matches!(error, CreateError::Settings { .. }), "{error}");
        let text = error.to_string();
        assert!(
            text.starts_with("the settings of thread `indexer` do not fit: ")
                && text.contains(says),
            "{text}"
        );
        assert!(registry.is_empty());
    }
}

/// Settings that all have defaults, made into the thread by `From`.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(default)]
struct FlushSettings {
    every_lines: u32,
}

#[background_thread(name = "flusher", settings = FlushSettings)]
struct Flusher {
    every_lines: u32,
}

impl From<FlushSettings> for Flusher {
    fn from(settings: FlushSettings) -> Self {
        Self {
            every_lines: settings.every_lines.max(1),
        }
    }
}

impl BackgroundThread for Flusher {
    type Task = ();
    fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn a_type_whose_settings_all_have_defaults_is_created_by_name_alone() {
    let registry = Registry::new();
    assert!(threadward::factory_names().contains(&"flusher"));
    let flusher = threadward::create_in("flusher", &registry)
        .unwrap()
        .downcast::<Flusher>()
        .ok()
        .unwrap();
    assert_eq!(flusher.call(|f, _| f.every_lines).unwrap(), 1);
    flusher.stop();
    let flusher = create_with_in("flusher", settings(r#"{"every_lines": 50}"#), &registry)
        .unwrap()
        .downcast::<Flusher>()
        .ok()
        .unwrap();
    assert_eq!(flusher.call(|f, _| f.every_lines).unwrap(), 50);
    flusher.stop();
}

#[background_thread(name = "plain-settings-less")]
#[derive(Default)]
struct Plain;

impl BackgroundThread for Plain {
    type Task = ();
    fn handle(&mut self, (): (), _: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn a_type_without_settings_takes_only_empty_ones() {
    let registry = Registry::new();
    let error =
        create_with_in("plain-settings-less", settings(r#"{"x": 1}"#), &registry).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the settings of thread `plain-settings-less` do not fit: the type takes no settings (declare `settings = Type` on it)"
    );
    assert!(registry.is_empty());
    let plain = create_with_in("plain-settings-less", Settings::empty(), &registry).unwrap();
    plain.stop();
    plain.join().unwrap();
}

#[test]
fn settings_read_from_toml_as_a_configuration_file_gives_them() {
    let config: toml::Table = toml::from_str(
        r#"
        [indexer]
        path = "/srv"
        ratio = 0.25
        follow_links = false
        include = ["*.txt"]
        mode = "full"
        limits = { files = 10, bytes = 20 }
        "#,
    )
    .unwrap();
    let registry = Registry::new();
    let table = config["indexer"].clone();
    let settings = Settings::deserialize(table).unwrap();
    let indexer = create_with_in("indexer", settings, &registry)
        .unwrap()
        .downcast::<Indexer>()
        .ok()
        .unwrap();
    let seen = indexer.call(|i, _| i.settings.clone()).unwrap();
    assert_eq!(
        (seen.path.as_str(), seen.mode, seen.limits.bytes),
        ("/srv", Mode::Full, 20)
    );
    indexer.stop();
    indexer.join().unwrap();
}

/// Fails on `true`; restarted from its settings, in a pool of two.
#[derive(Deserialize, Clone)]
struct ShardSettings {
    shard: String,
}

#[background_thread(name = "shards", settings = ShardSettings, restart = "on-failure", backoff = "1ms", workers = 2)]
struct Shard {
    shard: String,
}

impl From<ShardSettings> for Shard {
    fn from(settings: ShardSettings) -> Self {
        Self {
            shard: settings.shard,
        }
    }
}

impl BackgroundThread for Shard {
    type Task = bool;
    fn handle(&mut self, fail: bool, _: &Context) -> Result<(), BoxError> {
        if fail {
            return Err("shard lost".into());
        }
        Ok(())
    }
}

#[test]
fn a_pool_created_from_settings_makes_and_restarts_its_workers_from_them() {
    let registry = Registry::new();
    let pool = create_with_in("shards", settings(r#"{"shard": "eu-1"}"#), &registry)
        .unwrap()
        .downcast::<Shard>()
        .ok()
        .unwrap();
    assert_eq!(pool.info().workers, 2);
    pool.send(true).unwrap();
    let waited = std::time::Instant::now();
    while pool.info().restarts == 0 {
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(30),
            "no restart"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // Every instance, the restarted one too, has the settings.
    for _ in 0..4 {
        assert_eq!(pool.call(|s, _| s.shard.clone()).unwrap(), "eu-1");
    }
    pool.stop();
    let exit = pool.join().unwrap();
    assert_eq!((exit.restarts(), exit.handled()), (1, 1));
}
