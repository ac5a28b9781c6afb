//! The durable object store: the only code in Podium that opens sled.
//!
//! Objects are opaque bytes under string keys (`<resource>/<namespace>/<name>`, or
//! `<resource>/<name>` for cluster-scoped kinds). Every commit takes the next value of one
//! global, persisted resourceVersion counter, and is recorded in a history keyed by that
//! resourceVersion, so a watch can resume from any resourceVersion the history still holds.
//! The history is compacted by count and by age; asking for a compacted resourceVersion is
//! `StoreError::Compacted` (Kubernetes' 410 Expired).
//!
//! A commit is acknowledged only once it is on disk. Concurrent committers share one flush
//! (group commit), and watchers see a commit only after it is durable, so nothing a watcher
//! saw can be lost in a crash.
//!
//! `Store` is the seam for another backend (etcd, for HA): the registry only sees the trait.

mod codec;
mod sled_store;

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;

pub use sled_store::{SledStore, SledStoreOptions};

/// A resourceVersion: the global commit counter.
pub type Rv = u64;

/// One object as stored, with the resourceVersion of the commit that last wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub rv: Rv,
    pub value: Bytes,
}

/// What one commit did to one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    Added,
    Modified,
    Deleted,
}

/// One key's change within a commit.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub key: String,
    pub change: ChangeType,
    /// The new value, or for a delete the last value.
    pub value: Bytes,
    /// The value before this commit, if the key existed; watches need it to tell when an
    /// object stops or starts matching a selector.
    pub prev: Option<Bytes>,
}

/// Everything one commit changed, at one resourceVersion.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    pub rv: Rv,
    pub changes: Vec<Change>,
    /// What readers derived from the changes (decoded objects), computed once and shared by
    /// every watcher that receives this same commit.
    pub memo: Memo,
}

impl Commit {
    pub fn new(rv: Rv, changes: Vec<Change>) -> Self {
        Commit {
            rv,
            changes,
            memo: Memo::default(),
        }
    }
}

/// A value computed at most once per commit, whatever its type; it takes no part in equality.
#[derive(Default, Clone)]
pub struct Memo(Arc<std::sync::OnceLock<Arc<dyn std::any::Any + Send + Sync>>>);

impl Memo {
    /// The memoised value, computing it with `init` the first time; `None` if a value of
    /// another type was stored.
    pub fn get_or_init<T: std::any::Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Option<Arc<T>> {
        let value = self.0.get_or_init(|| Arc::new(init()));
        value.clone().downcast::<T>().ok()
    }
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Memo")
    }
}

impl PartialEq for Memo {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// What a mutation asks for one key.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Put(Bytes),
    Delete,
}

/// An error a mutation returns to abort its commit; it reaches the caller unchanged.
pub type AbortReason = Box<dyn std::error::Error + Send + Sync>;

/// A read-modify-write over a set of keys: it sees their current values (in the order the
/// keys were given) and returns, per key, the write to make (`None` leaves the key alone).
/// It runs while no other commit can interleave, so it is the place for preconditions.
pub type Mutation = Box<dyn FnOnce(Vec<Option<Stored>>) -> Result<Vec<Option<Write>>, AbortReason> + Send>;

/// One page of a list.
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    pub items: Vec<(String, Stored)>,
    /// The resourceVersion the list is consistent with: a watch from it misses nothing.
    pub rv: Rv,
    /// The key to continue after, when the page was cut short by the limit.
    pub next: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error("too old resource version: {requested} ({oldest})")]
    Compacted { requested: Rv, oldest: Rv },
    #[error("corrupt record {0}")]
    Corrupt(String),
    #[error(transparent)]
    Aborted(AbortReason),
    #[error("the store is shut down")]
    Closed,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Sees every commit, in order, once it is durable and before any caller or watcher learns of
/// it: what an observer keeps is never behind an acknowledged write.
pub trait CommitObserver: Send + Sync + 'static {
    fn observe(&self, commit: &Commit);
}

/// A durable, versioned key-value store with watches.
pub trait Store: Send + Sync + 'static {
    /// Registers an observer of every later commit.
    fn add_observer(&self, observer: Arc<dyn CommitObserver>);

    /// The current value of a key.
    fn get(&self, key: &str) -> Result<Option<Stored>>;

    /// Up to `limit` keys under `prefix` (0 = no limit), in key order, after `start_after`.
    fn list(&self, prefix: &str, start_after: Option<&str>, limit: usize) -> Result<ListPage>;

    /// Applies a mutation atomically and resolves once the commit is durable, to its
    /// resourceVersion (or to the resourceVersion it last saw if the mutation wrote nothing).
    fn mutate(&self, keys: Vec<String>, mutation: Mutation) -> BoxFuture<'_, Result<Rv>>;

    /// Every change under `prefix` after resourceVersion `since`, in order, then live changes.
    fn watch(&self, prefix: &str, since: Rv) -> Result<BoxStream<'static, Result<Arc<Commit>>>>;

    /// The newest durable resourceVersion.
    fn current_rv(&self) -> Rv;

    /// The oldest resourceVersion a watch can start from.
    fn oldest_rv(&self) -> Rv;
}
