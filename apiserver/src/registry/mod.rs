//! The registry: Kubernetes API semantics over the store, shared by every API face.
//!
//! `Api` is the one code path for reads and writes: gRPC handlers (and the REST face) only
//! translate requests into calls here. A write runs metadata handling, the kind's defaulting
//! and validation (`podium_api::Strategy`), admission against other objects (`Kind`), and a
//! read-modify-write on the store under optimistic concurrency.
//!
//! # Layout
//! - `create`, `update`, `delete`: the write verbs, one file each; `binding` for pods/binding.
//! - `list`, `watch`: reads with label and field selectors, paging and resumable watches.
//! - `admission`: the per-kind `Kind` trait (namespace existence, pod priority).
//! - `namespace`: the built-in namespaces and the namespace-termination loop.

mod admission;
mod binding;
mod cache;
mod create;
mod delete;
mod list;
mod namespace;
mod update;
mod watch;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use podium_api::{ApiError, Resource};
use tokio_util::sync::CancellationToken;

use crate::store::{Rv, Store, StoreError, Stored};
use cache::ObjectCache;

pub use admission::Kind;
pub use list::{ListOptions, parse_resource_version};
pub use namespace::run_namespace_finalizer;
pub use watch::{BOOKMARK_INTERVAL, WatchEvent, WatchEventType, WatchOptions};

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// The API over one store.
#[derive(Clone)]
pub struct Api {
    store: Arc<dyn Store>,
    /// Every object, decoded, for reads; writes go to the store.
    cache: Arc<ObjectCache>,
    /// Ends every watch stream, so a shutting-down server can drain.
    watches_end: CancellationToken,
    /// How often a watch that allows bookmarks gets one.
    bookmark_interval: Duration,
}

impl Api {
    /// Wraps a store, creating the built-in namespaces and priority classes if missing.
    pub async fn new(store: Arc<dyn Store>) -> Result<Self> {
        let cache = ObjectCache::follow(&store)?;
        let api = Api {
            store,
            cache,
            watches_end: CancellationToken::new(),
            bookmark_interval: BOOKMARK_INTERVAL,
        };
        namespace::bootstrap(&api).await?;
        Ok(api)
    }

    /// Sets how often watches that allow bookmarks get one.
    pub fn with_bookmark_interval(mut self, interval: Duration) -> Self {
        self.bookmark_interval = interval;
        self
    }

    /// Ends every open watch (at shutdown); clients re-watch elsewhere or after a restart.
    pub fn end_watches(&self) {
        self.watches_end.cancel();
    }

    /// How many objects of each resource are stored.
    pub fn object_counts(&self) -> Vec<(&'static str, usize)> {
        self.cache.counts()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The newest durable resourceVersion.
    pub fn current_rv(&self) -> Rv {
        self.store.current_rv()
    }

    /// Reads one object.
    pub async fn get<K: Kind>(&self, namespace: &str, name: &str) -> Result<K> {
        self.try_get::<K>(namespace, name)?
            .ok_or_else(|| ApiError::not_found(&resource_name::<K>(), name))
    }

    /// Reads one object, `None` when it does not exist.
    pub fn try_get<K: Kind>(&self, namespace: &str, name: &str) -> Result<Option<K>> {
        Ok(self
            .cache
            .kind::<K>()
            .get(&key::<K>(namespace, name))
            .map(|obj| (*obj).clone()))
    }
}

/// The plural with its group, as Kubernetes names a resource in messages
/// (`pods`, `leases.coordination.k8s.io`).
pub fn resource_name<K: Resource>() -> String {
    if K::GROUP.is_empty() {
        K::PLURAL.to_owned()
    } else {
        format!("{}.{}", K::PLURAL, K::GROUP)
    }
}

/// The store key of one object.
pub fn key<K: Resource>(namespace: &str, name: &str) -> String {
    if K::NAMESPACED {
        format!("{}/{namespace}/{name}", K::PLURAL)
    } else {
        format!("{}/{name}", K::PLURAL)
    }
}

/// The store prefix of a namespace's objects of a kind, or of all of them.
pub fn prefix<K: Resource>(namespace: &str) -> String {
    if K::NAMESPACED && !namespace.is_empty() {
        format!("{}/{namespace}/", K::PLURAL)
    } else {
        format!("{}/", K::PLURAL)
    }
}

/// Encodes an object for the store; its resourceVersion and type fields are implied there.
pub(crate) fn encode<K: Resource>(obj: &K) -> Bytes {
    let mut obj = obj.clone();
    obj.metadata_mut().resource_version.clear();
    obj.clear_type_meta();
    Bytes::from(obj.encode_to_vec())
}

/// Decodes a stored object, filling in its resourceVersion and type fields.
pub(crate) fn decode<K: Resource>(stored: &Stored) -> Result<K> {
    decode_bytes::<K>(&stored.value, stored.rv)
}

pub(crate) fn decode_bytes<K: Resource>(value: &[u8], rv: Rv) -> Result<K> {
    let mut obj = K::decode(value).map_err(|e| ApiError::internal(format!("decoding stored {}: {e}", K::PLURAL)))?;
    obj.metadata_mut().resource_version = rv.to_string();
    obj.set_type_meta();
    Ok(obj)
}

/// Maps a store error to the API error clients see.
pub(crate) fn storage_error(err: StoreError) -> ApiError {
    match err {
        StoreError::Aborted(reason) => match reason.downcast::<ApiError>() {
            Ok(api) => *api,
            Err(other) => ApiError::internal(other),
        },
        StoreError::Compacted { requested, oldest } => {
            ApiError::expired(format!("too old resource version: {requested} ({oldest})"))
        }
        StoreError::Closed => ApiError::service_unavailable("the apiserver is shutting down"),
        other => ApiError::internal(other),
    }
}

/// Boxes an API error so a store mutation can abort with it.
pub(crate) fn abort(err: ApiError) -> crate::store::AbortReason {
    Box::new(err)
}
