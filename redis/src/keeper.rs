//! The keeper: one thread per consumer, on a connection of its own, that pays what is
//! owed to Redis (acks while the reader waits in Redis, retries when due, dead letters,
//! releases), renews the lease of the entries held, claims the entries of consumers
//! that stopped renewing theirs, and unblocks the reader when the thread stops.

use std::marker::PhantomData;
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use threadward_runtime::{DeliverError, Feed};

use crate::commands;
use crate::envelope;
use crate::state::{EntryReceipt, Inner, Owed, State};
use crate::stream::Names;

pub(crate) struct Keeper<T> {
    pub(crate) state: Arc<State>,
    pub(crate) names: Arc<Names>,
    pub(crate) client: redis::Client,
    pub(crate) connection: Option<redis::Connection>,
    pub(crate) feed: Feed<T>,
    /// Since when the keeper tries to unblock the reader.
    pub(crate) unblocking: Option<Instant>,
    pub(crate) _task: PhantomData<fn() -> T>,
}

/// How long a stopping thread waits for its reader to leave a read that Redis does not
/// cut short, before its queue closes without it.
const UNBLOCK_PATIENCE: Duration = Duration::from_secs(2);

/// What the keeper does in one round.
#[derive(Default)]
struct Round {
    acks: Vec<String>,
    retries: Vec<(String, u32)>,
    dead: Vec<(String, String, u32)>,
    releases: Vec<String>,
    unblock: Option<i64>,
    renew: Vec<String>,
    /// Room to claim idle entries into.
    claim: usize,
    /// Move the delayed tasks that are due into the stream.
    delayed: bool,
}

/// When the keeper renews leases and claims.
struct Clock {
    lease: Duration,
    next_renew: Instant,
    claim_every: Duration,
    next_claim: Instant,
    next_delayed: Instant,
}

/// How often the keeper moves due delayed tasks into the stream.
const DELAYED_EVERY: Duration = Duration::from_secs(1);

