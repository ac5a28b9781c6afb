//! Kubernetes' restart and pull back-off: 10 s doubling to 5 min, forgotten once nothing has
//! happened for twice the maximum (a container that ran 10 min starts again at 10 s).

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

pub const INITIAL: Duration = Duration::from_secs(10);
pub const MAX: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy)]
struct Entry {
    delay: Duration,
    last_update: Instant,
}

/// Back-off delays by key (a container, or an image).
#[derive(Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    entries: HashMap<String, Entry>,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(INITIAL, MAX)
    }
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            entries: HashMap::new(),
        }
    }

    fn expired(&self, entry: &Entry, event: Instant) -> bool {
        event.saturating_duration_since(entry.last_update) > self.max * 2
    }

    /// Records a new attempt after an event at `event`: the delay before the next one doubles,
    /// or starts again at the initial delay when the last attempt is long past.
    pub fn next(&mut self, key: &str, event: Instant) {
        let delay = match self.entries.get(key) {
            Some(entry) if !self.expired(entry, event) => (entry.delay * 2).min(self.max),
            _ => self.initial,
        };
        self.entries.insert(
            key.to_owned(),
            Entry {
                delay,
                last_update: event,
            },
        );
    }

    /// While `key` backs off from an event at `since`: the current delay and when it ends.
    pub fn in_backoff_since(&self, key: &str, since: Instant, now: Instant) -> Option<(Duration, Instant)> {
        let entry = self.entries.get(key)?;
        if self.expired(entry, now) {
            return None;
        }
        let until = since + entry.delay;
        (now < until).then_some((entry.delay, until))
    }

    /// While `key` backs off from its last attempt: the current delay and when it ends.
    pub fn in_backoff_since_update(&self, key: &str, now: Instant) -> Option<(Duration, Instant)> {
        let since = self.entries.get(key)?.last_update;
        self.in_backoff_since(key, since, now)
    }
}

/// Go's rendering of a whole number of seconds (`10s`, `2m40s`, `5m0s`), as Kubernetes'
/// back-off messages show it.
pub fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else {
        format!("{}m{}s", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn delays_double_to_the_maximum_and_reset_after_quiet() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        assert!(
            b.in_backoff_since("c", t0, t0).is_none(),
            "the first restart is at once"
        );
        let mut delays = Vec::new();
        let mut t = t0;
        for _ in 0..7 {
            b.next("c", t);
            let (delay, until) = b.in_backoff_since("c", t, t).unwrap();
            delays.push(delay.as_secs());
            assert!(b.in_backoff_since("c", t, until).is_none());
            t = until;
        }
        assert_eq!(delays, [10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(go_duration(Duration::from_secs(160)), "2m40s");
        // Nothing for over 10 minutes: the next delay is the initial one again.
        let later = t + Duration::from_secs(601);
        assert!(b.in_backoff_since("c", later, later).is_none());
        b.next("c", later);
        assert_eq!(b.in_backoff_since("c", later, later).unwrap().0, INITIAL);
    }
}
