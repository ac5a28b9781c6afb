//! Lists and watches over gRPC: selectors, paging, resourceVersions and 410 Expired.

mod common;

use std::time::Duration;

use common::{TestServer, labelled, pod};
use futures::StreamExt;
use podium_apiserver::store::SledStoreOptions;
use podium_client::{ListParams, WatchParams};
use podium_proto::k8s::core::v1::{Pod, PodStatus};

fn names(list: podium_proto::k8s::core::v1::PodList) -> Vec<String> {
    list.items.into_iter().map(|p| p.metadata.unwrap().name).collect()
}

fn by_label(selector: &str) -> ListParams {
    ListParams {
        label_selector: selector.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let pods = s.client.resource::<Pod>("default");
    pods.create(labelled("a", &[("app", "web"), ("env", "prod")]))
        .await
        .unwrap();
    pods.create(labelled("b", &[("app", "web"), ("env", "dev"), ("canary", "yes")]))
        .await
        .unwrap();
    pods.create(labelled("c", &[("app", "db"), ("env", "qa")]))
        .await
        .unwrap();
    pods.create(labelled("d", &[("tier", "5")])).await.unwrap();
    let cases = [
        ("app=web", vec!["a", "b"]),
        ("app==web", vec!["a", "b"]),
        ("app!=web", vec!["c", "d"]),
        ("env in (prod,qa)", vec!["a", "c"]),
        ("env notin (prod)", vec!["b", "c", "d"]),
        ("canary", vec!["b"]),
        ("!canary", vec!["a", "c", "d"]),
        ("app=web,env=dev", vec!["b"]),
        ("tier>4", vec!["d"]),
    ];
    for (selector, expected) in cases {
        assert_eq!(
            names(pods.list(&by_label(selector)).await.unwrap()),
            expected,
            "{selector}"
        );
    }
    let bad = pods.list(&by_label("app in (web")).await.unwrap_err();
    assert_eq!(bad.code(), 400);

    let mut running = pods.get("a").await.unwrap();
    running.status = Some(PodStatus {
        phase: "Running".into(),
        ..Default::default()
    });
    pods.update_status(running).await.unwrap();
    let field = |s: &str| ListParams {
        field_selector: s.into(),
        ..Default::default()
    };
    assert_eq!(names(pods.list(&field("status.phase=Running")).await.unwrap()), ["a"]);
    assert_eq!(
        names(pods.list(&field("status.phase!=Running")).await.unwrap()),
        ["b", "c", "d"]
    );
    assert_eq!(
        names(pods.list(&field("spec.nodeName=")).await.unwrap()),
        ["a", "b", "c", "d"]
    );
    assert_eq!(names(pods.list(&field("metadata.name=c")).await.unwrap()), ["c"]);
    let unsupported = pods.list(&field("spec.bogus=x")).await.unwrap_err();
    assert_eq!(unsupported.code(), 400);
    assert!(unsupported.api().unwrap().status.message.contains("spec.bogus"));

    let all = s.client.resource::<Pod>("").list(&ListParams::default()).await.unwrap();
    assert_eq!(all.items.len(), 4);
    s.stop().await;
}

#[tokio::test]
async fn lists_page_with_limit_and_continue() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let pods = s.client.resource::<Pod>("default");
    for i in 0..7 {
        let app = if i % 2 == 0 { "even" } else { "odd" };
        pods.create(labelled(&format!("p{i}"), &[("app", app)])).await.unwrap();
    }
    let mut params = ListParams {
        limit: 2,
        label_selector: "app=even".into(),
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut first_rv = None;
    loop {
        let page = pods.list(&params).await.unwrap();
        let meta = page.metadata.clone().unwrap();
        first_rv.get_or_insert(meta.resource_version.clone());
        assert_eq!(
            first_rv.as_deref(),
            Some(meta.resource_version.as_str()),
            "pages share one resourceVersion"
        );
        seen.extend(names(page));
        if meta.r#continue.is_empty() {
            break;
        }
        params.continue_token = meta.r#continue;
    }
    assert_eq!(seen, ["p0", "p2", "p4", "p6"]);
    let garbage = ListParams {
        continue_token: "zz".into(),
        ..Default::default()
    };
    assert_eq!(pods.list(&garbage).await.unwrap_err().code(), 400);
    s.stop().await;
}

async fn next_event(
    stream: &mut futures::stream::BoxStream<'static, podium_client::Result<podium_client::WatchEvent<Pod>>>,
) -> (String, String) {
    let event = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an event")
        .unwrap()
        .unwrap();
    (
        event.r#type,
        event.object.map(|o| o.metadata.unwrap().name).unwrap_or_default(),
    )
}

