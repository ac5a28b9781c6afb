//! The scheduling queue, as Kubernetes' `PriorityQueue`: an active queue ordered by priority
//! then arrival, a backoff queue for pods whose last attempt failed (1 s doubling to 10 s),
//! and a parking place for unschedulable pods until a cluster event could make them fit (or
//! a periodic flush gives them another try).

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use podium_proto::k8s::core::v1::Pod;
use tokio::sync::Notify;
use tokio::time::Instant;

pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Unschedulable pods get another try at least this often, whatever happens.
pub const MAX_UNSCHEDULABLE_WAIT: Duration = Duration::from_secs(60);

/// A pod taken from the queue for one scheduling attempt.
#[derive(Debug, Clone)]
pub struct QueuedPod {
    pub pod: Arc<Pod>,
    /// Attempts so far, this one included.
    pub attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Active,
    Backoff(Instant),
    Unschedulable(Instant),
    InFlight,
}

#[derive(Debug)]
struct Entry {
    pod: Arc<Pod>,
    attempts: u32,
    /// Arrival order, for ties in priority.
    seq: u64,
    place: Place,
    /// A cluster event arrived while this pod was being scheduled: if the attempt fails, it
    /// must not be parked as unschedulable, since the event may have made it fit.
    moved_in_flight: bool,
}

type ActiveKey = (Reverse<i32>, u64, String);

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    active: BTreeSet<ActiveKey>,
    next_seq: u64,
    closed: bool,
}

fn uid(pod: &Pod) -> String {
    pod.metadata.as_ref().map(|m| m.uid.clone()).unwrap_or_default()
}

fn priority(pod: &Pod) -> i32 {
    pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
}

/// The back-off after `attempts` failed attempts: 1 s, 2 s, 4 s, 8 s, then 10 s.
pub fn backoff(attempts: u32) -> Duration {
    let shift = attempts.saturating_sub(1).min(10);
    (INITIAL_BACKOFF * (1u32 << shift)).min(MAX_BACKOFF)
}

#[derive(Debug, Default)]
pub struct SchedulingQueue {
    inner: Mutex<Inner>,
    notify: Notify,
}

impl Inner {
    fn activate(&mut self, id: &str) {
        if let Some(entry) = self.entries.get_mut(id) {
            entry.place = Place::Active;
            self.active
                .insert((Reverse(priority(&entry.pod)), entry.seq, id.to_owned()));
        }
    }

    fn deactivate(&mut self, id: &str) {
        if let Some(entry) = self.entries.get(id) {
            self.active
                .remove(&(Reverse(priority(&entry.pod)), entry.seq, id.to_owned()));
        }
    }

    /// Moves pods whose wait is over into the active queue; returns the next time to look.
    fn flush(&mut self, now: Instant) -> Option<Instant> {
        let mut due = Vec::new();
        let mut next: Option<Instant> = None;
        for (id, entry) in &self.entries {
            let until = match entry.place {
                Place::Backoff(until) => until,
                Place::Unschedulable(since) => since + MAX_UNSCHEDULABLE_WAIT,
                _ => continue,
            };
            if until <= now {
                due.push(id.clone());
            } else {
                next = Some(next.map_or(until, |n| n.min(until)));
            }
        }
        for id in due {
            self.activate(&id);
        }
        next
    }
}

impl SchedulingQueue {
    /// Adds a pending pod, or updates one already queued.
    pub fn add_or_update(&self, pod: Arc<Pod>) {
        let id = uid(&pod);
        let mut inner = self.inner.lock();
        if let Some(place) = inner.entries.get(&id).map(|e| e.place) {
            inner.deactivate(&id);
            let entry = inner.entries.get_mut(&id).expect("present");
            entry.pod = pod;
            match place {
                Place::Active => inner.activate(&id),
                // An update may make an unschedulable pod fit: give it a try after its back-off.
                Place::Unschedulable(_) => {
                    let until = Instant::now() + backoff(entry.attempts);
                    entry.place = Place::Backoff(until);
                }
                Place::Backoff(_) | Place::InFlight => {}
            }
        } else {
            let seq = inner.next_seq;
            inner.next_seq += 1;
            inner.entries.insert(
                id.clone(),
                Entry {
                    pod,
                    attempts: 0,
                    seq,
                    place: Place::Active,
                    moved_in_flight: false,
                },
            );
            inner.activate(&id);
        }
        drop(inner);
        self.notify.notify_one();
    }

    /// Forgets a pod (deleted, bound, or no longer ours).
    pub fn delete(&self, id: &str) {
        let mut inner = self.inner.lock();
        inner.deactivate(id);
        inner.entries.remove(id);
    }

