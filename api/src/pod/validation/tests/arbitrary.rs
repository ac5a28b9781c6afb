//! Validation, defaulting and the update rules return, whatever a Pod holds.

use serde_json::{Value, json};

use super::*;
use crate::pod::update::{validate_pod_status_update, validate_pod_update};

/// Every object in `value`'s tree, as (JSON pointer, value).
fn objects(value: &Value, pointer: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let child_pointer = format!("{pointer}/{key}");
                out.push(child_pointer.clone());
                objects(child, child_pointer, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let child_pointer = format!("{pointer}/{i}");
                out.push(child_pointer.clone());
                objects(child, child_pointer, out);
            }
        }
        _ => {}
    }
}

/// A Pod with every message present (mostly empty) and odd values, as JSON.
fn everything_pod() -> Value {
    let probe = json!({"exec": {}, "httpGet": {"port": "x"}, "tcpSocket": {}, "grpc": {"port": 0, "service": null}, "terminationGracePeriodSeconds": -1});
    let handler = json!({"exec": {}, "httpGet": {}, "tcpSocket": {}, "sleep": {"seconds": -5}});
    let container = json!({
        "name": "", "image": " ", "ports": [{}, {"containerPort": -1, "hostPort": 99999, "name": "-", "protocol": "x"}],
        "envFrom": [{}, {"configMapRef": {}, "secretRef": {}}],
        "env": [{}, {"name": "=", "valueFrom": {"fieldRef": {}, "resourceFieldRef": {"divisor": "x"}, "configMapKeyRef": {}, "secretKeyRef": {}}},
                {"name": "a", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.labels['']"}}},
                {"name": "b", "valueFrom": {"resourceFieldRef": {"resource": "limits.hugepages-", "divisor": "0"}}}],
        "resources": {"limits": {"": "", "cpu": "1e999", "hugepages-": "-1"}, "requests": {"/": "9999999999999999999999999999Ei", "cpu": "x"}, "claims": [{}]},
        "resizePolicy": [{}, {}], "restartPolicy": "",
        "volumeMounts": [{}, {"name": "v", "subPath": "..", "subPathExpr": "/", "mountPropagation": "", "recursiveReadOnly": ""}],
        "volumeDevices": [{}, {"name": "v", "devicePath": ".."}],
        "livenessProbe": probe, "readinessProbe": {}, "startupProbe": {},
        "lifecycle": {"postStart": handler, "preStop": {}},
        "securityContext": {"capabilities": {"add": ["CAP_SYS_ADMIN"]}, "privileged": true, "seLinuxOptions": {}, "windowsOptions": {},
            "runAsUser": -9223372036854775808i64, "allowPrivilegeEscalation": false, "procMount": "", "seccompProfile": {"localhostProfile": ""}, "appArmorProfile": {"type": "Localhost", "localhostProfile": " "}}
    });
    let mut ephemeral = container.clone();
    ephemeral["targetContainerName"] = json!("nope");
    let selector = json!({"matchLabels": {"": ""}, "matchExpressions": [{}, {"key": "k", "operator": "In"}]});
    let term = json!({"labelSelector": selector, "namespaceSelector": selector, "namespaces": [""], "matchLabelKeys": ["", "k"], "mismatchLabelKeys": [""]});
    json!({
        "metadata": {"labels": {"k": "v"}},
        "spec": {
            "volumes": [{}, {"name": "v", "hostPath": {}, "emptyDir": {"sizeLimit": "x"}, "secret": {"items": [{}]}, "nfs": {}, "persistentVolumeClaim": {},
                "downwardAPI": {"items": [{}, {"fieldRef": {}, "resourceFieldRef": {}}]}, "configMap": {"items": [{"path": ".."}]},
                "projected": {"sources": [{}, {"secret": {"items": [{}]}, "downwardAPI": {"items": [{}]}, "configMap": {}, "serviceAccountToken": {"expirationSeconds": -1}, "clusterTrustBundle": {}}]},
                "csi": {"nodePublishSecretRef": {}}, "image": {}},
                {"name": "w", "projected": {"sources": [{"serviceAccountToken": {"path": "/abs"}}]}}],
            "initContainers": [container, container],
            "containers": [container, {}],
            "ephemeralContainers": [ephemeral, {}],
            "restartPolicy": "x", "terminationGracePeriodSeconds": -9223372036854775808i64, "activeDeadlineSeconds": 9223372036854775807i64,
            "dnsPolicy": "None", "nodeSelector": {"": ""}, "hostNetwork": true, "hostPID": true, "hostIPC": true, "shareProcessNamespace": true,
            "securityContext": {"sysctls": [{}, {"name": "net."}], "supplementalGroups": [-1], "fsGroupChangePolicy": "", "seccompProfile": {}, "appArmorProfile": {}, "supplementalGroupsPolicy": ""},
            "affinity": {
                "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{}, {"matchExpressions": [{}], "matchFields": [{}]}]},
                    "preferredDuringSchedulingIgnoredDuringExecution": [{}, {"weight": 1}]},
                "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{}, term], "preferredDuringSchedulingIgnoredDuringExecution": [{}, {"podAffinityTerm": term}]},
                "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}
            },
            "tolerations": [{}, {"operator": "Exists", "value": "v", "tolerationSeconds": 1}],
            "hostAliases": [{}], "dnsConfig": {"nameservers": ["", "", "", ""], "options": [{}]},
            "readinessGates": [{}], "schedulingGates": [{}, {}], "runtimeClassName": "", "preemptionPolicy": "", "overhead": {"cpu": ""},
            "topologySpreadConstraints": [{}, {}, {"minDomains": -1, "labelSelector": selector, "matchLabelKeys": [""], "nodeAffinityPolicy": "", "nodeTaintsPolicy": ""}],
            "os": {"name": "windows"}, "hostUsers": false, "resourceClaims": [{}], "resources": {"limits": {"cpu": "x"}}
        },
        "status": {"phase": "x", "conditions": [{}], "podIPs": [{"ip": "1.1.1.1"}, {"ip": "1.1.1.1"}, {"ip": "x"}], "hostIP": "y",
            "containerStatuses": [{"name": "a", "state": {"terminated": {}}}], "initContainerStatuses": [{"state": {}}], "ephemeralContainerStatuses": [{}]}
    })
}

