//! Create, read, update and delete over gRPC, with Kubernetes' defaults and errors.

mod common;

use common::{TestServer, pod};
use podium_client::ListParams;
use podium_proto::k8s::core::v1::{Binding, Container, Namespace, Node, ObjectReference, Pod, PodStatus};
use podium_proto::k8s::meta::v1::{DeleteOptions, ObjectMeta, Preconditions};
use podium_proto::k8s::scheduling::v1::PriorityClass;

fn meta(name: &str) -> Option<ObjectMeta> {
    Some(ObjectMeta {
        name: name.into(),
        ..Default::default()
    })
}

async fn add_node(s: &TestServer, name: &str) {
    s.client
        .resource::<Node>("")
        .create(Node {
            metadata: meta(name),
            ..Default::default()
        })
        .await
        .unwrap();
}

async fn bind(s: &TestServer, pod: &str, node: &str) -> Result<(), podium_client::ClientError> {
    let binding = Binding {
        metadata: Some(ObjectMeta {
            name: pod.into(),
            namespace: "default".into(),
            ..Default::default()
        }),
        target: Some(ObjectReference {
            kind: "Node".into(),
            name: node.into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    s.client.bind(binding).await.map(|_| ())
}

#[tokio::test]
async fn create_fills_kubernetes_defaults_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let pods = s.client.resource::<Pod>("default");
    let created = pods.create(pod("web")).await.unwrap();
    let meta = created.metadata.as_ref().unwrap();
    assert_eq!(meta.namespace, "default");
    assert!(!meta.uid.is_empty());
    assert!(meta.creation_timestamp.is_some());
    assert_eq!(meta.generation, 1);
    assert!(meta.resource_version.parse::<u64>().unwrap() > 0);
    let spec = created.spec.as_ref().unwrap();
    assert_eq!(spec.restart_policy, "Always");
    assert_eq!(spec.termination_grace_period_seconds, Some(30));
    assert_eq!(spec.dns_policy, "ClusterFirst");
    assert_eq!(spec.scheduler_name, "default-scheduler");
    assert_eq!(spec.enable_service_links, Some(true));
    assert_eq!(spec.priority, Some(0));
    assert_eq!(spec.containers[0].image_pull_policy, "IfNotPresent");
    assert_eq!(spec.containers[0].termination_message_path, "/dev/termination-log");
    let tolerations: Vec<_> = spec
        .tolerations
        .iter()
        .map(|t| (t.key.as_str(), t.toleration_seconds))
        .collect();
    assert!(tolerations.contains(&("node.kubernetes.io/not-ready", Some(300))));
    assert!(tolerations.contains(&("node.kubernetes.io/unreachable", Some(300))));
    let status = created.status.as_ref().unwrap();
    assert_eq!(
        (status.phase.as_str(), status.qos_class.as_str()),
        ("Pending", "BestEffort")
    );
    assert_eq!(pods.get("web").await.unwrap(), created);
    s.stop().await;
}

#[tokio::test]
async fn generate_name_makes_a_unique_name() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let mut p = pod("");
    p.metadata.as_mut().unwrap().generate_name = "web-".into();
    let pods = s.client.resource::<Pod>("default");
    let a = pods.create(p.clone()).await.unwrap();
    let b = pods.create(p).await.unwrap();
    assert!(a.metadata.as_ref().unwrap().name.starts_with("web-"));
    assert_eq!(a.metadata.as_ref().unwrap().name.len(), "web-".len() + 5);
    assert_ne!(a.metadata.unwrap().name, b.metadata.unwrap().name);
    s.stop().await;
}

#[tokio::test]
async fn errors_carry_kubernetes_reasons_and_messages() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let pods = s.client.resource::<Pod>("default");
    pods.create(pod("web")).await.unwrap();

    let exists = pods.create(pod("web")).await.unwrap_err();
    let exists = exists.api().unwrap();
    assert_eq!((exists.code(), exists.reason()), (409, "AlreadyExists"));
    assert_eq!(exists.status.message, "pods \"web\" already exists");

    let missing = pods.get("nope").await.unwrap_err();
    assert_eq!(missing.api().unwrap().status.message, "pods \"nope\" not found");
    assert_eq!(missing.code(), 404);

    let mut bad = pod("Bad_Name");
    bad.spec.as_mut().unwrap().containers.push(Container {
        name: "app".into(),
        ..Default::default()
    });
    let invalid = pods.create(bad).await.unwrap_err();
    let invalid = invalid.api().unwrap();
    assert_eq!((invalid.code(), invalid.reason()), (422, "Invalid"));
    let fields: Vec<_> = invalid
        .status
        .details
        .as_ref()
        .unwrap()
        .causes
        .iter()
        .map(|c| c.field.as_str())
        .collect();
    assert!(fields.contains(&"metadata.name"), "{fields:?}");
    assert!(fields.contains(&"spec.containers[1].name"), "{fields:?}");
    assert!(fields.contains(&"spec.containers[1].image"), "{fields:?}");
    assert!(
        pods.get("Bad_Name").await.unwrap_err().is_not_found(),
        "nothing partial was written"
    );

    let elsewhere = s
        .client
        .resource::<Pod>("nowhere")
        .create(pod("web"))
        .await
        .unwrap_err();
    assert_eq!(
        elsewhere.api().unwrap().status.message,
        "namespaces \"nowhere\" not found"
    );
    s.stop().await;
}

