//! The object cache: every stored object, decoded once, in memory.
//!
//! Reads (get, list, the initial state of a watch, admission lookups) are served from here
//! instead of decoding from sled on every request; selector lists over 100k pods then cost a
//! scan of in-memory label maps. The store feeds the cache as a `CommitObserver`: each commit
//! is applied once it is durable and before its writer is answered, so the cache never lags
//! an acknowledged write. Writes still read the store itself inside their transaction.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;
use podium_proto::k8s::coordination::v1::Lease;
use podium_proto::k8s::core::v1::{Event, Namespace, Node, Pod};
use podium_proto::k8s::scheduling::v1::PriorityClass;

use super::{Kind, Result, decode, decode_bytes, prefix, storage_error};
use crate::store::{Change, ChangeType, Commit, CommitObserver, Rv, Store};

/// The cached objects of one kind, by store key, with an index of their labels.
pub(crate) struct KindCache<K> {
    objects: RwLock<Objects<K>>,
}

struct Objects<K> {
    by_key: BTreeMap<String, Arc<K>>,
    /// (label key, label value) → the store keys of the objects carrying it, so a selector
    /// such as `app=web` reads only the objects it can match.
    by_label: HashMap<(String, String), BTreeSet<String>>,
}

impl<K> Default for Objects<K> {
    fn default() -> Self {
        Objects {
            by_key: BTreeMap::new(),
            by_label: HashMap::new(),
        }
    }
}

fn label_pairs<K: Kind>(obj: &K) -> impl Iterator<Item = (String, String)> + '_ {
    obj.labels().into_iter().flatten().map(|(k, v)| (k.clone(), v.clone()))
}

impl<K: Kind> Objects<K> {
    fn insert(&mut self, key: String, obj: Arc<K>) {
        self.remove(&key);
        for pair in label_pairs(obj.as_ref()) {
            self.by_label.entry(pair).or_default().insert(key.clone());
        }
        self.by_key.insert(key, obj);
    }

    fn remove(&mut self, key: &str) {
        let Some(old) = self.by_key.remove(key) else { return };
        for pair in label_pairs(old.as_ref()) {
            if let Some(keys) = self.by_label.get_mut(&pair) {
                keys.remove(key);
                if keys.is_empty() {
                    self.by_label.remove(&pair);
                }
            }
        }
    }
}

impl<K: Kind> KindCache<K> {
    pub(crate) fn get(&self, key: &str) -> Option<Arc<K>> {
        self.objects.read().by_key.get(key).cloned()
    }

    /// Calls `visit` for each object under `prefix` after `start_after`, in key order, until it
    /// returns false; with `label`, only for objects carrying that label. The read lock is held
    /// throughout: keep `visit` cheap.
    pub(crate) fn scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        label: Option<(&str, &str)>,
        mut visit: impl FnMut(&str, &Arc<K>) -> bool,
    ) {
        let objects = self.objects.read();
        let lower = match start_after {
            Some(after) => Bound::Excluded(after),
            None => Bound::Included(prefix),
        };
        match label {
            None => {
                for (key, obj) in objects.by_key.range::<str, _>((lower, Bound::Unbounded)) {
                    if !key.starts_with(prefix) || !visit(key, obj) {
                        break;
                    }
                }
            }
            Some((name, value)) => {
                let Some(keys) = objects.by_label.get(&(name.to_owned(), value.to_owned())) else {
                    return;
                };
                for key in keys.range::<str, _>((lower, Bound::Unbounded)) {
                    let Some(obj) = objects.by_key.get(key) else { continue };
                    if !key.starts_with(prefix) || !visit(key, obj) {
                        break;
                    }
                }
            }
        }
    }
}

/// What the cache does with one kind's changes, whatever the kind.
trait KindEntry: Send + Sync {
    fn apply(&self, change: &Change, rv: Rv);
    fn load(&self, store: &dyn Store) -> Result<usize>;
    fn len(&self) -> usize;
    fn as_any(&self) -> &(dyn Any + Send + Sync);
}

