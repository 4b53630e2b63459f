use threadward::{background_thread, BackgroundThread, BoxError, Context};

#[background_thread]
#[derive(Default)]
struct Reader;

#[background_thread(name = "writer")]
#[derive(Default)]
struct Writer {
    lines: Vec<String>,
}

impl BackgroundThread for Reader {
    type Task = String;
    fn handle(&mut self, _line: String, _ctx: &Context) -> Result<(), BoxError> {
        Ok(())
    }
}

impl BackgroundThread for Writer {
    type Task = String;
    fn handle(&mut self, line: String, _ctx: &Context) -> Result<(), BoxError> {
        self.lines.push(line);
        Ok(())
    }
}

fn main() {
    let names = threadward::factory_names();
    assert!(names.contains(&"reader") && names.contains(&"writer"), "{names:?}");
    let reader = threadward::create("reader").unwrap();
    let writer = threadward::create("writer").unwrap();
    assert!(reader.downcast::<Writer>().is_err());
    let writer = writer.downcast::<Writer>().unwrap();
    writer.send("line".to_owned()).unwrap();
    threadward::registry().stop_all();
    assert_eq!(writer.join().unwrap().handled(), 1);
}
