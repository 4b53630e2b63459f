//! The `threadward` table of a thread's settings: what a configuration file changes of
//! the thread's declaration (its schedule, restart policy, pool size, queue capacity,
//! times), with the keys and rules of the attribute.

use std::time::Duration;

use crate::restart::{Restart, RestartPolicy};
use crate::settings::{Settings, SettingsError};
use crate::thread::Declaration;
use crate::timing::MissedTicks;

/// The key of the table, in a thread's settings, that holds its overrides.
pub(crate) const TABLE: &str = "threadward";

/// The keys the table may have.
const KEYS: [&str; 12] = [
    "every",
    "missed",
    "restart",
    "max_restarts",
    "within",
    "backoff",
    "workers",
    "capacity",
    "deadline",
    "delay",
    "startup_timeout",
    "shutdown_timeout",
];

/// What a configuration changes of a thread's declaration; `None` keeps what the type
/// declares.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Overrides {
    every: Option<Duration>,
    missed: Option<MissedTicks>,
    restart: Option<RestartPolicy>,
    intensity: (Option<u32>, Option<Duration>),
    backoff: Option<Duration>,
    workers: Option<usize>,
    capacity: Option<usize>,
    deadline: Option<Duration>,
    delay: Option<Duration>,
    startup_timeout: Option<Duration>,
    shutdown_timeout: Option<Duration>,
}

impl Overrides {
    /// Takes the `threadward` table out of `settings` and reads it (no overrides if
    /// there is none).
    pub(crate) fn take(settings: &mut Settings) -> Result<Self, SettingsError> {
        let Some(table) = settings.take(TABLE) else {
            return Ok(Self::default());
        };
        let mut overrides = Self::default();
        for (key, value) in table.into_entries("`threadward`")? {
            overrides
                .set(&key, value)
                .map_err(|error| SettingsError::new(&format!("`{TABLE}.{key}`: {error}")))?;
        }
        Ok(overrides)
    }

    fn set(&mut self, key: &str, value: Settings) -> Result<(), SettingsError> {
        match key {
            "every" => self.every = Some(duration(value)?),
            "missed" => {
                self.missed = Some(match text(value)?.as_str() {
                    "skip" => MissedTicks::Skip,
                    "burst" => MissedTicks::Burst,
                    "delay" => MissedTicks::Delay,
                    other => return Err(SettingsError::new(&format!(
                        "unknown policy `{other}`; expected `skip`, `burst` or `delay`"
                    ))),
                });
            }
            "restart" => {
                self.restart = Some(match text(value)?.as_str() {
                    "never" => RestartPolicy::Never,
                    "on-failure" => RestartPolicy::OnFailure,
                    other => return Err(SettingsError::new(&format!(
                        "unknown policy `{other}`; expected `never` or `on-failure` (`always` is what a `Supervisor` gives its children)"
                    ))),
                });
            }
            "max_restarts" => match value.deserialize_into::<u32>() {
                Ok(0) | Err(_) => {
                    return Err(SettingsError::new(
                        "must be a whole number from 1 to 4294967295; for no restarts, write `restart = \"never\"`",
                    ))
                }
                Ok(max) => self.intensity.0 = Some(max),
            },
            "within" => self.intensity.1 = Some(duration(value)?),
            "backoff" => self.backoff = Some(duration(value)?),
            "workers" => self.workers = Some(at_least_one(value, "how many threads serve the queue")?),
            "capacity" => self.capacity = Some(at_least_one(value, "how many tasks the queue holds")?),
            "deadline" => self.deadline = Some(duration(value)?),
            "delay" => self.delay = Some(duration(value)?),
            "startup_timeout" => self.startup_timeout = Some(duration(value)?),
            "shutdown_timeout" => self.shutdown_timeout = Some(duration(value)?),
            _ => {
                return Err(SettingsError::new(&format!(
                    "unknown key; the keys are `{}`",
                    KEYS.join("`, `")
                )))
            }
        }
        Ok(())
    }

    /// `declaration` as these overrides change it, or why they do not fit it.
    pub(crate) fn apply(&self, declaration: Declaration) -> Result<Declaration, SettingsError> {
        let mut declaration = declaration;
        let mut timing = declaration.timing;
        if self.every.is_some() || self.missed.is_some() {
            let Some(declared) = timing.every() else {
                let key = if self.every.is_some() {
                    "every"
                } else {
                    "missed"
                };
                return Err(SettingsError::new(&format!(
                    "`{TABLE}.{key}`: the type is declared without `every`, so it has no `tick` to schedule; declare `every = \"…\"` on it (the configuration's period then replaces that one)"
                )));
            };
            timing = timing
                .with_every(self.every.unwrap_or(declared))
                .with_missed(self.missed.unwrap_or(timing.missed()));
        }
        if let Some(deadline) = self.deadline {
            timing = timing.with_deadline(deadline);
        }
        if let Some(delay) = self.delay {
            timing = timing.with_delay(delay);
        }
        if let Some(limit) = self.startup_timeout {
            timing = timing.with_startup_timeout(limit);
        }
        if let Some(limit) = self.shutdown_timeout {
            timing = timing.with_shutdown_timeout(limit);
        }
        if timing.delay().is_some() && timing.startup_timeout().is_some() {
            return Err(SettingsError::new(&format!(
                "`{TABLE}`: `startup_timeout` bounds how long `spawn` waits for `startup`, and a thread with `delay` is not waited for; leave one of them out"
            )));
        }
        declaration.timing = timing;
        declaration.restart = self.restart(declaration.restart)?;
        declaration.workers = self.workers.unwrap_or(declaration.workers);
        declaration.capacity = self.capacity.or(declaration.capacity);
        Ok(declaration)
    }