impl<K: Kind> KindEntry for KindCache<K> {
    fn apply(&self, change: &Change, rv: Rv) {
        match change.change {
            ChangeType::Deleted => {
                self.objects.write().remove(&change.key);
            }
            ChangeType::Added | ChangeType::Modified => match decode_bytes::<K>(&change.value, rv) {
                Ok(obj) => {
                    let obj = Arc::new(obj);
                    self.objects.write().insert(change.key.clone(), obj);
                }
                Err(e) => tracing::error!(key = %change.key, error = %e, "undecodable object left out of the cache"),
            },
        }
    }

    fn load(&self, store: &dyn Store) -> Result<usize> {
        let page = store.list(&prefix::<K>(""), None, 0).map_err(storage_error)?;
        let mut objects = self.objects.write();
        for (key, stored) in &page.items {
            objects.insert(key.clone(), Arc::new(decode::<K>(stored)?));
        }
        Ok(page.items.len())
    }

    fn len(&self) -> usize {
        self.objects.read().by_key.len()
    }

    fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self
    }
}

/// Every kind's cache, and the newest commit applied to them.
pub(crate) struct ObjectCache {
    rv: AtomicU64,
    /// By resource plural, the first segment of a store key.
    kinds: HashMap<&'static str, Box<dyn KindEntry>>,
}

impl ObjectCache {
    fn new() -> Self {
        let mut kinds: HashMap<&'static str, Box<dyn KindEntry>> = HashMap::new();
        fn add<K: Kind>(kinds: &mut HashMap<&'static str, Box<dyn KindEntry>>) {
            kinds.insert(
                K::PLURAL,
                Box::new(KindCache::<K> {
                    objects: RwLock::default(),
                }),
            );
        }
        add::<Pod>(&mut kinds);
        add::<Node>(&mut kinds);
        add::<Namespace>(&mut kinds);
        add::<Event>(&mut kinds);
        add::<Lease>(&mut kinds);
        add::<PriorityClass>(&mut kinds);
        ObjectCache {
            rv: AtomicU64::new(0),
            kinds,
        }
    }

    /// A cache filled from `store` and registered to follow it.
    pub(crate) fn follow(store: &Arc<dyn Store>) -> Result<Arc<Self>> {
        let cache = Arc::new(ObjectCache::new());
        // Observe first, then load: a commit landing in between is applied twice, which is
        // harmless, rather than not at all.
        store.add_observer(cache.clone());
        let rv = store.current_rv();
        let mut loaded = 0;
        for entry in cache.kinds.values() {
            loaded += entry.load(store.as_ref())?;
        }
        cache.rv.fetch_max(rv, Ordering::AcqRel);
        tracing::info!(objects = loaded, resource_version = rv, "object cache loaded");
        Ok(cache)
    }

    /// The newest commit every cached kind reflects.
    pub(crate) fn rv(&self) -> Rv {
        self.rv.load(Ordering::Acquire)
    }

    /// How many objects of each resource there are.
    pub(crate) fn counts(&self) -> Vec<(&'static str, usize)> {
        self.kinds
            .iter()
            .map(|(plural, entry)| (*plural, entry.len()))
            .collect()
    }

    pub(crate) fn kind<K: Kind>(&self) -> &KindCache<K> {
        self.kinds
            .get(K::PLURAL)
            .and_then(|entry| entry.as_any().downcast_ref::<KindCache<K>>())
            .unwrap_or_else(|| unreachable!("every Kind has a cache ({})", K::PLURAL))
    }
}

impl CommitObserver for ObjectCache {
    fn observe(&self, commit: &Commit) {
        for change in &commit.changes {
            let plural = change.key.split('/').next().unwrap_or_default();
            if let Some(entry) = self.kinds.get(plural) {
                entry.apply(change, commit.rv);
            }
        }
        self.rv.fetch_max(commit.rv, Ordering::AcqRel);
    }
}
