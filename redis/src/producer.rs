//! [`Producer`]: adds tasks to a stream, for the threads that consume it.

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;

use crate::commands;
use crate::envelope;
use crate::error::Error;
use crate::stream::client;

/// The id Redis gave an entry (`1733312000000-0`): its time in milliseconds and a
/// sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryId(String);

impl EntryId {
    /// The id as Redis writes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Adds tasks of type `T` to a stream, as entries the consuming threads read (see the
/// crate's documentation for the envelope). The group is created at the start of the
/// stream before the first task is added, so a task added before any consumer came is
/// not skipped. A producer keeps one connection, connected again after an error; it is
/// `Sync`, and its calls take turns on the connection.
///
/// # Examples
///
/// ```no_run
/// use threadward_redis::Producer;
///
/// let producer = Producer::<String>::connect("redis://127.0.0.1:6379/")?.key("mail").group("mailers");
/// let id = producer.enqueue(&"ada@example.com".to_owned())?;
/// let ids = producer.enqueue_all(&["a@example.com".to_owned(), "b@example.com".to_owned()])?;
/// assert_eq!(ids.len(), 2);
/// println!("queued as {id}");
/// # Ok::<(), threadward_redis::Error>(())
/// ```
pub struct Producer<T> {
    client: redis::Client,
    at: String,
    key: String,
    group: String,
    /// The connection, once made and the group created.
    connection: Mutex<Option<redis::Connection>>,
    _task: PhantomData<fn(&T)>,
}

/// How long connecting and each command may take.
const TIMEOUT: Duration = Duration::from_secs(5);

impl<T: Serialize> Producer<T> {
    /// A producer for the Redis server at `url`, adding to the key `tasks` for the
    /// group `workers` until told otherwise. Nothing is connected yet.
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
            connection: Mutex::new(None),
            _task: PhantomData,
        })
    }

    /// The stream's key (default `tasks`).
    #[must_use]
    pub fn key(mut self, key: &str) -> Self {
        key.clone_into(&mut self.key);
        self
    }

    /// The consumer group created with the stream (default `workers`).
    #[must_use]
    pub fn group(mut self, group: &str) -> Self {
        group.clone_into(&mut self.group);
        self
    }

    /// Adds `task` to the stream: its entry's id.
    ///
    /// # Errors
    ///
    /// [`Error::Encode`] if the task does not encode as JSON, [`Error::Connect`] or
    /// [`Error::Command`] if Redis could not be reached or refused it (the task was
    /// then not added).
    pub fn enqueue(&self, task: &T) -> Result<EntryId, Error> {
        let mut ids = self.enqueue_all(std::slice::from_ref(task))?;
        ids.pop().ok_or_else(|| Error::Command {
            command: "XADD",
            reason: "no id in the reply".to_owned(),
        })
    }

    /// Adds `tasks` to the stream in one round trip: their entries' ids, in order.
    ///
    /// # Errors
    ///
    /// As [`enqueue`](Self::enqueue); on an error, some of the tasks may have been
    /// added.
    pub fn enqueue_all(&self, tasks: &[T]) -> Result<Vec<EntryId>, Error> {
        if tasks.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for task in tasks {
            let fields = envelope::fields(task)?;
            pipe.cmd("XADD").arg(&self.key).arg("*").arg(&fields[..]);
        }
        let ids: Vec<String> = self.run("XADD", |con| pipe.query(con))?;
        Ok(ids.into_iter().map(EntryId).collect())
    }

    /// Adds `task` to the stream unless a task with the same `key` was added through
    /// `enqueue_once` within the last `ttl`: its entry's id, or `None` if it was not
    /// added. The check and the add are one step (a script), so two producers racing
    /// with one key add one task. (This makes the enqueue idempotent; for the handling,
    /// see the crate's documentation on duplicates.)
    ///
    /// # Errors
    ///
    /// As [`enqueue`](Self::enqueue).
    pub fn enqueue_once(
        &self,
        task: &T,
        key: &str,
        ttl: Duration,
    ) -> Result<Option<EntryId>, Error> {
        static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
        let script = SCRIPT.get_or_init(|| {
            redis::Script::new(
                r"
                if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then
                    return redis.call('XADD', KEYS[1], '*', 'v', ARGV[2], 'task', ARGV[3])
                end
                return false
                ",
            )
        });
        let [_, (_, json)] = envelope::fields(task)?;
        let once = format!("{}:once:{key}", self.key);
        // (Redis takes a time to live up to about 292 million years; a century is
        // plenty.)
        let century = 100 * 365 * 24 * 3600 * 1000;
        let ttl = u64::try_from(ttl.as_millis())
            .unwrap_or(u64::MAX)
            .clamp(1, century);
        let id: Option<String> = self.run("XADD (once)", |con| {
            script
                .key(&self.key)
                .key(&once)
                .arg(ttl)
                .arg(envelope::VERSION)
                .arg(&json)
                .invoke(con)
        })?;
        Ok(id.map(EntryId))
    }

    /// Adds `task` to the stream once `delay` has passed (by the Redis server's clock):
    /// it waits in a sorted set beside the stream (the stream's key and `:delayed`),
    /// and the consumers move it into the stream when it is due, within about a second
    /// of its time. Nothing is lost if no consumer runs meanwhile: it is moved when one
    /// does.
    ///
    /// # Errors
    ///
    /// As [`enqueue`](Self::enqueue).
    pub fn enqueue_after(&self, task: &T, delay: Duration) -> Result<(), Error> {
        static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
        let script = SCRIPT.get_or_init(|| {
            redis::Script::new(
                r"
                local time = redis.call('TIME')
                local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
                return redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
                ",
            )
        });
        let [_, (_, json)] = envelope::fields(task)?;
        let member = envelope::delayed_member(&json);
        let delay = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.run("ZADD (delayed)", |con| {
            script
                .key(envelope::delayed_key(&self.key))
                .arg(delay)
                .arg(member)
                .invoke::<i64>(con)
        })
        .map(drop)
    }

    /// Runs `command` on the producer's connection, connected (and the group created)
    /// first if need be; an error drops the connection, to connect again next time
    /// (and create the group again, had it vanished).
    fn run<R>(
        &self,
        name: &'static str,
        command: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<R>,
    ) -> Result<R, Error> {
        let mut connection = self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if connection.is_none() {
            let mut made = commands::connect(&self.client, &self.at, TIMEOUT, Some(TIMEOUT))?;
            commands::create_group(&mut made, &self.key, &self.group)?;
            *connection = Some(made);
        }
        let Some(con) = connection.as_mut() else {
            return Err(Error::Connect {
                at: self.at.clone(),
                reason: "no connection".to_owned(),
            });
        };
        command(con).map_err(|error| {
            *connection = None;
            Error::command(name, &error)
        })
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("at", &self.at)
            .field("key", &self.key)
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}
