//! The envelope of a task on the stream: an entry with the fields `v` (the envelope's
//! version, `1`) and `task` (the task as JSON). Entries the workers cannot read (another
//! version, a missing field, JSON that is not a task) go to the dead-letter stream.

use std::collections::HashMap;

use redis::Value;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Error;

/// The version of the envelope this crate writes and reads.
pub(crate) const VERSION: &str = "1";

/// The fields of an entry holding `task`.
pub(crate) fn fields<T: Serialize>(task: &T) -> Result<[(&'static str, Vec<u8>); 2], Error> {
    let json = serde_json::to_vec(task).map_err(Error::Encode)?;
    Ok([("v", VERSION.as_bytes().to_vec()), ("task", json)])
}

/// The sorted set where the tasks of `key` wait for their time.
pub(crate) fn delayed_key(key: &str) -> String {
    format!("{key}:delayed")
}

/// A delayed task's member in the sorted set: a unique prefix of 17 bytes (so that two
/// equal tasks are two members), then the task's JSON.
pub(crate) fn delayed_member(json: &[u8]) -> Vec<u8> {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write(json);
    let mut member = format!("{:016x}:", hasher.finish()).into_bytes();
    member.extend_from_slice(json);
    member
}

/// The task's bytes in an entry's fields, or why the entry holds none.
pub(crate) fn payload(map: &HashMap<String, Value>) -> Result<Vec<u8>, String> {
    let version = map.get("v").map(bytes);
    match version {
        Some(Some(version)) if version == VERSION.as_bytes() => {}
        Some(Some(other)) => {
            return Err(format!(
                "envelope version `{}`, this worker reads `{VERSION}`",
                String::from_utf8_lossy(&other)
            ))
        }
        _ => return Err("no envelope version (`v`)".to_owned()),
    }
    map.get("task")
        .and_then(bytes)
        .ok_or_else(|| "no task (`task`)".to_owned())
}

/// The task in `payload`, or the parse error.
/// A panic in the task type's `Deserialize` is an error too: one entry must not end a
/// consumer (and, delivered again, every other).
pub(crate) fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, String> {
    let decoded = std::panic::catch_unwind(|| serde_json::from_slice::<T>(payload));
    match decoded {
        Ok(Ok(task)) => Ok(task),
        Ok(Err(error)) => Err(format!("the task does not parse: {error}")),
        Err(payload) => Err(format!(
            "the task's Deserialize panicked: {}",
            payload
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default()
        )),
    }
}

fn bytes(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => Some(bytes.clone()),
        Value::SimpleString(text) => Some(text.clone().into_bytes()),
        _ => None,
    }
}
