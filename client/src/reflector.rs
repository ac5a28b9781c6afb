//! `Reflector`: a local copy of one kind, kept in step by list-then-watch.
//!
//! It lists, then watches from the list's resourceVersion. When the watch ends or the
//! connection drops (an apiserver restart) it watches again from the last resourceVersion it
//! saw, so no change is missed or repeated; when that resourceVersion has been compacted
//! (410 Expired) it lists again and reports the difference as events. Consumers read the
//! cache and subscribe to the events.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use parking_lot::RwLock;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::client::{ListParams, Objects, WatchParams};
use crate::kind::ClientKind;

/// A change the reflector applied to its cache.
#[derive(Debug, Clone)]
pub enum ReflectorEvent<K> {
    /// The object was added or changed; this is its new state.
    Applied(K),
    /// The object was deleted; this is its last state.
    Deleted(K),
}

/// Events buffered for slow subscribers.
const EVENT_BUFFER: usize = 4096;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A cache of one kind (optionally narrowed by selectors), kept current in the background.
#[derive(Debug, Clone)]
pub struct Reflector<K> {
    cache: Arc<RwLock<BTreeMap<String, K>>>,
    events: broadcast::Sender<ReflectorEvent<K>>,
    synced: watch::Receiver<bool>,
    resource_version: Arc<RwLock<String>>,
}

fn cache_key<K: ClientKind>(obj: &K) -> String {
    format!("{}/{}", obj.namespace(), obj.name())
}

impl<K: ClientKind> Reflector<K> {
    /// Starts reflecting the objects `objects` can see that match `params`' selectors, until
    /// `shutdown` is cancelled.
    pub fn spawn(objects: Objects<K>, params: ListParams, shutdown: CancellationToken) -> Self {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let (synced_tx, synced) = watch::channel(false);
        let reflector = Reflector {
            cache: Arc::default(),
            events,
            synced,
            resource_version: Arc::default(),
        };
        let runner = reflector.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = runner.run(objects, params, synced_tx) => {}
                () = shutdown.cancelled() => {}
            }
        });
        reflector
    }

    /// Every cached object.
    pub fn snapshot(&self) -> Vec<K> {
        self.cache.read().values().cloned().collect()
    }

    /// One cached object (namespace empty for cluster-scoped kinds).
    pub fn get(&self, namespace: &str, name: &str) -> Option<K> {
        self.cache.read().get(&format!("{namespace}/{name}")).cloned()
    }

    /// Changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ReflectorEvent<K>> {
        self.events.subscribe()
    }

    /// Waits until the first list has filled the cache.
    pub async fn wait_synced(&self) {
        let mut synced = self.synced.clone();
        let _ = synced.wait_for(|s| *s).await;
    }

    /// The newest resourceVersion the cache reflects.
    pub fn resource_version(&self) -> String {
        self.resource_version.read().clone()
    }

    async fn run(&self, objects: Objects<K>, params: ListParams, synced: watch::Sender<bool>) {
        let mut backoff = Duration::from_millis(100);
        let mut resource_version: Option<String> = None;
        loop {
            let rv = match resource_version.clone() {
                Some(rv) => rv,
                None => match self.relist(&objects, &params).await {
                    Ok(rv) => {
                        synced.send_replace(true);
                        resource_version = Some(rv.clone());
                        rv
                    }
                    Err(e) => {
                        tracing::debug!(kind = K::KIND, error = %e, "list failed; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                },
            };
            let watch_params = WatchParams {
                label_selector: params.label_selector.clone(),
                field_selector: params.field_selector.clone(),
                resource_version: rv,
                allow_bookmarks: true,
                timeout_seconds: 0,
            };
            let mut stream = match objects.watch(&watch_params).await {
                Ok(stream) => stream,
                Err(e) => {
                    if e.api().is_some_and(|a| a.is_expired()) {
                        resource_version = None;
                    } else {
                        tracing::debug!(kind = K::KIND, error = %e, "watch failed; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                    continue;
                }
            };
            while let Some(event) = stream.next().await {
                let event = match event {
                    Ok(event) => event,
                    Err(e) => {
                        tracing::debug!(kind = K::KIND, error = %e, "watch broke; resuming");
                        break;
                    }
                };
                backoff = Duration::from_millis(100);
                match (event.r#type.as_str(), event.object) {
                    ("ERROR", _) => {
                        if event.status.is_some_and(|s| s.code == 410) {
                            resource_version = None;
                        }
                        break;
                    }
                    ("BOOKMARK", Some(obj)) => resource_version = Some(obj.resource_version().to_owned()),
                    ("DELETED", Some(obj)) => {
                        resource_version = Some(obj.resource_version().to_owned());
                        self.apply(obj, true);
                    }
                    (_, Some(obj)) => {
                        resource_version = Some(obj.resource_version().to_owned());
                        self.apply(obj, false);
                    }
                    _ => {}
                }
                if let Some(rv) = &resource_version {
                    rv.clone_into(&mut self.resource_version.write());
                }
            }
        }
    }

    fn apply(&self, obj: K, deleted: bool) {
        let key = cache_key(&obj);
        if deleted {
            self.cache.write().remove(&key);
            let _ = self.events.send(ReflectorEvent::Deleted(obj));
        } else {
            self.cache.write().insert(key, obj.clone());
            let _ = self.events.send(ReflectorEvent::Applied(obj));
        }
    }

    /// Lists everything (page by page), replaces the cache, and reports the difference.
    async fn relist(&self, objects: &Objects<K>, params: &ListParams) -> crate::Result<String> {
        let mut fresh = BTreeMap::new();
        let mut page = ListParams {
            limit: 500,
            continue_token: String::new(),
            ..params.clone()
        };
        let rv = loop {
            let list = objects.list(&page).await?;
            let meta = K::list_metadata(&list).cloned().unwrap_or_default();
            for obj in K::list_items(list) {
                fresh.insert(cache_key(&obj), obj);
            }
            if meta.r#continue.is_empty() {
                break meta.resource_version;
            }
            page.continue_token = meta.r#continue;
        };
        let old = std::mem::replace(&mut *self.cache.write(), fresh.clone());
        for (key, obj) in &old {
            if !fresh.contains_key(key) {
                let _ = self.events.send(ReflectorEvent::Deleted(obj.clone()));
            }
        }
        for (key, obj) in fresh {
            if old
                .get(&key)
                .is_none_or(|o| o.resource_version() != obj.resource_version())
            {
                let _ = self.events.send(ReflectorEvent::Applied(obj));
            }
        }
        rv.clone_into(&mut self.resource_version.write());
        Ok(rv)
    }
}
