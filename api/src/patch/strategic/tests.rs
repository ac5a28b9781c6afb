use serde_json::{Value, json};

use crate::ApiError;
use crate::patch::{PatchType, apply_patch};

fn smp(kind: &str, original: &Value, patch: &Value) -> Result<Value, ApiError> {
    apply_patch(kind, PatchType::StrategicMerge, original, patch.to_string().as_bytes())
}

/// Every key of every map in `value` that is a patch directive.
fn directives(value: &Value) -> Vec<String> {
    match value {
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| {
                let own = k.starts_with('$').then(|| k.clone());
                own.into_iter().chain(directives(v))
            })
            .collect(),
        Value::Array(list) => list.iter().flat_map(directives).collect(),
        _ => Vec::new(),
    }
}

struct Case {
    name: &'static str,
    kind: &'static str,
    original: Value,
    patch: Value,
    want: Value,
}

fn case(name: &'static str, kind: &'static str, original: Value, patch: Value, want: Value) -> Case {
    Case {
        name,
        kind,
        original,
        patch,
        want,
    }
}

/// A Pod as the apiserver stores it after `kubectl apply` of a one-container manifest.
fn applied_pod(image: &str) -> Value {
    let last_applied = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{{\"annotations\":{{}},\"name\":\"p\",\"namespace\":\"default\"}},\"spec\":{{\"containers\":[{{\"image\":\"{image}\",\"name\":\"c\"}}]}}}}\n"
    );
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "p",
            "namespace": "default",
            "uid": "u-1",
            "resourceVersion": "7",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": last_applied},
        },
        "spec": {
            "containers": [{
                "name": "c",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "resources": {},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
            }],
            "restartPolicy": "Always",
            "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler",
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            ],
        },
        "status": {"phase": "Pending", "qosClass": "BestEffort"},
    })
}

fn pod_with_containers(containers: Value) -> Value {
    json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": containers}})
}

fn pod_with_spec(spec: Value) -> Value {
    json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
}

fn pod_with_metadata(metadata: Value) -> Value {
    json!({"kind": "Pod", "metadata": metadata, "spec": {}})
}

#[test]
fn second_kubectl_apply_changes_the_image() {
    let original = applied_pod("old");
    let new_last_applied = applied_pod("new")["metadata"]["annotations"].clone();
    // The body kubectl v1.32 sends for `kubectl apply` of the same manifest with a new image.
    let body = json!({
        "metadata": {"annotations": new_last_applied},
        "spec": {
            "$setElementOrder/containers": [{"name": "c"}],
            "containers": [{"image": "new", "name": "c"}],
        },
    });
    let got = smp("Pod", &original, &body).unwrap();
    assert_eq!(got, applied_pod("new"));
}

