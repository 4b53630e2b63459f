//! [`Stream`]: a thread's tasks from a Redis stream, read with a consumer group.

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use threadward_runtime::{BoxError, Feed, OpenSource, Source, SourceInfo, SourceReport};

use crate::commands;
use crate::error::Error;
use crate::keeper::Keeper;
use crate::reader::Reader;
use crate::state::{Limits, State};

/// How long connecting (and each command of the keeper) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a thread's end waits for the stream's reader and keeper to finish.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The tasks of a thread, from a Redis stream shared by many threads and processes:
/// give it to the thread's `spawn_with`. The thread joins the stream's consumer group
/// as a consumer of its own (named uniquely for the life of its process), takes up to
/// [`prefetch`](Self::prefetch) entries at a time, and acknowledges each only after
/// `handle` returned `Ok` for it. See the crate's documentation for what happens on an
/// error, a panic, a stop, a halt and a crash.
///
/// # Examples
///
/// ```no_run
/// use serde::{Deserialize, Serialize};
/// use threadward::{background_thread, BackgroundThread, BoxError, Context};
/// use threadward_redis::{Producer, Stream};
///
/// #[derive(Serialize, Deserialize)]
/// struct Email { to: String }
///
/// #[background_thread]
/// #[derive(Default)]
/// struct Mailer;
///
/// impl BackgroundThread for Mailer {
///     type Task = Email;
///     fn handle(&mut self, email: Email, _ctx: &Context) -> Result<(), BoxError> {
///         println!("mail to {}", email.to);
///         Ok(())
///     }
/// }
///
/// let url = "redis://127.0.0.1:6379/";
/// let mailer = Mailer.spawn_with(Stream::<Email>::connect(url)?.key("mail").group("mailers"))?;
/// Producer::<Email>::connect(url)?.key("mail").group("mailers")
///     .enqueue(&Email { to: "ada@example.com".into() })?;
/// mailer.stop();
/// mailer.join()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Stream<T> {
    client: redis::Client,
    /// Host and port, for messages (never the credentials).
    at: String,
    key: String,
    group: String,
    dead_letter: Option<String>,
    limits: Limits,
    _task: PhantomData<fn() -> T>,
}

impl<T> Stream<T> {
    /// A stream on the Redis server at `url` (`redis://[user:password@]host[:port][/db]`),
    /// with the key `tasks` and the group `workers` until told otherwise. Nothing is
    /// connected yet: the thread's `spawn_with` connects.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] if `url` is not a Redis URL.
    pub fn connect(url: &str) -> Result<Self, Error> {
        let (client, at) = client(url)?;
        Ok(Self {
            client,
            at,
            key: "tasks".to_owned(),
            group: "workers".to_owned(),
            dead_letter: None,
            limits: Limits {
                prefetch: 10,
                max_attempts: 5,
                max_deliveries: 10,
                retry_backoff: Duration::from_secs(1),
                claim_idle: Duration::from_secs(30),
                end_on_error: false,
            },
            _task: PhantomData,
        })
    }

    /// The stream's key (default `tasks`).
    #[must_use]
    pub fn key(mut self, key: &str) -> Self {
        key.clone_into(&mut self.key);
        self
    }

    /// The consumer group (default `workers`): the threads of one group share the
    /// stream's entries, each entry going to one of them.
    #[must_use]
    pub fn group(mut self, group: &str) -> Self {
        group.clone_into(&mut self.group);
        self
    }

    /// How many entries the thread holds at most (default 10, at least 1): read and
    /// not yet acknowledged. It is what a `kill -9` of the process delivers again, and
    /// what a stop finishes before the thread ends.
    #[must_use]
    pub fn prefetch(mut self, entries: usize) -> Self {
        self.limits.prefetch = entries.max(1);
        self
    }

    /// How many times an entry is handled before an error in `handle` sets it aside
    /// on the dead-letter stream (default 5, at least 1).
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.limits.max_attempts = attempts.max(1);
        self
    }

    /// How many times an entry is delivered without an answer (its process died in
    /// `handle`, or `handle` panicked) before it is set aside on the dead-letter
    /// stream as a poison pill (default 10, at least 1).
    #[must_use]
    pub fn max_deliveries(mut self, deliveries: u32) -> Self {
        self.limits.max_deliveries = deliveries.max(1);
        self
    }

    /// The wait before the first retry of an entry that failed (default 1 s, at most
    /// an hour); it doubles with each further attempt (up to 32 times), each drawn
    /// between half and all of it.
    #[must_use]
    pub fn retry_backoff(mut self, backoff: Duration) -> Self {
        self.limits.retry_backoff = backoff.min(Duration::from_secs(3600));
        self
    }

    /// How long an entry held by a consumer that stopped renewing its lease stays
    /// with it before a live consumer claims it (default 30 s; from 30 ms to 24 days,
    /// below the idle time a released entry is given). A live consumer renews its
    /// leases every third of it.
    #[must_use]
    pub fn claim_idle(mut self, idle: Duration) -> Self {
        let most = Duration::from_secs(24 * 24 * 3600);
        self.limits.claim_idle = idle.clamp(Duration::from_millis(30), most);
        self
    }

    /// The key of the dead-letter stream (default: the stream's key and `:dead`).
    #[must_use]
    pub fn dead_letter(mut self, key: &str) -> Self {
        self.dead_letter = Some(key.to_owned());
        self
    }

    /// Whether an error from `handle` also fails the thread, as it does for a task
    /// from its own queue (default `false`: the entry is retried and the thread goes
    /// on, so that one bad message does not stop a fleet).
    #[must_use]
    pub fn end_on_error(mut self, end: bool) -> Self {
        self.limits.end_on_error = end;
        self
    }
}

