//! Creating threads by name. `#[background_thread]` registers every non-generic type
//! under its name at link time; [`create`] constructs one (with `Default` or the
//! attribute's `factory`) and spawns it, and [`create_with`] does so with the
//! thread's settings from a configuration file (for a type declared with `settings`).

use crate::error::{CreateError, SpawnFailure};
use crate::handle::AnyHandle;
use crate::lives::{Making, Rebuild};
use crate::overrides::Overrides;
use crate::registry::{registry, Registry};
use crate::settings::{Settings, SettingsError};
use crate::spawn::spawn_declared;
use crate::thread::{BackgroundThread, Declaration};
use std::sync::Arc;

/// How to construct a registered type, if it can be: `Default::default`, the
/// attribute's `factory`, or nothing (the type is then spawned by hand only).
#[doc(hidden)]
pub type Constructor<T> = Option<fn() -> T>;

/// One registered type: its name and how to create it. Written by
/// `#[background_thread]`; not meant to be built by hand.
#[doc(hidden)]
#[derive(Debug)]
pub struct FactoryEntry {
    name: &'static str,
    type_name: fn() -> &'static str,
    create: fn(&Registry, Option<Settings>) -> Result<AnyHandle, Refusal>,
    constructible: fn() -> bool,
}

/// Why an entry did not create a thread.
enum Refusal {
    /// The type has no constructor.
    NotConstructible,
    /// The settings did not fit the type's settings type (or it takes none).
    Settings(SettingsError),
    Spawn(SpawnFailure),
}

impl From<SettingsError> for Refusal {
    fn from(error: SettingsError) -> Self {
        Self::Settings(error)
    }
}

impl FactoryEntry {
    #[doc(hidden)]
    pub const fn new<T: BackgroundThread + Construct>(name: &'static str) -> Self {
        Self {
            name,
            type_name: std::any::type_name::<T>,
            create: create_entry::<T>,
            constructible: constructible::<T>,
        }
    }

    /// The entry of a type declared with `settings`.
    #[doc(hidden)]
    pub const fn configured<T: BackgroundThread + Configured>(name: &'static str) -> Self {
        Self {
            name,
            type_name: std::any::type_name::<T>,
            create: create_configured::<T>,
            constructible: || true,
        }
    }
}

/// How `create_with` constructs a type declared with `settings = S`: from its settings.
/// Implemented by `#[background_thread]`.
#[doc(hidden)]
pub trait Configured: Sized {
    /// The settings type: deserialised from the configuration's table for the thread.
    type Settings: serde::de::DeserializeOwned;
    /// The `factory` (or `From`) that makes a value from its settings.
    fn configure(settings: Self::Settings) -> Self;
}

inventory::collect!(FactoryEntry);

/// How `create` constructs a type. Implemented by `#[background_thread]`.
#[doc(hidden)]
pub trait Construct: Sized {
    /// The constructor, if the type has one.
    fn constructor() -> Constructor<Self>;
}

fn create_entry<T: BackgroundThread + Construct>(
    registry: &Registry,
    settings: Option<Settings>,
) -> Result<AnyHandle, Refusal> {
    let mut settings = settings.unwrap_or_else(Settings::empty);
    let overrides = Overrides::take(&mut settings)?;
    if !settings.is_empty() {
        return Err(Refusal::Settings(SettingsError::new(
            "the type takes no settings (declare `settings = Type` on it)",
        )));
    }
    let construct = T::constructor().ok_or(Refusal::NotConstructible)?;
    let declaration = declaration::<T>(&overrides)?;
    // A restart, and a pool's other workers, are made as the first value was.
    let rebuild: Rebuild<T> = Arc::new(move || Some(construct()));
    spawn(construct(), declaration, registry, rebuild)
}

fn create_configured<T: BackgroundThread + Configured>(
    registry: &Registry,
    settings: Option<Settings>,
) -> Result<AnyHandle, Refusal> {
    let mut settings = settings.unwrap_or_else(Settings::empty);
    let declaration = declaration::<T>(&Overrides::take(&mut settings)?)?;
    let first = settings
        .clone()
        .deserialize_into::<T::Settings>()
        .map_err(Refusal::Settings)?;
    // A restart, and a pool's other workers, are made from the same settings.
    let rebuild: Rebuild<T> = Arc::new(move || {
        let settings = settings.clone().deserialize_into::<T::Settings>().ok()?;
        Some(T::configure(settings))
    });
    spawn(T::configure(first), declaration, registry, rebuild)
}

/// What `T` declares, changed by `overrides`: checked before any value is made.
fn declaration<T: BackgroundThread>(overrides: &Overrides) -> Result<Declaration, Refusal> {
    Ok(overrides.apply(Declaration::of::<T>())?)
}

