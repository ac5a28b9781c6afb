use podium_proto::k8s::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, HostIp, PodCondition, PodIp, PodSchedulingGate,
    ResourceRequirements,
};
use podium_proto::k8s::meta::v1::{ObjectMeta, Quantity};

use super::*;
use crate::pod::defaults::default_pod;

fn old_pod() -> Pod {
    let mut pod = Pod {
        metadata: Some(ObjectMeta {
            name: "web".into(),
            namespace: "default".into(),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "app".into(),
                image: "nginx:1.26".into(),
                ..Default::default()
            }],
            init_containers: vec![Container {
                name: "init".into(),
                image: "busybox:1.36".into(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    default_pod(&mut pod);
    pod.status = Some(PodStatus {
        phase: "Pending".into(),
        qos_class: "BestEffort".into(),
        ..Default::default()
    });
    pod
}

fn spec(pod: &mut Pod) -> &mut PodSpec {
    pod.spec.as_mut().unwrap()
}

fn messages(causes: &[Cause]) -> Vec<String> {
    causes.iter().map(Cause::message).collect()
}

fn forbidden_spec(causes: &[Cause]) -> bool {
    causes
        .iter()
        .any(|c| c.field == "spec" && c.detail.starts_with(&format!("Forbidden: {UPDATABLE_FIELDS_MESSAGE}")))
}

type Mutation = fn(&mut Pod);

#[test]
fn allowed_updates() {
    let cases: Vec<(&str, Mutation, Mutation)> = vec![
        ("nothing", |_| {}, |_| {}),
        (
            "app image",
            |_| {},
            |p| spec(p).containers[0].image = "nginx:1.27".into(),
        ),
        (
            "init image",
            |_| {},
            |p| spec(p).init_containers[0].image = "busybox:1.37".into(),
        ),
        (
            "set activeDeadlineSeconds",
            |_| {},
            |p| spec(p).active_deadline_seconds = Some(60),
        ),
        (
            "lower activeDeadlineSeconds",
            |p| spec(p).active_deadline_seconds = Some(60),
            |p| spec(p).active_deadline_seconds = Some(30),
        ),
        (
            "add a toleration",
            |_| {},
            |p| {
                spec(p).tolerations.push(Toleration {
                    key: "dedicated".into(),
                    operator: "Exists".into(),
                    effect: "NoSchedule".into(),
                    ..Default::default()
                })
            },
        ),
        (
            "change tolerationSeconds",
            |_| {},
            |p| spec(p).tolerations[0].toleration_seconds = Some(10),
        ),
        (
            "change terminationGracePeriodSeconds",
            |_| {},
            |p| spec(p).termination_grace_period_seconds = Some(1),
        ),
        (
            "remove a scheduling gate",
            |p| {
                spec(p).scheduling_gates = vec![
                    PodSchedulingGate { name: "a".into() },
                    PodSchedulingGate { name: "b".into() },
                ]
            },
            |p| spec(p).scheduling_gates = vec![PodSchedulingGate { name: "b".into() }],
        ),
        (
            "add to the node selector of a gated pod",
            |p| {
                spec(p).scheduling_gates = vec![PodSchedulingGate { name: "a".into() }];
                spec(p).node_selector = [("zone".to_owned(), "a".to_owned())].into_iter().collect();
            },
            |p| {
                spec(p).node_selector.insert("disk".into(), "ssd".into());
            },
        ),
        (
            "status is not the main resource's business",
            |_| {},
            |p| p.status = None,
        ),
    ];
    for (name, prepare, change) in cases {
        let mut old = old_pod();
        prepare(&mut old);
        let mut new = old.clone();
        change(&mut new);
        assert_eq!(
            messages(&validate_pod_update(&new, &old)),
            Vec::<String>::new(),
            "{name}"
        );
    }
}

#[test]
fn forbidden_spec_changes() {
    let cases: Vec<(&str, Mutation)> = vec![
        ("restartPolicy", |p| spec(p).restart_policy = "Never".into()),
        ("nodeName (a Binding's job)", |p| spec(p).node_name = "n1".into()),
        ("container command", |p| {
            spec(p).containers[0].command = vec!["sh".into()]
        }),
        ("container env", |p| {
            spec(p).containers[0].env = vec![Default::default()]
                .into_iter()
                .map(
                    |e: podium_proto::k8s::core::v1::EnvVar| podium_proto::k8s::core::v1::EnvVar {
                        name: "A".into(),
                        ..e
                    },
                )
                .collect()
        }),
        ("hostname", |p| spec(p).hostname = "other".into()),
        ("serviceAccountName", |p| spec(p).service_account_name = "admin".into()),
        ("ephemeral containers (a subresource's job)", |p| {
            spec(p)
                .ephemeral_containers
                .push(podium_proto::k8s::core::v1::EphemeralContainer {
                    name: "debug".into(),
                    image: "busybox".into(),
                    image_pull_policy: "Always".into(),
                    termination_message_policy: "File".into(),
                    ..Default::default()
                })
        }),
        ("node selector of a scheduled pod", |p| {
            spec(p).node_selector.insert("zone".into(), "a".into());
        }),
    ];
    for (name, change) in cases {
        let old = old_pod();
        let mut new = old.clone();
        change(&mut new);
        let causes = validate_pod_update(&new, &old);
        assert_eq!(causes.len(), 1, "{name}: {:#?}", messages(&causes));
        assert!(forbidden_spec(&causes), "{name}: {:#?}", messages(&causes));
    }
}

#[test]
fn the_refusal_names_what_changed() {
    let old = old_pod();
    let mut new = old.clone();
    spec(&mut new).restart_policy = "Never".into();
    spec(&mut new).containers[0].image = "nginx:1.27".into();
    let causes = validate_pod_update(&new, &old);
    let message = causes[0].message();
    assert!(
        message.starts_with(
            "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,\
             `spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to \
             existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was \
             previously negative)\n"
        ),
        "{message}"
    );
    assert!(
        message.ends_with("\n- spec.restartPolicy: \"Always\"\n+ spec.restartPolicy: \"Never\""),
        "{message}"
    );
    assert!(
        !message.contains("nginx:1.27"),
        "allowed changes are not part of the diff: {message}"
    );
}

#[test]
fn the_diff_is_short() {
    let old = old_pod();
    let mut new = old.clone();
    spec(&mut new).node_selector = (0..30).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let message = validate_pod_update(&new, &old)[0].message();
    assert!(message.ends_with("  ... and 10 more"), "{message}");
}

#[test]
fn refused_updates() {
    let cases: Vec<(&str, Mutation, Mutation, Vec<&str>)> = vec![
        (
            "add a container",
            |_| {},
            |p| {
                let mut c = spec(p).containers[0].clone();
                c.name = "two".into();
                spec(p).containers.push(c);
            },
            vec!["spec.containers: Forbidden: pod updates may not add or remove containers"],
        ),
        (
            "remove an init container",
            |_| {},
            |p| spec(p).init_containers.clear(),
            vec!["spec.initContainers: Forbidden: pod updates may not add or remove containers"],
        ),
        (
            "empty image",
            |_| {},
            |p| spec(p).containers[0].image.clear(),
            vec![
                "spec.containers[0].image: Required value",
                "spec.containers[0].image: Required value",
            ],
        ),
        (
            "image whitespace",
            |_| {},
            |p| spec(p).init_containers[0].image = "busybox ".into(),
            vec![
                "spec.initContainers[0].image: Invalid value: \"busybox \": must not have leading or trailing whitespace",
                "spec.initContainers[0].image: Invalid value: \"busybox \": must not have leading or trailing whitespace",
            ],
        ),
        (
            "raise activeDeadlineSeconds",
            |p| spec(p).active_deadline_seconds = Some(30),
            |p| spec(p).active_deadline_seconds = Some(60),
            vec!["spec.activeDeadlineSeconds: Invalid value: 60: must be less than or equal to previous value"],
        ),
        (
            "unset activeDeadlineSeconds",
            |p| spec(p).active_deadline_seconds = Some(30),
            |p| spec(p).active_deadline_seconds = None,
            vec![
                "spec.activeDeadlineSeconds: Invalid value: \"null\": must not update from a positive integer to nil value",
            ],
        ),
        (
            "activeDeadlineSeconds out of range",
            |_| {},
            |p| spec(p).active_deadline_seconds = Some(-1),
            vec![
                "spec.activeDeadlineSeconds: Invalid value: -1: must be between 1 and 2147483647, inclusive",
                "spec.activeDeadlineSeconds: Invalid value: -1: must be between 0 and 2147483647, inclusive",
            ],
        ),
        (
            "remove a toleration",
            |_| {},
            |p| {
                spec(p).tolerations.remove(0);
            },
            vec!["spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"],
        ),
        (
            "change a toleration's effect",
            |_| {},
            |p| spec(p).tolerations[0].effect = "NoSchedule".into(),
            vec![
                "spec.tolerations[0].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
                "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds",
            ],
        ),
        (
            "add an invalid toleration",
            |_| {},
            |p| {
                spec(p).tolerations.push(Toleration {
                    key: "k".into(),
                    operator: "Like".into(),
                    ..Default::default()
                })
            },
            vec![
                // Once from the spec rules, once from the tolerations update rule, as in Kubernetes.
                "spec.tolerations[2].operator: Unsupported value: \"Like\": supported values: \"Equal\", \"Exists\"",
                "spec.tolerations[2].operator: Unsupported value: \"Like\": supported values: \"Equal\", \"Exists\"",
            ],
        ),
        (
            "add a scheduling gate",
            |p| spec(p).scheduling_gates = vec![PodSchedulingGate { name: "a".into() }],
            |p| spec(p).scheduling_gates.push(PodSchedulingGate { name: "b".into() }),
            vec![
                "spec.schedulingGates[1].name: Forbidden: only deletion is allowed, but found new scheduling gate 'b'",
            ],
        ),
        (
            "change the node selector of a gated pod",
            |p| {
                spec(p).scheduling_gates = vec![PodSchedulingGate { name: "a".into() }];
                spec(p).node_selector = [("zone".to_owned(), "a".to_owned())].into_iter().collect();
            },
            |p| {
                spec(p).node_selector.insert("zone".into(), "b".into());
            },
            vec![
                "spec.nodeSelector: Invalid value: map[string]string{\"zone\":\"b\"}: only additions to spec.nodeSelector are allowed (no mutations or deletions)",
            ],
        ),
        (
            "negative grace period",
            |_| {},
            |p| spec(p).termination_grace_period_seconds = Some(-1),
            vec!["spec.terminationGracePeriodSeconds: Invalid value: -1: must be greater than or equal to 0"],
        ),
    ];
    for (name, prepare, change, want) in cases {
        let mut old = old_pod();
        prepare(&mut old);
        let mut new = old.clone();
        change(&mut new);
        assert_eq!(messages(&validate_pod_update(&new, &old)), want, "{name}");
    }
}

#[test]
fn qos_is_immutable() {
    let old = old_pod();
    let mut new = old.clone();
    let limits = [("cpu".to_owned(), Quantity::new("1"))].into_iter().collect();
    spec(&mut new).containers[0].resources = Some(ResourceRequirements {
        limits,
        ..Default::default()
    });
    let causes = messages(&validate_pod_update(&new, &old));
    assert_eq!(
        causes[0],
        "metadata: Invalid value: \"BestEffort\": Pod QoS is immutable"
    );
    assert_eq!(causes.len(), 2, "{causes:#?}");
}

fn terminated(name: &str, exit_code: i32) -> ContainerStatus {
    ContainerStatus {
        name: name.into(),
        state: Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code,
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn running(name: &str) -> ContainerStatus {
    ContainerStatus {
        name: name.into(),
        state: Some(ContainerState {
            running: Some(ContainerStateRunning::default()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn status(pod: &mut Pod) -> &mut PodStatus {
    pod.status.as_mut().unwrap()
}

#[test]
fn status_updates() {
    let cases: Vec<(&str, Mutation, Mutation, Vec<&str>)> = vec![
        (
            "a kubelet's report",
            |_| {},
            |p| {
                let s = status(p);
                s.phase = "Running".into();
                s.pod_ip = "10.0.0.5".into();
                s.pod_ips = vec![PodIp { ip: "10.0.0.5".into() }, PodIp { ip: "fd00::5".into() }];
                s.host_ip = "192.168.1.10".into();
                s.conditions = vec![
                    PodCondition {
                        r#type: "Ready".into(),
                        status: "True".into(),
                        ..Default::default()
                    },
                    PodCondition {
                        r#type: "example.com/custom".into(),
                        status: "True".into(),
                        ..Default::default()
                    },
                ];
                s.container_statuses = vec![running("app")];
            },
            vec![],
        ),
        (
            "phase",
            |_| {},
            |p| status(p).phase = "Sleeping".into(),
            vec![
                "status.phase: Unsupported value: \"Sleeping\": supported values: \"Pending\", \"Running\", \"Succeeded\", \"Failed\", \"Unknown\"",
            ],
        ),
        (
            "condition type",
            |_| {},
            |p| {
                status(p).conditions = vec![PodCondition {
                    r#type: "bad type".into(),
                    ..Default::default()
                }]
            },
            vec!["metadata.conditions[0].Type: Invalid value: \"bad type\": name part must consist of"],
        ),
        (
            "empty condition type",
            |_| {},
            |p| status(p).conditions = vec![PodCondition::default()],
            vec![
                "metadata.conditions[0].Type: Invalid value: \"\": name part must be non-empty",
                "metadata.conditions[0].Type: Invalid value: \"\": name part must consist of",
            ],
        ),
        (
            "nodeName",
            |_| {},
            |p| spec(p).node_name = "n1".into(),
            vec!["status.nodeName: Forbidden: may not be changed directly"],
        ),
        (
            "nominated node",
            |_| {},
            |p| status(p).nominated_node_name = "Node_1".into(),
            vec!["status.nominatedNodeName: Invalid value: \"Node_1\": a lowercase RFC 1123 subdomain"],
        ),
        (
            "pod IPs",
            |_| {},
            |p| {
                status(p).pod_ips = vec![
                    PodIp { ip: "10.0.0.1".into() },
                    PodIp { ip: "10.0.0.1".into() },
                    PodIp { ip: "x".into() },
                ]
            },
            vec![
                "status.podIPs[2]: Invalid value: \"x\": must be a valid IP address",
                "status.podIPs: Invalid value: []core.PodIP{core.PodIP{IP:\"10.0.0.1\"}, core.PodIP{IP:\"10.0.0.1\"}, core.PodIP{IP:\"x\"}}: may specify no more than one IP for each IP family",
                "status.podIPs[1]: Duplicate value: \"10.0.0.1\"",
            ],
        ),
        (
            "a lone podIP and hostIP",
            |_| {},
            |p| {
                status(p).pod_ip = "nope".into();
                status(p).host_ips = vec![HostIp { ip: "1.2.3.4".into() }, HostIp { ip: "5.6.7.8".into() }];
            },
            vec![
                "status.podIPs[0]: Invalid value: \"nope\": must be a valid IP address",
                "status.hostIPs: Invalid value: []core.PodIP{",
            ],
        ),
        (
            "a terminated container may not run again with restartPolicy Never",
            |p| {
                spec(p).restart_policy = "Never".into();
                status(p).container_statuses = vec![terminated("app", 0)];
            },
            |p| status(p).container_statuses = vec![running("app")],
            vec!["status.containerStatuses[0].state: Forbidden: may not be transitioned to non-terminated state"],
        ),
        (
            "OnFailure restarts failed containers",
            |p| {
                spec(p).restart_policy = "OnFailure".into();
                status(p).container_statuses = vec![terminated("app", 1)];
            },
            |p| status(p).container_statuses = vec![running("app")],
            vec![],
        ),
        (
            "OnFailure keeps succeeded containers terminated",
            |p| {
                spec(p).restart_policy = "OnFailure".into();
                status(p).init_container_statuses = vec![terminated("init", 0)];
            },
            |p| status(p).init_container_statuses = vec![running("init")],
            vec!["status.initContainerStatuses[0].state: Forbidden: may not be transitioned to non-terminated state"],
        ),
        (
            "sidecars restart",
            |p| {
                spec(p).restart_policy = "Never".into();
                spec(p).init_containers[0].restart_policy = Some("Always".into());
                status(p).init_container_statuses = vec![terminated("init", 0)];
            },
            |p| status(p).init_container_statuses = vec![running("init")],
            vec![],
        ),
        (
            "ephemeral containers never restart",
            |p| status(p).ephemeral_container_statuses = vec![terminated("debug", 1)],
            |p| status(p).ephemeral_container_statuses = vec![running("debug")],
            vec![
                "status.ephemeralContainerStatuses[0].state: Forbidden: may not be transitioned to non-terminated state",
            ],
        ),
        (
            "Always restarts everything",
            |p| status(p).container_statuses = vec![terminated("app", 0)],
            |p| status(p).container_statuses = vec![running("app")],
            vec![],
        ),
    ];
    for (name, prepare, change, want) in cases {
        let mut old = old_pod();
        prepare(&mut old);
        let mut new = old.clone();
        change(&mut new);
        let got = messages(&validate_pod_status_update(&new, &old));
        assert_eq!(got.len(), want.len(), "{name}: {got:#?}");
        for (got, want) in got.iter().zip(&want) {
            assert!(got.starts_with(want), "{name}: {got:?} does not start with {want:?}");
        }
    }
}
