//! A live web console of [threadward](https://docs.rs/threadward)'s managed threads: for
//! the operator who must see, now, which thread is busy, on what, for how long and
//! where in the code; which queue is filling; what died and why; and, during a
//! shutdown, who is still draining.
//!
//! ```no_run
//! use threadward_console::Console;
//!
//! let console = Console::bind("127.0.0.1:9750").spawn()?;
//! println!("console on {}", console.url()); // console on http://127.0.0.1:9750/
//! # Ok::<(), threadward_console::ConsoleError>(())
//! ```
//!
//! It serves:
//!
//! - `GET /`: the page (one HTML, one script and one stylesheet, compiled in: no
//!   build step, no network beyond the console). Every thread with its state, queue
//!   depth against capacity and a chart of the last two minutes, tasks handled per
//!   second, refused sends, time on its current task, last checkpoint (`file:line`,
//!   how long ago), restarts and last failure, parent (as a tree), its stream when fed
//!   from one; a thread busy on one task past a threshold without passing a checkpoint
//!   is marked stuck with where it is; the recent exits; during a shutdown, each
//!   thread's step (stop requested, draining with an estimate, halted, stuck) and then
//!   the report.
//! - `GET /threads`: the same as JSON ([`Snapshot`], versioned by [`SCHEMA`]);
//!   `GET /threads?format=text`: a table for a terminal (`watch curl -s …`).
//! - `GET /threads/events`: server-sent events, one [`Snapshot`] every 250 ms with
//!   its number as the event id, and a comment line every 15 s for proxies. The first
//!   event of a stream (and of a reconnection) carries each thread's history.
//! - `POST /threads/<id>/stop` and `POST /threads/<id>/halt`: off unless turned on
//!   with [`Console::actions`], and then only with the token.
//!
//! **Safe by default.** It listens on loopback unless given a token; with a token,
//! reads of thread data need it too (`Authorization: Bearer …`; the page asks for it,
//! or takes it from its address as `#token=…`, which never reaches a server log).
//! Requests whose `Host` is not an IP address, `localhost` or an allowed name are
//! refused (DNS rebinding). No CORS header is ever sent. The content security policy
//! allows no inline script, and the page writes every name, error and location as
//! text, never as markup.
//!
//! **Cheap.** One broadcaster samples the registry once per update (reading atomics
//! and short locks: no thread is woken) and writes the event once for every page. A
//! page that falls behind skips to the newest update, holding one update's memory, and
//! a client that stops reading is dropped after the write timeout without delaying the
//! others. The server is [`server`]'s, hardened against hostile clients.
//!
//! **Stopped last.** The console is a managed thread (`threadward-console`); a
//! [`Shutdown`](threadward_runtime::Shutdown) stops it only once every other thread has
//! ended, so its pages show the drain to the end and the report.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod console;
mod handler;
mod hub;
#[cfg(feature = "axum")]
mod mounted;
pub mod server;
mod snapshot;
mod text;
mod tracker;

pub use console::{Console, ConsoleError, Running};
pub use handler::{ConsoleBody, Handler};
pub use hub::Events;
#[cfg(feature = "axum")]
pub use mounted::router;
pub use snapshot::{ExitView, Snapshot, ThreadView, RECENT_EXITS, SCHEMA};