    /// Waits for the next pod to schedule; `None` once the queue is closed.
    pub async fn pop(&self) -> Option<QueuedPod> {
        loop {
            let notified = self.notify.notified();
            let next = {
                let mut inner = self.inner.lock();
                if inner.closed {
                    return None;
                }
                let next_wake = inner.flush(Instant::now());
                if let Some(key) = inner.active.pop_first() {
                    let entry = inner.entries.get_mut(&key.2).expect("active pods have entries");
                    entry.place = Place::InFlight;
                    entry.attempts += 1;
                    entry.moved_in_flight = false;
                    return Some(QueuedPod {
                        pod: entry.pod.clone(),
                        attempts: entry.attempts,
                    });
                }
                next_wake
            };
            match next {
                Some(at) => {
                    tokio::select! {
                        () = notified => {}
                        () = tokio::time::sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// The attempt succeeded: the pod leaves the queue.
    pub fn done(&self, id: &str) {
        self.delete(id);
    }

    /// The attempt failed. An unschedulable pod is parked until a cluster event (unless one
    /// came during the attempt); any other failure backs off.
    pub fn requeue(&self, id: &str, unschedulable: bool) {
        let mut inner = self.inner.lock();
        let now = Instant::now();
        if let Some(entry) = inner.entries.get_mut(id) {
            entry.place = if unschedulable && !entry.moved_in_flight {
                Place::Unschedulable(now)
            } else {
                Place::Backoff(now + backoff(entry.attempts))
            };
        }
        drop(inner);
        self.notify.notify_one();
    }

    /// A cluster event that may make unschedulable pods fit: they go to back-off (or straight
    /// to the active queue when their back-off is over).
    pub fn move_all_to_active_or_backoff(&self, event: &str) {
        let mut inner = self.inner.lock();
        let now = Instant::now();
        let mut moved = 0;
        let mut to_activate = Vec::new();
        for (id, entry) in inner.entries.iter_mut() {
            match entry.place {
                Place::Unschedulable(since) => {
                    // The back-off counts from the failed attempt.
                    let until = since + backoff(entry.attempts);
                    if until <= now {
                        to_activate.push(id.clone());
                    } else {
                        entry.place = Place::Backoff(until);
                    }
                    moved += 1;
                }
                Place::InFlight => entry.moved_in_flight = true,
                _ => {}
            }
        }
        for id in to_activate {
            inner.activate(&id);
        }
        drop(inner);
        if moved > 0 {
            tracing::debug!(event, moved, "unschedulable pods moved for another try");
        }
        self.notify.notify_one();
    }

    /// Ends `pop` for good.
    pub fn close(&self) {
        self.inner.lock().closed = true;
        self.notify.notify_waiters();
    }

    /// (active, backoff, unschedulable) counts.
    pub fn lengths(&self) -> (usize, usize, usize) {
        let inner = self.inner.lock();
        let mut counts = (inner.active.len(), 0, 0);
        for entry in inner.entries.values() {
            match entry.place {
                Place::Backoff(_) => counts.1 += 1,
                Place::Unschedulable(_) => counts.2 += 1,
                _ => {}
            }
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use podium_proto::k8s::core::v1::PodSpec;
    use podium_proto::k8s::meta::v1::ObjectMeta;

    use super::*;

    fn pod(uid: &str, priority: i32) -> Arc<Pod> {
        Arc::new(Pod {
            metadata: Some(ObjectMeta {
                name: uid.into(),
                uid: uid.into(),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                priority: Some(priority),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    async fn next(queue: &SchedulingQueue) -> String {
        let popped = tokio::time::timeout(Duration::from_secs(3600), queue.pop())
            .await
            .unwrap()
            .unwrap();
        popped.pod.metadata.as_ref().unwrap().uid.clone()
    }

    #[tokio::test(start_paused = true)]
    async fn higher_priority_first_then_arrival_order() {
        let queue = SchedulingQueue::default();
        queue.add_or_update(pod("low-1", 0));
        queue.add_or_update(pod("high", 100));
        queue.add_or_update(pod("low-2", 0));
        assert_eq!(next(&queue).await, "high");
        assert_eq!(next(&queue).await, "low-1");
        assert_eq!(next(&queue).await, "low-2");
    }

    #[test]
    fn backoff_doubles_from_one_to_ten_seconds() {
        let secs: Vec<u64> = (1..=6).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 10, 10]);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_attempts_back_off() {
        let queue = SchedulingQueue::default();
        queue.add_or_update(pod("a", 0));
        assert_eq!(next(&queue).await, "a");
        queue.requeue("a", false);
        let start = Instant::now();
        assert_eq!(next(&queue).await, "a");
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        queue.requeue("a", false);
        let start = Instant::now();
        assert_eq!(next(&queue).await, "a");
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn unschedulable_pods_wait_for_an_event_or_the_flush() {
        let queue = SchedulingQueue::default();
        queue.add_or_update(pod("a", 0));
        next(&queue).await;
        queue.requeue("a", true);
        assert_eq!(queue.lengths(), (0, 0, 1));
        tokio::time::advance(Duration::from_secs(5)).await;
        queue.move_all_to_active_or_backoff("NodeAdd");
        let start = Instant::now();
        assert_eq!(next(&queue).await, "a");
        assert!(start.elapsed() <= Duration::from_secs(1));

        queue.requeue("a", true);
        let start = Instant::now();
        assert_eq!(next(&queue).await, "a", "the periodic flush retries it");
        assert_eq!(start.elapsed(), MAX_UNSCHEDULABLE_WAIT);
    }

    #[tokio::test(start_paused = true)]
    async fn an_event_during_the_attempt_prevents_parking() {
        let queue = SchedulingQueue::default();
        queue.add_or_update(pod("a", 0));
        next(&queue).await;
        queue.move_all_to_active_or_backoff("NodeAdd");
        queue.requeue("a", true);
        assert_eq!(queue.lengths(), (0, 1, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn deleted_pods_leave_the_queue() {
        let queue = SchedulingQueue::default();
        queue.add_or_update(pod("a", 0));
        queue.add_or_update(pod("b", 0));
        queue.delete("a");
        assert_eq!(next(&queue).await, "b");
        queue.close();
        assert!(queue.pop().await.is_none());
    }
}
