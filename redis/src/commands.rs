//! The Redis commands of a stream's consumer and producer, each used in one way only
//! (Redis 7.0 commands: no trimming by length, which would delete pending entries).

use std::collections::HashMap;
use std::time::Duration;

use redis::streams::{StreamId, StreamReadReply};
use redis::{Connection, Value};

use crate::error::Error;

/// Connects with `client`, within `timeout`, with `timeout` on every write; reads wait
/// `read_timeout` at most (`None`: for ever, for a blocking read).
pub(crate) fn connect(
    client: &redis::Client,
    at: &str,
    timeout: Duration,
    read_timeout: Option<Duration>,
) -> Result<Connection, Error> {
    let refused = |error: redis::RedisError| Error::Connect {
        at: at.to_owned(),
        reason: error.to_string(),
    };
    let connection = client
        .get_connection_with_timeout(timeout)
        .map_err(refused)?;
    connection
        .set_write_timeout(Some(timeout))
        .map_err(refused)?;
    connection.set_read_timeout(read_timeout).map_err(refused)?;
    Ok(connection)
}

/// Creates the group at the start of the stream (and the stream, if there is none), so
/// that nothing added before the first consumer came is skipped. A group that exists
/// already is left as it is.
pub(crate) fn create_group(con: &mut Connection, key: &str, group: &str) -> Result<(), Error> {
    let created: redis::RedisResult<()> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(key)
        .arg(group)
        .arg("0")
        .arg("MKSTREAM")
        .query(con);
    match created {
        Err(error) if error.code() == Some("BUSYGROUP") => Ok(()),
        other => other.map_err(|error| Error::command("XGROUP CREATE", &error)),
    }
}

/// The connection's client id, for `CLIENT UNBLOCK`.
pub(crate) fn client_id(con: &mut Connection) -> Result<i64, Error> {
    redis::cmd("CLIENT")
        .arg("ID")
        .query(con)
        .map_err(|error| Error::command("CLIENT ID", &error))
}

/// Unblocks the client `id` if it waits in a blocking read: whether it did.
pub(crate) fn unblock(con: &mut Connection, id: i64) -> Result<bool, Error> {
    redis::cmd("CLIENT")
        .arg("UNBLOCK")
        .arg(id)
        .query::<i64>(con)
        .map(|unblocked| unblocked == 1)
        .map_err(|error| Error::command("CLIENT UNBLOCK", &error))
}

/// Acknowledges and deletes `ids` (pipelined with `then`, if given, whose reply is
/// returned), in one round trip.
pub(crate) fn ack_then<T: redis::FromRedisValue>(
    con: &mut Connection,
    (key, group): (&str, &str),
    ids: &[String],
    then: Option<&redis::Cmd>,
) -> Result<Option<T>, Error> {
    let mut pipe = redis::pipe();
    if !ids.is_empty() {
        pipe.cmd("XACK").arg(key).arg(group).arg(ids).ignore();
        pipe.cmd("XDEL").arg(key).arg(ids).ignore();
    }
    let Some(then) = then else {
        if !ids.is_empty() {
            pipe.query::<()>(con)
                .map_err(|error| Error::command("XACK", &error))?;
        }
        return Ok(None);
    };
    pipe.add_command(then.clone());
    let (reply,): (T,) = pipe
        .query(con)
        .map_err(|error| Error::command("XREADGROUP", &error))?;
    Ok(Some(reply))
}

/// How long a read waits in Redis for new entries before it returns empty (and is
/// made again): long enough not to poll, short enough that a connection that died
/// silently is noticed (the reader's read timeout is a little longer).
pub(crate) const READ_BLOCK: Duration = Duration::from_secs(15);

/// How long the reader waits for an answer to a read: [`READ_BLOCK`] and a margin.
pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// `XREADGROUP` of up to `count` new entries for `consumer`, blocking until there are
/// some (or it is unblocked, or `READ_BLOCK` passed).
pub(crate) fn read_new(key: &str, group: &str, consumer: &str, count: usize) -> redis::Cmd {
    let mut cmd = redis::cmd("XREADGROUP");
    cmd.arg("GROUP")
        .arg(group)
        .arg(consumer)
        .arg("COUNT")
        .arg(count)
        .arg("BLOCK")
        .arg(u64::try_from(READ_BLOCK.as_millis()).unwrap_or(u64::MAX))
        .arg("STREAMS")
        .arg(key)
        .arg(">");
    cmd
}

