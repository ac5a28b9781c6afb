//! `Store` on sled: one tree, one writer at a time, a flusher thread doing group commit.
//!
//! Writers take the write lock only to read, run the mutation and apply one atomic batch; they
//! then wait, without the lock, until the flusher has made their resourceVersion durable. The
//! flusher flushes once for everything written since its last flush, then publishes those
//! commits to watchers. When idle it compacts the history.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use parking_lot::{Condvar, Mutex};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use super::codec::{self, HISTORY_PREFIX, META_COMPACTED, META_RV};
use super::{
    Change, ChangeType, Commit, CommitObserver, ListPage, Mutation, Result, Rv, Store, StoreError, Stored, Write,
};

/// How much history the store keeps for watches.
#[derive(Debug, Clone)]
pub struct SledStoreOptions {
    /// At most this many commits are kept.
    pub history_max_commits: u64,
    /// Commits older than this are dropped.
    pub history_max_age: Duration,
    /// How often the history is compacted.
    pub compaction_interval: Duration,
}

impl Default for SledStoreOptions {
    fn default() -> Self {
        SledStoreOptions {
            history_max_commits: 200_000,
            history_max_age: Duration::from_secs(5 * 60),
            compaction_interval: Duration::from_secs(10),
        }
    }
}

/// Commits buffered for slow watchers before they must re-read the history.
const EVENT_BUFFER: usize = 8192;

struct WriterState {
    last_rv: Rv,
    /// Commits applied but not yet flushed, in order; the flusher publishes them once durable.
    unflushed: Vec<Arc<Commit>>,
    closed: bool,
}

struct Inner {
    db: sled::Db,
    writer: Mutex<WriterState>,
    /// Wakes the flusher when there is something to flush, or on shutdown.
    wake: Condvar,
    durable: watch::Sender<Rv>,
    events: broadcast::Sender<Arc<Commit>>,
    oldest: AtomicU64,
    /// Ends every watch when the store closes.
    closed: CancellationToken,
    observers: parking_lot::RwLock<Vec<Arc<dyn CommitObserver>>>,
    options: SledStoreOptions,
}

/// The sled-backed store. Dropping it (or `close`) flushes and stops the flusher.
pub struct SledStore {
    inner: Arc<Inner>,
    flusher: Mutex<Option<JoinHandle<()>>>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl SledStore {
    /// Opens (or creates) the store in `dir`, resuming its resourceVersion sequence.
    pub fn open(dir: &Path, options: SledStoreOptions) -> Result<Self> {
        let db = sled::Config::new().path(dir).flush_every_ms(None).open()?;
        let last_rv = db.get(META_RV)?.map(|v| codec::decode_rv(&v)).transpose()?.unwrap_or(0);
        let oldest = db
            .get(META_COMPACTED)?
            .map(|v| codec::decode_rv(&v))
            .transpose()?
            .unwrap_or(0);
        let (durable, _) = watch::channel(last_rv);
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let inner = Arc::new(Inner {
            db,
            writer: Mutex::new(WriterState {
                last_rv,
                unflushed: Vec::new(),
                closed: false,
            }),
            wake: Condvar::new(),
            durable,
            events,
            oldest: AtomicU64::new(oldest),
            closed: CancellationToken::new(),
            observers: parking_lot::RwLock::new(Vec::new()),
            options,
        });
        let flusher = {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name("store-flusher".into())
                .spawn(move || inner.run_flusher())
                .map_err(|e| StoreError::Aborted(Box::new(e)))?
        };
        Ok(SledStore {
            inner,
            flusher: Mutex::new(Some(flusher)),
        })
    }

    /// Flushes what is written and stops the flusher; later writes fail with `Closed`.
    pub fn close(&self) {
        self.inner.writer.lock().closed = true;
        self.inner.wake.notify_all();
        if let Some(handle) = self.flusher.lock().take() {
            let _ = handle.join();
        }
        self.inner.closed.cancel();
    }

    /// Drops history now rather than at the next interval (for tests and tools).
    pub fn compact_now(&self) -> Result<()> {
        self.inner.compact()
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        self.close();
    }
}

impl Inner {
    fn run_flusher(&self) {
        loop {
            let (target, commits) = {
                let mut w = self.writer.lock();
                if w.unflushed.is_empty() && !w.closed {
                    let timed_out = self.wake.wait_for(&mut w, self.options.compaction_interval).timed_out();
                    if timed_out && w.unflushed.is_empty() {
                        drop(w);
                        if let Err(e) = self.compact() {
                            tracing::warn!(error = %e, "history compaction failed");
                        }
                        continue;
                    }
                }
                if w.unflushed.is_empty() && w.closed {
                    break;
                }
                (w.last_rv, std::mem::take(&mut w.unflushed))
            };
            let flush = std::time::Instant::now();
            while let Err(e) = self.db.flush() {
                tracing::error!(error = %e, "flushing the store failed; retrying");
                std::thread::sleep(Duration::from_millis(100));
            }
            crate::metrics::STORE_FLUSH.observe(flush.elapsed().as_secs_f64());
            {
                let observers = self.observers.read();
                for commit in &commits {
                    for observer in observers.iter() {
                        observer.observe(commit);
                    }
                }
            }
            // Durable first, then published: a watcher that reads the history up to the durable
            // resourceVersion and then listens cannot miss a commit between the two.
            self.durable.send_replace(target);
            for commit in commits {
                let _ = self.events.send(commit);
            }
        }
        if let Err(e) = self.db.flush() {
            tracing::error!(error = %e, "final flush of the store failed");
        }
    }

