//! The in-memory object cache that serves reads never disagrees with the store.

mod common;

use std::collections::BTreeMap;

use common::{TestServer, labelled};
use podium_client::ListParams;
use podium_proto::k8s::core::v1::Pod;
use prost::Message;

/// Name → (resourceVersion, encoded object) as the store itself has them.
fn stored_pods(s: &TestServer) -> BTreeMap<String, (u64, Vec<u8>)> {
    let page = s.server.api.store().list("pods/default/", None, 0).unwrap();
    page.items
        .into_iter()
        .map(|(key, stored)| {
            let name = key.rsplit('/').next().unwrap().to_owned();
            (name, (stored.rv, stored.value.to_vec()))
        })
        .collect()
}

/// Name → (resourceVersion, encoded object) as a list (served from the cache) has them.
async fn listed_pods(s: &TestServer) -> BTreeMap<String, (u64, Vec<u8>)> {
    let list = s
        .client
        .resource::<Pod>("default")
        .list(&ListParams::default())
        .await
        .unwrap();
    list.items
        .into_iter()
        .map(|mut p| {
            let meta = p.metadata.as_mut().unwrap();
            let rv: u64 = meta.resource_version.parse().unwrap();
            meta.resource_version.clear();
            let name = meta.name.clone();
            p.kind.clear();
            p.api_version.clear();
            (name, (rv, p.encode_to_vec()))
        })
        .collect()
}

#[tokio::test]
async fn lists_agree_with_the_store_after_concurrent_writes_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let pods = s.client.resource::<Pod>("default");
    let mut tasks = Vec::new();
    for i in 0..40 {
        let pods = pods.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("p{i}");
            let created = pods.create(labelled(&name, &[("n", &i.to_string())])).await.unwrap();
            let mut changed = created.clone();
            changed
                .metadata
                .as_mut()
                .unwrap()
                .labels
                .insert("touched".into(), "yes".into());
            pods.update(changed).await.unwrap();
            if i % 3 == 0 {
                pods.delete(&name, Default::default()).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let stored = stored_pods(&s);
    assert_eq!(stored.len(), 26);
    assert_eq!(listed_pods(&s).await, stored);
    s.stop().await;

    let s = TestServer::start(dir.path()).await;
    assert_eq!(
        listed_pods(&s).await,
        stored,
        "the cache is rebuilt from the store on start"
    );
    s.stop().await;
}

#[tokio::test]
async fn the_label_index_follows_label_changes_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let pods = s.client.resource::<Pod>("default");
    let names = |list: podium_proto::k8s::core::v1::PodList| -> Vec<String> {
        list.items.into_iter().map(|p| p.metadata.unwrap().name).collect()
    };
    let select = |selector: &str| ListParams {
        label_selector: selector.into(),
        ..Default::default()
    };
    let created = pods.create(labelled("p", &[("app", "web")])).await.unwrap();
    pods.create(labelled("q", &[("app", "web"), ("tier", "x")]))
        .await
        .unwrap();
    assert_eq!(names(pods.list(&select("app=web")).await.unwrap()), ["p", "q"]);
    assert_eq!(names(pods.list(&select("app=web,tier=x")).await.unwrap()), ["q"]);
    let mut moved = created.clone();
    moved
        .metadata
        .as_mut()
        .unwrap()
        .labels
        .insert("app".into(), "db".into());
    pods.update(moved).await.unwrap();
    assert_eq!(names(pods.list(&select("app=web")).await.unwrap()), ["q"]);
    assert_eq!(names(pods.list(&select("app in (db)")).await.unwrap()), ["p"]);
    pods.delete("q", Default::default()).await.unwrap();
    assert!(names(pods.list(&select("app=web")).await.unwrap()).is_empty());
    let page = pods
        .list(&ListParams {
            limit: 1,
            ..select("app=db")
        })
        .await
        .unwrap();
    assert_eq!(names(page), ["p"]);
    s.stop().await;
}
