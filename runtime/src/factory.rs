//! Creating threads by name. `#[background_thread]` registers every non-generic type
//! under its name at link time; [`create`] constructs one (with `Default` or the
//! attribute's `factory`) and spawns it.

use crate::error::{CreateError, SpawnFailure};
use crate::handle::AnyHandle;
use crate::registry::{registry, Registry};
use crate::spawn::spawn_in;
use crate::thread::BackgroundThread;

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
    create: fn(&Registry) -> Option<Result<AnyHandle, SpawnFailure>>,
    constructible: fn() -> bool,
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
) -> Option<Result<AnyHandle, SpawnFailure>> {
    let construct = T::constructor()?;
    Some(
        spawn_in(construct(), registry)
            .map(AnyHandle::from)
            .map_err(|error| error.into_parts().0),
    )
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
    match (entry.create)(registry) {
        Some(created) => created.map_err(|failure| CreateError::Spawn {
            name: name.to_owned(),
            failure,
        }),
        None => Err(CreateError::NotConstructible {
            name: name.to_owned(),
            type_name: (entry.type_name)(),
        }),
    }
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