impl<T> fmt::Debug for Stream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("at", &self.at)
            .field("key", &self.key)
            .field("group", &self.group)
            .field("prefetch", &self.limits.prefetch)
            .finish_non_exhaustive()
    }
}

/// The client for `url`, and where it connects (host and port only).
pub(crate) fn client(url: &str) -> Result<(redis::Client, String), Error> {
    let client = redis::Client::open(url).map_err(|error| Error::InvalidUrl {
        reason: error.to_string(),
    })?;
    let at = client.get_connection_info().addr().to_string();
    Ok((client, at))
}

/// The names a consumer uses, shared by its reader and keeper.
#[derive(Debug)]
pub(crate) struct Names {
    pub(crate) at: String,
    pub(crate) key: String,
    pub(crate) group: String,
    pub(crate) consumer: String,
    pub(crate) dead_letter: String,
}

/// A consumer name no other consumer has had: the host, the process, a per-process
/// random part and a counter. A restarted process never takes over a dead one's name
/// (whose entries are then claimed, not silently kept).
fn consumer_name() -> String {
    use std::hash::{BuildHasher, Hasher};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    static NONCE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let nonce = *NONCE.get_or_init(|| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        hasher.finish()
    });
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_or_else(|_| "host".to_owned(), |name| name.trim().to_owned());
    format!(
        "{host}-{}-{:08x}-{}",
        std::process::id(),
        nonce & 0xffff_ffff,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl<T: DeserializeOwned + Send + 'static> Source<T> for Stream<T> {
    fn open(self: Box<Self>, feed: Feed<T>) -> Result<Box<dyn OpenSource>, BoxError> {
        let Stream {
            client,
            at,
            key,
            group,
            dead_letter,
            limits,
            _task,
        } = *self;
        let mut reading =
            commands::connect(&client, &at, CONNECT_TIMEOUT, Some(commands::READ_TIMEOUT))?;
        let keeping = commands::connect(&client, &at, CONNECT_TIMEOUT, Some(CONNECT_TIMEOUT))?;
        commands::create_group(&mut reading, &key, &group)?;
        let reader_client = commands::client_id(&mut reading)?;
        let names = Arc::new(Names {
            at,
            dead_letter: dead_letter.unwrap_or_else(|| format!("{key}:dead")),
            key,
            group,
            consumer: consumer_name(),
        });
        let state = State::new(limits);
        state.lock().reader_client = Some(reader_client);
        let reader = Reader {
            state: Arc::clone(&state),
            names: Arc::clone(&names),
            client: client.clone(),
            connection: reading,
            feed: feed.clone(),
            _task: PhantomData,
        };
        let keeper = Keeper {
            state: Arc::clone(&state),
            names: Arc::clone(&names),
            client,
            connection: Some(keeping),
            feed,
            unblocking: None,
            parked: Vec::new(),
            claim_cursor: "0-0".to_owned(),
            _task: PhantomData,
        };
        let threads = [
            spawn_named("stream-reader", move || reader.run())?,
            spawn_named("stream-keeper", move || keeper.run())?,
        ];
        tracing::info!(stream = %names.key, group = %names.group, consumer = %names.consumer, "consuming");
        Ok(Box::new(OpenStream {
            state,
            names,
            threads: Mutex::new(Some(threads)),
        }))
    }
}

fn spawn_named(
    name: &str,
    run: impl FnOnce() + Send + 'static,
) -> Result<std::thread::JoinHandle<()>, Error> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(run)
        .map_err(|error| Error::Connect {
            at: String::new(),
            reason: format!("could not start a thread: {error}"),
        })
}

/// A stream once opened: what the thread's runtime tells and asks.
struct OpenStream {
    state: Arc<State>,
    names: Arc<Names>,
    threads: Mutex<Option<[std::thread::JoinHandle<()>; 2]>>,
}

impl OpenSource for OpenStream {
    fn stop(&self) {
        self.state.stop();
    }

    fn halt(&self) {
        self.state.lock().halted = true;
        self.state.stop();
    }

    fn info(&self) -> SourceInfo {
        let inner = self.state.lock();
        let mut info = SourceInfo::default();
        info.kind = "redis";
        info.stream.clone_from(&self.names.key);
        info.group.clone_from(&self.names.group);
        info.consumer.clone_from(&self.names.consumer);
        info.connected = inner.connected;
        info.in_flight = inner.held.len();
        info.pending = inner.pending;
        info.lag = inner.lag;
        info.counts = inner.counts;
        info
    }

    fn close(&self) -> SourceReport {
        let mut inner = self.state.lock();
        inner.closing = true;
        inner.stopping = true;
        drop(inner);
        self.state.wake_all();
        let until = Instant::now() + CLOSE_TIMEOUT;
        let mut inner = self.state.lock();
        while !(inner.reader_done && inner.keeper_done) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            inner = self
                .state
                .ended
                .wait_timeout(inner, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        let finished = inner.reader_done && inner.keeper_done;
        if !finished {
            inner.given_up = true;
            inner.counts.ack_failed += inner.acks_owed;
        }
        let mut report = SourceReport::default();
        report.counts = inner.counts;
        report.left_pending = inner.held.len() as u64;
        if report.left_pending > 0 {
            report.redelivered_within = Some(self.state.limits.claim_idle);
        }
        drop(inner);
        self.state.wake_all();
        if finished {
            let threads = self
                .threads
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            for thread in threads.into_iter().flatten() {
                let _ = thread.join();
            }
        } else {
            tracing::error!(stream = %self.names.key, consumer = %self.names.consumer, left_pending = report.left_pending, "Redis did not answer at the end: entries stay pending until claimed");
        }
        report
    }
}
