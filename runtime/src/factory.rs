//! Creating threads by name. `#[background_thread]` registers every non-generic type
//! under its name at link time; [`create`] constructs one (with `Default` or the
//! attribute's `factory`) and spawns it.

use crate::error::{CreateError, SpawnFailure};
use crate::handle::AnyHandle;
use crate::registry::{registry, Registry};
use crate::run_loop::spawn_in;
use crate::thread::BackgroundThread;

/// One registered type: its name and how to create it. Written by
/// `#[background_thread]`; not meant to be built by hand.
#[doc(hidden)]
#[derive(Debug)]
pub struct FactoryEntry {
    name: &'static str,
    type_name: fn() -> &'static str,
    create: fn(&Registry) -> Result<AnyHandle, SpawnFailure>,
}

impl FactoryEntry {
    #[doc(hidden)]
    pub const fn new(
        name: &'static str,
        type_name: fn() -> &'static str,
        create: fn(&Registry) -> Result<AnyHandle, SpawnFailure>,
    ) -> Self {
        Self {
            name,
            type_name,
            create,
        }
    }
}

inventory::collect!(FactoryEntry);

/// Constructs a `T` with `construct` and spawns it into `registry`. The body of every
/// generated factory entry.
#[doc(hidden)]
pub fn create_with<T: BackgroundThread>(
    registry: &Registry,
    construct: impl FnOnce() -> T,
) -> Result<AnyHandle, SpawnFailure> {
    spawn_in(construct(), registry)
        .map(AnyHandle::from)
        .map_err(|error| error.into_parts().0)
}

/// Creates and spawns the thread registered under `name`, in the global
/// [`registry()`]. Returns once its `startup` has finished.
///
/// Every non-generic `#[background_thread]` type is registered under its name (the
/// `name` argument, or the type's name in snake case) and constructed with
/// `Default::default` or the `factory` argument.
///
/// # Errors
///
/// [`CreateError::Unknown`] (listing the known names) if no type has that name,
/// [`CreateError::Ambiguous`] if several have, [`CreateError::Spawn`] if the thread did
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
    (entry.create)(registry).map_err(|failure| CreateError::Spawn {
        name: name.to_owned(),
        failure,
    })
}

/// The names [`create`] knows, sorted, each once.
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
        .map(|entry| entry.name)
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}
