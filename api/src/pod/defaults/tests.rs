use std::collections::BTreeMap;

use podium_proto::k8s::core::v1::{Affinity, PodSecurityContext};
use podium_proto::k8s::core::v1::{
    ConfigMapVolumeSource, ContainerPort, DownwardApiProjection, DownwardApiVolumeFile, DownwardApiVolumeSource,
    EnvVar, EnvVarSource, GrpcAction, HostPathVolumeSource, ImageVolumeSource, Lifecycle, LifecycleHandler,
    PodAffinity, PodAntiAffinity, ProjectedVolumeSource, ResourceRequirements, SecretVolumeSource,
    ServiceAccountTokenProjection, TcpSocketAction, VolumeProjection, WeightedPodAffinityTerm,
};
use podium_proto::k8s::meta::v1::{LabelSelector, ObjectMeta, Quantity};

use super::*;

fn container(name: &str, image: &str) -> Container {
    Container {
        name: name.into(),
        image: image.into(),
        ..Default::default()
    }
}

fn pod_with(spec: PodSpec) -> Pod {
    Pod {
        spec: Some(spec),
        ..Default::default()
    }
}

fn defaulted(spec: PodSpec) -> PodSpec {
    let mut pod = pod_with(spec);
    default_pod(&mut pod);
    pod.spec.unwrap()
}

#[test]
fn pod_level_defaults() {
    let spec = defaulted(PodSpec {
        containers: vec![container("c", "nginx")],
        ..Default::default()
    });
    assert_eq!(spec.restart_policy, "Always");
    assert_eq!(spec.termination_grace_period_seconds, Some(30));
    assert_eq!(spec.dns_policy, "ClusterFirst");
    assert_eq!(spec.scheduler_name, "default-scheduler");
    assert_eq!(spec.security_context, Some(PodSecurityContext::default()));
    assert_eq!(spec.enable_service_links, Some(true));
    assert_eq!(
        spec.priority, None,
        "priority is resolved from the PriorityClass elsewhere"
    );
}

#[test]
fn pod_level_values_are_kept() {
    let spec = defaulted(PodSpec {
        restart_policy: "Never".into(),
        termination_grace_period_seconds: Some(0),
        dns_policy: "Default".into(),
        scheduler_name: "mine".into(),
        security_context: Some(PodSecurityContext {
            run_as_user: Some(1000),
            ..Default::default()
        }),
        enable_service_links: Some(false),
        ..Default::default()
    });
    assert_eq!(spec.restart_policy, "Never");
    assert_eq!(spec.termination_grace_period_seconds, Some(0));
    assert_eq!(spec.dns_policy, "Default");
    assert_eq!(spec.scheduler_name, "mine");
    assert_eq!(spec.security_context.unwrap().run_as_user, Some(1000));
    assert_eq!(spec.enable_service_links, Some(false));
}

#[test]
fn a_pod_without_spec_gets_one() {
    let mut pod = Pod::default();
    default_pod(&mut pod);
    assert_eq!(pod.spec.unwrap().restart_policy, "Always");
}

#[test]
fn service_account_alias() {
    let spec = defaulted(PodSpec {
        service_account: "old".into(),
        ..Default::default()
    });
    assert_eq!(
        (spec.service_account_name.as_str(), spec.service_account.as_str()),
        ("old", "old")
    );
    let spec = defaulted(PodSpec {
        service_account: "old".into(),
        service_account_name: "new".into(),
        ..Default::default()
    });
    assert_eq!(
        (spec.service_account_name.as_str(), spec.service_account.as_str()),
        ("new", "new")
    );
}

