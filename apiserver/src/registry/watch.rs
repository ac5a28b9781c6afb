//! Watch: changes to one kind as Kubernetes watch events, with selectors applied to both the
//! new and the previous state, so an object that stops matching is seen as DELETED and one
//! that starts matching as ADDED.

use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use podium_api::{ApiError, Resource};

use super::list::Filter;
use super::{Api, Kind, ListOptions, Result, decode_bytes, parse_resource_version, prefix, storage_error};
use crate::store::{Change, ChangeType, Rv};

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
                            for change in &commit.changes {
                                match convert::<K>(change, commit.rv, &filter) {
                                    Ok(Some(event)) => yield event,
                                    Ok(None) => {}
                                    Err(e) => { yield WatchEvent::error(e); return; }
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

/// The event a change makes for a watcher with `filter`, if any.
fn convert<K: Resource>(change: &Change, rv: Rv, filter: &Filter) -> Result<Option<WatchEvent<K>>> {
    let object = decode_bytes::<K>(&change.value, rv)?;
    let now = filter.matches(&object);
    let before = match (&change.prev, change.change) {
        (Some(prev), ChangeType::Modified) => filter.matches(&decode_bytes::<K>(prev, rv)?),
        _ => false,
    };
    let r#type = match change.change {
        ChangeType::Added if now => WatchEventType::Added,
        ChangeType::Modified if now && before => WatchEventType::Modified,
        ChangeType::Modified if now => WatchEventType::Added,
        ChangeType::Modified if before => WatchEventType::Deleted,
        ChangeType::Deleted if now => WatchEventType::Deleted,
        _ => return Ok(None),
    };
    Ok(Some(WatchEvent::of(r#type, object)))
}