fn spawn<T: BackgroundThread>(
    thread: T,
    declaration: Declaration,
    registry: &Registry,
    rebuild: Rebuild<T>,
) -> Result<AnyHandle, Refusal> {
    let making = Making {
        rebuild: Some(rebuild),
        source: None,
    };
    spawn_declared(thread, declaration, registry, (None, |_| {}), making)
        .map(AnyHandle::from)
        .map_err(|error| Refusal::Spawn(error.into_parts().0))
}

fn constructible<T: Construct>() -> bool {
    T::constructor().is_some()
}

/// Picks `Default::default` as the constructor when the type implements `Default`, and
/// none otherwise ("autoref specialization": method lookup tries `&&Probe` before
/// `&Probe`, and only the `Default` impl is on `&Probe<T>`). Used by the expansion as
/// `(&&DefaultProbe::<T>::new()).constructor()` with both traits in scope.
#[doc(hidden)]
#[derive(Debug)]
pub struct DefaultProbe<T>(std::marker::PhantomData<T>);

impl<T> DefaultProbe<T> {
    #[doc(hidden)]
    pub const fn new() -> Self {
        Self(std::marker::PhantomData)
    }
}

#[doc(hidden)]
pub trait ViaDefault<T> {
    fn constructor(&self) -> Constructor<T>;
}

impl<T: Default> ViaDefault<T> for &DefaultProbe<T> {
    fn constructor(&self) -> Constructor<T> {
        Some(T::default)
    }
}

#[doc(hidden)]
pub trait WithoutDefault<T> {
    fn constructor(&self) -> Constructor<T>;
}

impl<T> WithoutDefault<T> for DefaultProbe<T> {
    fn constructor(&self) -> Constructor<T> {
        None
    }
}

/// Creates and spawns the thread registered under `name`, in the global
/// [`registry()`]. Returns once its `startup` has finished (at once for a thread
/// declared with `delay`).
///
/// Every non-generic `#[background_thread]` type is registered under its name (the
/// `name` argument, or the type's name in snake case) and constructed with the
/// attribute's `factory`, or with `Default::default` if it has none.
///
/// # Errors
///
/// [`CreateError::Unknown`] (listing the known names) if no type has that name,
/// [`CreateError::Ambiguous`] if several have, [`CreateError::NotConstructible`] if the
/// type has neither a `factory` nor `Default`, [`CreateError::Spawn`] if the thread did
/// not start.
///
/// # Examples
///
/// ```
/// use threadward::{background_thread, BackgroundThread, BoxError, Context, CreateError};
///
/// #[background_thread(name = "notification")]
/// #[derive(Default)]
/// struct Notifier;
///
/// impl BackgroundThread for Notifier {
///     type Task = String;
///     fn handle(&mut self, _: String, _: &Context) -> Result<(), BoxError> { Ok(()) }
/// }
///
/// let thread = threadward::create("notification")?;
/// let notifier = thread.downcast::<Notifier>().expect("registered as a Notifier");
/// notifier.send("hello".into())?;
/// notifier.stop();
///
/// let err = threadward::create("notifcation").unwrap_err();
/// assert!(matches!(err, CreateError::Unknown { .. }));
/// assert!(err.to_string().contains("known names: `notification`"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn create(name: &str) -> Result<AnyHandle, CreateError> {
    create_in(name, registry())
}

/// Like [`create`], spawning into `registry`.
///
/// # Errors
///
/// As [`create`].
pub fn create_in(name: &str, registry: &Registry) -> Result<AnyHandle, CreateError> {
    create_from(name, None, registry)
}

