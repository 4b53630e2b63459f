//! The `#[background_thread]` attribute of [threadward](https://docs.rs/threadward).
//! Use it through the `threadward` crate, which documents it.

// The attribute runs in three stages: `args` parses the arguments, `model` validates
// them against the struct, `expand` writes the glue.

#![warn(clippy::unwrap_used, clippy::expect_used)]

mod args;
mod checkpointed;
mod duration;
mod expand;
mod model;
mod restart;

use proc_macro::TokenStream;
use quote::ToTokens;

/// Declares a struct as a background thread.
///
/// Together with an `impl BackgroundThread` for the struct, it gives the struct
///
/// - `spawn(self)` and `spawn_in(self, &Registry)`, which start the thread and return a
///   `Handle<Self>` once `startup` has finished (at once, with `delay`; the methods have
///   the struct's visibility);
/// - an implementation of `threadward::Declared` with the thread's `NAME`, the queue's
///   `CAPACITY`, its `TIMING` and whether it is a `SINGLETON`;
/// - for a non-generic struct, an entry in the factory, so that
///   `threadward::create(name)` constructs and spawns it — with the `factory` argument,
///   or with `Default::default` when the struct implements `Default`. A struct with
///   neither is only spawned by hand; `create` then says why it cannot construct it.
///
/// # Arguments
///
/// All are optional.
///
/// | argument | meaning | default |
/// |---|---|---|
/// | `name = "..."` | the thread's name: factory, registry and OS thread name (ASCII letters, digits, `_`, `-`, `.`) | the struct's name in snake case |
/// | `capacity = N` | a bounded queue of `N` (at least 1) tasks: `send` waits while it is full | unbounded |
/// | `factory = path` | a `fn() -> Self` that `create` constructs the value with | `Default::default`, if implemented |
/// | `every = "200ms"` | calls `Ticking::tick` at this period, between tasks (`impl Ticking` is then required) | no ticks |
/// | `missed = "skip"` | what a tick that came due while the thread was busy does: `skip`, `burst` or `delay` (only with `every`) | `skip` |
/// | `delay = "1s"` | runs `startup` this long after `spawn`, which returns at once; a stop meanwhile ends the thread unstarted | no delay |
/// | `deadline = "30s"` | stops the thread gracefully once it has run this long (`Outcome::DeadlineReached`) | none |
/// | `startup_timeout = "5s"` | how long `spawn` waits for `startup`: then it is halted and `spawn` fails with `SpawnFailure::StartupTimedOut`, the value handed back (not with `delay`) | no limit |
/// | `shutdown_timeout = "2s"` | as a child (of a `Supervisor`, or by `Context::spawn_child`), how long the thread is given to stop when its parent stops it; then it is halted | 5 s |
/// | `restart = "on-failure"` | a failed instance is replaced by a fresh value from the factory, which runs `startup` and handles the queue behind the failure (see `Restart`); `"never"` is the default | `never` |
/// | `max_restarts = 3`, `within = "5s"` | the intensity: more restarts than that within the window end the thread for good (give both, only with `restart`) | 3 within 5 s |
/// | `backoff = "100ms"` | the wait before a restart, doubling with each one in a row (up to 32 times), with jitter (only with `restart`) | 100 ms |
/// | `singleton` | while a thread of the type is alive in a registry, another `spawn` fails with `SpawnFailure::AlreadyRunning` | any number |
/// | `settings = Type` | `threadward::create_with` makes the value from its settings (a configuration file's table for the name, deserialised into `Type`) with the `factory`, then a `fn(Type) -> Self`, or with `From<Type>`; a restart, and a pool's other workers, are made from the same settings | no settings |
/// | `workers = 4` | a pool: `spawn` starts this many workers on one queue, the value given and the others from the factory (`factory`, or `Default`); see `threadward::Pool` | 1 |
///
/// Durations are string literals parsed at compile time: integer parts, largest unit
/// first, from `h`, `m`, `s`, `ms`, `us`, `ns` (`"250ms"`, `"1m30s"`), more than zero.
///
/// A thread created by name from a configuration (`threadward::create_with`) may have
/// every key but `name`, `factory`, `settings` and `singleton` changed by the
/// `threadward` table of its settings, with the same rules.
///
/// Generic structs can be declared and spawned, but `create` needs one concrete type, so
/// they get no factory entry and take neither `name` nor `factory`.
///
/// # Examples
///
/// ```
/// use threadward::{background_thread, BackgroundThread, BoxError, Context, Declared};
///
/// #[background_thread(name = "mailer", capacity = 128, factory = Mailer::from_env)]
/// struct Mailer {
///     relay: String,
/// }
///
/// impl Mailer {
///     fn from_env() -> Self {
///         Self { relay: std::env::var("RELAY").unwrap_or_else(|_| "localhost".into()) }
///     }
/// }
///
/// impl BackgroundThread for Mailer {
///     type Task = String;
///     fn handle(&mut self, mail: String, _ctx: &Context) -> Result<(), BoxError> {
///         let _ = (&self.relay, mail); // deliver it
///         Ok(())
///     }
/// }
///
/// assert_eq!(Mailer::NAME, "mailer");
/// let mailer = threadward::create("mailer")?.downcast::<Mailer>().unwrap();
/// mailer.send("hello".into())?;
/// mailer.stop();
/// assert_eq!(mailer.join()?.handled(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// Every mistake is a compile error on the tokens at fault, and all argument errors show
/// in one build: an attribute on something other than a struct, an unknown or repeated
/// argument, a value of the wrong kind, `capacity = 0`, an empty or invalid `name`,
/// `name` or `factory` on a generic struct, a `factory` that does not return `Self`, a
/// duration that is not one (or is zero), an unknown `missed` policy or `missed` without
/// `every`, `startup_timeout` with `delay`, `singleton` with a value, an unknown
/// `restart` policy, `max_restarts` without `within` (or the other way round) or zero,
/// restart settings without `restart`, `restart` or `workers` on a generic struct or on
/// a type with neither `factory` nor `Default`, `workers = 0`, `settings` on a generic
/// struct. Without
/// `impl BackgroundThread` (or, with `every`, `impl Ticking`) the error says what is
/// missing; so does an `impl BackgroundThread`
/// for a type without the attribute, and one for a type that is not `Send + 'static`.
#[proc_macro_attribute]
pub fn background_thread(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    let mut errors = Errors::default();
    let args = args::Args::parse(args.into(), &mut errors);
    let expanded = match syn::parse2::<syn::Item>(item.clone()) {
        Ok(parsed) => match model::Model::new(args, parsed, &mut errors) {
            Some(model) => expand::expand(&model),
            // Not a struct: keep the item as it was, so only the attribute's error shows.
            None => item,
        },
        Err(error) => {
            errors.push(error);
            item
        }
    };
    let mut output = expanded;
    output.extend(errors.into_compile_errors());
    output.into()
}

