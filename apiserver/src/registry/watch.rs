//! Watch: changes to one kind as Kubernetes watch events, with selectors applied to both the
//! new and the previous state, so an object that stops matching is seen as DELETED and one
//! that starts matching as ADDED.

use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use podium_api::{ApiError, Resource};

use super::list::Filter;
use super::{Api, Kind, ListOptions, Result, decode_bytes, parse_resource_version, prefix, storage_error};
use std::sync::Arc;

use crate::store::{ChangeType, Commit, Rv};

/// The query of a watch.
#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    pub label_selector: String,
    pub field_selector: String,
    /// Changes after this resourceVersion; "" or "0" starts with the current objects as ADDED.
    pub resource_version: String,
    pub allow_bookmarks: bool,
    /// Ends the watch after this long.
    pub timeout: Option<Duration>,
}

/// How often a watch that allows bookmarks gets one, by default.
pub const BOOKMARK_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchEventType {
    Added,
    Modified,
    Deleted,
    Bookmark,
    Error,
}

impl WatchEventType {
    /// The event type as Kubernetes spells it on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            WatchEventType::Added => "ADDED",
            WatchEventType::Modified => "MODIFIED",
            WatchEventType::Deleted => "DELETED",
            WatchEventType::Bookmark => "BOOKMARK",
            WatchEventType::Error => "ERROR",
        }
    }
}

/// One watch event. A bookmark's object carries only its resourceVersion; an error has no
/// object.
#[derive(Debug, Clone)]
pub struct WatchEvent<K> {
    pub r#type: WatchEventType,
    pub object: Option<K>,
    pub error: Option<ApiError>,
}

impl<K: Resource> WatchEvent<K> {
    fn of(r#type: WatchEventType, object: K) -> Self {
        WatchEvent {
            r#type,
            object: Some(object),
            error: None,
        }
    }
    fn bookmark(rv: Rv) -> Self {
        let mut object = K::default();
        object.metadata_mut().resource_version = rv.to_string();
        object.set_type_meta();
        Self::of(WatchEventType::Bookmark, object)
    }
    fn error(error: ApiError) -> Self {
        WatchEvent {
            r#type: WatchEventType::Error,
            object: None,
            error: Some(error),
        }
    }
}

impl Api {
    /// Watches a kind in a namespace (or all namespaces). A resourceVersion older than the
    /// store's history is a 410 Expired error.
    pub async fn watch<K: Kind>(
        &self,
        namespace: &str,
        options: WatchOptions,
    ) -> Result<BoxStream<'static, WatchEvent<K>>> {
        let filter = Filter::new::<K>(&options.label_selector, &options.field_selector)?;
        let (initial, since) = match parse_resource_version(&options.resource_version)? {
            Some(rv) => (Vec::new(), rv),
            None => {
                let (items, rv, _) = self
                    .list_filtered::<K>(namespace, &filter, &ListOptions::default())
                    .await?;
                (items, rv)
            }
        };
        let mut commits = self
            .store
            .watch(&prefix::<K>(namespace), since)
            .map_err(storage_error)?;
        let end = self.watches_end.clone();
        let interval = self.bookmark_interval;
        let stream = async_stream::stream! {
            let _watcher = crate::metrics::Watcher::new(K::KIND);
            for obj in initial {
                yield WatchEvent::of(WatchEventType::Added, obj);
            }
            let deadline = options.timeout.map(|t| tokio::time::Instant::now() + t);
            let mut bookmarks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            let mut last = since;
            loop {
                tokio::select! {
                    next = commits.next() => match next {
                        Some(Ok(commit)) => {
                            let decoded = match decode_commit::<K>(&commit) {
                                Ok(decoded) => decoded,
                                Err(e) => { yield WatchEvent::error(e); return; }
                            };
                            for (change, (object, prev)) in commit.changes.iter().zip(decoded.iter()) {
                                if let Some(event) = convert(change.change, object, prev.as_ref(), &filter) {
                                    yield event;
                                }
                            }
                            last = commit.rv;
                        }
                        Some(Err(e)) => { yield WatchEvent::error(storage_error(e)); return; }
                        None => return,
                    },
                    _ = bookmarks.tick(), if options.allow_bookmarks => yield WatchEvent::bookmark(last),
                    () = sleep_until(deadline) => return,
                    () = end.cancelled() => return,
                }
            }
        };
        Ok(stream.boxed())
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Each change of a commit decoded: the object (new or last state) and its previous state.
type DecodedCommit<K> = Vec<(K, Option<K>)>;

/// Decodes a commit once for every watcher that receives it (they share the `Arc<Commit>`).
fn decode_commit<K: Resource>(commit: &Commit) -> Result<Arc<DecodedCommit<K>>> {
    let decode = || -> Result<Arc<DecodedCommit<K>>> {
        let decoded = commit
            .changes
            .iter()
            .map(|change| {
                let object = decode_bytes::<K>(&change.value, commit.rv)?;
                let prev = match (&change.prev, change.change) {
                    (Some(prev), ChangeType::Modified) => Some(decode_bytes::<K>(prev, commit.rv)?),
                    _ => None,
                };
                Ok((object, prev))
            })
            .collect::<Result<DecodedCommit<K>>>()?;
        Ok(Arc::new(decoded))
    };
    match commit.memo.get_or_init(decode) {
        Some(shared) => shared.as_ref().clone(),
        // The memo holds another kind's decoding (a prefix shared by kinds cannot happen, but
        // decoding again is always correct).
        None => decode(),
    }
}

/// The event a change makes for a watcher with `filter`, if any.
fn convert<K: Resource>(change: ChangeType, object: &K, prev: Option<&K>, filter: &Filter) -> Option<WatchEvent<K>> {
    let now = filter.matches(object);
    let before = prev.is_some_and(|p| filter.matches(p));
    let r#type = match change {
        ChangeType::Added if now => WatchEventType::Added,
        ChangeType::Modified if now && before => WatchEventType::Modified,
        ChangeType::Modified if now => WatchEventType::Added,
        ChangeType::Modified if before => WatchEventType::Deleted,
        ChangeType::Deleted if now => WatchEventType::Deleted,
        _ => return None,
    };
    Some(WatchEvent::of(r#type, object.clone()))
}
