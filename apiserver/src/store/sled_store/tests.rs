use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;

use super::*;

fn open(dir: &Path) -> SledStore {
    SledStore::open(dir, SledStoreOptions::default()).unwrap()
}

fn put(value: &'static str) -> Mutation {
    Box::new(move |_| Ok(vec![Some(Write::Put(Bytes::from_static(value.as_bytes())))]))
}

#[tokio::test]
async fn writes_take_consecutive_versions_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        assert_eq!(store.mutate(vec!["pods/a/x".into()], put("1")).await.unwrap(), 1);
        assert_eq!(store.mutate(vec!["pods/a/y".into()], put("2")).await.unwrap(), 2);
        assert_eq!(
            store
                .mutate(vec!["pods/a/x".into()], Box::new(|_| Ok(vec![Some(Write::Delete)])))
                .await
                .unwrap(),
            3
        );
    }
    let store = open(dir.path());
    assert_eq!(store.current_rv(), 3);
    assert!(store.get("pods/a/x").unwrap().is_none());
    assert_eq!(
        store.get("pods/a/y").unwrap().unwrap(),
        Stored {
            rv: 2,
            value: Bytes::from_static(b"2")
        }
    );
    assert_eq!(store.mutate(vec!["pods/a/z".into()], put("3")).await.unwrap(), 4);
}

#[tokio::test]
async fn an_aborted_mutation_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let err = store
        .mutate(
            vec!["pods/a/x".into(), "pods/a/y".into()],
            Box::new(|_| Err("no".into())),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Aborted(_)));
    assert_eq!(store.current_rv(), 0);
    assert!(store.list("pods/", None, 0).unwrap().items.is_empty());
}

#[tokio::test]
async fn multi_key_commit_is_one_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let rv = store
        .mutate(
            vec!["pods/a/x".into(), "pods/a/y".into()],
            Box::new(|_| {
                Ok(vec![
                    Some(Write::Put(Bytes::from_static(b"1"))),
                    Some(Write::Put(Bytes::from_static(b"2"))),
                ])
            }),
        )
        .await
        .unwrap();
    let page = store.list("pods/a/", None, 0).unwrap();
    assert_eq!(page.items.iter().map(|(_, s)| s.rv).collect::<Vec<_>>(), vec![rv, rv]);
}

#[tokio::test]
async fn lists_page_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for name in ["a", "b", "c", "d", "e"] {
        store.mutate(vec![format!("pods/ns/{name}")], put("v")).await.unwrap();
    }
    store.mutate(vec!["pods/nt/z".into()], put("v")).await.unwrap();
    let first = store.list("pods/ns/", None, 2).unwrap();
    assert_eq!(first.items.len(), 2);
    let next = first.next.unwrap();
    let second = store.list("pods/ns/", Some(&next), 10).unwrap();
    let keys: Vec<_> = second.items.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["pods/ns/c", "pods/ns/d", "pods/ns/e"]);
    assert!(second.next.is_none());
}

#[tokio::test]
async fn watch_replays_history_then_follows_live_commits() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.mutate(vec!["pods/a/x".into()], put("1")).await.unwrap();
    store.mutate(vec!["nodes/n1".into()], put("n")).await.unwrap();
    let mut watch = store.watch("pods/", 0).unwrap();
    store.mutate(vec!["pods/a/y".into()], put("2")).await.unwrap();
    let first = watch.next().await.unwrap().unwrap();
    assert_eq!((first.rv, first.changes[0].change), (1, ChangeType::Added));
    let second = watch.next().await.unwrap().unwrap();
    assert_eq!((second.rv, second.changes[0].key.as_str()), (3, "pods/a/y"));
}

#[tokio::test]
async fn compacted_versions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let options = SledStoreOptions {
        history_max_commits: 2,
        ..SledStoreOptions::default()
    };
    let store = SledStore::open(dir.path(), options).unwrap();
    for _ in 0..5 {
        store.mutate(vec!["pods/a/x".into()], put("1")).await.unwrap();
    }
    store.compact_now().unwrap();
    assert_eq!(store.oldest_rv(), 3);
    assert!(matches!(store.watch("pods/", 1), Err(StoreError::Compacted { .. })));
    let mut watch = store.watch("pods/", 3).unwrap();
    assert_eq!(watch.next().await.unwrap().unwrap().rv, 4);
    // A watch holds the database open; both go before the reopen.
    drop(watch);
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.oldest_rv(), 3);
}

#[tokio::test]
async fn concurrent_writers_share_flushes_and_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()));
    let mut tasks = Vec::new();
    for i in 0..64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.mutate(vec![format!("pods/a/p{i}")], put("v")).await.unwrap()
        }));
    }
    let mut rvs: Vec<Rv> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    rvs.sort();
    assert_eq!(rvs, (1..=64).collect::<Vec<_>>());
}

#[tokio::test]
async fn closing_ends_watches() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut watch = store.watch("pods/", 0).unwrap();
    store.close();
    let end = tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .unwrap();
    assert!(matches!(end, Some(Err(StoreError::Closed)) | None));
}

#[tokio::test]
async fn history_older_than_the_age_limit_is_compacted() {
    let dir = tempfile::tempdir().unwrap();
    let options = SledStoreOptions {
        history_max_age: Duration::ZERO,
        ..SledStoreOptions::default()
    };
    let store = SledStore::open(dir.path(), options).unwrap();
    for _ in 0..3 {
        store.mutate(vec!["pods/a/x".into()], put("1")).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    store.compact_now().unwrap();
    assert_eq!(store.oldest_rv(), 3, "every commit older than the limit is dropped");
    assert!(matches!(store.watch("pods/", 2), Err(StoreError::Compacted { .. })));
    assert!(
        store.watch("pods/", 3).is_ok(),
        "watching from the newest version still works"
    );
}

#[test]
fn a_commit_memo_is_computed_once_and_shared_by_clones() {
    let commit = Arc::new(Commit::new(1, Vec::new()));
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let shared = commit.clone();
    let first = commit.memo.get_or_init(|| {
        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        7u32
    });
    let second = shared.memo.get_or_init(|| {
        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        8u32
    });
    assert_eq!((*first.unwrap(), *second.unwrap()), (7, 7));
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(commit.memo.get_or_init(|| "other type").is_none());
}