/// Makes a function haltable: inserts a checkpoint (`threadward::checkpoint()`) at its
/// entry and at the head of every `loop`, `while` and `for` body in it, so that a long
/// computation on a managed thread stops at the next iteration once the thread is
/// halted. Outside a managed thread the checkpoints do nothing. On an `async fn` they
/// run when the future is polled.
///
/// Only the function's own code is instrumented. Left as they are: nested items of every
/// kind (functions, `impl` blocks, traits, modules, `const`s, `static`s; a nested
/// function can take the attribute itself), closures and `async` blocks, which run in
/// calls or polls of their own, and the contexts the compiler evaluates, which cannot call
/// a checkpoint: `const { }` blocks, array lengths and const generic arguments.
///
/// Each checkpoint records the line of its loop, which the shutdown report shows for a
/// thread that does not stop.
///
/// # Examples
///
/// ```
/// use threadward::{background_thread, checkpointed, BackgroundThread, BoxError, Context, Outcome};
///
/// #[checkpointed]
/// fn collatz_steps(mut n: u64) -> u64 {
///     let mut steps = 0;
///     while n != 1 {
///         n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
///         steps += 1;
///     }
///     steps
/// }
///
/// #[checkpointed]
/// fn forever() {
///     loop {
///         std::thread::sleep(std::time::Duration::from_millis(1));
///     }
/// }
///
/// #[background_thread]
/// #[derive(Default)]
/// struct Searcher;
///
/// impl BackgroundThread for Searcher {
///     type Task = ();
///     fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
///         assert_eq!(collatz_steps(27), 111);
///         forever(); // only a halt gets out of here
///         Ok(())
///     }
/// }
///
/// let searcher = Searcher.spawn()?;
/// searcher.send(())?;
/// searcher.halt();
/// assert!(matches!(searcher.join()?.outcome(), Outcome::Halted));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[proc_macro_attribute]
pub fn checkpointed(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let mut output = checkpointed::expand(&args.into(), item.into(), &mut errors);
    output.extend(errors.into_compile_errors());
    output.into()
}

/// Every error found in one expansion, reported together (after serde's `Ctxt`).
#[derive(Default)]
struct Errors {
    combined: Option<syn::Error>,
}

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    fn error(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens.into_token_stream(), message));
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.combined.is_none()
    }

    fn into_compile_errors(self) -> proc_macro2::TokenStream {
        self.combined
            .map(|e| e.to_compile_error())
            .unwrap_or_default()
    }
}
