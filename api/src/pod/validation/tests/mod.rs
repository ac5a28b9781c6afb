//! Table tests of Pod validation: each case breaks a valid, defaulted Pod in one way and lists
//! the causes Kubernetes reports, as `field: detail` messages (a long detail may be given by
//! its beginning). A case passes when every cause is matched by exactly one expectation.

use std::collections::BTreeMap;

use podium_proto::k8s::core::v1::*;
use podium_proto::k8s::meta::v1::{IntOrString, LabelSelector, LabelSelectorRequirement, ObjectMeta, Quantity};

use super::*;
use crate::pod::defaults::default_pod;

fn valid_pod() -> Pod {
    let mut pod = Pod {
        metadata: Some(ObjectMeta {
            name: "web".into(),
            namespace: "default".into(),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "app".into(),
                image: "nginx:1.27".into(),
                volume_mounts: vec![VolumeMount {
                    name: "data".into(),
                    mount_path: "/data".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            volumes: vec![Volume {
                name: "data".into(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    default_pod(&mut pod);
    pod
}

fn spec(pod: &mut Pod) -> &mut PodSpec {
    pod.spec.as_mut().unwrap()
}

fn app(pod: &mut Pod) -> &mut Container {
    &mut spec(pod).containers[0]
}

fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Quantity::new(*v)))
        .collect()
}

fn http_probe(port: IntOrString) -> Probe {
    Probe {
        http_get: Some(HttpGetAction {
            path: "/".into(),
            port: Some(port),
            scheme: "HTTP".into(),
            ..Default::default()
        }),
        timeout_seconds: 1,
        period_seconds: 10,
        success_threshold: 1,
        failure_threshold: 3,
        ..Default::default()
    }
}

/// Asserts that the messages of `causes` are exactly `want`, each expectation matching one
/// message it is a prefix of.
fn assert_causes(name: &str, causes: &[Cause], want: &[&str]) {
    let mut messages: Vec<String> = causes.iter().map(Cause::message).collect();
    for expected in want {
        match messages.iter().position(|m| m.starts_with(expected)) {
            Some(i) => {
                messages.remove(i);
            }
            None => panic!(
                "{name}: no cause starts with {expected:?}; causes: {:#?}",
                causes.iter().map(Cause::message).collect::<Vec<_>>()
            ),
        }
    }
    assert!(messages.is_empty(), "{name}: unexpected causes {messages:#?}");
}

type Mutation = Box<dyn Fn(&mut Pod)>;

fn case(
    name: &'static str,
    mutate: impl Fn(&mut Pod) + 'static,
    want: &'static [&'static str],
) -> (&'static str, Mutation, &'static [&'static str]) {
    (name, Box::new(mutate), want)
}

fn run(cases: Vec<(&'static str, Mutation, &'static [&'static str])>) {
    for (name, mutate, want) in cases {
        let mut pod = valid_pod();
        mutate(&mut pod);
        assert_causes(name, &validate_pod(&pod), want);
    }
}

#[test]
fn the_base_pod_is_valid() {
    assert_causes("base", &validate_pod(&valid_pod()), &[]);
}

#[test]
fn a_rich_valid_pod_is_valid() {
    let mut pod = valid_pod();
    let s = spec(&mut pod);
    s.service_account_name = "builder".into();
    s.hostname = "web-0".into();
    s.subdomain = "web".into();
    s.node_selector = [("kubernetes.io/os".to_owned(), "linux".to_owned())]
        .into_iter()
        .collect();
    s.priority_class_name = "high".into();
    s.preemption_policy = Some("Never".into());
    s.active_deadline_seconds = Some(600);
    s.os = Some(PodOs { name: "linux".into() });
    s.readiness_gates = vec![PodReadinessGate {
        condition_type: "example.com/ready".into(),
    }];
    s.host_aliases = vec![HostAlias {
        ip: "10.0.0.1".into(),
        hostnames: vec!["db.local".into()],
    }];
    s.dns_policy = "None".into();
    s.dns_config = Some(PodDnsConfig {
        nameservers: vec!["1.1.1.1".into(), "2001:db8::1".into()],
        searches: vec!["svc.cluster.local.".into()],
        options: vec![PodDnsConfigOption {
            name: "ndots".into(),
            value: Some("2".into()),
        }],
    });
    s.tolerations.push(Toleration {
        key: "dedicated".into(),
        operator: "Equal".into(),
        value: "gpu".into(),
        effect: "NoSchedule".into(),
        toleration_seconds: None,
    });
    s.topology_spread_constraints = vec![TopologySpreadConstraint {
        max_skew: 1,
        topology_key: "topology.kubernetes.io/zone".into(),
        when_unsatisfiable: "DoNotSchedule".into(),
        min_domains: Some(2),
        label_selector: Some(LabelSelector {
            match_labels: [("app".to_owned(), "web".to_owned())].into_iter().collect(),
            ..Default::default()
        }),
        match_label_keys: vec!["pod-template-hash".into()],
        ..Default::default()
    }];
    s.affinity = Some(Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_expressions: vec![
                        NodeSelectorRequirement {
                            key: "zone".into(),
                            operator: "In".into(),
                            values: vec!["a".into()],
                        },
                        NodeSelectorRequirement {
                            key: "cores".into(),
                            operator: "Gt".into(),
                            values: vec!["4".into()],
                        },
                    ],
                    match_fields: vec![NodeSelectorRequirement {
                        key: "metadata.name".into(),
                        operator: "In".into(),
                        values: vec!["n1".into()],
                    }],
                }],
            }),
            preferred_during_scheduling_ignored_during_execution: vec![PreferredSchedulingTerm {
                weight: 100,
                preference: Some(NodeSelectorTerm::default()),
            }],
        }),
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: vec![WeightedPodAffinityTerm {
                weight: 1,
                pod_affinity_term: Some(PodAffinityTerm {
                    label_selector: Some(LabelSelector {
                        match_expressions: vec![LabelSelectorRequirement {
                            key: "app".into(),
                            operator: "Exists".into(),
                            values: vec![],
                        }],
                        ..Default::default()
                    }),
                    topology_key: "kubernetes.io/hostname".into(),
                    namespaces: vec!["other".into()],
                    ..Default::default()
                }),
            }],
            ..Default::default()
        }),
        ..Default::default()
    });
    s.security_context = Some(PodSecurityContext {
        run_as_user: Some(1000),
        run_as_group: Some(1000),
        fs_group: Some(2000),
        supplemental_groups: vec![3000],
        sysctls: vec![Sysctl {
            name: "net.ipv4.ip_local_port_range".into(),
            value: "1024 65535".into(),
        }],
        seccomp_profile: Some(SeccompProfile {
            r#type: "RuntimeDefault".into(),
            localhost_profile: None,
        }),
        ..Default::default()
    });
    s.volumes.extend([
        Volume {
            name: "config".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: "cfg".into(),
                items: vec![KeyToPath {
                    key: "a".into(),
                    path: "dir/a".into(),
                    mode: Some(0o600),
                }],
                default_mode: Some(0o644),
                optional: None,
            }),
            ..Default::default()
        },
        Volume {
            name: "token".into(),
            projected: Some(ProjectedVolumeSource {
                sources: vec![VolumeProjection {
                    service_account_token: Some(ServiceAccountTokenProjection {
                        path: "token".into(),
                        expiration_seconds: Some(3600),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                default_mode: Some(0o644),
            }),
            ..Default::default()
        },
        Volume {
            name: "info".into(),
            downward_api: Some(DownwardApiVolumeSource {
                items: vec![
                    DownwardApiVolumeFile {
                        path: "labels".into(),
                        field_ref: Some(ObjectFieldSelector {
                            api_version: "v1".into(),
                            field_path: "metadata.labels".into(),
                        }),
                        ..Default::default()
                    },
                    DownwardApiVolumeFile {
                        path: "cpu".into(),
                        resource_field_ref: Some(ResourceFieldSelector {
                            container_name: "app".into(),
                            resource: "limits.cpu".into(),
                            divisor: Some(Quantity::new("1m")),
                        }),
                        ..Default::default()
                    },
                ],
                default_mode: Some(0o644),
            }),
            ..Default::default()
        },
        Volume {
            name: "host".into(),
            host_path: Some(HostPathVolumeSource {
                path: "/var/log".into(),
                r#type: Some("Directory".into()),
            }),
            ..Default::default()
        },
        Volume {
            name: "claim".into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: "data".into(),
                read_only: false,
            }),
            ..Default::default()
        },
    ]);
    let c = &mut s.containers[0];
    c.ports = vec![
        ContainerPort {
            name: "http".into(),
            container_port: 8080,
            protocol: "TCP".into(),
            ..Default::default()
        },
        ContainerPort {
            name: "dns".into(),
            container_port: 53,
            host_port: 53,
            protocol: "UDP".into(),
            ..Default::default()
        },
    ];
    c.env = vec![
        EnvVar {
            name: "PLAIN".into(),
            value: "1".into(),
            ..Default::default()
        },
        EnvVar {
            name: "1.relaxed-name".into(),
            value: "ok in 1.32".into(),
            ..Default::default()
        },
        EnvVar {
            name: "POD_IP".into(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    api_version: "v1".into(),
                    field_path: "status.podIP".into(),
                }),
                ..Default::default()
            }),
            ..Default::default()
        },
        EnvVar {
            name: "APP".into(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    api_version: "v1".into(),
                    field_path: "metadata.labels['app']".into(),
                }),
                ..Default::default()
            }),
            ..Default::default()
        },
        EnvVar {
            name: "MEM".into(),
            value_from: Some(EnvVarSource {
                resource_field_ref: Some(ResourceFieldSelector {
                    resource: "requests.memory".into(),
                    divisor: Some(Quantity::new("1Mi")),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        },
        EnvVar {
            name: "KEY".into(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: "creds".into(),
                    key: "password".into(),
                    optional: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        },
    ];
    c.env_from = vec![EnvFromSource {
        prefix: "CFG_".into(),
        config_map_ref: Some(ConfigMapEnvSource {
            name: "cfg".into(),
            optional: None,
        }),
        secret_ref: None,
    }];
    c.resources = Some(ResourceRequirements {
        limits: quantities(&[
            ("cpu", "1"),
            ("memory", "1Gi"),
            ("example.com/gpu", "1"),
            ("hugepages-2Mi", "2Mi"),
        ]),
        requests: quantities(&[
            ("cpu", "500m"),
            ("memory", "512Mi"),
            ("example.com/gpu", "1"),
            ("hugepages-2Mi", "2Mi"),
        ]),
        ..Default::default()
    });
    c.volume_mounts.extend([
        VolumeMount {
            name: "config".into(),
            mount_path: "/etc/app".into(),
            read_only: true,
            recursive_read_only: Some("IfPossible".into()),
            ..Default::default()
        },
        VolumeMount {
            name: "host".into(),
            mount_path: "/host-logs".into(),
            sub_path: "app".into(),
            mount_propagation: Some("HostToContainer".into()),
            ..Default::default()
        },
    ]);
    c.volume_devices = vec![VolumeDevice {
        name: "claim".into(),
        device_path: "/dev/xvda".into(),
    }];
    c.liveness_probe = Some(http_probe(IntOrString::string("http")));
    c.readiness_probe = Some(Probe {
        tcp_socket: Some(TcpSocketAction {
            port: Some(IntOrString::int(8080)),
            host: String::new(),
        }),
        timeout_seconds: 1,
        period_seconds: 10,
        success_threshold: 3,
        failure_threshold: 3,
        ..Default::default()
    });
    c.startup_probe = Some(Probe {
        grpc: Some(GrpcAction {
            port: 9090,
            service: Some(String::new()),
        }),
        timeout_seconds: 1,
        period_seconds: 10,
        success_threshold: 1,
        failure_threshold: 30,
        termination_grace_period_seconds: Some(5),
        ..Default::default()
    });
    c.lifecycle = Some(Lifecycle {
        post_start: Some(LifecycleHandler {
            exec: Some(ExecAction {
                command: vec!["true".into()],
            }),
            ..Default::default()
        }),
        pre_stop: Some(LifecycleHandler {
            sleep: Some(SleepAction { seconds: 5 }),
            ..Default::default()
        }),
    });
    c.security_context = Some(SecurityContext {
        run_as_user: Some(0),
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            add: vec!["NET_ADMIN".into()],
            drop: vec!["ALL".into()],
        }),
        ..Default::default()
    });
    let mut sidecar = c.clone();
    sidecar.name = "sidecar".into();
    sidecar.restart_policy = Some("Always".into());
    sidecar.ports.clear();
    s.init_containers = vec![
        Container {
            name: "init".into(),
            image: "busybox".into(),
            image_pull_policy: "IfNotPresent".into(),
            termination_message_policy: "File".into(),
            ..Default::default()
        },
        sidecar,
    ];
    assert_causes("rich", &validate_pod(&pod), &[]);
}

mod arbitrary;
mod containers;
mod pod;
