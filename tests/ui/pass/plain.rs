use threadward::{background_thread, BackgroundThread, BoxError, Context, Declared};

#[background_thread]
#[derive(Default)]
struct MailSender {
    sent: usize,
}

impl BackgroundThread for MailSender {
    type Task = String;
    fn handle(&mut self, _mail: String, _ctx: &Context) -> Result<(), BoxError> {
        self.sent += 1;
        Ok(())
    }
}

fn main() {
    assert_eq!(MailSender::NAME, "mail_sender");
    assert_eq!(MailSender::CAPACITY, None);
    let sender = MailSender::default().spawn().unwrap();
    sender.send("hello".to_owned()).unwrap();
    sender.stop();
    assert_eq!(sender.join().unwrap().handled(), 1);
}