/// Creates and spawns the thread registered under `name`, in the global [`registry()`],
/// from its `settings`: the table a configuration file has for it. The type declares
/// its settings type with `settings = Type` and makes its value from them with its
/// `factory` (a `fn(Type) -> Self`), or with `From<Type>`.
///
/// A type declared without `settings` takes only empty settings; [`create`] is
/// `create_with` with empty settings, so a settings type whose fields all have
/// defaults (`#[serde(default)]`) is created by name too.
///
/// The settings' `threadward` table, if any, is not handed to the factory: it changes
/// what the type declares, with the attribute's keys and rules (`every`, `missed`,
/// `restart`, `max_restarts`, `within`, `backoff`, `workers`, `capacity`, `deadline`,
/// `delay`, `startup_timeout`, `shutdown_timeout`; durations as `"250ms"` or
/// `"1m30s"`). Any registered type takes it, declared with `settings` or not. A
/// restarted instance, and a pool's other workers, are made the way the first was.
///
/// # Errors
///
/// As [`create`], and [`CreateError::Settings`] when the settings do not fit the type's
/// settings type (a missing or unknown field, a value of the wrong kind), or the type
/// takes none, or the `threadward` table does not fit the type (an unknown key, a
/// value of the wrong kind, `every` for a type declared without it, `max_restarts`
/// without `within`): found before the factory runs, and nothing starts.
///
/// # Examples
///
/// ```
/// use serde::Deserialize;
/// use threadward::{background_thread, BackgroundThread, BoxError, Context, Settings};
///
/// #[derive(Deserialize)]
/// struct MailerSettings {
///     relay: String,
///     #[serde(default = "three")]
///     retries: u32,
/// }
/// fn three() -> u32 { 3 }
///
/// #[background_thread(name = "mailer", settings = MailerSettings, factory = Mailer::new)]
/// struct Mailer {
///     relay: String,
///     retries: u32,
/// }
///
/// impl Mailer {
///     fn new(settings: MailerSettings) -> Self {
///         Self { relay: settings.relay, retries: settings.retries }
///     }
/// }
///
/// impl BackgroundThread for Mailer {
///     type Task = String;
///     fn handle(&mut self, _mail: String, _ctx: &Context) -> Result<(), BoxError> {
///         Ok(()) // send it through `self.relay`, trying `self.retries` times
///     }
/// }
///
/// // The table a configuration file has for `mailer` (TOML, JSON, ...).
/// let settings: Settings = serde_json::from_str(r#"{"relay": "smtp.example.com"}"#)?;
/// let mailer = threadward::create_with("mailer", settings)?.downcast::<Mailer>().unwrap();
/// assert_eq!(mailer.call(|m, _| (m.relay.clone(), m.retries))?, ("smtp.example.com".into(), 3));
/// mailer.stop();
///
/// // Without its relay, the settings do not fit.
/// let err = threadward::create("mailer").unwrap_err();
/// assert_eq!(err.to_string(), "the settings of thread `mailer` do not fit: missing field `relay`");
///
/// // The `threadward` table changes the declaration: here, a pool of 4 that restarts.
/// let settings: Settings = serde_json::from_str(r#"{
///     "relay": "smtp.example.com",
///     "threadward": {"workers": 4, "restart": "on-failure", "backoff": "50ms"}
/// }"#)?;
/// let mailers = threadward::create_with("mailer", settings)?;
/// assert_eq!(mailers.info().workers, 4);
/// mailers.stop();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn create_with(name: &str, settings: Settings) -> Result<AnyHandle, CreateError> {
    create_with_in(name, settings, registry())
}

/// Like [`create_with`], spawning into `registry`.
///
/// # Errors
///
/// As [`create_with`].
pub fn create_with_in(
    name: &str,
    settings: Settings,
    registry: &Registry,
) -> Result<AnyHandle, CreateError> {
    create_from(name, Some(settings), registry)
}

fn create_from(
    name: &str,
    settings: Option<Settings>,
    registry: &Registry,
) -> Result<AnyHandle, CreateError> {
    let mut matching = inventory::iter::<FactoryEntry>().filter(|entry| entry.name == name);
    let Some(entry) = matching.next() else {
        return Err(CreateError::Unknown {
            name: name.to_owned(),
            known: factory_names(),
        });
    };
    let others: Vec<_> = matching.map(|entry| (entry.type_name)()).collect();
    if !others.is_empty() {
        let mut types = vec![(entry.type_name)()];
        types.extend(others);
        types.sort_unstable();
        return Err(CreateError::Ambiguous {
            name: name.to_owned(),
            types,
        });
    }
    // Refused before the factory runs: a shutdown would refuse the thread anyway.
    if registry.is_shutting_down() {
        return Err(CreateError::Spawn {
            name: name.to_owned(),
            failure: SpawnFailure::ShuttingDown,
        });
    }
    (entry.create)(registry, settings).map_err(|refusal| match refusal {
        Refusal::NotConstructible => CreateError::NotConstructible {
            name: name.to_owned(),
            type_name: (entry.type_name)(),
        },
        Refusal::Settings(error) => CreateError::Settings {
            name: name.to_owned(),
            error,
        },
        Refusal::Spawn(failure) => CreateError::Spawn {
            name: name.to_owned(),
            failure,
        },
    })
}

/// The names [`create`] can construct, sorted, each once. (A type with neither a
/// `factory` nor `Default` is registered, but not listed: it can only be spawned by
/// hand.)
///
/// # Examples
///
/// ```
/// # use threadward::{background_thread, BackgroundThread, BoxError, Context};
/// #[background_thread(name = "flusher")]
/// #[derive(Default)]
/// struct Flusher;
/// # impl BackgroundThread for Flusher {
/// #     type Task = ();
/// #     fn handle(&mut self, _: (), _: &Context) -> Result<(), BoxError> { Ok(()) }
/// # }
///
/// assert!(threadward::factory_names().contains(&"flusher"));
/// ```
pub fn factory_names() -> Vec<&'static str> {
    let mut names: Vec<_> = inventory::iter::<FactoryEntry>()
        .filter(|entry| (entry.constructible)())
        .map(|entry| entry.name)
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}
