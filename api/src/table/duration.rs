//! Ages as kubectl shows them: apimachinery's `duration.HumanDuration` and the printers'
//! `translateTimestampSince`.
//!
//! The format keeps two units while the smaller one still says something ("3m20s", "5h30m",
//! "3d4h", "3y120d") and drops it once it would be noise ("10m", "45d").

use chrono::{DateTime, TimeDelta, Utc};
use podium_proto::k8s::meta::v1::{MicroTime, Time};

/// Go's zero `time.Time` (0001-01-01T00:00:00Z) in Unix seconds. A client that sends it means
/// "unset", as an absent timestamp does.
const GO_ZERO_UNIX_SECONDS: i64 = -62_135_596_800;

const SECOND: i64 = 1_000_000_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;

/// A duration in kubectl's compact form, e.g. "5s", "3m20s", "10m", "5h30m", "3d4h", "45d",
/// "3y120d".
///
/// Up to two seconds in the future counts as now ("0s"), to tolerate clock skew between
/// machines; further in the future is "<invalid>".
pub fn human_duration(d: TimeDelta) -> String {
    // Go's time.Duration is int64 nanoseconds and time.Since saturates; so do we.
    let nanos = d
        .num_nanoseconds()
        .unwrap_or(if d < TimeDelta::zero() { i64::MIN } else { i64::MAX });
    // Integer division truncates toward zero, as Go's int(d.Seconds()) does.
    let seconds = nanos / SECOND;
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 2 * 60 {
        return format!("{seconds}s");
    }
    let minutes = nanos / MINUTE;
    if minutes < 10 {
        return with_rest(minutes, "m", seconds % 60, "s");
    }
    if minutes < 3 * 60 {
        return format!("{minutes}m");
    }
    let hours = nanos / HOUR;
    if hours < 8 {
        return with_rest(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return with_rest(days, "d", hours % 24, "h");
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    if hours < 24 * 365 * 8 {
        return with_rest(days / 365, "y", days % 365, "d");
    }
    format!("{}y", days / 365)
}

/// "3m20s", or "3m" when the smaller unit is zero.
fn with_rest(value: i64, unit: &str, rest: i64, rest_unit: &str) -> String {
    if rest == 0 {
        format!("{value}{unit}")
    } else {
        format!("{value}{unit}{rest}{rest_unit}")
    }
}

/// The age of a timestamp at `now`, or "<unknown>" when it is unset: the Age column.
pub fn since(timestamp: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match timestamp {
        Some(t) => human_duration(now.signed_duration_since(t)),
        None => "<unknown>".to_owned(),
    }
}

/// A `Time` as an instant; `None` when unset, Go's zero time, or out of range.
pub fn time(t: Option<&Time>) -> Option<DateTime<Utc>> {
    t.filter(|t| !(t.seconds == GO_ZERO_UNIX_SECONDS && t.nanos == 0))
        .and_then(Time::to_datetime)
}

/// A `MicroTime` as an instant; `None` when unset, Go's zero time, or out of range.
pub fn micro_time(t: Option<&MicroTime>) -> Option<DateTime<Utc>> {
    t.filter(|t| !(t.seconds == GO_ZERO_UNIX_SECONDS && t.nanos == 0))
        .and_then(MicroTime::to_datetime)
}
