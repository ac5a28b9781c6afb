//! Pod-level rules: volumes, policies, DNS, tolerations, affinity, spread and security.

use super::*;

fn volume(name: &str) -> Volume {
    Volume {
        name: name.into(),
        ..Default::default()
    }
}

#[test]
fn volumes() {
    run(vec![
        case(
            "bad name",
            |p| {
                spec(p).volumes.push(Volume {
                    empty_dir: Some(EmptyDirVolumeSource::default()),
                    ..volume("Bad")
                })
            },
            &[concat!(
                "spec.volumes[1].name: Invalid value: \"Bad\": ",
                "a lowercase RFC 1123 label"
            )],
        ),
        case(
            "duplicate name",
            |p| {
                spec(p).volumes.push(Volume {
                    empty_dir: Some(EmptyDirVolumeSource::default()),
                    ..volume("data")
                })
            },
            &["spec.volumes[1].name: Duplicate value: \"data\""],
        ),
        case(
            "two sources",
            |p| {
                spec(p).volumes[0].host_path = Some(HostPathVolumeSource {
                    path: "/x".into(),
                    r#type: Some(String::new()),
                })
            },
            &[
                "spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type",
                // An invalid volume cannot be mounted.
                "spec.containers[0].volumeMounts[0].name: Not found: \"data\"",
            ],
        ),
        case(
            "no source",
            |p| spec(p).volumes.push(volume("bare")),
            &["spec.volumes[1]: Required value: must specify a volume type"],
        ),
        case(
            "host path",
            |p| {
                spec(p).volumes.push(Volume {
                    host_path: Some(HostPathVolumeSource {
                        path: String::new(),
                        r#type: None,
                    }),
                    ..volume("a")
                });
                spec(p).volumes.push(Volume {
                    host_path: Some(HostPathVolumeSource {
                        path: "/x/../etc".into(),
                        r#type: Some("Pipe".into()),
                    }),
                    ..volume("b")
                });
            },
            &[
                "spec.volumes[1].hostPath.path: Required value",
                "spec.volumes[2].hostPath.path: Invalid value: \"/x/../etc\": must not contain '..'",
                "spec.volumes[2].hostPath.type: Unsupported value: \"Pipe\": supported values: \"\", \"BlockDevice\", \"CharDevice\", \"Directory\", \"DirectoryOrCreate\", \"File\", \"FileOrCreate\", \"Socket\"",
            ],
        ),
        case(
            "emptyDir medium and size",
            |p| {
                spec(p).volumes[0].empty_dir = Some(EmptyDirVolumeSource {
                    medium: "Tape".into(),
                    size_limit: Some(Quantity::new("-1Gi")),
                });
                app(p).volume_mounts.clear();
            },
            &[
                "spec.volumes[0].emptyDir.sizeLimit: Forbidden: SizeLimit field must be a valid resource quantity",
                "spec.volumes[0].emptyDir.medium: Unsupported value: \"Tape\"",
            ],
        ),
        case(
            "memory and hugepages media",
            |p| {
                spec(p).volumes[0].empty_dir = Some(EmptyDirVolumeSource {
                    medium: "Memory".into(),
                    size_limit: Some(Quantity::new("64Mi")),
                });
                spec(p).volumes.push(Volume {
                    empty_dir: Some(EmptyDirVolumeSource {
                        medium: "HugePages-2Mi".into(),
                        size_limit: None,
                    }),
                    ..volume("huge")
                });
            },
            &[],
        ),
        case(
            "secret",
            |p| {
                spec(p).volumes.push(Volume {
                    secret: Some(SecretVolumeSource {
                        default_mode: Some(0o1000),
                        items: vec![KeyToPath {
                            key: String::new(),
                            path: "..data".into(),
                            mode: Some(-1),
                        }],
                        ..Default::default()
                    }),
                    ..volume("s")
                })
            },
            &[
                "spec.volumes[1].secret.secretName: Required value",
                "spec.volumes[1].secret.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive",
                "spec.volumes[1].secret.items[0].key: Required value",
                "spec.volumes[1].secret.items[0].path: Invalid value: \"..data\": must not start with '..'",
                "spec.volumes[1].secret.items[0].mode: Invalid value: -1: must be a number between 0 and 0777 (octal), both inclusive",
            ],
        ),
        case(
            "config map",
            |p| {
                spec(p).volumes.push(Volume {
                    config_map: Some(ConfigMapVolumeSource {
                        items: vec![KeyToPath {
                            key: "k".into(),
                            path: "../x".into(),
                            mode: None,
                        }],
                        ..Default::default()
                    }),
                    ..volume("c")
                })
            },
            &[
                "spec.volumes[1].configMap.name: Required value",
                "spec.volumes[1].configMap.items[0].path: Invalid value: \"../x\": must not contain '..'",
            ],
        ),
        case(
            "downward API",
            |p| {
                spec(p).volumes.push(Volume {
                    downward_api: Some(DownwardApiVolumeSource {
                        items: vec![
                            DownwardApiVolumeFile {
                                path: "node".into(),
                                field_ref: Some(ObjectFieldSelector {
                                    api_version: "v1".into(),
                                    field_path: "spec.nodeName".into(),
                                }),
                                ..Default::default()
                            },
                            DownwardApiVolumeFile {
                                path: "nothing".into(),
                                ..Default::default()
                            },
                            DownwardApiVolumeFile {
                                path: "cpu".into(),
                                resource_field_ref: Some(ResourceFieldSelector {
                                    resource: "limits.cpu".into(),
                                    ..Default::default()
                                }),
                                ..Default::default()
                            },
                        ],
                        default_mode: Some(0o644),
                    }),
                    ..volume("d")
                })
            },
            &[
                "spec.volumes[1].downwardAPI.fieldRef.fieldPath: Unsupported value: \"spec.nodeName\": supported values: \"metadata.annotations\", \"metadata.labels\", \"metadata.name\", \"metadata.namespace\", \"metadata.uid\"",
                "spec.volumes[1].downwardAPI: Required value: one of fieldRef and resourceFieldRef is required",
                "spec.volumes[1].downwardAPI.resourceFieldRef.containerName: Required value",
            ],
        ),
        case(
            "nfs and claims",
            |p| {
                spec(p).volumes.push(Volume {
                    nfs: Some(NfsVolumeSource {
                        server: String::new(),
                        path: "export".into(),
                        read_only: false,
                    }),
                    ..volume("n")
                });
                spec(p).volumes.push(Volume {
                    persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource::default()),
                    ..volume("p")
                });
            },
            &[
                "spec.volumes[1].nfs.server: Required value",
                "spec.volumes[1].nfs.path: Invalid value: \"export\": must be an absolute path",
                "spec.volumes[2].persistentVolumeClaim.claimName: Required value",
            ],
        ),
        case(
            "projected",
            |p| {
                spec(p).service_account_name = "sa".into();
                let item = |path: &str| KeyToPath {
                    key: "k".into(),
                    path: path.into(),
                    mode: None,
                };
                spec(p).volumes.push(Volume {
                    projected: Some(ProjectedVolumeSource {
                        sources: vec![
                            VolumeProjection {
                                secret: Some(SecretProjection {
                                    name: "s".into(),
                                    items: vec![item("a")],
                                    optional: None,
                                }),
                                ..Default::default()
                            },
                            VolumeProjection {
                                config_map: Some(ConfigMapProjection {
                                    name: "c".into(),
                                    items: vec![item("a")],
                                    optional: None,
                                }),
                                ..Default::default()
                            },
                            VolumeProjection {
                                service_account_token: Some(ServiceAccountTokenProjection {
                                    path: String::new(),
                                    expiration_seconds: Some(60),
                                    ..Default::default()
                                }),
                                ..Default::default()
                            },
                            VolumeProjection {
                                secret: Some(SecretProjection {
                                    name: "s2".into(),
                                    ..Default::default()
                                }),
                                config_map: Some(ConfigMapProjection {
                                    name: "c2".into(),
                                    ..Default::default()
                                }),
                                ..Default::default()
                            },
                        ],
                        default_mode: Some(0o644),
                    }),
                    ..volume("proj")
                });
            },
            &[
                "spec.volumes[1].projected: Invalid value: \"c\": conflicting duplicate paths",
                "spec.volumes[1].projected.sources[2].serviceAccountToken.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes",
                "spec.volumes[1].projected.path: Required value",
                "spec.volumes[1].projected.sources[3]: Forbidden: may not specify more than 1 volume type per source",
            ],
        ),
        case(
            "token needs a service account",
            |p| {
                spec(p).volumes.push(Volume {
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
                    ..volume("t")
                })
            },
            &[
                "spec.volumes[1].projected.sources[0].serviceAccountToken: Forbidden: must not be specified when serviceAccountName is not set",
            ],
        ),
        case(
            "csi driver",
            |p| {
                spec(p).volumes.push(Volume {
                    csi: Some(CsiVolumeSource {
                        driver: "Bad_Driver".into(),
                        ..Default::default()
                    }),
                    ..volume("csi")
                })
            },
            &["spec.volumes[1].csi.driver: Invalid value: \"Bad_Driver\": a lowercase RFC 1123 subdomain"],
        ),
        case(
            "image volume",
            |p| {
                spec(p).volumes.push(Volume {
                    image: Some(ImageVolumeSource {
                        reference: String::new(),
                        pull_policy: "Sometimes".into(),
                    }),
                    ..volume("img")
                })
            },
            &[
                "spec.volumes[1].image.reference: Required value",
                "spec.volumes[1].image.pullPolicy: Unsupported value: \"Sometimes\"",
            ],
        ),
    ]);
}