fn remove(value: &mut Value, pointer: &str) {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    match value.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(last);
        }
        Some(Value::Array(items)) => {
            if let Ok(i) = last.parse::<usize>() {
                items.remove(i);
            }
        }
        _ => {}
    }
}

/// Runs every entry point on a Pod; they must return, whatever the Pod holds.
fn exercise(pod: &Pod, other: &Pod) {
    let _ = validate_pod(pod);
    let _ = validate_pod_update(pod, other);
    let _ = validate_pod_update(other, pod);
    let _ = validate_pod_status_update(pod, other);
    let _ = crate::pod::qos::qos_class(pod.spec.as_ref().unwrap_or(&PodSpec::default()));
    let mut defaulted = pod.clone();
    default_pod(&mut defaulted);
    crate::pod::defaults::apply_match_label_keys(&mut defaulted);
    let _ = validate_pod(&defaulted);
    let _ = validate_pod_update(&defaulted, pod);
}

#[test]
fn arbitrary_pods_never_panic() {
    let empties = [
        Pod::default(),
        Pod {
            spec: Some(PodSpec::default()),
            ..Default::default()
        },
        Pod {
            status: Some(PodStatus::default()),
            ..Default::default()
        },
    ];
    for pod in &empties {
        for other in &empties {
            exercise(pod, other);
        }
    }
    let everything = everything_pod();
    let full: Pod = serde_json::from_value(everything.clone()).expect("the test pod decodes");
    exercise(&full, &full);
    exercise(&full, &Pod::default());
    // Every partially filled variant: the full Pod with one field (or list item) removed.
    let mut pointers = Vec::new();
    objects(&everything, String::new(), &mut pointers);
    assert!(
        pointers.len() > 300,
        "the test pod should be rich, has {} fields",
        pointers.len()
    );
    for pointer in pointers {
        let mut value = everything.clone();
        remove(&mut value, &pointer);
        let pod: Pod = serde_json::from_value(value).unwrap_or_else(|e| panic!("{pointer}: {e}"));
        exercise(&pod, &full);
    }
}