    fn compact(&self) -> Result<()> {
        let durable = *self.durable.borrow();
        let mut cutoff = durable.saturating_sub(self.options.history_max_commits);
        let too_old = unix_now().saturating_sub(self.options.history_max_age.as_secs());
        for entry in self.db.scan_prefix(HISTORY_PREFIX) {
            let (key, value) = entry?;
            let rv = codec::rv_of_history_key(&key)?;
            if rv > durable || codec::history_time(&value).is_some_and(|t| t > too_old) {
                break;
            }
            cutoff = cutoff.max(rv);
        }
        let oldest = self.oldest.load(Ordering::Acquire);
        if cutoff <= oldest {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        let end = codec::history_key(cutoff);
        for key in self
            .db
            .range(codec::history_key(oldest).as_slice()..=end.as_slice())
            .keys()
        {
            batch.remove(key?);
        }
        batch.insert(META_COMPACTED, &codec::encode_rv(cutoff));
        self.db.apply_batch(batch)?;
        self.oldest.store(cutoff, Ordering::Release);
        tracing::debug!(oldest = cutoff, "compacted store history");
        Ok(())
    }

    fn apply(&self, keys: &[String], mutation: Mutation) -> Result<Rv> {
        let mut w = self.writer.lock();
        if w.closed {
            return Err(StoreError::Closed);
        }
        let mut current = Vec::with_capacity(keys.len());
        for key in keys {
            let raw = self.db.get(codec::object_key(key))?;
            current.push(raw.map(|raw| codec::decode_object(key, &raw)).transpose()?);
        }
        let writes = mutation(current.clone()).map_err(StoreError::Aborted)?;
        let rv = w.last_rv + 1;
        let mut batch = sled::Batch::default();
        let mut changes = Vec::new();
        for ((key, cur), write) in keys.iter().zip(current).zip(writes) {
            let prev = cur.map(|c| c.value);
            match write {
                None => {}
                Some(Write::Put(value)) => {
                    batch.insert(codec::object_key(key), codec::encode_object(rv, &value));
                    let change = if prev.is_some() {
                        ChangeType::Modified
                    } else {
                        ChangeType::Added
                    };
                    changes.push(Change {
                        key: key.clone(),
                        change,
                        value,
                        prev,
                    });
                }
                Some(Write::Delete) => {
                    if let Some(last) = prev {
                        batch.remove(codec::object_key(key));
                        changes.push(Change {
                            key: key.clone(),
                            change: ChangeType::Deleted,
                            value: last.clone(),
                            prev: Some(last),
                        });
                    }
                }
            }
        }
        if changes.is_empty() {
            return Ok(w.last_rv);
        }
        let commit = Commit::new(rv, changes);
        batch.insert(codec::history_key(rv), codec::encode_history(unix_now(), &commit));
        batch.insert(META_RV, &codec::encode_rv(rv));
        self.db.apply_batch(batch)?;
        w.last_rv = rv;
        w.unflushed.push(Arc::new(commit));
        drop(w);
        self.wake.notify_one();
        Ok(rv)
    }

    /// The history after `since`, up to and including `upto`, filtered to `prefix`.
    fn history(&self, prefix: &str, since: Rv, upto: Rv) -> Result<Vec<Arc<Commit>>> {
        let mut out = Vec::new();
        if since >= upto {
            return Ok(out);
        }
        let mut expected = since + 1;
        let (lo, hi) = (codec::history_key(since + 1), codec::history_key(upto));
        for entry in self.db.range(lo.as_slice()..=hi.as_slice()) {
            let (key, value) = entry?;
            let rv = codec::rv_of_history_key(&key)?;
            if rv != expected {
                // Compaction removed part of the range while it was read.
                return Err(StoreError::Compacted {
                    requested: since,
                    oldest: self.oldest.load(Ordering::Acquire),
                });
            }
            expected += 1;
            if let Some(commit) = filter(Arc::new(codec::decode_history(rv, &value)?), prefix) {
                out.push(commit);
            }
        }
        if expected != upto + 1 {
            return Err(StoreError::Compacted {
                requested: since,
                oldest: self.oldest.load(Ordering::Acquire),
            });
        }
        Ok(out)
    }
}

/// The part of a commit under `prefix`, if any.
fn filter(commit: Arc<Commit>, prefix: &str) -> Option<Arc<Commit>> {
    if commit.changes.iter().all(|c| c.key.starts_with(prefix)) {
        return Some(commit);
    }
    let changes: Vec<Change> = commit
        .changes
        .iter()
        .filter(|c| c.key.starts_with(prefix))
        .cloned()
        .collect();
    (!changes.is_empty()).then(|| Arc::new(Commit::new(commit.rv, changes)))
}

impl Store for SledStore {
    fn add_observer(&self, observer: Arc<dyn CommitObserver>) {
        self.inner.observers.write().push(observer);
    }

