//! kube-rs, the Rust Kubernetes client, lists and watches pods through the REST face.

mod common;

use std::time::Duration;

use common::{TestServer, pod};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod as KubePod;
use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::runtime::watcher;
use podium_proto::k8s::core::v1::Pod;

async fn kube_client(server: &TestServer) -> kube::Client {
    let url: http::Uri = format!("http://{}", server.addr).parse().unwrap();
    let mut config = kube::Config::new(url);
    config.default_namespace = "default".into();
    kube::Client::try_from(config).unwrap()
}

#[tokio::test]
async fn kube_rs_lists_and_watches_pods() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let ours = server.client.resource::<Pod>("default");
    ours.create(pod("first")).await.unwrap();

    let pods: kube::Api<KubePod> = kube::Api::namespaced(kube_client(&server).await, "default");
    let list = pods.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].metadata.name.as_deref(), Some("first"));
    let rv = list.metadata.resource_version.unwrap();

    let mut stream = pods
        .watch(&WatchParams::default().timeout(10), &rv)
        .await
        .unwrap()
        .boxed();
    ours.create(pod("second")).await.unwrap();
    let event = tokio::time::timeout(Duration::from_secs(10), stream.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match event {
        WatchEvent::Added(p) => assert_eq!(p.metadata.name.as_deref(), Some("second")),
        other => panic!("expected ADDED, got {other:?}"),
    }

    // The runtime's watcher (list, then watch, with bookmarks) sees both.
    let mut names = Vec::new();
    let mut events = watcher(pods.clone(), watcher::Config::default()).boxed();
    while names.len() < 2 {
        let event = tokio::time::timeout(Duration::from_secs(10), events.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let watcher::Event::InitApply(p) | watcher::Event::Apply(p) = event {
            names.push(p.metadata.name.unwrap());
        }
    }
    names.sort();
    assert_eq!(names, ["first", "second"]);
    server.stop().await;
}