#[test]
fn table() {
    let cases = vec![
        case(
            "a label set and one deleted by null",
            "Pod",
            pod_with_metadata(json!({"name": "p", "labels": {"app": "web", "tier": "fe"}})),
            json!({"metadata": {"labels": {"app": null, "env": "prod"}}}),
            pod_with_metadata(json!({"name": "p", "labels": {"tier": "fe", "env": "prod"}})),
        ),
        case(
            "null for a key the object lacks changes nothing",
            "Pod",
            pod_with_metadata(json!({"name": "p"})),
            json!({"metadata": {"labels": {"app": null}}, "spec": {"nodeName": null}}),
            pod_with_metadata(json!({"name": "p", "labels": {}})),
        ),
        case(
            "env merges by name, one deleted with $patch: delete",
            "Pod",
            pod_with_containers(json!([{"name": "c", "env": [
                {"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "C", "value": "3"},
            ]}])),
            json!({"spec": {"containers": [{"name": "c", "env": [
                {"name": "B", "$patch": "delete"}, {"name": "A", "value": "10"},
            ]}]}}),
            pod_with_containers(json!([{"name": "c", "env": [
                {"name": "A", "value": "10"}, {"name": "C", "value": "3"},
            ]}])),
        ),
        case(
            "env with $setElementOrder, as kubectl apply sends it",
            "Pod",
            pod_with_containers(json!([{"name": "c", "env": [
                {"name": "A", "value": "1"}, {"name": "B", "value": "2"},
            ]}])),
            json!({"spec": {
                "$setElementOrder/containers": [{"name": "c"}],
                "containers": [{
                    "name": "c",
                    "$setElementOrder/env": [{"name": "N"}, {"name": "A"}],
                    "env": [{"name": "N", "value": "new"}, {"$patch": "delete", "name": "B"}],
                }],
            }}),
            pod_with_containers(json!([{"name": "c", "env": [
                {"name": "N", "value": "new"}, {"name": "A", "value": "1"},
            ]}])),
        ),
        case(
            "ports merge by containerPort; a new port comes before live-only ones, as in Kubernetes",
            "Pod",
            pod_with_containers(json!([{"name": "c", "ports": [
                {"containerPort": 80, "name": "http"}, {"containerPort": 443, "name": "https"},
            ]}])),
            json!({"spec": {"containers": [{"name": "c", "ports": [
                {"containerPort": 80, "protocol": "TCP"}, {"containerPort": 8080},
            ]}]}}),
            pod_with_containers(json!([{"name": "c", "ports": [
                {"containerPort": 80, "name": "http", "protocol": "TCP"},
                {"containerPort": 8080},
                {"containerPort": 443, "name": "https"},
            ]}])),
        ),
        case(
            "volumeMounts merge by mountPath",
            "Pod",
            pod_with_containers(json!([{"name": "c", "volumeMounts": [
                {"name": "data", "mountPath": "/data"}, {"name": "cfg", "mountPath": "/etc/cfg"},
            ]}])),
            json!({"spec": {"containers": [{"name": "c", "volumeMounts": [
                {"mountPath": "/data", "readOnly": true}, {"mountPath": "/etc/cfg", "$patch": "delete"},
            ]}]}}),
            pod_with_containers(json!([{"name": "c", "volumeMounts": [
                {"name": "data", "mountPath": "/data", "readOnly": true},
            ]}])),
        ),
        case(
            "a container added by kubectl apply, placed by $setElementOrder",
            "Pod",
            pod_with_containers(json!([{"name": "a", "image": "a"}, {"name": "b", "image": "b"}])),
            json!({"spec": {
                "$setElementOrder/containers": [{"name": "a"}, {"name": "new"}, {"name": "b"}],
                "containers": [{"name": "new", "image": "n"}],
            }}),
            pod_with_containers(json!([
                {"name": "a", "image": "a"}, {"name": "new", "image": "n"}, {"name": "b", "image": "b"},
            ])),
        ),
        case(
            "a container removed by kubectl apply",
            "Pod",
            pod_with_containers(json!([{"name": "a", "image": "a"}, {"name": "b", "image": "b"}])),
            json!({"spec": {
                "$setElementOrder/containers": [{"name": "a"}],
                "containers": [{"$patch": "delete", "name": "b"}],
            }}),
            pod_with_containers(json!([{"name": "a", "image": "a"}])),
        ),
        case(
            "$setElementOrder alone reorders; a live-only element keeps its live place",
            "Pod",
            pod_with_containers(json!([{"name": "a"}, {"name": "b"}, {"name": "c"}])),
            json!({"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}]}}),
            pod_with_containers(json!([{"name": "b"}, {"name": "c"}, {"name": "a"}])),
        ),
        case(
            "$patch: replace as a list element replaces the list",
            "Pod",
            pod_with_containers(json!([{"name": "a", "image": "a"}, {"name": "b", "image": "b"}])),
            json!({"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "o"}]}}),
            pod_with_containers(json!([{"name": "only", "image": "o"}])),
        ),
        case(
            "volumes with $retainKeys switch a volume's source",
            "Pod",
            pod_with_spec(json!({"volumes": [
                {"name": "v", "emptyDir": {"medium": "Memory"}}, {"name": "w", "emptyDir": {}},
            ]})),
            json!({"spec": {
                "$setElementOrder/volumes": [{"name": "v"}, {"name": "w"}],
                "volumes": [{"$retainKeys": ["configMap", "name"], "name": "v", "configMap": {"name": "cm"}, "emptyDir": null}],
            }}),
            pod_with_spec(json!({"volumes": [
                {"name": "v", "configMap": {"name": "cm"}}, {"name": "w", "emptyDir": {}},
            ]})),
        ),
        case(
            "tolerations are replaced",
            "Pod",
            pod_with_spec(json!({"tolerations": [
                {"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"},
            ]})),
            json!({"spec": {"tolerations": [{"key": "c", "operator": "Exists"}]}}),
            pod_with_spec(json!({"tolerations": [{"key": "c", "operator": "Exists"}]})),
        ),
        case(
            "envFrom is replaced",
            "Pod",
            pod_with_containers(json!([{"name": "c", "envFrom": [{"configMapRef": {"name": "x"}}]}])),
            json!({"spec": {"containers": [{"name": "c", "envFrom": [{"secretRef": {"name": "y"}}]}]}}),
            pod_with_containers(json!([{"name": "c", "envFrom": [{"secretRef": {"name": "y"}}]}])),
        ),
        case(
            "finalizers merge as a set and $deleteFromPrimitiveList removes one",
            "Pod",
            pod_with_metadata(json!({"name": "p", "finalizers": ["a", "b", "c"]})),
            json!({"metadata": {
                "$setElementOrder/finalizers": ["a", "c", "d"],
                "finalizers": ["d"],
                "$deleteFromPrimitiveList/finalizers": ["b"],
            }}),
            pod_with_metadata(json!({"name": "p", "finalizers": ["a", "c", "d"]})),
        ),
        case(
            "finalizers: an existing value is not duplicated",
            "Pod",
            pod_with_metadata(json!({"name": "p", "finalizers": ["a"]})),
            json!({"metadata": {"finalizers": ["a", "b"]}}),
            pod_with_metadata(json!({"name": "p", "finalizers": ["a", "b"]})),
        ),
        case(
            "$patch: replace on a map",
            "Pod",
            pod_with_spec(json!({"securityContext": {"runAsNonRoot": true, "fsGroup": 2}})),
            json!({"spec": {"securityContext": {"$patch": "replace", "runAsUser": 1000}}}),
            pod_with_spec(json!({"securityContext": {"runAsUser": 1000}})),
        ),
        case(
            "$patch: replace on the labels",
            "Pod",
            pod_with_metadata(json!({"name": "p", "labels": {"a": "1", "b": "2"}})),
            json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}}}),
            pod_with_metadata(json!({"name": "p", "labels": {"c": "3"}})),
        ),
        case(
            "$patch: delete on a map",
            "Pod",
            pod_with_spec(json!({"securityContext": {"runAsNonRoot": true}, "hostname": "h"})),
            json!({"spec": {"securityContext": {"$patch": "delete"}}}),
            pod_with_spec(json!({"hostname": "h"})),
        ),
        case(
            "$patch: merge is the default",
            "Pod",
            pod_with_metadata(json!({"name": "p", "labels": {"a": "1"}})),
            json!({"metadata": {"labels": {"$patch": "merge", "b": "2"}}}),
            pod_with_metadata(json!({"name": "p", "labels": {"a": "1", "b": "2"}})),
        ),
        case(
            "ownerReferences merge by uid, imagePullSecrets by name, hostAliases by ip",
            "Pod",
            json!({"metadata": {"ownerReferences": [{"uid": "1", "name": "rs"}]}, "spec": {
                "imagePullSecrets": [{"name": "a"}],
                "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["a"]}],
            }}),
            json!({"metadata": {"ownerReferences": [{"uid": "2", "name": "other"}]}, "spec": {
                "imagePullSecrets": [{"name": "b"}],
                "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["b"]}],
            }}),
            json!({"metadata": {"ownerReferences": [{"uid": "2", "name": "other"}, {"uid": "1", "name": "rs"}]}, "spec": {
                "imagePullSecrets": [{"name": "b"}, {"name": "a"}],
                "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["b"]}],
            }}),
        ),
        case(
            "Pod status conditions merge by type",
            "Pod",
            json!({"status": {"conditions": [
                {"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"},
            ]}}),
            json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
            json!({"status": {"conditions": [
                {"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"},
            ]}}),
        ),
        case(
            "a field the live object lacks: directives are carried out, not copied",
            "Pod",
            pod_with_spec(json!({})),
            json!({"spec": {
                "$setElementOrder/initContainers": [{"name": "i"}],
                "initContainers": [{"name": "i", "env": [{"name": "X", "$patch": "delete"}, {"name": "Y", "value": null}]}],
                "volumes": [{"name": "v", "$retainKeys": ["name", "emptyDir"], "emptyDir": {}}],
                "securityContext": {"$patch": "delete"},
                "affinity": {"$patch": "replace", "nodeAffinity": {}},
            }}),
            pod_with_spec(json!({
                "initContainers": [{"name": "i", "env": [{"name": "Y"}]}],
                "volumes": [{"name": "v", "emptyDir": {}}],
                "affinity": {"nodeAffinity": {}},
            })),
        ),
        case(
            "Node: taints replaced, podCIDRs a set, conditions and addresses by type",
            "Node",
            json!({"spec": {"taints": [{"key": "a", "effect": "NoSchedule"}], "podCIDRs": ["10.0.0.0/24"]},
                   "status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "MemoryPressure", "status": "False"}],
                              "addresses": [{"type": "InternalIP", "address": "10.1.1.1"}, {"type": "Hostname", "address": "n"}],
                              "images": [{"names": ["a"]}]}}),
            json!({"spec": {"taints": [{"key": "b", "effect": "NoExecute"}], "podCIDRs": ["fd00::/64"]},
                   "status": {"conditions": [{"type": "Ready", "status": "True"}],
                              "addresses": [{"type": "InternalIP", "address": "10.1.1.2"}],
                              "images": [{"names": ["b"]}]}}),
            json!({"spec": {"taints": [{"key": "b", "effect": "NoExecute"}], "podCIDRs": ["fd00::/64", "10.0.0.0/24"]},
                   "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "MemoryPressure", "status": "False"}],
                              "addresses": [{"type": "InternalIP", "address": "10.1.1.2"}, {"type": "Hostname", "address": "n"}],
                              "images": [{"names": ["b"]}]}}),
        ),
        case(
            "Namespace: spec.finalizers replaced, status conditions by type, metadata finalizers a set",
            "Namespace",
            json!({"metadata": {"finalizers": ["x"]}, "spec": {"finalizers": ["kubernetes", "other"]},
                   "status": {"conditions": [{"type": "A", "status": "False"}]}}),
            json!({"metadata": {"finalizers": ["y"]}, "spec": {"finalizers": ["kubernetes"]},
                   "status": {"conditions": [{"type": "B", "status": "True"}]}}),
            json!({"metadata": {"finalizers": ["y", "x"]}, "spec": {"finalizers": ["kubernetes"]},
                   "status": {"conditions": [{"type": "B", "status": "True"}, {"type": "A", "status": "False"}]}}),
        ),
        case(
            "a kind without a table: lists replaced, metadata finalizers still a set",
            "Lease",
            json!({"metadata": {"finalizers": ["x"]}, "spec": {"items": [{"name": "a"}, {"name": "b"}]}}),
            json!({"metadata": {"finalizers": ["y"]}, "spec": {"items": [{"name": "c"}]}}),
            json!({"metadata": {"finalizers": ["y", "x"]}, "spec": {"items": [{"name": "c"}]}}),
        ),
        case(
            "a kind without a table: the merge key is learnt from $setElementOrder",
            "Service",
            json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}}),
            json!({"spec": {
                "$setElementOrder/ports": [{"port": 80}, {"port": 443}],
                "ports": [{"port": 443, "targetPort": 8443}],
            }}),
            json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https", "targetPort": 8443}]}}),
        ),
        case(
            "merge keys compare numbers by value",
            "Pod",
            pod_with_containers(json!([{"name": "c", "ports": [{"containerPort": 80}]}])),
            json!({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80.0, "name": "http"}]}]}}),
            pod_with_containers(json!([{"name": "c", "ports": [{"containerPort": 80.0, "name": "http"}]}])),
        ),
        case(
            "$patch: replace at the top",
            "Pod",
            pod_with_metadata(json!({"name": "p"})),
            json!({"$patch": "replace", "metadata": {"name": "q"}}),
            json!({"metadata": {"name": "q"}}),
        ),
        case(
            "a type change replaces the value",
            "Pod",
            pod_with_spec(json!({"nodeSelector": {"a": "b"}})),
            json!({"spec": {"nodeSelector": "x"}}),
            pod_with_spec(json!({"nodeSelector": "x"})),
        ),
    ];
    for case in cases {
        let got = smp(case.kind, &case.original, &case.patch)
            .unwrap_or_else(|e| panic!("{}: unexpected error {}", case.name, e));
        assert_eq!(got, case.want, "{}", case.name);
        assert_eq!(
            directives(&got),
            Vec::<String>::new(),
            "{}: directives leaked",
            case.name
        );
    }
}

