//! A small notification service: a producer queues notifications, a background thread
//! delivers them, and Ctrl-C (or SIGTERM) stops everything gracefully — every
//! notification that was accepted is delivered or reported as returned, none is lost.
//!
//! ```text
//! cargo run --example notifier
//! ```
//!
//! Press Ctrl-C (or send SIGTERM) to stop it. It prints one line per queued and per
//! delivered notification, then the shutdown report, and exits with the report's code:
//! 0 when every thread stopped cleanly and nothing was lost.

use std::time::Duration;

use threadward::{background_thread, BackgroundThread, BoxError, Context, Sender, Shutdown};

/// One notification to deliver.
#[derive(Debug)]
struct Notification {
    id: u64,
    recipient: String,
    text: String,
}

/// Delivers notifications, one at a time, on its own thread.
#[background_thread(name = "notification", capacity = 1024)]
#[derive(Default)]
struct Notifier {
    delivered: u64,
}

impl BackgroundThread for Notifier {
    type Task = Notification;

    fn startup(&mut self, ctx: &Context) -> Result<(), BoxError> {
        println!("{} started (thread {})", ctx.name(), ctx.id());
        Ok(())
    }

    fn handle(&mut self, notification: Notification, _ctx: &Context) -> Result<(), BoxError> {
        // Stands in for a call to a mail or push service.
        std::thread::sleep(Duration::from_millis(1));
        self.delivered += 1;
        println!(
            "sent notification #{} to {}: {}",
            notification.id, notification.recipient, notification.text
        );
        Ok(())
    }

    fn shutdown(&mut self, ctx: &Context) {
        println!(
            "{} shutting down after {} deliveries",
            ctx.name(),
            self.delivered
        );
    }
}

/// Queues a burst of notifications every 10 ms until the notifier stops accepting them.
/// Returns how many were accepted.
fn produce(notifier: &Sender<Notifier>) -> u64 {
    let mut next_id = 1;
    loop {
        for _ in 0..5 {
            let notification = Notification {
                id: next_id,
                recipient: format!("user{}@example.com", next_id % 7),
                text: format!("your report #{next_id} is ready"),
            };
            if let Err(refused) = notifier.send(notification) {
                // The error hands the notification back: nothing disappears silently.
                println!(
                    "notification #{} refused: the notifier is stopping",
                    refused.0.id
                );
                return next_id - 1;
            }
            println!("queued notification #{next_id}");
            next_id += 1;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Created by name through the factory, as a configuration file would name it.
    let notifier = threadward::create("notification")?
        .downcast::<Notifier>()
        .map_err(|_| "`notification` is not a Notifier")?;
    let sender = notifier.sender();
    let producer = std::thread::Builder::new()
        .name("producer".into())
        .spawn(move || produce(&sender))?;
    println!("running; press Ctrl-C to stop");

    // Blocks until SIGINT or SIGTERM, then stops every registered thread (draining the
    // queue); a second signal halts them, a third exits at once naming who is stuck.
    let report = Shutdown::on_signals()
        .grace(Duration::from_secs(10))
        .halt_grace(Duration::from_secs(5))
        .wait()?;
    let accepted = producer.join().map_err(|_| "the producer panicked")?;
    let exit = notifier.join()?;
    for notification in exit.undelivered() {
        println!("returned notification #{}", notification.id);
    }
    print!("{report}");
    println!(
        "accepted {accepted}, delivered {}, returned {}",
        exit.handled(),
        exit.undelivered().len()
    );
    if accepted != exit.handled() + exit.undelivered().len() as u64 {
        eprintln!("notifications were lost");
        std::process::exit(1);
    }
    std::process::exit(report.exit_code());
}