    /// The restart `declared` becomes.
    fn restart(&self, declared: Restart) -> Result<Restart, SettingsError> {
        let base = match self.restart {
            None => declared,
            Some(RestartPolicy::OnFailure) if declared.policy() == RestartPolicy::OnFailure => {
                declared
            }
            Some(RestartPolicy::OnFailure) => Restart::ON_FAILURE,
            Some(_) => Restart::NEVER,
        };
        let tuned = [
            (self.intensity.0.is_some(), "max_restarts"),
            (self.intensity.1.is_some(), "within"),
            (self.backoff.is_some(), "backoff"),
        ];
        if base.policy() == RestartPolicy::Never {
            if let Some((_, key)) = tuned.iter().find(|(given, _)| *given) {
                return Err(SettingsError::new(&format!(
                    "`{TABLE}.{key}` is about restarts: it needs `restart = \"on-failure\"` (here or on the type)"
                )));
            }
            return Ok(base);
        }
        let base = match self.intensity {
            (None, None) => base,
            (Some(max), Some(within)) => base.with_intensity(max, within),
            (Some(_), None) => {
                return Err(SettingsError::new(&format!(
                    "`{TABLE}.max_restarts` needs `within`: at most that many restarts within how long? (like `within = \"10s\"`)"
                )))
            }
            (None, Some(_)) => {
                return Err(SettingsError::new(&format!(
                    "`{TABLE}.within` needs `max_restarts`: how many restarts within it? (like `max_restarts = 3`)"
                )))
            }
        };
        Ok(self
            .backoff
            .map_or(base, |backoff| base.with_backoff(backoff)))
    }
}

fn text(value: Settings) -> Result<String, SettingsError> {
    value.deserialize_into::<String>()
}

/// A positive count.
fn at_least_one(value: Settings, what: &str) -> Result<usize, SettingsError> {
    match value.deserialize_into::<usize>() {
        Ok(0) | Err(_) => Err(SettingsError::new(&format!(
            "must be a whole number, at least 1: {what}"
        ))),
        Ok(count) => Ok(count),
    }
}

/// A duration written as the attribute writes it (`"250ms"`, `"1m30s"`), more than zero.
fn duration(value: Settings) -> Result<Duration, SettingsError> {
    let usage = "write a duration like \"250ms\", \"5s\", \"1m30s\" or \"2h\" (units: h, m, s, ms, us, ns), longer than zero";
    let written = text(value).map_err(|_| SettingsError::new(usage))?;
    match parse_nanos(&written) {
        Some(0) | None => Err(SettingsError::new(&format!("`{written}`: {usage}"))),
        Some(nanos) => Ok(Duration::from_nanos(nanos)),
    }
}

/// The nanoseconds `text` spells: one or more `<integer><unit>` parts, largest unit
/// first, each unit at most once (the attribute's grammar).
fn parse_nanos(text: &str) -> Option<u64> {
    const UNITS: [(&str, u64); 6] = [
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("ns", 1),
    ];
    let mut rest = text;
    let (mut total, mut smaller_than) = (0u64, 0);
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (number, after) = rest.split_at(digits);
        let letters = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, after) = after.split_at(letters);
        let index = UNITS.iter().position(|(name, _)| *name == unit)?;
        if digits == 0 || index < smaller_than {
            return None;
        }
        smaller_than = index + 1;
        let part = number.parse::<u64>().ok()?.checked_mul(UNITS[index].1)?;
        total = total.checked_add(part)?;
        rest = after;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::parse_nanos;

    #[test]
    fn durations_read_as_the_attribute_writes_them() {
        assert_eq!(parse_nanos("250ms"), Some(250_000_000));
        assert_eq!(parse_nanos("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_nanos("1h2m3s4ms5us6ns"), Some(3_723_004_005_006));
        for wrong in [
            "",
            "5",
            "-1s",
            "1y",
            "1.5s",
            "s",
            "1s1m",
            "1s1s",
            "99999999999h",
        ] {
            assert_eq!(parse_nanos(wrong), None, "{wrong}");
        }
    }
}
