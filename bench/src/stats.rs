//! Latency samples and their percentiles, and the number formats of the results tables.

use std::time::Duration;

/// Latency samples in nanoseconds. Kept as a flat vector: even the watch benchmark's five
/// million samples are 40 MB, and one sort at the end is cheaper than a histogram per task.
#[derive(Debug, Default)]
pub struct Latencies {
    nanos: Vec<u64>,
    sorted: bool,
}

impl Latencies {
    pub fn with_capacity(n: usize) -> Self {
        Latencies {
            nanos: Vec::with_capacity(n),
            sorted: false,
        }
    }

    pub fn push(&mut self, d: Duration) {
        self.push_nanos(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    pub fn push_nanos(&mut self, nanos: u64) {
        self.nanos.push(nanos);
        self.sorted = false;
    }

    /// Moves every sample of `other` into `self`.
    pub fn merge(&mut self, mut other: Latencies) {
        if self.nanos.is_empty() {
            std::mem::swap(&mut self.nanos, &mut other.nanos);
        } else {
            self.nanos.append(&mut other.nanos);
        }
        self.sorted = false;
    }

    pub fn len(&self) -> usize {
        self.nanos.len()
    }

    /// Sorts once, so the percentiles that follow are lookups.
    pub fn summary(&mut self) -> Summary {
        if !self.sorted {
            self.nanos.sort_unstable();
            self.sorted = true;
        }
        Summary {
            count: self.nanos.len(),
            p50: self.percentile(50.0),
            p99: self.percentile(99.0),
            max: self.nanos.last().map_or(Duration::ZERO, |n| Duration::from_nanos(*n)),
        }
    }

    /// Nearest-rank percentile of the sorted samples (zero when there are none).
    fn percentile(&self, p: f64) -> Duration {
        nearest_rank(&self.nanos, p).map_or(Duration::ZERO, Duration::from_nanos)
    }
}

/// The sample at rank ceil(p/100 * n) (1-based) of sorted `samples`.
fn nearest_rank(samples: &[u64], p: f64) -> Option<u64> {
    if samples.is_empty() {
        return None;
    }
    let n = samples.len();
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    Some(samples[rank.clamp(1, n) - 1])
}

/// The percentiles one row of a table reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

/// The median of a few timings (the lower middle one for an even count).
pub fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    sorted
        .get(sorted.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or_default()
}

/// A duration in milliseconds with precision that suits its size.
pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1.0 {
        format!("{ms:.3} ms")
    } else if ms < 100.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// Operations per second.
pub fn rate(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        let count = count as f64;
        count / secs
    } else {
        0.0
    }
}

/// A rate with thousands separators, rounded to whole operations per second.
pub fn per_sec(rate: f64) -> String {
    let whole = rate.round().max(0.0) as u64;
    let digits = whole.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out}/s")
}

/// "met" or "**MISS**", for the target column.
pub fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**MISS**" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut l = Latencies::default();
        for n in (1..=100).rev() {
            l.push_nanos(n * 1000);
        }
        let s = l.summary();
        assert_eq!(s.count, 100);
        assert_eq!(s.p50, Duration::from_micros(50));
        assert_eq!(s.p99, Duration::from_micros(99));
        assert_eq!(s.max, Duration::from_micros(100));
    }

    #[test]
    fn one_sample_is_every_percentile_and_none_is_zero() {
        let mut l = Latencies::default();
        assert_eq!(l.summary().p99, Duration::ZERO);
        l.push(Duration::from_millis(3));
        let s = l.summary();
        assert_eq!((s.p50, s.p99, s.max), (s.max, s.max, Duration::from_millis(3)));
    }

    #[test]
    fn merging_keeps_every_sample() {
        let mut a = Latencies::default();
        a.push_nanos(5);
        let mut b = Latencies::default();
        b.push_nanos(1);
        b.push_nanos(9);
        a.merge(b);
        assert_eq!(a.len(), 3);
        assert_eq!(a.summary().p50, Duration::from_nanos(5));
    }

    #[test]
    fn medians_and_formats() {
        let t = |ms| Duration::from_millis(ms);
        assert_eq!(median(&[t(9), t(1), t(5)]), t(5));
        assert_eq!(median(&[t(4), t(1), t(3), t(2)]), t(2));
        assert_eq!(median(&[]), Duration::ZERO);
        assert_eq!(per_sec(12_345.6), "12,346/s");
        assert_eq!(per_sec(999.0), "999/s");
        assert_eq!(ms(Duration::from_micros(250)), "0.250 ms");
        assert_eq!(ms(Duration::from_micros(12_345)), "12.35 ms");
        assert_eq!(ms(Duration::from_millis(1_234)), "1234 ms");
    }
}