/// The entries of a read, in order.
pub(crate) fn entries(reply: Option<StreamReadReply>) -> Vec<StreamId> {
    reply
        .map(|reply| reply.keys.into_iter().flat_map(|key| key.ids).collect())
        .unwrap_or_default()
}

/// Takes `id` again for `consumer`, counting a delivery: its fields, or `None` if the
/// entry is gone (deleted).
pub(crate) fn claim_again(
    con: &mut Connection,
    (key, group, consumer): (&str, &str, &str),
    id: &str,
) -> Result<Option<HashMap<String, Value>>, Error> {
    let reply: redis::streams::StreamClaimReply = redis::cmd("XCLAIM")
        .arg(key)
        .arg(group)
        .arg(consumer)
        .arg(0)
        .arg(id)
        .query(con)
        .map_err(|error| Error::command("XCLAIM", &error))?;
    Ok(reply.ids.into_iter().next().map(|entry| entry.map))
}

/// Makes `ids` available to other consumers at once: idle for longer than any claim
/// waits, so the next claim takes them (without counting a delivery).
pub(crate) fn release(
    con: &mut Connection,
    at: (&str, &str, &str),
    ids: &[String],
) -> Result<(), Error> {
    set_idle(con, at, ids, i64::from(i32::MAX), "XCLAIM (release)")
}

/// Resets the idle time of `ids`, held by `consumer`, without counting a delivery: the
/// lease that keeps other consumers from claiming them.
pub(crate) fn renew(
    con: &mut Connection,
    at: (&str, &str, &str),
    ids: &[String],
) -> Result<(), Error> {
    set_idle(con, at, ids, 0, "XCLAIM (lease)")
}

/// Sets the idle time of `ids` (kept by `consumer`) to `idle_ms`, without counting a
/// delivery.
fn set_idle(
    con: &mut Connection,
    (key, group, consumer): (&str, &str, &str),
    ids: &[String],
    idle_ms: i64,
    name: &'static str,
) -> Result<(), Error> {
    if ids.is_empty() {
        return Ok(());
    }
    redis::cmd("XCLAIM")
        .arg(key)
        .arg(group)
        .arg(consumer)
        .arg(0)
        .arg(ids)
        .arg("IDLE")
        .arg(idle_ms)
        .arg("JUSTID")
        .query::<Value>(con)
        .map(drop)
        .map_err(|error| Error::command(name, &error))
}

/// Moves `id` to the dead-letter stream `dead`, with its fields (the envelope as it
/// was) and why, who and how often, then acknowledges and deletes it: atomically, in a
/// script.
pub(crate) fn dead_letter(
    con: &mut Connection,
    (key, group, consumer, dead): (&str, &str, &str, &str),
    (id, error, deliveries): (&str, &str, u32),
) -> Result<(), Error> {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    let script = SCRIPT.get_or_init(|| {
        redis::Script::new(
            r"
            local fields = {'id', ARGV[1], 'stream', KEYS[1], 'error', ARGV[3],
                            'consumer', ARGV[4], 'deliveries', ARGV[5]}
            local entry = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
            if entry[1] then
                for _, value in ipairs(entry[1][2]) do table.insert(fields, value) end
            end
            redis.call('XADD', KEYS[2], '*', unpack(fields))
            redis.call('XACK', KEYS[1], ARGV[2], ARGV[1])
            redis.call('XDEL', KEYS[1], ARGV[1])
            return 1
            ",
        )
    });
    script
        .key(key)
        .key(dead)
        .arg(id)
        .arg(group)
        .arg(error)
        .arg(consumer)
        .arg(deliveries)
        .invoke::<i64>(con)
        .map(drop)
        .map_err(|error| Error::command("XADD (dead letter)", &error))
}