#[tokio::test]
async fn updates_use_optimistic_concurrency_and_keep_the_spec_immutable() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let pods = s.client.resource::<Pod>("default");
    let v1 = pods.create(pod("web")).await.unwrap();

    let mut newer = v1.clone();
    newer.spec.as_mut().unwrap().containers[0].image = "busybox:1.37".into();
    let v2 = pods.update(newer).await.unwrap();
    assert_ne!(
        v2.metadata.as_ref().unwrap().resource_version,
        v1.metadata.as_ref().unwrap().resource_version
    );
    assert_eq!(v2.spec.as_ref().unwrap().containers[0].image, "busybox:1.37");
    assert_eq!(v2.metadata.as_ref().unwrap().generation, 2);

    let mut stale = v1.clone();
    stale.metadata.as_mut().unwrap().labels.insert("a".into(), "b".into());
    let conflict = pods.update(stale).await.unwrap_err();
    assert_eq!(
        conflict.api().unwrap().status.message,
        "Operation cannot be fulfilled on pods \"web\": the object has been modified; please apply your changes to the latest version and try again"
    );

    let mut forbidden = v2.clone();
    forbidden.spec.as_mut().unwrap().restart_policy = "Never".into();
    let err = pods.update(forbidden).await.unwrap_err();
    assert_eq!(err.code(), 422);
    assert!(
        err.api()
            .unwrap()
            .status
            .message
            .contains("pod updates may not change fields other than")
    );

    let mut labelled = v2.clone();
    labelled
        .metadata
        .as_mut()
        .unwrap()
        .labels
        .insert("tier".into(), "web".into());
    let v3 = pods.update(labelled).await.unwrap();
    assert_eq!(v3.metadata.as_ref().unwrap().labels["tier"], "web");
    assert_eq!(v3.metadata.as_ref().unwrap().uid, v1.metadata.as_ref().unwrap().uid);
    s.stop().await;
}

#[tokio::test]
async fn status_and_spec_are_written_through_separate_paths() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let pods = s.client.resource::<Pod>("default");
    let created = pods.create(pod("web")).await.unwrap();

    let mut with_status = created.clone();
    with_status.status = Some(PodStatus {
        phase: "Running".into(),
        pod_ip: "10.0.0.5".into(),
        ..Default::default()
    });
    with_status
        .metadata
        .as_mut()
        .unwrap()
        .labels
        .insert("ignored".into(), "yes".into());
    let updated = pods.update_status(with_status).await.unwrap();
    assert_eq!(updated.status.as_ref().unwrap().phase, "Running");
    assert!(
        updated.metadata.as_ref().unwrap().labels.is_empty(),
        "status writes change only status"
    );

    let mut main = updated.clone();
    main.status = Some(PodStatus {
        phase: "Failed".into(),
        ..Default::default()
    });
    main.metadata
        .as_mut()
        .unwrap()
        .labels
        .insert("kept".into(), "yes".into());
    let after = pods.update(main).await.unwrap();
    assert_eq!(
        after.status.as_ref().unwrap().phase,
        "Running",
        "main writes leave status alone"
    );
    assert_eq!(after.metadata.as_ref().unwrap().labels["kept"], "yes");
    s.stop().await;
}