impl<T: DeserializeOwned + Send + 'static> Keeper<T> {
    pub(crate) fn run(mut self) {
        let idle = self.state.limits.claim_idle;
        let now = Instant::now();
        let mut clock = Clock {
            lease: (idle / 3).max(Duration::from_millis(10)),
            next_renew: now + idle / 3,
            // Claims from the start: what a dead consumer left is taken up at once.
            claim_every: (idle / 2).max(Duration::from_millis(10)),
            next_claim: now,
            next_delayed: now,
        };
        loop {
            let inner = self.state.lock();
            let Some((round, inner)) = self.next_round(inner, &mut clock) else {
                break;
            };
            drop(inner);
            self.play(round);
        }
        let mut inner = self.state.lock();
        inner.keeper_done = true;
        drop(inner);
        self.state.wake_all();
    }

    /// Waits for work and takes it; `None` once the thread ended and nothing is owed.
    fn next_round<'a>(
        &self,
        mut inner: MutexGuard<'a, Inner>,
        clock: &mut Clock,
    ) -> Option<(Round, MutexGuard<'a, Inner>)> {
        loop {
            if inner.given_up {
                return None;
            }
            let now = Instant::now();
            let mut round = Round::default();
            let stopping = inner.stopping;
            let acks_mine = inner.reading || stopping || inner.reader_done;
            let mut later = Vec::new();
            for owed in inner.owed.drain(..) {
                match owed {
                    Owed::Ack(id) if acks_mine => round.acks.push(id),
                    Owed::Retry { id, .. } if stopping => round.releases.push(id),
                    Owed::Retry { id, due, delivery } if due <= now => {
                        round.retries.push((id, delivery));
                    }
                    Owed::DeadLetter {
                        id,
                        error,
                        deliveries,
                    } => round.dead.push((id, error, deliveries)),
                    Owed::Release(id) => round.releases.push(id),
                    other => later.push(other),
                }
            }
            inner.owed = later;
            if stopping && inner.reading {
                round.unblock = inner.reader_client;
            }
            if now >= clock.next_renew {
                round.renew = inner.held.keys().cloned().collect();
                clock.next_renew = now + clock.lease;
            }
            if !stopping && now >= clock.next_delayed {
                round.delayed = true;
                clock.next_delayed = now + DELAYED_EVERY;
            }
            if !stopping && now >= clock.next_claim {
                round.claim = self.state.limits.prefetch.saturating_sub(inner.held.len());
                clock.next_claim = now + clock.claim_every;
            }
            let idle = round.acks.is_empty()
                && round.retries.is_empty()
                && round.dead.is_empty()
                && round.releases.is_empty()
                && round.unblock.is_none()
                && round.renew.is_empty()
                && round.claim == 0
                && !round.delayed;
            if !idle {
                return Some((round, inner));
            }
            if inner.closing && inner.reader_done && inner.owed.is_empty() {
                return None;
            }
            let due = inner
                .owed
                .iter()
                .filter_map(|owed| match owed {
                    Owed::Retry { due, .. } => Some(*due),
                    _ => None,
                })
                .min();
            let mut wake = due.map_or(clock.next_renew, |due| due.min(clock.next_renew));
            if !stopping {
                wake = wake.min(clock.next_claim).min(clock.next_delayed);
            }
            inner = self
                .state
                .work
                .wait_timeout(inner, wake.saturating_duration_since(now))
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// Does one round's work; what fails is owed again.
    fn play(&mut self, round: Round) {
        let names = Arc::clone(&self.names);
        let at = (&*names.key, &*names.group, &*names.consumer);
        let Round {
            acks,
            retries,
            dead,
            releases,
            unblock,
            renew,
            claim,
            delayed,
        } = round;
        let mut again = Round::default();
        if let Some(client) = unblock {
            // The reader may not be in its read yet: until it is out, again.
            if let Some(Ok(false)) = self.on_connection(|con| commands::unblock(con, client)) {
                std::thread::sleep(Duration::from_millis(1));
            }
            // Redis does not answer: the thread does not wait for the reader for ever
            // (what it would still deliver is given back instead).
            let unblocking = *self.unblocking.get_or_insert_with(Instant::now);
            if unblocking.elapsed() > UNBLOCK_PATIENCE {
                self.feed.close();
            }
            self.state.work.notify_all();
        }
        let mut settled = Vec::new();
        let (mut acked, mut dead_lettered, mut released) = (0, 0, 0);
        match self.on_connection(|con| commands::ack_then::<()>(con, (at.0, at.1), &acks, None)) {
            Some(Ok(_)) => {
                acked += acks.len() as u64;
                settled.extend(acks);
            }
            _ => again.acks = acks,
        }
        for (id, error, deliveries) in dead {
            let dead = (at.0, at.1, at.2, &*names.dead_letter);
            match self
                .on_connection(|con| commands::dead_letter(con, dead, (&id, &error, deliveries)))
            {
                Some(Ok(())) => {
                    tracing::warn!(stream = %at.0, %id, %error, deliveries, "dead-lettered");
                    dead_lettered += 1;
                    settled.push(id);
                }
                _ => again.dead.push((id, error, deliveries)),
            }
        }
        match self.on_connection(|con| commands::release(con, at, &releases)) {
            Some(Ok(())) => {
                released += releases.len() as u64;
                settled.extend(releases);
            }
            _ => again.releases = releases,
        }
        // A lease that could not be renewed is renewed next time.
        let _ = self.on_connection(|con| commands::renew(con, at, &renew));
        let mut inner = self.state.lock();
        inner.counts.acked += acked;
        inner.acks_owed -= acked;
        inner.counts.dead_lettered += dead_lettered;
        inner.counts.released += released;
        for id in &settled {
            inner.held.remove(id);
        }
        drop(inner);
        self.state.room.notify_all();
        for (id, delivery) in retries {
            self.retry(id, delivery);
        }
        if delayed {
            // What is due is read like any new entry; not moved now, next second.
            let _ = self.on_connection(|con| commands::move_due(con, at.0));
            // And what observers see of the group, once a second too.
            if let Some(Ok((pending, lag))) = self.on_connection(|con| commands::stats(con, at)) {
                let mut inner = self.state.lock();
                inner.pending = pending;
                inner.lag = lag;
            }
        }
        if claim > 0 {
            self.claim(claim);
        }
        if !again.acks.is_empty() || !again.dead.is_empty() || !again.releases.is_empty() {
            // Not a busy loop: Redis is not answering; the work waits a while.
            self.wait_a_while();
            self.owe_again(again);
        }
    }

    /// Claims up to `room` entries idle for `claim_idle` (held by a consumer that died,
    /// stalled, or gave them back), and delivers them.
    fn claim(&mut self, room: usize) {
        let names = Arc::clone(&self.names);
        let at = (&*names.key, &*names.group, &*names.consumer);
        let idle = self.state.limits.claim_idle;
        let Some(Ok(claimed)) = self.on_connection(|con| commands::claim_idle(con, at, idle, room))
        else {
            return;
        };
        for (entry, deliveries) in claimed {
            tracing::info!(stream = %at.0, id = %entry.id, deliveries, "claimed an idle entry");
            self.state.lock().held.insert(entry.id.clone(), deliveries);
            if deliveries > self.state.limits.max_deliveries {
                let error = format!("delivered {deliveries} times without an answer");
                self.state.owe(Owed::DeadLetter {
                    id: entry.id,
                    error,
                    deliveries,
                });
                continue;
            }
            self.deliver(entry.id, &entry.map, deliveries);
        }
    }

    /// Delivers `id` again, as delivery `delivery` (counted by Redis too), or sets it
    /// aside once it was delivered too often.
    fn retry(&mut self, id: String, delivery: u32) {
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
        let fields = match self.on_connection(|con| commands::claim_again(con, at, &id)) {
            Some(Ok(Some(fields))) => fields,
            Some(Ok(None)) => {
                // Deleted meanwhile: nothing to deliver, nothing held.
                self.state.lock().held.remove(&id);
                return;
            }
            _ => {
                let due = Instant::now() + self.state.backoff(delivery);
                self.state.owe(Owed::Retry { id, due, delivery });
                return;
            }
        };
        self.state.lock().held.insert(id.clone(), delivery);
        self.deliver(id, &fields, delivery);
    }

    /// Delivers the entry `id` with `fields` to the thread, as delivery `delivery`, or
    /// sets it aside if it holds no task.
    fn deliver(
        &self,
        id: String,
        fields: &std::collections::HashMap<String, redis::Value>,
        delivery: u32,
    ) {
        let task = envelope::payload(fields).and_then(|payload| envelope::decode::<T>(&payload));
        let task = match task {
            Ok(task) => task,
            Err(error) => {
                self.state.owe(Owed::DeadLetter {
                    id,
                    error,
                    deliveries: delivery,
                });
                return;
            }
        };
        let receipt = Box::new(EntryReceipt {
            state: Arc::clone(&self.state),
            id,
            delivery,
            told: false,
        });
        if let Err(DeliverError::Closed(_, receipt) | DeliverError::Full(_, receipt)) =
            self.feed.deliver(task, receipt)
        {
            self.state.stop();
            drop(receipt);
        }
    }

    /// Runs `command` on the keeper's connection (connected again if it was lost):
    /// `None` if there is none. A command that fails drops the connection, to connect
    /// again next time.
    fn on_connection<R>(
        &mut self,
        command: impl FnOnce(&mut redis::Connection) -> Result<R, crate::error::Error>,
    ) -> Option<Result<R, crate::error::Error>> {
        if self.connection.is_none() {
            let timeout = Duration::from_secs(2);
            match commands::connect(&self.client, &self.names.at, timeout, Some(timeout)) {
                Ok(connection) => self.connection = Some(connection),
                Err(error) => {
                    tracing::debug!(stream = %self.names.key, %error, "keeper: not connected");
                    return None;
                }
            }
        }
        let result = command(self.connection.as_mut()?);
        if let Err(error) = &result {
            tracing::warn!(stream = %self.names.key, consumer = %self.names.consumer, %error, "keeper: command failed");
            self.connection = None;
        }
        Some(result)
    }

    /// Waits a while (cut short when the thread's source closes), after Redis did not
    /// answer.
    fn wait_a_while(&self) {
        let inner = self.state.lock();
        let _ = self
            .state
            .work
            .wait_timeout_while(inner, Duration::from_millis(200), |inner| !inner.closing);
    }

    /// Owes a round's work again, for the next round.
    fn owe_again(&self, round: Round) {
        let mut inner = self.state.lock();
        inner.owed.extend(round.acks.into_iter().map(Owed::Ack));
        inner
            .owed
            .extend(round.releases.into_iter().map(Owed::Release));
        inner.owed.extend(
            round
                .dead
                .into_iter()
                .map(|(id, error, deliveries)| Owed::DeadLetter {
                    id,
                    error,
                    deliveries,
                }),
        );
        let now = Instant::now();
        inner
            .owed
            .extend(round.retries.into_iter().map(|(id, delivery)| Owed::Retry {
                id,
                due: now,
                delivery,
            }));
    }
}
