//! The reader: one thread per consumer that waits in Redis for new entries (a blocking
//! `XREADGROUP`, never a short poll), as many as there is room for under the prefetch,
//! and delivers them to the thread. The acknowledgements owed when it reads go in the
//! same round trip.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use redis::streams::StreamReadReply;
use serde::de::DeserializeOwned;
use threadward_runtime::{DeliverError, Feed};

use crate::commands;
use crate::envelope;
use crate::state::{EntryReceipt, Owed, State};
use crate::stream::Names;

/// How long the reader waits before it connects again after an error, at first (it
/// doubles up to [`MAX_RECONNECT_WAIT`]).
const FIRST_RECONNECT_WAIT: Duration = Duration::from_millis(50);
const MAX_RECONNECT_WAIT: Duration = Duration::from_secs(5);

pub(crate) struct Reader<T> {
    pub(crate) state: Arc<State>,
    pub(crate) names: Arc<Names>,
    pub(crate) client: redis::Client,
    pub(crate) connection: redis::Connection,
    pub(crate) feed: Feed<T>,
    pub(crate) _task: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned + Send + 'static> Reader<T> {
    /// Reads and delivers until the thread stops.
    pub(crate) fn run(mut self) {
        // However the reader ends (a panic too), the feed is closed and the thread does
        // not wait for it.
        let _ended = crate::taking::Ended {
            state: Arc::clone(&self.state),
            feed: self.feed.clone(),
            reader: true,
        };
        let mut wait = FIRST_RECONNECT_WAIT;
        while let Some((count, acks)) = self.wait_for_room() {
            let read = commands::read_new(
                &self.names.key,
                &self.names.group,
                &self.names.consumer,
                count,
            );
            let reply = commands::ack_then::<Option<StreamReadReply>>(
                &mut self.connection,
                (&self.names.key, &self.names.group),
                &acks,
                Some(&read),
            );
            match reply {
                Ok(reply) => {
                    wait = FIRST_RECONNECT_WAIT;
                    let entries = self.took(&acks, commands::entries(reply.flatten()));
                    for entry in entries {
                        self.deliver(entry, 1);
                    }
                }
                Err(error) => {
                    self.failed(acks, &error);
                    if !self.reconnect(wait) {
                        break;
                    }
                    wait = (wait * 2).min(MAX_RECONNECT_WAIT);
                }
            }
        }
    }

    /// Waits for room under the prefetch: how many entries to read, and the acks to
    /// send with the read; `None` once the thread stops.
    fn wait_for_room(&self) -> Option<(usize, Vec<String>)> {
        let mut inner = self.state.lock();
        loop {
            if inner.stopping {
                return None;
            }
            // Entries handled and owed an ack are acknowledged by this read's round
            // trip, before it reads: they leave room.
            if let Some(free) = self.state.room(&inner) {
                let mut acks = Vec::new();
                inner.owed.retain_mut(|owed| match owed {
                    Owed::Ack(id) => {
                        acks.push(std::mem::take(id));
                        false
                    }
                    _ => true,
                });
                // Settled now: the read's round trip acknowledges them first, though
                // its reply waits for new entries (held again if it fails).
                for id in &acks {
                    inner.held.remove(id);
                }
                inner.reading = true;
                return Some((free, acks));
            }
            inner = self
                .state
                .room
                .wait(inner)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// A read returned: `acks` were acknowledged, and the entries read are held now;
    /// those to deliver (not those held already: a group made again after it was
    /// destroyed reads again what the thread holds).
    fn took(
        &self,
        acks: &[String],
        read: Vec<redis::streams::StreamId>,
    ) -> Vec<redis::streams::StreamId> {
        let mut inner = self.state.lock();
        inner.reading = false;
        inner.connected = true;
        inner.counts.acked += acks.len() as u64;
        inner.acks_owed -= acks.len() as u64;
        read.into_iter()
            .filter(|entry| inner.held.insert(entry.id.clone(), 1).is_none())
            .collect()
    }

    /// Delivers one new entry to the thread, or sets it aside if it holds no task.
    fn deliver(&self, entry: redis::streams::StreamId, delivery: u32) {
        let task =
            envelope::payload(&entry.map).and_then(|payload| envelope::decode::<T>(&payload));
        let task = match task {
            Ok(task) => task,
            Err(error) => {
                tracing::warn!(stream = %self.names.key, id = %entry.id, %error, "an entry that holds no task: dead-lettered");
                self.state.owe(Owed::DeadLetter {
                    id: entry.id,
                    error,
                    deliveries: delivery,
                });
                return;
            }
        };
        let receipt = Box::new(EntryReceipt {
            state: Arc::clone(&self.state),
            id: entry.id,
            delivery,
            told: false,
        });
        if let Err(DeliverError::Closed(_, receipt) | DeliverError::Full(_, receipt)) =
            self.feed.deliver(task, receipt)
        {
            // The thread takes no more work: what the reader holds goes back.
            self.state.stop();
            drop(receipt);
        }
    }

    /// A read failed: the acks it carried are owed again (the keeper sends them once
    /// Redis answers), and the consumer counts as disconnected.
    fn failed(&self, acks: Vec<String>, error: &crate::error::Error) {
        let mut inner = self.state.lock();
        inner.reading = false;
        inner.connected = false;
        let stopping = inner.stopping;
        for id in &acks {
            inner.held.insert(id.clone(), 1);
        }
        inner.owed.extend(acks.into_iter().map(Owed::Ack));
        drop(inner);
        self.state.work.notify_all();
        if !stopping {
            tracing::warn!(stream = %self.names.key, consumer = %self.names.consumer, %error, "reading failed: connecting again");
        }
    }

    /// Waits `wait` (cut short by a stop), then connects again: whether to go on.
    fn reconnect(&mut self, wait: Duration) -> bool {
        // With jitter: consumers that lost Redis together do not come back together.
        let wait = crate::state::jittered(wait);
        let inner = self.state.lock();
        let (inner, _) = self
            .state
            .room
            .wait_timeout_while(inner, wait, |inner| !inner.stopping)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if inner.stopping {
            return false;
        }
        drop(inner);
        let connected = commands::connect(
            &self.client,
            &self.names.at,
            wait.max(Duration::from_secs(1)),
            Some(commands::READ_TIMEOUT),
        )
        .and_then(|mut connection| {
            commands::create_group(&mut connection, &self.names.key, &self.names.group)?;
            let id = commands::client_id(&mut connection)?;
            Ok((connection, id))
        });
        match connected {
            Ok((connection, id)) => {
                self.connection = connection;
                let mut inner = self.state.lock();
                inner.reader_client = Some(id);
                inner.connected = true;
                // What a lost read took is the keeper's to deliver (it claims too: one
                // party, so nothing is delivered twice).
                inner.reread = true;
                drop(inner);
                self.state.work.notify_all();
                tracing::info!(stream = %self.names.key, consumer = %self.names.consumer, "connected again");
            }
            Err(error) => {
                tracing::debug!(stream = %self.names.key, %error, "not connected yet");
            }
        }
        true
    }
}
