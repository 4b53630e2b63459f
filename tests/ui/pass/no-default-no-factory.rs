//! A type with neither `Default` nor `factory` compiles and spawns by hand; `create`
//! explains why it cannot construct it.
use threadward::{background_thread, BackgroundThread, BoxError, Context, CreateError};

#[background_thread]
struct Uploader {
    bucket: String,
}

impl BackgroundThread for Uploader {
    type Task = Vec<u8>;
    fn handle(&mut self, _blob: Vec<u8>, _ctx: &Context) -> Result<(), BoxError> {
        assert!(!self.bucket.is_empty());
        Ok(())
    }
}

fn main() {
    let uploader = Uploader { bucket: "backups".to_owned() }.spawn().unwrap();
    uploader.send(vec![1, 2, 3]).unwrap();
    uploader.stop();
    uploader.join().unwrap();

    assert!(!threadward::factory_names().contains(&"uploader"));
    match threadward::create("uploader") {
        Err(err @ CreateError::NotConstructible { .. }) => assert!(
            err.to_string().contains("no `factory` argument and does not implement `Default`"),
            "{err}"
        ),
        other => panic!("expected NotConstructible, got {other:?}"),
    }
}