#[tokio::test]
async fn watches_start_from_now_or_from_a_resource_version() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let pods = s.client.resource::<Pod>("default");
    let a = pods.create(pod("a")).await.unwrap();
    let a_rv = a.metadata.unwrap().resource_version;
    pods.create(pod("b")).await.unwrap();

    let mut from_now = pods.watch(&WatchParams::default()).await.unwrap();
    assert_eq!(next_event(&mut from_now).await, ("ADDED".into(), "a".into()));
    assert_eq!(next_event(&mut from_now).await, ("ADDED".into(), "b".into()));

    let mut from_rv = pods
        .watch(&WatchParams {
            resource_version: a_rv,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        next_event(&mut from_rv).await,
        ("ADDED".into(), "b".into()),
        "only changes after the version"
    );

    pods.create(pod("c")).await.unwrap();
    pods.delete("c", Default::default()).await.unwrap();
    for stream in [&mut from_now, &mut from_rv] {
        assert_eq!(next_event(stream).await, ("ADDED".into(), "c".into()));
        assert_eq!(next_event(stream).await, ("DELETED".into(), "c".into()));
    }
    s.stop().await;
}

#[tokio::test]
async fn selector_watches_see_objects_enter_and_leave() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let pods = s.client.resource::<Pod>("default");
    let mut watch = pods
        .watch(&WatchParams {
            label_selector: "app=web".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let p = pods.create(labelled("p", &[("app", "db")])).await.unwrap();
    let mut web = p.clone();
    web.metadata.as_mut().unwrap().labels.insert("app".into(), "web".into());
    let web = pods.update(web).await.unwrap();
    assert_eq!(
        next_event(&mut watch).await,
        ("ADDED".into(), "p".into()),
        "starts matching: ADDED"
    );
    let mut touched = web.clone();
    touched
        .metadata
        .as_mut()
        .unwrap()
        .annotations
        .insert("note".into(), "x".into());
    let touched = pods.update(touched).await.unwrap();
    assert_eq!(next_event(&mut watch).await, ("MODIFIED".into(), "p".into()));
    let mut db = touched.clone();
    db.metadata.as_mut().unwrap().labels.insert("app".into(), "db".into());
    pods.update(db).await.unwrap();
    assert_eq!(
        next_event(&mut watch).await,
        ("DELETED".into(), "p".into()),
        "stops matching: DELETED"
    );
    s.stop().await;
}

#[tokio::test]
async fn watch_timeout_ends_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let pods = s.client.resource::<Pod>("default");
    let mut watch = pods
        .watch(&WatchParams {
            timeout_seconds: 1,
            resource_version: "1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(event) = watch.next().await {
            event.unwrap();
        }
    })
    .await;
    assert!(end.is_ok(), "the watch ended by itself");
    s.stop().await;
}

#[tokio::test]
async fn compacted_resource_versions_are_expired() {
    let dir = tempfile::tempdir().unwrap();
    let options = SledStoreOptions {
        history_max_commits: 5,
        compaction_interval: Duration::from_millis(100),
        ..Default::default()
    };
    let s = TestServer::start_at(dir.path(), "127.0.0.1:0".parse().unwrap(), options).await;
    let pods = s.client.resource::<Pod>("default");
    for i in 0..20 {
        pods.create(pod(&format!("p{i}"))).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let Err(err) = pods
        .watch(&WatchParams {
            resource_version: "2".into(),
            ..Default::default()
        })
        .await
    else {
        panic!("a compacted resourceVersion must be refused");
    };
    assert_eq!(err.code(), 410);
    assert_eq!(err.api().unwrap().reason(), "Expired");
    s.stop().await;
}

#[tokio::test]
async fn bookmarks_arrive_when_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = podium_apiserver::Config::new("127.0.0.1:0".parse().unwrap(), dir.path().to_owned());
    config.bookmark_interval = Duration::from_millis(200);
    let s = TestServer::start_with(config).await;
    let pods = s.client.resource::<Pod>("default");
    let created = pods.create(pod("a")).await.unwrap();
    let rv = created.metadata.unwrap().resource_version;
    let mut with = pods
        .watch(&WatchParams {
            resource_version: rv.clone(),
            allow_bookmarks: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let event = tokio::time::timeout(Duration::from_secs(5), with.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(event.r#type, "BOOKMARK");
    assert_eq!(event.object.unwrap().metadata.unwrap().resource_version, rv);

    let mut without = pods
        .watch(&WatchParams {
            resource_version: rv,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(700), without.next())
            .await
            .is_err(),
        "no bookmarks unasked"
    );
    s.stop().await;
}

#[tokio::test]
async fn events_are_selected_by_involved_object() {
    use podium_proto::k8s::core::v1::{Event, ObjectReference};
    use podium_proto::k8s::meta::v1::ObjectMeta;

    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let events = s.client.resource::<Event>("default");
    for (name, pod, uid) in [("e1", "web", "u1"), ("e2", "db", "u2"), ("e3", "web", "u1")] {
        let event = Event {
            metadata: Some(ObjectMeta {
                name: name.into(),
                ..Default::default()
            }),
            involved_object: Some(ObjectReference {
                kind: "Pod".into(),
                namespace: "default".into(),
                name: pod.into(),
                uid: uid.into(),
                ..Default::default()
            }),
            reason: "Scheduled".into(),
            ..Default::default()
        };
        events.create(event).await.unwrap();
    }
    let selector = "involvedObject.name=web,involvedObject.namespace=default,involvedObject.uid=u1";
    let list = events
        .list(&ListParams {
            field_selector: selector.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let names: Vec<String> = list.items.into_iter().map(|e| e.metadata.unwrap().name).collect();
    assert_eq!(names, ["e1", "e3"]);
    s.stop().await;
}
