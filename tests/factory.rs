//! Creating threads by name: `create`, `factory_names`, `AnyHandle::downcast`.

use std::time::Duration;

use threadward::{
    background_thread, create, create_in, factory_names, BackgroundThread, BoxError, Context,
    CreateError, Registry, SpawnFailure,
};

const BOUND: Duration = Duration::from_secs(10);

#[background_thread(name = "notification")]
#[derive(Default)]
struct Notifier {
    sent: Vec<String>,
}

impl BackgroundThread for Notifier {
    type Task = String;
    fn handle(&mut self, message: String, _ctx: &Context) -> Result<(), BoxError> {
        self.sent.push(message);
        Ok(())
    }
}

/// Constructed by its own factory function; its startup refuses to run.
#[background_thread(factory = Refuser::configured)]
struct Refuser {
    reason: &'static str,
}

impl Refuser {
    fn configured() -> Self {
        Self {
            reason: "disabled by configuration",
        }
    }
}

impl BackgroundThread for Refuser {
    type Task = ();
    fn startup(&mut self, _ctx: &Context) -> Result<(), BoxError> {
        Err(self.reason.into())
    }
    fn handle(&mut self, (): (), _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn create_by_name_then_downcast_to_send_tasks() {
    let registry = Registry::new();
    let any = create_in("notification", &registry).unwrap();
    assert_eq!(any.name(), "notification");
    assert!(any.type_name().ends_with("Notifier"));
    assert!(any.is::<Notifier>());
    assert_eq!(registry.find("notification").unwrap().id(), any.id());

    let notifier = any.downcast::<Notifier>().unwrap();
    notifier.send("hello".to_owned()).unwrap();
    assert_eq!(notifier.call(|n, _| n.sent.clone()).unwrap(), ["hello"]);
    notifier.stop();
    assert_eq!(notifier.join_timeout(BOUND).unwrap().handled(), 1);
}

#[test]
fn create_uses_the_global_registry() {
    let any = create("notification").unwrap();
    assert!(threadward::registry().get(any.id()).is_some());
    any.stop();
    any.join_timeout(BOUND).unwrap();
}

#[test]
fn downcast_to_the_wrong_type_hands_the_handle_back() {
    let registry = Registry::new();
    let any = create_in("notification", &registry).unwrap();
    assert!(!any.is::<Refuser>());
    let any = any.downcast::<Refuser>().unwrap_err();
    assert_eq!(any.name(), "notification");
    any.stop();
    any.join_timeout(BOUND).unwrap();
}

#[test]
fn unknown_names_are_an_error_that_lists_the_known_ones() {
    let err = create_in("notifcation", &Registry::new()).unwrap_err();
    match &err {
        CreateError::Unknown { name, known } => {
            assert_eq!(name, "notifcation");
            assert_eq!(known, &factory_names());
        }
        other => panic!("expected Unknown, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "no background thread is registered under the name `notifcation`; known names: `notification`, `refuser`"
    );
}

#[test]
fn factory_names_are_sorted_and_complete() {
    assert_eq!(factory_names(), ["notification", "refuser"]);
}

#[test]
fn a_thread_created_by_name_that_fails_startup_reports_why() {
    let registry = Registry::new();
    let err = create_in("refuser", &registry).unwrap_err();
    assert!(matches!(
        &err,
        CreateError::Spawn { name, failure: SpawnFailure::Startup(e) }
            if name == "refuser" && e.to_string() == "disabled by configuration"
    ));
    assert!(registry.is_empty());
}

#[test]
fn a_full_registry_refuses_creation() {
    let registry = Registry::with_limit(1);
    let first = create_in("notification", &registry).unwrap();
    let err = create_in("notification", &registry).unwrap_err();
    assert!(matches!(
        err,
        CreateError::Spawn {
            failure: SpawnFailure::LimitReached { limit: 1 },
            ..
        }
    ));
    first.stop();
    first.join_timeout(BOUND).unwrap();
}