#[tokio::test]
async fn binding_sets_the_node_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let pods = s.client.resource::<Pod>("default");
    pods.create(pod("web")).await.unwrap();
    let missing_node = bind(&s, "web", "node-1").await.unwrap_err();
    assert_eq!(missing_node.api().unwrap().status.message, "nodes \"node-1\" not found");
    add_node(&s, "node-1").await;
    add_node(&s, "node-2").await;
    bind(&s, "web", "node-1").await.unwrap();
    let bound = pods.get("web").await.unwrap();
    assert_eq!(bound.spec.as_ref().unwrap().node_name, "node-1");
    let scheduled = &bound.status.as_ref().unwrap().conditions;
    assert!(
        scheduled
            .iter()
            .any(|c| c.r#type == "PodScheduled" && c.status == "True")
    );
    let again = bind(&s, "web", "node-2").await.unwrap_err();
    assert_eq!(again.code(), 409);
    assert!(
        again
            .api()
            .unwrap()
            .status
            .message
            .contains("pod web is already assigned to node \"node-1\"")
    );
    s.stop().await;
}

#[tokio::test]
async fn deletion_is_graceful_for_bound_pods_and_honours_finalizers() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let pods = s.client.resource::<Pod>("default");
    add_node(&s, "node-1").await;

    pods.create(pod("unbound")).await.unwrap();
    pods.delete("unbound", DeleteOptions::default()).await.unwrap();
    assert!(
        pods.get("unbound").await.unwrap_err().is_not_found(),
        "unbound pods go at once"
    );

    let created = pods.create(pod("bound")).await.unwrap();
    bind(&s, "bound", "node-1").await.unwrap();
    let wrong_uid = DeleteOptions {
        preconditions: Some(Preconditions {
            uid: Some("other".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(pods.delete("bound", wrong_uid).await.unwrap_err().code(), 409);
    let marked = pods.delete("bound", DeleteOptions::default()).await.unwrap();
    let meta = marked.metadata.as_ref().unwrap();
    assert!(meta.deletion_timestamp.is_some());
    assert_eq!(meta.deletion_grace_period_seconds, Some(30));
    assert!(pods.get("bound").await.is_ok(), "a bound pod waits for its agent");
    let confirm = DeleteOptions {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: Some(created.metadata.unwrap().uid),
            ..Default::default()
        }),
        ..Default::default()
    };
    pods.delete("bound", confirm).await.unwrap();
    assert!(pods.get("bound").await.unwrap_err().is_not_found());

    let mut held = pod("held");
    held.metadata.as_mut().unwrap().finalizers = vec!["example.com/hold".into()];
    pods.create(held).await.unwrap();
    let marked = pods.delete("held", DeleteOptions::default()).await.unwrap();
    assert!(marked.metadata.as_ref().unwrap().deletion_timestamp.is_some());
    let mut release = pods.get("held").await.unwrap();
    release.metadata.as_mut().unwrap().finalizers.clear();
    pods.update(release).await.unwrap();
    assert!(
        pods.get("held").await.unwrap_err().is_not_found(),
        "the last finalizer's removal deletes"
    );
    s.stop().await;
}

#[tokio::test]
async fn namespaces_exist_from_the_start_and_delete_their_contents() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let namespaces = s.client.resource::<Namespace>("");
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|n| n.metadata.unwrap().name)
        .collect();
    for builtin in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(names.iter().any(|n| n == builtin), "{builtin} in {names:?}");
    }
    assert_eq!(
        namespaces
            .delete("default", DeleteOptions::default())
            .await
            .unwrap_err()
            .code(),
        403
    );

    namespaces
        .create(Namespace {
            metadata: meta("team"),
            ..Default::default()
        })
        .await
        .unwrap();
    let pods = s.client.resource::<Pod>("team");
    pods.create(pod("a")).await.unwrap();
    pods.create(pod("b")).await.unwrap();
    let terminating = namespaces.delete("team", DeleteOptions::default()).await.unwrap();
    assert_eq!(terminating.status.as_ref().unwrap().phase, "Terminating");
    let refused = pods.create(pod("c")).await.unwrap_err();
    assert_eq!(refused.code(), 403);
    assert!(
        refused
            .api()
            .unwrap()
            .status
            .message
            .contains("because it is being terminated")
    );
    for _ in 0..100 {
        if namespaces.get("team").await.is_err() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(namespaces.get("team").await.unwrap_err().is_not_found());
    assert!(pods.get("a").await.unwrap_err().is_not_found());
    s.stop().await;
}