#[test]
fn pull_policy_by_image() {
    let cases = [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("library/nginx", "Always"),
        ("docker.io/library/nginx:latest", "Always"),
        ("registry.example.com:5000/team/app", "Always"),
        ("registry.example.com:5000/team/app:v2", "IfNotPresent"),
        ("localhost:5000/app", "Always"),
        ("localhost/app:latest", "Always"),
        ("[::1]:5000/app:1", "IfNotPresent"),
        (
            "nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "IfNotPresent",
        ),
        (
            "nginx:latest@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "Always",
        ),
        (
            "nginx:1.27@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "IfNotPresent",
        ),
        // Not a valid reference: Kubernetes' parser fails, the tag is empty, so IfNotPresent.
        ("", "IfNotPresent"),
        ("Nginx", "IfNotPresent"),
        ("nginx:", "IfNotPresent"),
        ("nginx@sha256:abc", "IfNotPresent"),
        (
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "IfNotPresent",
        ),
        ("my_registry/app", "Always"),
        ("a--b/c__d.e", "Always"),
        ("a_-b", "IfNotPresent"),
    ];
    for (image, want) in cases {
        assert_eq!(default_pull_policy(image), want, "{image:?}");
    }
}

#[test]
fn container_defaults_for_every_kind() {
    let mut probe_container = container("c", "nginx:1.27");
    probe_container.liveness_probe = Some(Probe {
        http_get: Some(HttpGetAction::default()),
        ..Default::default()
    });
    probe_container.readiness_probe = Some(Probe {
        tcp_socket: Some(TcpSocketAction::default()),
        ..Default::default()
    });
    probe_container.startup_probe = Some(Probe {
        grpc: Some(GrpcAction {
            port: 9000,
            service: None,
        }),
        ..Default::default()
    });
    probe_container.lifecycle = Some(Lifecycle {
        post_start: Some(LifecycleHandler {
            http_get: Some(HttpGetAction::default()),
            ..Default::default()
        }),
        pre_stop: Some(LifecycleHandler {
            http_get: Some(HttpGetAction {
                path: "/stop".into(),
                scheme: "HTTPS".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
    });
    probe_container.ports = vec![ContainerPort {
        container_port: 80,
        ..Default::default()
    }];
    probe_container.env = vec![EnvVar {
        name: "NODE".into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: "spec.nodeName".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }];
    let ephemeral = container_to_ephemeral(probe_container.clone(), "c".into());
    let spec = defaulted(PodSpec {
        containers: vec![probe_container.clone()],
        init_containers: vec![probe_container],
        ephemeral_containers: vec![ephemeral],
        ..Default::default()
    });
    let (ephemeral, target) = ephemeral_to_container(spec.ephemeral_containers[0].clone());
    assert_eq!(target, "c");
    for c in [&spec.containers[0], &spec.init_containers[0], &ephemeral] {
        assert_eq!(c.image_pull_policy, "IfNotPresent");
        assert_eq!(c.termination_message_path, "/dev/termination-log");
        assert_eq!(c.termination_message_policy, "File");
        assert_eq!(c.ports[0].protocol, "TCP");
        assert_eq!(
            c.ports[0].host_port, 0,
            "host ports are only defaulted with hostNetwork"
        );
        let field_ref = c.env[0].value_from.as_ref().unwrap().field_ref.as_ref().unwrap();
        assert_eq!(field_ref.api_version, "v1");
        for probe in [&c.liveness_probe, &c.readiness_probe, &c.startup_probe] {
            let probe = probe.as_ref().unwrap();
            assert_eq!(
                (
                    probe.timeout_seconds,
                    probe.period_seconds,
                    probe.success_threshold,
                    probe.failure_threshold
                ),
                (1, 10, 1, 3)
            );
            assert_eq!(probe.initial_delay_seconds, 0);
        }
        let http = c.liveness_probe.as_ref().unwrap().http_get.as_ref().unwrap();
        assert_eq!((http.path.as_str(), http.scheme.as_str()), ("/", "HTTP"));
        assert_eq!(
            c.startup_probe
                .as_ref()
                .unwrap()
                .grpc
                .as_ref()
                .unwrap()
                .service
                .as_deref(),
            Some("")
        );
        let lifecycle = c.lifecycle.as_ref().unwrap();
        let post_start = lifecycle.post_start.as_ref().unwrap().http_get.as_ref().unwrap();
        assert_eq!((post_start.path.as_str(), post_start.scheme.as_str()), ("/", "HTTP"));
        let pre_stop = lifecycle.pre_stop.as_ref().unwrap().http_get.as_ref().unwrap();
        assert_eq!((pre_stop.path.as_str(), pre_stop.scheme.as_str()), ("/stop", "HTTPS"));
    }
}

#[test]
fn container_values_are_kept() {
    let mut c = container("c", "nginx");
    c.image_pull_policy = "Never".into();
    c.termination_message_path = "/tmp/msg".into();
    c.termination_message_policy = "FallbackToLogsOnError".into();
    c.ports = vec![ContainerPort {
        container_port: 53,
        protocol: "UDP".into(),
        ..Default::default()
    }];
    c.liveness_probe = Some(Probe {
        timeout_seconds: 5,
        period_seconds: 2,
        success_threshold: 1,
        failure_threshold: 7,
        ..Default::default()
    });
    let spec = defaulted(PodSpec {
        containers: vec![c],
        ..Default::default()
    });
    let c = &spec.containers[0];
    assert_eq!(c.image_pull_policy, "Never");
    assert_eq!(c.termination_message_path, "/tmp/msg");
    assert_eq!(c.termination_message_policy, "FallbackToLogsOnError");
    assert_eq!(c.ports[0].protocol, "UDP");
    let probe = c.liveness_probe.as_ref().unwrap();
    assert_eq!(
        (probe.timeout_seconds, probe.period_seconds, probe.failure_threshold),
        (5, 2, 7)
    );
}

fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Quantity::new(*v)))
        .collect()
}

#[test]
fn requests_default_to_limits_per_resource() {
    let mut c = container("c", "nginx");
    c.resources = Some(ResourceRequirements {
        limits: quantities(&[("cpu", "1"), ("memory", "1Gi"), ("example.com/gpu", "2")]),
        requests: quantities(&[("cpu", "500m")]),
        ..Default::default()
    });
    let mut ephemeral_source = container("e", "busybox");
    ephemeral_source.resources = Some(ResourceRequirements {
        limits: quantities(&[("cpu", "1")]),
        ..Default::default()
    });
    let spec = defaulted(PodSpec {
        containers: vec![c.clone()],
        init_containers: vec![c],
        ephemeral_containers: vec![container_to_ephemeral(ephemeral_source, String::new())],
        ..Default::default()
    });
    let want = quantities(&[("cpu", "500m"), ("memory", "1Gi"), ("example.com/gpu", "2")]);
    assert_eq!(spec.containers[0].resources.as_ref().unwrap().requests, want);
    assert_eq!(spec.init_containers[0].resources.as_ref().unwrap().requests, want);
    assert!(
        spec.ephemeral_containers[0]
            .resources
            .as_ref()
            .unwrap()
            .requests
            .is_empty()
    );
}

#[test]
fn host_network_ports_default_host_port() {
    let mut c = container("c", "nginx");
    c.ports = vec![
        ContainerPort {
            container_port: 80,
            ..Default::default()
        },
        ContainerPort {
            container_port: 443,
            host_port: 8443,
            ..Default::default()
        },
    ];
    let spec = defaulted(PodSpec {
        host_network: true,
        containers: vec![c.clone()],
        init_containers: vec![c],
        ..Default::default()
    });
    for c in [&spec.containers[0], &spec.init_containers[0]] {
        assert_eq!(c.ports[0].host_port, 80);
        assert_eq!(
            c.ports[1].host_port, 8443,
            "an explicit host port is left for validation to refuse"
        );
    }
}

#[test]
fn volume_defaults() {
    let spec = defaulted(PodSpec {
        volumes: vec![
            Volume {
                name: "bare".into(),
                ..Default::default()
            },
            Volume {
                name: "host".into(),
                host_path: Some(HostPathVolumeSource {
                    path: "/data".into(),
                    r#type: None,
                }),
                ..Default::default()
            },
            Volume {
                name: "secret".into(),
                secret: Some(SecretVolumeSource {
                    secret_name: "s".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Volume {
                name: "cm".into(),
                config_map: Some(ConfigMapVolumeSource {
                    name: "c".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Volume {
                name: "down".into(),
                downward_api: Some(DownwardApiVolumeSource {
                    items: vec![DownwardApiVolumeFile {
                        path: "labels".into(),
                        field_ref: Some(ObjectFieldSelector {
                            field_path: "metadata.labels".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }],
                    default_mode: None,
                }),
                ..Default::default()
            },
            Volume {
                name: "projected".into(),
                projected: Some(ProjectedVolumeSource {
                    sources: vec![
                        VolumeProjection {
                            downward_api: Some(DownwardApiProjection {
                                items: vec![DownwardApiVolumeFile {
                                    path: "name".into(),
                                    field_ref: Some(ObjectFieldSelector {
                                        field_path: "metadata.name".into(),
                                        ..Default::default()
                                    }),
                                    ..Default::default()
                                }],
                            }),
                            ..Default::default()
                        },
                        VolumeProjection {
                            service_account_token: Some(ServiceAccountTokenProjection {
                                path: "token".into(),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                    ],
                    default_mode: None,
                }),
                ..Default::default()
            },
            Volume {
                name: "image".into(),
                image: Some(ImageVolumeSource {
                    reference: "tools:latest".into(),
                    pull_policy: String::new(),
                }),
                ..Default::default()
            },
            Volume {
                name: "mode".into(),
                secret: Some(SecretVolumeSource {
                    default_mode: Some(0o400),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ],
        ..Default::default()
    });
    let v = &spec.volumes;
    assert!(v[0].empty_dir.is_some(), "a volume without a source is an emptyDir");
    assert_eq!(v[1].host_path.as_ref().unwrap().r#type.as_deref(), Some(""));
    assert!(v[1].empty_dir.is_none());
    assert_eq!(v[2].secret.as_ref().unwrap().default_mode, Some(420));
    assert_eq!(v[3].config_map.as_ref().unwrap().default_mode, Some(420));
    let down = v[4].downward_api.as_ref().unwrap();
    assert_eq!(down.default_mode, Some(420));
    assert_eq!(down.items[0].field_ref.as_ref().unwrap().api_version, "v1");
    let projected = v[5].projected.as_ref().unwrap();
    assert_eq!(projected.default_mode, Some(420));
    let item = &projected.sources[0].downward_api.as_ref().unwrap().items[0];
    assert_eq!(item.field_ref.as_ref().unwrap().api_version, "v1");
    assert_eq!(
        projected.sources[1]
            .service_account_token
            .as_ref()
            .unwrap()
            .expiration_seconds,
        Some(3600)
    );
    assert_eq!(v[6].image.as_ref().unwrap().pull_policy, "Always");
    assert_eq!(v[7].secret.as_ref().unwrap().default_mode, Some(0o400));
}

fn toleration(key: &str, operator: &str, effect: &str, seconds: Option<i64>) -> Toleration {
    Toleration {
        key: key.into(),
        operator: operator.into(),
        value: String::new(),
        effect: effect.into(),
        toleration_seconds: seconds,
    }
}

#[test]
fn default_tolerations() {
    let not_ready = toleration(TAINT_NODE_NOT_READY, "Exists", "NoExecute", Some(300));
    let unreachable = toleration(TAINT_NODE_UNREACHABLE, "Exists", "NoExecute", Some(300));
    let own_not_ready = toleration(TAINT_NODE_NOT_READY, "Exists", "NoExecute", Some(10));
    let cases: Vec<(&str, Vec<Toleration>, Vec<Toleration>)> = vec![
        ("none", vec![], vec![not_ready.clone(), unreachable.clone()]),
        (
            "own not-ready kept",
            vec![own_not_ready.clone()],
            vec![own_not_ready.clone(), unreachable.clone()],
        ),
        (
            "a NoSchedule toleration does not count",
            vec![toleration(TAINT_NODE_NOT_READY, "Exists", "NoSchedule", None)],
            vec![
                toleration(TAINT_NODE_NOT_READY, "Exists", "NoSchedule", None),
                not_ready.clone(),
                unreachable.clone(),
            ],
        ),
        (
            "an empty effect tolerates NoExecute",
            vec![toleration(TAINT_NODE_UNREACHABLE, "Exists", "", None)],
            vec![
                toleration(TAINT_NODE_UNREACHABLE, "Exists", "", None),
                not_ready.clone(),
            ],
        ),
        (
            "an empty key tolerates everything",
            vec![toleration("", "Exists", "", None)],
            vec![toleration("", "Exists", "", None)],
        ),
        (
            "other keys do not count",
            vec![toleration("example.com/x", "Exists", "NoExecute", None)],
            vec![
                toleration("example.com/x", "Exists", "NoExecute", None),
                not_ready.clone(),
                unreachable.clone(),
            ],
        ),
    ];
    for (name, given, want) in cases {
        let spec = defaulted(PodSpec {
            tolerations: given,
            ..Default::default()
        });
        assert_eq!(spec.tolerations, want, "{name}");
    }
}

#[test]
fn defaulting_is_idempotent() {
    let mut c = container("c", "nginx");
    c.resources = Some(ResourceRequirements {
        limits: quantities(&[("cpu", "1")]),
        ..Default::default()
    });
    c.ports = vec![ContainerPort {
        container_port: 80,
        ..Default::default()
    }];
    let mut pod = pod_with(PodSpec {
        containers: vec![c],
        host_network: true,
        volumes: vec![Volume {
            name: "v".into(),
            ..Default::default()
        }],
        ..Default::default()
    });
    default_pod(&mut pod);
    let once = pod.clone();
    default_pod(&mut pod);
    assert_eq!(pod, once);
}

#[test]
fn match_label_keys_become_requirements() {
    let term = |selector: Option<LabelSelector>| PodAffinityTerm {
        label_selector: selector,
        topology_key: "kubernetes.io/hostname".into(),
        match_label_keys: vec!["app".into(), "absent".into()],
        mismatch_label_keys: vec!["tier".into()],
        ..Default::default()
    };
    let mut pod = pod_with(PodSpec {
        affinity: Some(Affinity {
            pod_affinity: Some(PodAffinity {
                required_during_scheduling_ignored_during_execution: vec![
                    term(Some(LabelSelector::default())),
                    term(None),
                ],
                ..Default::default()
            }),
            pod_anti_affinity: Some(PodAntiAffinity {
                preferred_during_scheduling_ignored_during_execution: vec![WeightedPodAffinityTerm {
                    weight: 1,
                    pod_affinity_term: Some(term(Some(LabelSelector::default()))),
                }],
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    pod.metadata = Some(ObjectMeta {
        labels: [("app", "web"), ("tier", "front")]
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        ..Default::default()
    });
    apply_match_label_keys(&mut pod);
    let affinity = pod.spec.unwrap().affinity.unwrap();
    let want = vec![
        LabelSelectorRequirement {
            key: "app".into(),
            operator: "In".into(),
            values: vec!["web".into()],
        },
        LabelSelectorRequirement {
            key: "tier".into(),
            operator: "NotIn".into(),
            values: vec!["front".into()],
        },
    ];
    let required = &affinity
        .pod_affinity
        .unwrap()
        .required_during_scheduling_ignored_during_execution;
    assert_eq!(required[0].label_selector.as_ref().unwrap().match_expressions, want);
    assert!(required[1].label_selector.is_none(), "a nil selector stays nil");
    let preferred = &affinity
        .pod_anti_affinity
        .unwrap()
        .preferred_during_scheduling_ignored_during_execution[0];
    assert_eq!(
        preferred
            .pod_affinity_term
            .as_ref()
            .unwrap()
            .label_selector
            .as_ref()
            .unwrap()
            .match_expressions,
        want
    );
}
