//! The hand-written pieces of the Kubernetes JSON form.
//!
//! `build.rs` points every generated field at the helpers here: `is_zero` implements Go's
//! `omitempty` for scalars, `null_as_default` reads a JSON `null` as the empty value (as Go
//! does), and `or_default` writes an unset required struct as `{}`. The value types whose JSON
//! is not an object (Quantity, IntOrString, Time, MicroTime) implement serde by hand.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::k8s::meta::v1::{IntOrString, MicroTime, Quantity, Time};

/// The zero value of a scalar, which Go's `omitempty` leaves out.
pub trait IsZero {
    fn is_zero(&self) -> bool;
}

macro_rules! is_zero_by_default {
    ($($t:ty),*) => {$(
        impl IsZero for $t {
            fn is_zero(&self) -> bool {
                *self == <$t>::default()
            }
        }
    )*};
}
is_zero_by_default!(String, bool, i32, i64, u32, u64, f32, f64, Vec<u8>);

/// `skip_serializing_if` for plain scalars.
pub fn is_zero<T: IsZero>(value: &T) -> bool {
    value.is_zero()
}

/// `deserialize_with` for fields without presence: `null` reads as the empty value.
pub fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

/// `serialize_with` for required struct fields: an unset one is written as its empty form.
pub fn or_default<S, T>(value: &Option<T>, serializer: S) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    T: Serialize + Default,
{
    match value {
        Some(value) => value.serialize(serializer),
        None => T::default().serialize(serializer),
    }
}

impl Quantity {
    pub fn new(value: impl Into<String>) -> Self {
        Quantity { string: value.into() }
    }
}

impl From<&str> for Quantity {
    fn from(value: &str) -> Self {
        Quantity::new(value)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.string)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.string)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(ScalarText("a quantity"))
            .map(Quantity::new)
    }
}

/// Reads a JSON string or number as text, as Kubernetes reads quantities (`cpu: 1` in YAML
/// arrives as a number).
struct ScalarText(&'static str);

impl Visitor<'_> for ScalarText {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} as a string or a number", self.0)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

/// `IntOrString.type` for an integer.
pub const INT_OR_STRING_INT: i32 = 0;
/// `IntOrString.type` for a string.
pub const INT_OR_STRING_STRING: i32 = 1;

impl IntOrString {
    pub fn int(value: i32) -> Self {
        IntOrString {
            r#type: INT_OR_STRING_INT,
            int_val: value,
            str_val: String::new(),
        }
    }
    pub fn string(value: impl Into<String>) -> Self {
        IntOrString {
            r#type: INT_OR_STRING_STRING,
            int_val: 0,
            str_val: value.into(),
        }
    }
    /// The integer, when this holds one.
    pub fn as_int(&self) -> Option<i32> {
        (self.r#type == INT_OR_STRING_INT).then_some(self.int_val)
    }
    /// The string, when this holds one.
    pub fn as_str(&self) -> Option<&str> {
        (self.r#type == INT_OR_STRING_STRING).then_some(self.str_val.as_str())
    }
}

impl Serialize for IntOrString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.as_str() {
            Some(s) => serializer.serialize_str(s),
            None => serializer.serialize_i32(self.int_val),
        }
    }
}

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = IntOrString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an int32 or a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<IntOrString, E> {
                Ok(IntOrString::string(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IntOrString, E> {
                i32::try_from(v)
                    .map(IntOrString::int)
                    .map_err(|_| E::custom(format!("{v} is out of range for int32")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IntOrString, E> {
                i32::try_from(v)
                    .map(IntOrString::int)
                    .map_err(|_| E::custom(format!("{v} is out of range for int32")))
            }
        }
        deserializer.deserialize_any(V)
    }
}

fn to_datetime(seconds: i64, nanos: i32) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(seconds, u32::try_from(nanos).ok()?)
}

fn parse_rfc3339<E: de::Error>(text: &str) -> Result<(i64, i32), E> {
    let t =
        DateTime::parse_from_rfc3339(text).map_err(|e| E::custom(format!("invalid RFC 3339 time {text:?}: {e}")))?;
    Ok((t.timestamp(), i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0)))
}

impl Time {
    pub fn from_unix(seconds: i64) -> Self {
        Time { seconds, nanos: 0 }
    }
    pub fn to_datetime(&self) -> Option<DateTime<Utc>> {
        to_datetime(self.seconds, self.nanos)
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Kubernetes' Time has second precision on the wire.
        let t = to_datetime(self.seconds, 0).ok_or_else(|| serde::ser::Error::custom("time out of range"))?;
        serializer.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true))
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let (seconds, _) = parse_rfc3339(&text)?;
        Ok(Time { seconds, nanos: 0 })
    }
}

impl MicroTime {
    pub fn to_datetime(&self) -> Option<DateTime<Utc>> {
        to_datetime(self.seconds, self.nanos)
    }
}

impl Serialize for MicroTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let micros = self.nanos / 1000 * 1000;
        let t = to_datetime(self.seconds, micros).ok_or_else(|| serde::ser::Error::custom("time out of range"))?;
        serializer.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true))
    }
}

impl<'de> Deserialize<'de> for MicroTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let (seconds, nanos) = parse_rfc3339(&text)?;
        Ok(MicroTime {
            seconds,
            nanos: nanos / 1000 * 1000,
        })
    }
}
