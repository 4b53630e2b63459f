//! What the keeper takes and hands to the thread: entries claimed from consumers that
//! stopped renewing their leases, entries delivered again after a failure, and after a
//! reconnect the consumer's own pending entries that a lost read took. The keeper never
//! waits for room in the thread's queue (it renews the leases): a task the full queue
//! does not take is parked and offered again a moment later.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use redis::streams::StreamReadReply;
use serde::de::DeserializeOwned;
use threadward_runtime::{DeliverError, Feed};

use crate::commands;
use crate::envelope;
use crate::keeper::Keeper;
use crate::state::{EntryReceipt, Owed, State};

/// How many `XAUTOCLAIM` calls one claim round makes at most (each scans up to ten
/// times its count of pending entries).
const CLAIM_CALLS: usize = 10;

impl<T: DeserializeOwned + Send + 'static> Keeper<T> {
    /// Claims up to `room` entries idle for `claim_idle` (held by a consumer that died,
    /// stalled, or gave them back), and delivers them. The scan goes on where the last
    /// one stopped, so that entries behind many live ones are reached too. Whether more
    /// may be waiting (the room filled up, or the scan did not reach the end).
    pub(crate) fn claim(&mut self, room: usize) -> bool {
        let names = Arc::clone(&self.names);
        let at = (&*names.key, &*names.group, &*names.consumer);
        let idle = self.state.limits.claim_idle;
        let mut left = room;
        for _ in 0..CLAIM_CALLS {
            let cursor = self.claim_cursor.clone();
            let Some(Ok((claimed, next))) =
                self.on_connection(|con| commands::claim_idle(con, at, idle, (&cursor, left)))
            else {
                return false;
            };
            self.claim_cursor = next;
            left = left.saturating_sub(claimed.len());
            for (entry, deliveries) in claimed {
                // One this consumer holds, its lease renewed late (Redis was slow): still
                // its own, already delivered.
                if self.state.lock().held.contains_key(&entry.id) {
                    continue;
                }
                tracing::info!(stream = %at.0, id = %entry.id, deliveries, "claimed an idle entry");
                self.take(entry.id, &entry.map, deliveries);
            }
            if left == 0 || self.claim_cursor == "0-0" {
                return self.claim_cursor != "0-0";
            }
        }
        true
    }

    /// Delivers `id` again, as delivery `delivery` (counted by Redis too), or sets it
    /// aside once it was delivered too often.
    pub(crate) fn retry(&mut self, id: String, delivery: u32) {
        let names = Arc::clone(&self.names);
        let at = (&*names.key, &*names.group, &*names.consumer);
        if delivery > self.state.limits.max_deliveries {
            let error = format!("delivered {} times without an answer", delivery - 1);
            self.state.owe(Owed::DeadLetter {
                id,
                error,
                deliveries: delivery - 1,
            });
            return;
        }
        match self.on_connection(|con| commands::claim_again(con, at, &id)) {
            Some(Ok(Some(fields))) => self.take(id, &fields, delivery),
            Some(Ok(None)) => {
                // Deleted meanwhile: nothing to deliver, nothing held.
                self.state.lock().held.remove(&id);
            }
            _ => {
                let due = Instant::now() + self.state.backoff(delivery);
                self.state.owe(Owed::Retry { id, due, delivery });
            }
        }
    }

    /// After the reader connected again: this consumer's own pending entries that it
    /// does not hold (a read whose answer the dropped connection lost) are delivered,
    /// as a further delivery.
    pub(crate) fn reread_own(&mut self) {
        let names = Arc::clone(&self.names);
        let prefetch = self.state.limits.prefetch;
        let own = self.on_connection(|con| {
            redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(&names.group)
                .arg(&names.consumer)
                .arg("COUNT")
                .arg(prefetch)
                .arg("STREAMS")
                .arg(&names.key)
                .arg("0")
                .query::<Option<StreamReadReply>>(con)
                .map_err(|error| crate::error::Error::command("XREADGROUP", &error))
        });
        let Some(Ok(own)) = own else {
            return; // claimed after `claim_idle` instead
        };
        for entry in commands::entries(own) {
            let held = self.state.lock().held.contains_key(&entry.id);
            if !held {
                tracing::info!(stream = %names.key, id = %entry.id, "delivering again what a lost read took");
                self.take(entry.id, &entry.map, 2);
            }
        }
    }

    /// Holds `id` as delivery `delivery`, and delivers it (or sets it aside: read too
    /// often, or holding no task).
    fn take(&mut self, id: String, fields: &HashMap<String, redis::Value>, delivery: u32) {
        self.state.lock().held.insert(id.clone(), delivery);
        if delivery > self.state.limits.max_deliveries {
            let error = format!("delivered {delivery} times without an answer");
            self.state.owe(Owed::DeadLetter {
                id,
                error,
                deliveries: delivery,
            });
            return;
        }
        match envelope::payload(fields).and_then(|payload| envelope::decode::<T>(&payload)) {
            Ok(task) => {
                let receipt = Box::new(EntryReceipt {
                    state: Arc::clone(&self.state),
                    id,
                    delivery,
                    told: false,
                });
                self.offer(task, receipt);
            }
            Err(error) => self.state.owe(Owed::DeadLetter {
                id,
                error,
                deliveries: delivery,
            }),
        }
    }

    /// Offers a task to the thread's queue without waiting: parked if it is full.
    fn offer(&mut self, task: T, receipt: Box<dyn threadward_runtime::Receipt>) {
        match self.feed.try_deliver(task, receipt) {
            Ok(()) => {}
            Err(DeliverError::Full(task, receipt)) => self.parked.push((task, receipt)),
            Err(DeliverError::Closed(_, receipt)) => {
                // The thread takes no more work: given back.
                self.state.stop();
                drop(receipt);
            }
        }
    }

    /// Offers the parked tasks again (given back, if the thread is stopping).
    pub(crate) fn offer_parked(&mut self) {
        let parked = std::mem::take(&mut self.parked);
        if self.state.lock().stopping {
            return; // their receipts, dropped, give them back
        }
        for (task, receipt) in parked {
            self.offer(task, receipt);
        }
    }
}

/// Marks the reader's or the keeper's end, however it comes (a panic too): the thread
/// is not left waiting for it.
pub(crate) struct Ended<T> {
    pub(crate) state: Arc<State>,
    pub(crate) feed: Feed<T>,
    pub(crate) reader: bool,
}

impl<T> Drop for Ended<T> {
    fn drop(&mut self) {
        let mut inner = self.state.lock();
        if self.reader {
            inner.reading = false;
            inner.reader_done = true;
        } else {
            inner.keeper_done = true;
            // Without a keeper nothing renews or unblocks: stop taking.
            inner.stopping = true;
        }
        drop(inner);
        // Everything the reader read was delivered (or given back). (A keeper that
        // ends stops the reader, which closes the feed as it leaves.)
        if self.reader {
            self.feed.close();
        }
        self.state.wake_all();
    }
}