#[test]
fn pod_level_fields() {
    run(vec![
        case(
            "restart policy",
            |p| spec(p).restart_policy = "Sometimes".into(),
            &[
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
            ],
        ),
        case(
            "no restart policy",
            |p| spec(p).restart_policy.clear(),
            &["spec.restartPolicy: Required value"],
        ),
        case(
            "dns policy",
            |p| spec(p).dns_policy = "Google".into(),
            &[
                "spec.dnsPolicy: Unsupported value: \"Google\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
            ],
        ),
        case(
            "dns None needs a config",
            |p| spec(p).dns_policy = "None".into(),
            &["spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"],
        ),
        case(
            "dns None needs a nameserver",
            |p| {
                spec(p).dns_policy = "None".into();
                spec(p).dns_config = Some(PodDnsConfig::default());
            },
            &[
                "spec.dnsConfig.nameservers: Required value: must provide at least one DNS nameserver when `dnsPolicy` is None",
            ],
        ),
        case(
            "dns config limits",
            |p| {
                spec(p).dns_config = Some(PodDnsConfig {
                    nameservers: vec!["1.1.1.1".into(), "1.0.0.1".into(), "8.8.8.8".into(), "dns".into()],
                    searches: (0..33).map(|i| format!("s{i}.example.com")).collect(),
                    options: vec![PodDnsConfigOption::default()],
                })
            },
            &[
                "spec.dnsConfig.nameservers: Invalid value: []string{\"1.1.1.1\", \"1.0.0.1\", \"8.8.8.8\", \"dns\"}: must not have more than 3 nameservers",
                "spec.dnsConfig.nameservers[3]: Invalid value: \"dns\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                "spec.dnsConfig.searches: Invalid value: []string{\"s0.example.com\"",
                "spec.dnsConfig.options[0]: Required value: Option.Name must not be empty",
            ],
        ),
        case(
            "dns search syntax",
            |p| {
                spec(p).dns_config = Some(PodDnsConfig {
                    searches: vec!["ok.example.com.".into(), "Bad_Domain".into()],
                    ..Default::default()
                })
            },
            &["spec.dnsConfig.searches[1]: Invalid value: \"Bad_Domain\": a lowercase RFC 1123 subdomain"],
        ),
        case(
            "negative grace period",
            |p| spec(p).termination_grace_period_seconds = Some(-1),
            &["spec.terminationGracePeriodSeconds: Invalid value: -1: must be greater than or equal to 0"],
        ),
        case(
            "active deadline",
            |p| spec(p).active_deadline_seconds = Some(0),
            &["spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"],
        ),
        case(
            "node selector",
            |p| {
                spec(p).node_selector = [
                    ("bad key".to_owned(), "v".to_owned()),
                    ("ok".to_owned(), "bad value!".to_owned()),
                ]
                .into_iter()
                .collect()
            },
            &[
                "spec.nodeSelector: Invalid value: \"bad key\": name part",
                "spec.nodeSelector: Invalid value: \"bad value!\": a valid label must be",
            ],
        ),
        case(
            "hostname and subdomain",
            |p| {
                spec(p).hostname = "Host_1".into();
                spec(p).subdomain = "a.b".into();
            },
            &[
                concat!(
                    "spec.hostname: Invalid value: \"Host_1\": ",
                    "a lowercase RFC 1123 label"
                ),
                "spec.subdomain: Invalid value: \"a.b\": must not contain dots",
            ],
        ),
        case(
            "host aliases",
            |p| {
                spec(p).host_aliases = vec![HostAlias {
                    ip: "300.1.1.1".into(),
                    hostnames: vec![String::new()],
                }]
            },
            &[
                "spec.hostAliases[0].ip: Invalid value: \"300.1.1.1\": must be a valid IP address",
                "spec.hostAliases[0].hostnames[0]: Invalid value: \"\": a lowercase RFC 1123 subdomain",
            ],
        ),
        case(
            "names of other objects",
            |p| {
                spec(p).service_account_name = "SA".into();
                spec(p).priority_class_name = "High".into();
                spec(p).runtime_class_name = Some("Kata".into());
                spec(p).node_name = "Node_1".into();
            },
            &[
                "spec.serviceAccountName: Invalid value: \"SA\": a lowercase RFC 1123 subdomain",
                "spec.nodeName: Invalid value: \"Node_1\": a lowercase RFC 1123 subdomain",
                "spec.priorityClassName: Invalid value: \"High\": a lowercase RFC 1123 subdomain",
                "spec.runtimeClassName: Invalid value: \"Kata\": a lowercase RFC 1123 subdomain",
            ],
        ),
        case(
            "preemption policy",
            |p| spec(p).preemption_policy = Some("Always".into()),
            &[
                "spec.preemptionPolicy: Unsupported value: \"Always\": supported values: \"PreemptLowerPriority\", \"Never\"",
            ],
        ),
        case(
            "os",
            |p| spec(p).os = Some(PodOs { name: "plan9".into() }),
            &["spec.os: Unsupported value: \"plan9\": supported values: \"linux\", \"windows\""],
        ),
        case(
            "empty os",
            |p| spec(p).os = Some(PodOs::default()),
            &["spec.os.name: Required value: cannot be empty"],
        ),
        case(
            "windows pods",
            |p| {
                spec(p).os = Some(PodOs { name: "windows".into() });
                spec(p).security_context = Some(PodSecurityContext {
                    run_as_user: Some(1),
                    ..Default::default()
                });
                app(p).security_context = Some(SecurityContext {
                    privileged: Some(false),
                    ..Default::default()
                });
            },
            &[
                "spec.securityContext.runAsUser: Forbidden: cannot be set for a windows pod",
                "spec.containers[0].securityContext.privileged: Forbidden: cannot be set for a windows pod",
            ],
        ),
        case(
            "linux pods",
            |p| {
                spec(p).os = Some(PodOs { name: "linux".into() });
                app(p).security_context = Some(SecurityContext {
                    windows_options: Some(WindowsSecurityContextOptions::default()),
                    ..Default::default()
                });
            },
            &[
                "spec.containers[0].securityContext.windowsOptions: Forbidden: windows options cannot be set for a linux pod",
            ],
        ),
        case(
            "readiness and scheduling gates",
            |p| {
                spec(p).readiness_gates = vec![PodReadinessGate {
                    condition_type: "bad gate".into(),
                }];
                spec(p).scheduling_gates = vec![
                    PodSchedulingGate { name: "a".into() },
                    PodSchedulingGate { name: "a".into() },
                ];
            },
            &[
                "spec.readinessGates[0].conditionType: Invalid value: \"bad gate\": name part",
                "spec.schedulingGates[1]: Duplicate value: \"a\"",
            ],
        ),
        case(
            "node name with scheduling gates",
            |p| {
                spec(p).node_name = "n1".into();
                spec(p).scheduling_gates = vec![PodSchedulingGate { name: "a".into() }];
            },
            &["spec.nodeName: Forbidden: cannot be set until all schedulingGates have been cleared"],
        ),
    ]);
}

fn toleration(key: &str, operator: &str, value: &str, effect: &str, seconds: Option<i64>) -> Toleration {
    Toleration {
        key: key.into(),
        operator: operator.into(),
        value: value.into(),
        effect: effect.into(),
        toleration_seconds: seconds,
    }
}

#[test]
fn tolerations() {
    run(vec![
        case(
            "exists with a value",
            |p| spec(p).tolerations = vec![toleration("k", "Exists", "v", "NoSchedule", None)],
            &[
                "spec.tolerations[0].operator: Invalid value: core.Toleration{Key:\"k\", Operator:\"Exists\", Value:\"v\", Effect:\"NoSchedule\", TolerationSeconds:(*int64)(nil)}: value must be empty when `operator` is 'Exists'",
            ],
        ),
        case(
            "empty key needs Exists",
            |p| spec(p).tolerations = vec![toleration("", "Equal", "", "", None)],
            &[
                "spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ],
        ),
        case(
            "empty key with Exists matches all",
            |p| spec(p).tolerations = vec![toleration("", "Exists", "", "", None)],
            &[],
        ),
        case(
            "empty operator is Equal",
            |p| spec(p).tolerations = vec![toleration("k", "", "v", "NoSchedule", None)],
            &[],
        ),
        case(
            "bad operator, effect, key and value",
            |p| {
                spec(p).tolerations = vec![
                    toleration("k", "Like", "", "Evict", None),
                    toleration("bad key", "Equal", "bad value!", "", None),
                ]
            },
            &[
                "spec.tolerations[0].operator: Unsupported value: \"Like\": supported values: \"Equal\", \"Exists\"",
                "spec.tolerations[0].effect: Unsupported value: \"Evict\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
                "spec.tolerations[1].key: Invalid value: \"bad key\": name part",
                "spec.tolerations[1].operator: Invalid value: \"bad value!\": a valid label must be",
            ],
        ),
        case(
            "tolerationSeconds needs NoExecute",
            |p| spec(p).tolerations = vec![toleration("k", "Exists", "", "NoSchedule", Some(5))],
            &[
                "spec.tolerations[0].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
            ],
        ),
    ]);
}

fn node_affinity(terms: Vec<NodeSelectorTerm>) -> Option<Affinity> {
    Some(Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: terms,
            }),
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn requirement(key: &str, operator: &str, values: &[&str]) -> NodeSelectorRequirement {
    NodeSelectorRequirement {
        key: key.into(),
        operator: operator.into(),
        values: values.iter().map(|v| (*v).to_owned()).collect(),
    }
}

fn pod_affinity(term: PodAffinityTerm, weight: i32) -> Option<Affinity> {
    Some(Affinity {
        pod_affinity: Some(PodAffinity {
            required_during_scheduling_ignored_during_execution: vec![term.clone()],
            preferred_during_scheduling_ignored_during_execution: vec![WeightedPodAffinityTerm {
                weight,
                pod_affinity_term: Some(term),
            }],
        }),
        ..Default::default()
    })
}

#[test]
fn affinity() {
    run(vec![
        case(
            "no node selector terms",
            |p| spec(p).affinity = node_affinity(vec![]),
            &[
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value: must have at least one node selector term",
            ],
        ),
        case(
            "operators and values",
            |p| {
                spec(p).affinity = node_affinity(vec![NodeSelectorTerm {
                    match_expressions: vec![
                        requirement("a", "In", &[]),
                        requirement("b", "Exists", &["x"]),
                        requirement("c", "Gt", &["1", "2"]),
                        requirement("d", "Near", &[]),
                        requirement("e", "In", &["bad value!"]),
                    ],
                    match_fields: vec![requirement("metadata.uid", "In", &["a", "b"])],
                }])
            },
            &[
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[2].values: Required value: must be specified single value when `operator` is 'Lt' or 'Gt'",
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[3].operator: Invalid value: \"Near\": not a valid selector operator",
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[4].values[0]: Invalid value: \"bad value!\"",
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values: Required value: must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].key: Invalid value: \"metadata.uid\": not a valid field selector key",
            ],
        ),
        case(
            "preferred node terms",
            |p| {
                spec(p).affinity = Some(Affinity {
                    node_affinity: Some(NodeAffinity {
                        preferred_during_scheduling_ignored_during_execution: vec![PreferredSchedulingTerm {
                            weight: 0,
                            preference: Some(NodeSelectorTerm {
                                match_expressions: vec![requirement("e", "In", &["bad value!"])],
                                ..Default::default()
                            }),
                        }],
                        ..Default::default()
                    }),
                    ..Default::default()
                })
            },
            &[
                "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0: must be in the range 1-100",
            ],
        ),
        case(
            "pod affinity term",
            |p| {
                spec(p).affinity = pod_affinity(
                    PodAffinityTerm {
                        label_selector: Some(LabelSelector {
                            match_expressions: vec![LabelSelectorRequirement {
                                key: "app".into(),
                                operator: "In".into(),
                                values: vec![],
                            }],
                            ..Default::default()
                        }),
                        topology_key: "kubernetes.io/hostname".into(),
                        namespaces: vec!["Bad".into()],
                        ..Default::default()
                    },
                    101,
                )
            },
            &[
                "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].namespace: Invalid value: \"Bad\"",
                "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 101: must be in the range 1-100",
                "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.labelSelector.matchExpressions[0].values: Required value",
                "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.namespace: Invalid value: \"Bad\"",
            ],
        ),
        case(
            "topology key required",
            |p| {
                spec(p).affinity = Some(Affinity {
                    pod_anti_affinity: Some(PodAntiAffinity {
                        required_during_scheduling_ignored_during_execution: vec![PodAffinityTerm {
                            match_label_keys: vec!["app".into()],
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                    ..Default::default()
                })
            },
            &[
                "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].matchLabelKeys: Forbidden: must not be specified when labelSelector is not set",
                "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value: can not be empty",
                "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Invalid value: \"\": name part must be non-empty",
                "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Invalid value: \"\": name part must consist of alphanumeric characters",
            ],
        ),
    ]);
}

fn spread(key: &str, when: &str, skew: i32) -> TopologySpreadConstraint {
    TopologySpreadConstraint {
        max_skew: skew,
        topology_key: key.into(),
        when_unsatisfiable: when.into(),
        ..Default::default()
    }
}

#[test]
fn topology_spread() {
    run(vec![
        case(
            "basic rules",
            |p| spec(p).topology_spread_constraints = vec![spread("", "Whatever", 0)],
            &[
                "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero",
                "spec.topologySpreadConstraints[0].topologyKey: Required value: can not be empty",
                "spec.topologySpreadConstraints[0].whenUnsatisfiable: Unsupported value: \"Whatever\": supported values: \"DoNotSchedule\", \"ScheduleAnyway\"",
            ],
        ),
        case(
            "duplicate constraint",
            |p| {
                spec(p).topology_spread_constraints =
                    vec![spread("zone", "DoNotSchedule", 1), spread("zone", "DoNotSchedule", 2)]
            },
            &[
                "spec.topologySpreadConstraints[0].{topologyKey, whenUnsatisfiable}: Duplicate value: \"{zone, DoNotSchedule}\"",
            ],
        ),
        case(
            "minDomains",
            |p| {
                spec(p).topology_spread_constraints = vec![TopologySpreadConstraint {
                    min_domains: Some(0),
                    ..spread("zone", "ScheduleAnyway", 1)
                }]
            },
            &[
                "spec.topologySpreadConstraints[0].minDomains: Invalid value: 0: must be greater than zero",
                "spec.topologySpreadConstraints[0].minDomains: Invalid value: 0: can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway",
            ],
        ),
        case(
            "policies and match label keys",
            |p| {
                spec(p).topology_spread_constraints = vec![TopologySpreadConstraint {
                    node_affinity_policy: Some("Maybe".into()),
                    match_label_keys: vec!["app".into()],
                    label_selector: Some(LabelSelector {
                        match_labels: [("app".to_owned(), "web".to_owned())].into_iter().collect(),
                        ..Default::default()
                    }),
                    ..spread("zone", "DoNotSchedule", 1)
                }]
            },
            &[
                "spec.topologySpreadConstraints[0].nodeAffinityPolicy: Unsupported value: \"Maybe\": supported values: \"Honor\", \"Ignore\"",
                "spec.topologySpreadConstraints[0].matchLabelKeys[0]: Invalid value: \"app\": exists in both matchLabelKeys and labelSelector",
            ],
        ),
    ]);
}

#[test]
fn security_contexts() {
    run(vec![
        case(
            "ids",
            |p| {
                spec(p).security_context = Some(PodSecurityContext {
                    run_as_user: Some(-1),
                    fs_group: Some(1 << 40),
                    supplemental_groups: vec![-5],
                    ..Default::default()
                });
                app(p).security_context = Some(SecurityContext {
                    run_as_group: Some(-1),
                    ..Default::default()
                });
            },
            &[
                "spec.securityContext.fsGroup: Invalid value: 1099511627776: must be between 0 and 2147483647, inclusive",
                "spec.securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, inclusive",
                "spec.securityContext.supplementalGroups[0]: Invalid value: -5: must be between 0 and 2147483647, inclusive",
                "spec.containers[0].securityContext.runAsGroup: Invalid value: -1: must be between 0 and 2147483647, inclusive",
            ],
        ),
        case(
            "shareProcessNamespace with hostPID",
            |p| {
                spec(p).share_process_namespace = Some(true);
                spec(p).host_pid = true;
            },
            &[
                "spec.securityContext.shareProcessNamespace: Invalid value: true: ShareProcessNamespace and HostPID cannot both be enabled",
            ],
        ),
        case(
            "sysctls",
            |p| {
                spec(p).host_network = true;
                spec(p).security_context = Some(PodSecurityContext {
                    sysctls: vec![
                        Sysctl {
                            name: "Kernel.Bad".into(),
                            value: "1".into(),
                        },
                        Sysctl {
                            name: "kernel.shm_rmid_forced".into(),
                            value: "1".into(),
                        },
                        Sysctl {
                            name: "kernel.shm_rmid_forced".into(),
                            value: "0".into(),
                        },
                        Sysctl {
                            name: "net.core.somaxconn".into(),
                            value: "1024".into(),
                        },
                        Sysctl {
                            name: String::new(),
                            value: String::new(),
                        },
                    ],
                    ..Default::default()
                });
            },
            &[
                "spec.securityContext.sysctls[0].name: Invalid value: \"Kernel.Bad\": must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$",
                "spec.securityContext.sysctls[2].name: Duplicate value: \"kernel.shm_rmid_forced\"",
                "spec.securityContext.sysctls[3].name: Invalid value: \"net.core.somaxconn\": sysctl not allowed with host net enabled",
                "spec.securityContext.sysctls[4].name: Required value",
            ],
        ),
        case(
            "seccomp and apparmor",
            |p| {
                spec(p).security_context = Some(PodSecurityContext {
                    seccomp_profile: Some(SeccompProfile {
                        r#type: "Localhost".into(),
                        localhost_profile: None,
                    }),
                    app_armor_profile: Some(AppArmorProfile {
                        r#type: "RuntimeDefault".into(),
                        localhost_profile: Some("p".into()),
                    }),
                    ..Default::default()
                });
                app(p).security_context = Some(SecurityContext {
                    seccomp_profile: Some(SeccompProfile {
                        r#type: "Custom".into(),
                        localhost_profile: None,
                    }),
                    ..Default::default()
                });
            },
            &[
                "spec.securityContext.seccompProfile.localhostProfile: Required value: must be set when seccomp type is Localhost",
                "spec.securityContext.appArmorProfile.localhostProfile: Invalid value: \"p\": can only be set when AppArmor type is Localhost",
                "spec.containers[0].securityContext.seccompProfile.type: Unsupported value: \"Custom\": supported values: \"Localhost\", \"RuntimeDefault\", \"Unconfined\"",
            ],
        ),
        case(
            "privilege escalation",
            |p| {
                app(p).security_context = Some(SecurityContext {
                    privileged: Some(true),
                    allow_privilege_escalation: Some(false),
                    ..Default::default()
                })
            },
            &[
                "spec.containers[0].securityContext: Invalid value: {\"privileged\":true,\"allowPrivilegeEscalation\":false}: cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            ],
        ),
        case(
            "proc mount",
            |p| {
                app(p).security_context = Some(SecurityContext {
                    proc_mount: Some("Unmasked".into()),
                    ..Default::default()
                })
            },
            &[
                "spec.containers[0].securityContext.procMount: Invalid value: \"Unmasked\": `hostUsers` must be false to use `Unmasked`",
            ],
        ),
        case(
            "unmasked with a user namespace",
            |p| {
                spec(p).host_users = Some(false);
                app(p).security_context = Some(SecurityContext {
                    proc_mount: Some("Unmasked".into()),
                    ..Default::default()
                });
            },
            &[],
        ),
        case(
            "user namespace with host namespaces",
            |p| {
                spec(p).host_users = Some(false);
                spec(p).host_network = true;
                spec(p).host_ipc = true;
            },
            &[
                "spec.hostNetwork: Forbidden: when `pod.Spec.HostUsers` is false",
                "spec.HostIPC: Forbidden: when `pod.Spec.HostUsers` is false",
            ],
        ),
    ]);
}