#[tokio::test]
async fn priority_comes_from_the_priority_class() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let pods = s.client.resource::<Pod>("default");
    let mut critical = pod("critical");
    critical.spec.as_mut().unwrap().priority_class_name = "system-node-critical".into();
    let created = pods.create(critical).await.unwrap();
    assert_eq!(created.spec.as_ref().unwrap().priority, Some(2_000_001_000));

    let mut unknown = pod("unknown");
    unknown.spec.as_mut().unwrap().priority_class_name = "gold".into();
    let err = pods.create(unknown.clone()).await.unwrap_err();
    assert_eq!(err.code(), 403);
    assert!(
        err.api()
            .unwrap()
            .status
            .message
            .contains("no PriorityClass with name gold was found")
    );

    let classes = s.client.resource::<PriorityClass>("");
    classes
        .create(PriorityClass {
            metadata: meta("gold"),
            value: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let created = pods.create(unknown).await.unwrap();
    assert_eq!(created.spec.as_ref().unwrap().priority, Some(1000));
    s.stop().await;
}

/// Every kind as the server returns it, read by k8s-openapi (an independent implementation
/// of Kubernetes' schema): the shapes clients get are Kubernetes' shapes.
#[tokio::test]
async fn objects_the_server_emits_satisfy_k8s_openapi() {
    use podium_proto::k8s::coordination::v1::{Lease, LeaseSpec};
    use podium_proto::k8s::core::v1::Event;

    fn check<T: serde::Serialize, O: serde::de::DeserializeOwned>(obj: &T) {
        let json = serde_json::to_value(obj).unwrap();
        if let Err(e) = serde_json::from_value::<O>(json.clone()) {
            panic!("k8s-openapi rejects {json}: {e}");
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    add_node(&s, "node-1").await;
    let created = s.client.resource::<Pod>("default").create(pod("web")).await.unwrap();
    bind(&s, "web", "node-1").await.unwrap();
    let bound = s.client.resource::<Pod>("default").get("web").await.unwrap();
    check::<_, k8s_openapi::api::core::v1::Pod>(&created);
    check::<_, k8s_openapi::api::core::v1::Pod>(&bound);
    let pods = s
        .client
        .resource::<Pod>("default")
        .list(&ListParams::default())
        .await
        .unwrap();
    check::<_, k8s_openapi::List<k8s_openapi::api::core::v1::Pod>>(&pods);
    let node = s.client.resource::<Node>("").get("node-1").await.unwrap();
    check::<_, k8s_openapi::api::core::v1::Node>(&node);
    let namespaces = s
        .client
        .resource::<Namespace>("")
        .list(&ListParams::default())
        .await
        .unwrap();
    check::<_, k8s_openapi::List<k8s_openapi::api::core::v1::Namespace>>(&namespaces);
    let event = Event {
        metadata: Some(ObjectMeta {
            name: "web.1".into(),
            ..Default::default()
        }),
        involved_object: Some(ObjectReference {
            kind: "Pod".into(),
            name: "web".into(),
            ..Default::default()
        }),
        reason: "Scheduled".into(),
        r#type: "Normal".into(),
        ..Default::default()
    };
    let event = s.client.resource::<Event>("default").create(event).await.unwrap();
    check::<_, k8s_openapi::api::core::v1::Event>(&event);
    let lease = Lease {
        metadata: Some(ObjectMeta {
            name: "node-1".into(),
            ..Default::default()
        }),
        spec: Some(LeaseSpec {
            holder_identity: Some("node-1".into()),
            lease_duration_seconds: Some(40),
            ..Default::default()
        }),
        ..Default::default()
    };
    let lease = s
        .client
        .resource::<Lease>("kube-node-lease")
        .create(lease)
        .await
        .unwrap();
    check::<_, k8s_openapi::api::coordination::v1::Lease>(&lease);
    let classes = s
        .client
        .resource::<PriorityClass>("")
        .list(&ListParams::default())
        .await
        .unwrap();
    check::<_, k8s_openapi::List<k8s_openapi::api::scheduling::v1::PriorityClass>>(&classes);
    s.stop().await;
}