#[test]
fn errors() {
    let pod = applied_pod("old");
    let cases: Vec<(&str, Value, i32, &str)> = vec![
        (
            "unknown $patch on a map",
            json!({"spec": {"securityContext": {"$patch": "explode"}}}),
            400,
            "unknown patch type: explode in map",
        ),
        (
            "unknown $patch in a list",
            json!({"spec": {"containers": [{"name": "c", "$patch": "twist"}]}}),
            400,
            "unknown patch type: twist",
        ),
        (
            "$patch that is not a string",
            json!({"metadata": {"$patch": 3}}),
            400,
            "unknown patch type: 3",
        ),
        (
            "delete without the merge key",
            json!({"spec": {"containers": [{"$patch": "delete", "image": "x"}]}}),
            400,
            "does not contain declared merge key: name",
        ),
        (
            "element without the merge key",
            json!({"spec": {"containers": [{"image": "x"}]}}),
            400,
            "does not contain declared merge key: name",
        ),
        (
            "$setElementOrder that is not a list",
            json!({"spec": {"$setElementOrder/containers": {"name": "c"}}}),
            400,
            "invalid patch format of setElementOrder list",
        ),
        (
            "$setElementOrder that disagrees with the patch list",
            json!({"spec": {"$setElementOrder/containers": [{"name": "c"}], "containers": [{"name": "d"}]}}),
            400,
            "doesn't match",
        ),
        (
            "$setElementOrder element without the merge key",
            json!({"spec": {"$setElementOrder/containers": [{"image": "c"}]}}),
            400,
            "does not contain declared merge key",
        ),
        (
            "$retainKeys that is not a list",
            json!({"spec": {"volumes": [{"name": "v", "$retainKeys": "name"}]}}),
            400,
            "invalid patch format of retainKeys",
        ),
        (
            "$retainKeys that omits a key the patch sets",
            json!({"spec": {"volumes": [{"name": "v", "$retainKeys": ["name"], "emptyDir": {}}]}}),
            400,
            "invalid patch format of retainKeys",
        ),
        (
            "$deleteFromPrimitiveList that is not a list",
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}),
            400,
            "invalid patch format of primitive list",
        ),
        (
            "a list of lists in a merging list",
            json!({"metadata": {"finalizers": [["a"]]}}),
            422,
            "lists of lists are not supported",
        ),
        (
            "mixed element types in a merging list",
            json!({"spec": {"containers": ["c"]}}),
            400,
            "list element types are not identical",
        ),
        (
            "a patch that is a list",
            json!([{"spec": {}}]),
            400,
            "expected an object, got a list",
        ),
        ("a patch that is null", json!(null), 400, "expected an object, got null"),
    ];
    for (name, patch, code, message) in cases {
        let error = smp("Pod", &pod, &patch).expect_err(name);
        assert_eq!(error.code(), code, "{name}: {error}");
        assert!(error.to_string().contains(message), "{name}: {error}");
    }

    let error = apply_patch("Pod", PatchType::StrategicMerge, &pod, b"{\"spec\": ").unwrap_err();
    assert_eq!((error.code(), error.reason()), (400, "BadRequest"), "{error}");
    assert!(
        error.to_string().starts_with("invalid strategic merge patch: EOF"),
        "{error}"
    );
}
