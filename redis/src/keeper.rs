//! The keeper: one thread per consumer, on a connection of its own, that pays what is
//! owed to Redis (acks while the reader waits in Redis, retries when due, dead letters,
//! releases), renews the lease of the entries held, claims the entries of consumers
//! that stopped renewing theirs, and unblocks the reader when the thread stops.

use std::marker::PhantomData;
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use threadward_runtime::Feed;

use crate::commands;
use crate::state::{Inner, Owed, State};
use crate::stream::Names;

pub(crate) struct Keeper<T> {
    pub(crate) state: Arc<State>,
    pub(crate) names: Arc<Names>,
    pub(crate) client: redis::Client,
    pub(crate) connection: Option<redis::Connection>,
    pub(crate) feed: Feed<T>,
    /// Since when the keeper tries to unblock the reader.
    pub(crate) unblocking: Option<Instant>,
    /// Tasks the thread's full queue did not take yet: delivered again next round (the
    /// keeper never waits for room: it renews the leases).
    pub(crate) parked: Vec<(T, Box<dyn threadward_runtime::Receipt>)>,
    /// Where the claims go on in the group's pending entries.
    pub(crate) claim_cursor: String,
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
    /// Read this consumer's own pending entries (after the reader connected again).
    reread: bool,
}

/// When the keeper renews leases and claims.
struct Clock {
    lease: Duration,
    next_renew: Instant,
    claim_every: Duration,
    next_claim: Instant,
    next_delayed: Instant,
    /// When the parked tasks are offered to the thread's queue again.
    next_park: Instant,
}

/// How long parked tasks wait before they are offered to the thread's queue again.
const PARK: Duration = Duration::from_millis(5);

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
            next_park: now,
        };
        // However the keeper ends (a panic too), the thread does not wait for it.
        let _ended = crate::taking::Ended {
            state: Arc::clone(&self.state),
            feed: self.feed.clone(),
            reader: false,
        };
        loop {
            let inner = self.state.lock();
            let Some((round, inner)) = self.next_round(inner, &mut clock) else {
                break;
            };
            drop(inner);
            self.play(round);
        }
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
            // The reader carries acks with its reads; those it would not read soon
            // (waiting in Redis, stopped, or not about to read) are the keeper's.
            let acks_mine =
                inner.reading || stopping || inner.reader_done || self.state.room(&inner).is_none();
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
            round.reread = std::mem::take(&mut inner.reread) && !stopping;
            // Claims come every `claim_every`; while they find more than there was room
            // for (`claim_more`), again as soon as there is room.
            let room = self.state.limits.prefetch.saturating_sub(inner.held.len());
            let claim_due = now >= clock.next_claim || (inner.claim_more && room > 0);
            if !stopping && claim_due {
                round.claim = room;
                inner.claim_more = false;
                clock.next_claim = now + clock.claim_every;
            }
            let idle = round.acks.is_empty()
                && round.retries.is_empty()
                && round.dead.is_empty()
                && round.releases.is_empty()
                && round.unblock.is_none()
                && round.renew.is_empty()
                && round.claim == 0
                && !round.delayed
                && !round.reread
                && (self.parked.is_empty() || now < clock.next_park);
            if !idle {
                if !self.parked.is_empty() && now >= clock.next_park {
                    clock.next_park = now + PARK;
                }
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
            if !self.parked.is_empty() {
                wake = wake.min(clock.next_park);
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
            reread,
        } = round;
        let mut again = Round::default();
        // Leases first: a release below must not be undone by a renewal after it.
        if !renew.is_empty() {
            let renewed = self.on_connection(|con| commands::renew(con, at, &renew));
            if !matches!(renewed, Some(Ok(()))) {
                tracing::debug!(stream = %at.0, "leases not renewed: again next time");
            }
        }
        if let Some(client) = unblock {
            // The reader may not be in its read yet: until it is out, again (a pause
            // between tries, whatever Redis answered: no spinning).
            if !matches!(
                self.on_connection(|con| commands::unblock(con, client)),
                Some(Ok(true))
            ) {
                std::thread::sleep(Duration::from_millis(2));
            }
            // Redis does not answer: the thread does not wait for the reader for ever
            // (what it would still deliver is given back instead).
            let unblocking = *self.unblocking.get_or_insert_with(Instant::now);
            if unblocking.elapsed() > UNBLOCK_PATIENCE {
                self.feed.close();
            }
            self.state.work.notify_all();
        }
        self.offer_parked();
        if reread {
            self.reread_own();
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
        if claim > 0 && self.claim(claim) {
            // More may be waiting: claimed again once there is room (an entry settled
            // wakes the keeper then).
            self.state.lock().claim_more = true;
        }
        if !again.acks.is_empty() || !again.dead.is_empty() || !again.releases.is_empty() {
            // Not a busy loop: Redis is not answering; the work waits a while.
            self.wait_a_while();
            self.owe_again(again);
        }
    }

    /// Runs `command` on the keeper's connection (connected again if it was lost):
    /// `None` if there is none. A command that fails drops the connection, to connect
    /// again next time.
    pub(crate) fn on_connection<R>(
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
