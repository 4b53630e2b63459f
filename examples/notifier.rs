//! A small notification service: a producer queues notifications, a background thread
//! delivers them, and Ctrl-C (or SIGTERM) stops everything gracefully — every
//! notification that was accepted is delivered or reported as returned, none is lost.
//!
//! ```text
//! cargo run --example notifier
//! ```
//!
//! Press Ctrl-C to stop it. It prints one line per queued and per delivered
//! notification, then a summary, and exits with status 0 when nothing was lost.

use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use threadward::{background_thread, BackgroundThread, BoxError, Context, Sender};

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
    // Signals are only recorded by the handler; this thread picks them up below.
    let mut signals = Signals::new([SIGINT, SIGTERM])?;

    // Created by name through the factory, as a configuration file would name it.
    let notifier = threadward::create("notification")?
        .downcast::<Notifier>()
        .map_err(|_| "`notification` is not a Notifier")?;
    let sender = notifier.sender();
    let producer = std::thread::Builder::new()
        .name("producer".into())
        .spawn(move || produce(&sender))?;
    println!("running; press Ctrl-C to stop");

    let signal = signals.forever().next().unwrap_or(SIGINT);
    let name = signal_hook::low_level::signal_name(signal).unwrap_or("a signal");
    println!("received {name}; stopping");
    notifier.stop(); // refuses new notifications, delivers the queued ones
    let accepted = producer.join().map_err(|_| "the producer panicked")?;
    let exit = notifier.join()?;
    for notification in exit.undelivered() {
        println!("returned notification #{}", notification.id);
    }
    println!("{}", exit.report());
    println!(
        "accepted {accepted}, delivered {}, returned {}",
        exit.handled(),
        exit.undelivered().len()
    );
    let lost = accepted != exit.handled() + exit.undelivered().len() as u64;
    if lost || !exit.outcome().is_clean() {
        std::process::exit(1);
    }
    Ok(())
}
