//! [`Settings`]: a thread's settings as read from a configuration file, in any format
//! serde reads, kept as they were written until the factory deserialises the thread's
//! own settings type from them.

use std::fmt;

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, Deserialize, Deserializer, IntoDeserializer, Visitor};

/// A thread's settings, as a configuration file gives them: the table (or object) for
/// one thread name, read with serde from TOML, JSON or any self-describing format, and
/// kept as written. [`create_with`](crate::create_with) deserialises the thread type's
/// own settings type (declared with `settings = Type`) from it, after taking out the
/// `threadward` table, which changes the thread's declaration (see there).
///
/// # Examples
///
/// ```
/// use serde::Deserialize;
/// use threadward::Settings;
///
/// #[derive(Deserialize, Debug, PartialEq)]
/// struct Relay {
///     host: String,
///     #[serde(default)]
///     port: Option<u16>,
/// }
///
/// // Any self-describing format: here JSON, as an example's TOML table would be.
/// let settings: Settings = serde_json::from_str(r#"{"host": "smtp.example.com"}"#)?;
/// let relay: Relay = settings.deserialize_into()?;
/// assert_eq!(relay, Relay { host: "smtp.example.com".into(), port: None });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Settings(Value);

/// One value of the settings, as written.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    /// Nothing: a unit, or an absent optional value.
    Unit,
    Bool(bool),
    Signed(i64),
    Unsigned(u64),
    Float(f64),
    Text(String),
    List(Vec<Value>),
    /// A table, its keys in the order they were read.
    Table(Vec<(String, Value)>),
}

impl Settings {
    /// No settings: an empty table. A settings type whose fields all have defaults
    /// deserialises from it (that is what [`create`](crate::create) does).
    pub fn empty() -> Self {
        Self(Value::Table(Vec::new()))
    }

    /// Whether these are no settings: an empty table, or nothing at all.
    pub fn is_empty(&self) -> bool {
        match &self.0 {
            Value::Unit => true,
            Value::Table(entries) => entries.is_empty(),
            _ => false,
        }
    }

    /// Deserialises `T` from these settings.
    ///
    /// # Errors
    ///
    /// What `T`'s `Deserialize` says of them: a missing or unknown field, a value of
    /// the wrong kind.
    pub fn deserialize_into<T: de::DeserializeOwned>(self) -> Result<T, SettingsError> {
        T::deserialize(self.0)
    }

    /// Takes the entry `key` out of these settings, if they are a table that has it.
    pub(crate) fn take(&mut self, key: &str) -> Option<Self> {
        let Value::Table(entries) = &mut self.0 else {
            return None;
        };
        let at = entries.iter().position(|(name, _)| name == key)?;
        Some(Self(entries.remove(at).1))
    }

    /// The entries of these settings, which must be a table (`what` names them in the
    /// error if they are not).
    pub(crate) fn into_entries(self, what: &str) -> Result<Vec<(String, Self)>, SettingsError> {
        match self.0 {
            Value::Table(entries) => Ok(entries
                .into_iter()
                .map(|(key, value)| (key, Self(value)))
                .collect()),
            other => Err(SettingsError(format!(
                "{what} must be a table; found {}",
                other.kind()
            ))),
        }
    }
}

/// Why settings could not be read, or did not fit a thread's settings type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(String);

impl SettingsError {
    pub(crate) fn new(message: &str) -> Self {
        Self(message.to_owned())
    }
}

impl de::Error for SettingsError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Self(message.to_string())
    }
}

impl<'de> Deserialize<'de> for Settings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Self)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// Builds a [`Value`] from whatever the format has.
struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("settings: a table of values")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Signed(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Unsigned(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Text(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Text(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Unit)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Unit)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            entries.push((key, value));
        }
        Ok(Value::Table(entries))
    }
}

impl<'de> Deserializer<'de> for Value {
    type Error = SettingsError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SettingsError> {
        match self {
            Self::Unit => visitor.visit_unit(),
            Self::Bool(v) => visitor.visit_bool(v),
            Self::Signed(v) => visitor.visit_i64(v),
            Self::Unsigned(v) => visitor.visit_u64(v),
            Self::Float(v) => visitor.visit_f64(v),
            Self::Text(v) => visitor.visit_string(v),
            Self::List(items) => visitor.visit_seq(SeqDeserializer::new(items.into_iter())),
            Self::Table(entries) => visitor.visit_map(MapDeserializer::new(entries.into_iter())),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SettingsError> {
        match self {
            Self::Unit => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    /// A unit variant is written as its name (`policy = "skip"`); a variant with data as
    /// a table of one entry (`policy = { every = 5 }`).
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, SettingsError> {
        match self {
            Self::Text(variant) => visitor.visit_enum(variant.into_deserializer()),
            Self::Table(mut entries) if entries.len() == 1 => {
                let (variant, value) = entries.remove(0);
                visitor.visit_enum(de::value::MapAccessDeserializer::new(MapDeserializer::new(
                    std::iter::once((variant, value)),
                )))
            }
            other => Err(de::Error::custom(format!(
                "expected an enum variant: a name, or a table of one entry; found {}",
                other.kind()
            ))),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, SettingsError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Self::Unit => "nothing",
            Self::Bool(_) => "a boolean",
            Self::Signed(_) | Self::Unsigned(_) => "an integer",
            Self::Float(_) => "a number",
            Self::Text(_) => "a string",
            Self::List(_) => "a list",
            Self::Table(_) => "a table",
        }
    }
}

impl IntoDeserializer<'_, SettingsError> for Value {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}
