//! Nothing acknowledged is lost: a killed apiserver restarts with every acknowledged write,
//! continues the resourceVersion sequence, and watchers resume without gaps or repeats.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{ServerProcess, TestServer, free_addr, pod};
use podium_client::{Client, ListParams, Reflector, ReflectorEvent};
use podium_proto::k8s::core::v1::Pod;
use tokio_util::sync::CancellationToken;

/// The next `n` reflector events, as `+name` (applied) and `-name` (deleted).
async fn next_events(events: &mut tokio::sync::broadcast::Receiver<ReflectorEvent<Pod>>, n: usize) -> Vec<String> {
    let mut seen = Vec::new();
    let collect = async {
        while seen.len() < n {
            match events.recv().await.unwrap() {
                ReflectorEvent::Applied(p) => seen.push(format!("+{}", p.metadata.unwrap().name)),
                ReflectorEvent::Deleted(p) => seen.push(format!("-{}", p.metadata.unwrap().name)),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), collect)
        .await
        .expect("the events arrive");
    seen
}

#[tokio::test]
async fn a_killed_apiserver_keeps_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let server = ServerProcess::spawn(dir.path(), addr).await;
    let client = Client::new(&format!("http://{addr}")).unwrap();
    let pods = client.resource::<Pod>("default");
    let mut tasks = Vec::new();
    for i in 0..200 {
        let pods = pods.clone();
        tasks.push(tokio::spawn(async move { pods.create(pod(&format!("p{i}"))).await }));
    }
    let mut acknowledged = BTreeMap::new();
    for task in tasks {
        let created = task.await.unwrap().unwrap();
        let meta = created.metadata.unwrap();
        acknowledged.insert(meta.name, meta.resource_version.parse::<u64>().unwrap());
    }
    let newest = *acknowledged.values().max().unwrap();
    server.kill();

    let server = ServerProcess::spawn(dir.path(), addr).await;
    let list = pods.list(&ListParams::default()).await.unwrap();
    let found: BTreeMap<String, u64> = list
        .items
        .into_iter()
        .map(|p| {
            let m = p.metadata.unwrap();
            (m.name, m.resource_version.parse().unwrap())
        })
        .collect();
    assert_eq!(found, acknowledged);
    let next = pods.create(pod("after")).await.unwrap();
    assert!(next.metadata.unwrap().resource_version.parse::<u64>().unwrap() > newest);
    server.kill();
}

#[tokio::test]
async fn a_reflector_resumes_across_a_restart_without_gaps_or_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let first = TestServer::start_at(dir.path(), addr, Default::default()).await;
    let client = Client::new(&format!("http://{addr}")).unwrap();
    let pods = client.resource::<Pod>("default");
    pods.create(pod("before")).await.unwrap();

    let shutdown = CancellationToken::new();
    let reflector = Reflector::spawn(pods.clone(), ListParams::default(), shutdown.clone());
    let mut events = reflector.subscribe();
    reflector.wait_synced().await;
    pods.create(pod("during-1")).await.unwrap();
    first.stop().await;

    let second = TestServer::start_at(dir.path(), addr, Default::default()).await;
    pods.create(pod("after-1")).await.unwrap();
    pods.delete("during-1", Default::default()).await.unwrap();
    pods.create(pod("after-2")).await.unwrap();

    let seen = next_events(&mut events, 5).await;
    assert_eq!(seen, ["+before", "+during-1", "+after-1", "-during-1", "+after-2"]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(events.try_recv().is_err(), "nothing repeated");
    let mut cached: Vec<String> = reflector
        .snapshot()
        .into_iter()
        .map(|p| p.metadata.unwrap().name)
        .collect();
    cached.sort();
    assert_eq!(cached, ["after-1", "after-2", "before"]);
    shutdown.cancel();
    second.stop().await;
}

#[tokio::test]
async fn a_reflector_relists_when_its_resource_version_is_compacted() {
    use std::sync::Arc;

    use podium_apiserver::Api;
    use podium_apiserver::store::{SledStore, SledStoreOptions, Store};

    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let small = SledStoreOptions {
        history_max_commits: 3,
        ..Default::default()
    };
    let first = TestServer::start_at(dir.path(), addr, small.clone()).await;
    let client = Client::new(&format!("http://{addr}")).unwrap();
    let pods = client.resource::<Pod>("default");
    pods.create(pod("a")).await.unwrap();
    let shutdown = CancellationToken::new();
    let reflector = Reflector::spawn(pods.clone(), ListParams::default(), shutdown.clone());
    let mut events = reflector.subscribe();
    reflector.wait_synced().await;
    first.stop().await;

    // While no server runs, history moves on and is compacted past what the reflector saw.
    {
        let store = Arc::new(SledStore::open(dir.path(), small.clone()).unwrap());
        let api = Api::new(store.clone() as Arc<dyn Store>).await.unwrap();
        for name in ["b", "c", "d", "e", "f", "g"] {
            api.create("default", pod(name)).await.unwrap();
        }
        api.delete::<Pod>("default", "a", Default::default()).await.unwrap();
        store.compact_now().unwrap();
        assert!(store.oldest_rv() > 1);
        drop(api);
        store.close();
    }

    let second = TestServer::start_at(dir.path(), addr, small).await;
    let seen = next_events(&mut events, 8).await;
    assert_eq!(seen, ["+a", "-a", "+b", "+c", "+d", "+e", "+f", "+g"]);
    let mut cached: Vec<String> = reflector
        .snapshot()
        .into_iter()
        .map(|p| p.metadata.unwrap().name)
        .collect();
    cached.sort();
    assert_eq!(cached, ["b", "c", "d", "e", "f", "g"]);
    shutdown.cancel();
    second.stop().await;
}
