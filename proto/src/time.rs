//! Wall-clock timestamps for object metadata.

use crate::k8s::meta::v1::{MicroTime, Time};

/// The current wall-clock time, at the precision Kubernetes stores in `Time`.
pub fn now() -> Time {
    Time::from_unix(chrono::Utc::now().timestamp())
}

/// The current wall-clock time with microseconds, for leases and events.
pub fn now_micro() -> MicroTime {
    let t = chrono::Utc::now();
    MicroTime {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_micros() * 1000).unwrap_or(0),
    }
}