    fn get(&self, key: &str) -> Result<Option<Stored>> {
        let raw = self.inner.db.get(codec::object_key(key))?;
        raw.map(|raw| codec::decode_object(key, &raw)).transpose()
    }

    fn list(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<ListPage> {
        let rv = self.current_rv();
        let full_prefix = codec::object_key(prefix);
        let lower = match start_after {
            Some(after) => Bound::Excluded(codec::object_key(after)),
            None => Bound::Included(full_prefix.clone()),
        };
        let mut page = ListPage {
            items: Vec::new(),
            rv,
            next: None,
        };
        for entry in self.inner.db.range::<Vec<u8>, _>((lower, Bound::Unbounded)) {
            let (raw_key, raw) = entry?;
            if !raw_key.starts_with(&full_prefix) {
                break;
            }
            let key = String::from_utf8_lossy(&raw_key[codec::OBJECT_PREFIX.len()..]).into_owned();
            if limit > 0 && page.items.len() == limit {
                page.next = page.items.last().map(|(k, _)| k.clone());
                break;
            }
            let stored = codec::decode_object(&key, &raw)?;
            page.items.push((key, stored));
        }
        Ok(page)
    }

    fn mutate(&self, keys: Vec<String>, mutation: Mutation) -> BoxFuture<'_, Result<Rv>> {
        Box::pin(async move {
            let start = std::time::Instant::now();
            let rv = self.inner.apply(&keys, mutation)?;
            let mut durable = self.inner.durable.subscribe();
            durable.wait_for(|d| *d >= rv).await.map_err(|_| StoreError::Closed)?;
            crate::metrics::STORE_WRITE.observe(start.elapsed().as_secs_f64());
            Ok(rv)
        })
    }

    fn watch(&self, prefix: &str, since: Rv) -> Result<BoxStream<'static, Result<Arc<Commit>>>> {
        let inner = self.inner.clone();
        let mut live = inner.events.subscribe();
        let oldest = self.oldest_rv();
        if since < oldest {
            return Err(StoreError::Compacted {
                requested: since,
                oldest,
            });
        }
        let prefix = prefix.to_owned();
        let stream = async_stream::try_stream! {
            let mut last = since;
            let upto = *inner.durable.borrow();
            for commit in inner.history(&prefix, last, upto)? {
                yield commit;
            }
            last = last.max(upto);
            loop {
                let next = tokio::select! {
                    next = live.recv() => next,
                    () = inner.closed.cancelled() => Err(broadcast::error::RecvError::Closed),
                };
                match next {
                    Ok(commit) => {
                        if commit.rv <= last {
                            continue;
                        }
                        let rv = commit.rv;
                        if let Some(commit) = filter(commit, &prefix) {
                            yield commit;
                        }
                        last = rv;
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Too slow for the buffer: read what was missed from the history.
                        let upto = *inner.durable.borrow();
                        for commit in inner.history(&prefix, last, upto)? {
                            yield commit;
                        }
                        last = last.max(upto);
                    }
                    Err(broadcast::error::RecvError::Closed) => Err(StoreError::Closed)?,
                }
            }
        };
        Ok(Box::pin(stream))
    }

    fn current_rv(&self) -> Rv {
        *self.inner.durable.borrow()
    }

    fn oldest_rv(&self) -> Rv {
        self.inner.oldest.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests;