/// Claims for `consumer` up to `count` entries that other consumers (or this one, after
/// a release) held idle for `min_idle` or longer, counting a delivery: the entries, and
/// how many times each was delivered now.
pub(crate) fn claim_idle(
    con: &mut Connection,
    (key, group, consumer): (&str, &str, &str),
    min_idle: Duration,
    (cursor, count): (&str, usize),
) -> Result<(Vec<(StreamId, u32)>, String), Error> {
    let reply: redis::streams::StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
        .arg(key)
        .arg(group)
        .arg(consumer)
        .arg(u64::try_from(min_idle.as_millis()).unwrap_or(u64::MAX))
        .arg(cursor)
        .arg("COUNT")
        .arg(count)
        .query(con)
        .map_err(|error| Error::command("XAUTOCLAIM", &error))?;
    let next = reply.next_stream_id;
    if reply.claimed.is_empty() {
        return Ok((Vec::new(), next));
    }
    let mut pipe = redis::pipe();
    for entry in &reply.claimed {
        pipe.cmd("XPENDING")
            .arg(key)
            .arg(group)
            .arg(&entry.id)
            .arg(&entry.id)
            .arg(1);
    }
    let pending: Vec<Vec<(String, String, u64, u32)>> = pipe
        .query(con)
        .map_err(|error| Error::command("XPENDING", &error))?;
    let claimed = reply
        .claimed
        .into_iter()
        .zip(pending)
        .map(|(entry, pending)| {
            let deliveries = pending.first().map_or(1, |(_, _, _, count)| *count);
            (entry, deliveries)
        })
        .collect();
    Ok((claimed, next))
}

/// Moves the delayed tasks of `key` that are due (by the server's clock) into the
/// stream, up to 100 at a time: how many it moved.
pub(crate) fn move_due(con: &mut Connection, key: &str) -> Result<i64, Error> {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    let script = SCRIPT.get_or_init(|| {
        redis::Script::new(
            r"
            local time = redis.call('TIME')
            local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
            local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 100)
            for _, member in ipairs(due) do
                redis.call('XADD', KEYS[1], '*', 'v', ARGV[1], 'task', string.sub(member, 18))
                redis.call('ZREM', KEYS[2], member)
            end
            return #due
            ",
        )
    });
    script
        .key(key)
        .key(crate::envelope::delayed_key(key))
        .arg(crate::envelope::VERSION)
        .invoke(con)
        .map_err(|error| Error::command("XADD (delayed)", &error))
}

/// How many entries `consumer` holds unacknowledged, and how many entries of the
/// stream the group has not read yet (`None` where Redis cannot tell).
pub(crate) fn stats(
    con: &mut Connection,
    (key, group, consumer): (&str, &str, &str),
) -> Result<(Option<u64>, Option<u64>), Error> {
    let (summary, groups): (Value, Vec<HashMap<String, Value>>) = redis::pipe()
        .cmd("XPENDING")
        .arg(key)
        .arg(group)
        .cmd("XINFO")
        .arg("GROUPS")
        .arg(key)
        .query(con)
        .map_err(|error| Error::command("XINFO GROUPS", &error))?;
    // [total, first id, last id, [[consumer, count], ...]]
    let own = match summary {
        Value::Array(parts) => match parts.into_iter().nth(3) {
            Some(Value::Array(consumers)) => Some(
                consumers
                    .into_iter()
                    .filter_map(|pair| redis::from_redis_value::<(String, String)>(pair).ok())
                    .find(|(name, _)| name == consumer)
                    .and_then(|(_, count)| count.parse().ok())
                    .unwrap_or(0),
            ),
            _ => Some(0),
        },
        _ => None,
    };
    let lag = groups
        .into_iter()
        .find(|info| {
            info.get("name")
                .cloned()
                .and_then(|name| redis::from_redis_value::<String>(name).ok())
                .is_some_and(|name| name == group)
        })
        .and_then(|info| info.get("lag").cloned())
        .and_then(|lag| redis::from_redis_value::<u64>(lag).ok());
    Ok((own, lag))
}
