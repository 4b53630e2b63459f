//! The crate's one error type. No variant carries a URL: credentials never appear in
//! an error, a log line or a `Debug`.

/// What went wrong talking to Redis, or with a task's encoding.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The address is not a Redis URL (`redis://[user:password@]host[:port][/db]`).
    #[error("not a Redis URL: {reason}")]
    InvalidUrl {
        /// Why (without the URL itself, which may hold a password).
        reason: String,
    },
    /// Redis could not be reached, refused the connection or the credentials.
    #[error("could not connect to Redis at {at}: {reason}")]
    Connect {
        /// Where: host and port, never the credentials.
        at: String,
        /// What the connection attempt said.
        reason: String,
    },
    /// A command failed (the connection dropped, the server answered with an error).
    #[error("Redis command `{command}` failed: {reason}")]
    Command {
        /// The command's name.
        command: &'static str,
        /// What failed.
        reason: String,
    },
    /// A task could not be encoded as JSON.
    #[error("the task could not be encoded: {0}")]
    Encode(#[source] serde_json::Error),
}

impl Error {
    pub(crate) fn command(command: &'static str, error: &redis::RedisError) -> Self {
        Self::Command {
            command,
            reason: error.to_string(),
        }
    }
}
