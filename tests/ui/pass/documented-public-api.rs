//! The generated methods are documented and follow the struct's visibility, so a library
//! with `#![deny(missing_docs)]` can declare public background threads.
#![deny(missing_docs)]

mod service {
    use threadward::{background_thread, BackgroundThread, BoxError, Context};

    /// Sends notifications.
    #[background_thread(name = "notification")]
    #[derive(Default)]
    pub struct Notifier;

    impl BackgroundThread for Notifier {
        type Task = String;
        fn handle(&mut self, _task: String, _ctx: &Context) -> Result<(), BoxError> {
            Ok(())
        }
    }
}

fn main() {
    let notifier = service::Notifier.spawn_in(&threadward::Registry::new()).unwrap();
    notifier.stop();
    notifier.join().unwrap();
}
