//! Threads fed from a Redis Streams consumer group: the same `#[background_thread]`
//! type that runs on its own queue consumes a stream shared by many threads and
//! processes, with what `threadward` promises of its own queue carried across them.
//!
//! ```no_run
//! use serde::{Deserialize, Serialize};
//! use threadward::{background_thread, BackgroundThread, BoxError, Context};
//! use threadward_redis::{Producer, Stream};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Email { to: String }
//!
//! #[background_thread]
//! #[derive(Default)]
//! struct Mailer;
//!
//! impl BackgroundThread for Mailer {
//!     type Task = Email;
//!     fn handle(&mut self, email: Email, _ctx: &Context) -> Result<(), BoxError> {
//!         println!("mail to {}", email.to); // make it idempotent: see below
//!         Ok(())
//!     }
//! }
//!
//! let url = "redis://127.0.0.1:6379/";
//! // In every replica: a consumer of the group `mailers` on the stream `mail`.
//! let mailer = Mailer.spawn_with(Stream::<Email>::connect(url)?.key("mail").group("mailers"))?;
//! // Anywhere: add a task.
//! let producer = Producer::<Email>::connect(url)?.key("mail").group("mailers");
//! let id = producer.enqueue(&Email { to: "ada@example.com".into() })?;
//! # let _ = id;
//! mailer.stop(); // finishes and acknowledges what it holds, takes nothing new
//! let exit = mailer.join()?;
//! println!("{}", exit.report()); // ...; from its source: acked 1, retried 0, ...
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Delivery
//!
//! At least once: an entry is acknowledged (and deleted from the stream) only after
//! `handle` returned `Ok` for it, so a task can be handled twice, never not at all.
//!
//! | what happens | what becomes of the entry |
//! |---|---|
//! | `handle` returns `Ok` | acknowledged and deleted (with the next read, or at once by the keeper if the reader waits in Redis) |
//! | `handle` returns an error | delivered again after a backoff (doubling from [`Stream::retry_backoff`], with jitter), up to [`Stream::max_attempts`] attempts; then moved to the dead-letter stream with the error, the consumer and the delivery count. The thread goes on (unless [`Stream::end_on_error`]) |
//! | `handle` panics | the thread's restart policy applies (a thread without one ends); the entry is delivered again to the restarted thread, or given back if it ends |
//! | the entry is delivered more than [`Stream::max_deliveries`] times without an answer (a poison pill that keeps killing its process or panicking) | moved to the dead-letter stream |
//! | the entry does not read as a task (another envelope version, JSON that does not fit `T`) | moved to the dead-letter stream with the parse error, at once; the worker goes on |
//! | the thread is stopped | it reads nothing more at once (its blocking read is cut short with `CLIENT UNBLOCK`), handles and acknowledges what it holds, and ends |
//! | the thread is halted | what it holds and did not handle is given back at once: made idle for longer than any claim waits, so the next claim by another consumer takes it |
//! | the process dies (`kill -9`, the OOM killer) | what its consumer held (at most [`Stream::prefetch`] entries) is claimed by a live consumer after [`Stream::claim_idle`], and delivered again |
//!
//! A consumer holds at most [`Stream::prefetch`] entries; it renews their lease every
//! third of [`Stream::claim_idle`], so a task that takes longer than that is not taken
//! from a live consumer. Consumer names are unique for the life of a process: a
//! restarted replica never takes over a dead one's name (and so never hides its
//! entries from the claims).
//!
//! The exit report of a consumer's thread counts what it did
//! ([`ExitReport::source`](threadward_runtime::ExitReport::source)): acknowledged,
//! retried, dead-lettered, released, acknowledgements that failed, and entries left
//! pending because Redis could not be reached at the end (delivered again to another
//! consumer within `claim_idle`).
//!
//! # The envelope
//!
//! A task is an entry with two fields: `v`, the envelope's version (`1`), and `task`,
//! the task as JSON (serde). A dead letter is an entry of the dead-letter stream (the
//! stream's key and `:dead` unless [`Stream::dead_letter`] says otherwise) with the
//! fields `id` (the entry's id), `stream`, `error`, `consumer`, `deliveries`, and the
//! entry's own fields (`v`, `task`) as they were.
//!
//! # Limits
//!
//! - **Duplicates happen** after a crash (what the dead consumer held is delivered
//!   again) and when a lease expires (a consumer stalled for longer than `claim_idle`,
//!   as in a stopped process). Make `handle` idempotent: record the tasks done by a
//!   key of the task's own, and skip a task already done.
//! - **Durability is Redis's.** An entry is as safe as Redis keeps it: with
//!   `appendonly yes` and `appendfsync everysec`, a crash of Redis loses up to a
//!   second of writes; replication is asynchronous, so a failover can lose an enqueue
//!   or bring back an entry that was acknowledged.
//! - The stream is never trimmed by length (that deletes entries still pending):
//!   entries are deleted one by one once acknowledged.

mod commands;
mod envelope;
mod error;
mod keeper;
mod producer;
mod reader;
mod state;
mod stream;
mod taking;

pub use error::Error;
pub use producer::{EntryId, Producer};
pub use stream::Stream;
