//! Container-level rules: names, images, ports, env, resources, mounts, probes and hooks.

use super::*;

#[test]
fn containers() {
    run(vec![
        case(
            "no containers",
            |p| spec(p).containers.clear(),
            &["spec.containers: Required value"],
        ),
        case(
            "no name",
            |p| app(p).name.clear(),
            &["spec.containers[0].name: Required value"],
        ),
        case(
            "bad name",
            |p| app(p).name = "Bad_Name".into(),
            &[concat!(
                "spec.containers[0].name: Invalid value: \"Bad_Name\": ",
                "a lowercase RFC 1123 label must consist of"
            )],
        ),
        case(
            "name too long",
            |p| app(p).name = "a".repeat(64),
            &["spec.containers[0].name: Invalid value: \"aaaa"],
        ),
        case(
            "duplicate app name",
            |p| {
                let c = app(p).clone();
                spec(p).containers.push(c);
            },
            &["spec.containers[1].name: Duplicate value: \"app\""],
        ),
        case(
            "init name collides with app",
            |p| {
                let c = app(p).clone();
                spec(p).init_containers.push(Container {
                    volume_mounts: vec![],
                    ..c
                });
            },
            &["spec.initContainers[0].name: Duplicate value: \"app\""],
        ),
        case(
            "no image",
            |p| app(p).image.clear(),
            &["spec.containers[0].image: Required value"],
        ),
        case(
            "image whitespace",
            |p| app(p).image = " nginx".into(),
            &["spec.containers[0].image: Invalid value: \" nginx\": must not have leading or trailing whitespace"],
        ),
        case(
            "pull policy",
            |p| app(p).image_pull_policy = "Sometimes".into(),
            &[
                "spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\"",
            ],
        ),
        case(
            "no pull policy",
            |p| app(p).image_pull_policy.clear(),
            &["spec.containers[0].imagePullPolicy: Required value"],
        ),
        case(
            "termination message policy",
            |p| app(p).termination_message_policy = "Logs".into(),
            &[
                "spec.containers[0].terminationMessagePolicy: Unsupported value: \"Logs\": supported values: \"File\", \"FallbackToLogsOnError\"",
            ],
        ),
        case(
            "restartPolicy on an app container",
            |p| app(p).restart_policy = Some("Always".into()),
            &["spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers"],
        ),
        case(
            "init restartPolicy other than Always",
            |p| {
                let mut c = app(p).clone();
                c.name = "init".into();
                c.restart_policy = Some("OnFailure".into());
                spec(p).init_containers.push(c);
            },
            &["spec.initContainers[0].restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\""],
        ),
        case(
            "probes and hooks on a plain init container",
            |p| {
                let mut c = app(p).clone();
                c.name = "init".into();
                c.readiness_probe = Some(http_probe(IntOrString::int(80)));
                c.lifecycle = Some(Lifecycle::default());
                spec(p).init_containers.push(c);
            },
            &[
                "spec.initContainers[0].lifecycle: Forbidden: may not be set for init containers without restartPolicy=Always",
                "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always",
            ],
        ),
        case(
            "resizePolicy on an init container",
            |p| {
                let mut c = app(p).clone();
                c.name = "init".into();
                c.resize_policy = vec![ContainerResizePolicy {
                    resource_name: "cpu".into(),
                    restart_policy: "NotRequired".into(),
                }];
                spec(p).init_containers.push(c);
            },
            &[
                "spec.initContainers[0].resizePolicy: Invalid value: []core.ContainerResizePolicy{core.ContainerResizePolicy{ResourceName:\"cpu\", RestartPolicy:\"NotRequired\"}}: must not be set for init containers",
            ],
        ),
        case(
            "resize policy rules",
            |p| {
                spec(p).restart_policy = "Never".into();
                app(p).resize_policy = vec![
                    ContainerResizePolicy {
                        resource_name: "cpu".into(),
                        restart_policy: "RestartContainer".into(),
                    },
                    ContainerResizePolicy {
                        resource_name: "gpu".into(),
                        restart_policy: "NotRequired".into(),
                    },
                ];
            },
            &[
                "spec.containers[0].resizePolicy[0]: Invalid value: \"RestartContainer\": must be 'NotRequired' when `restartPolicy` is 'Never'",
                "spec.containers[0].resizePolicy[1].resourceName: Unsupported value: \"gpu\": supported values: \"cpu\", \"memory\"",
            ],
        ),
        case(
            "ephemeral containers on create",
            |p| {
                let (c, _) = (app(p).clone(), ());
                spec(p).ephemeral_containers.push(EphemeralContainer {
                    name: "debug".into(),
                    image: c.image,
                    image_pull_policy: "Always".into(),
                    termination_message_policy: "File".into(),
                    target_container_name: "nope".into(),
                    ..Default::default()
                });
            },
            &[
                "spec.ephemeralContainers[0].targetContainerName: Not found: \"nope\"",
                "spec.ephemeralContainers: Forbidden: cannot be set on create",
            ],
        ),
    ]);
}

#[test]
fn ports() {
    run(vec![
        case(
            "missing container port",
            |p| {
                app(p).ports = vec![ContainerPort {
                    protocol: "TCP".into(),
                    ..Default::default()
                }]
            },
            &["spec.containers[0].ports[0].containerPort: Required value"],
        ),
        case(
            "port out of range",
            |p| {
                app(p).ports = vec![ContainerPort {
                    container_port: 70000,
                    host_port: -1,
                    protocol: "TCP".into(),
                    ..Default::default()
                }]
            },
            &[
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.containers[0].ports[0].hostPort: Invalid value: -1: must be between 1 and 65535, inclusive",
            ],
        ),
        case(
            "protocol",
            |p| {
                app(p).ports = vec![ContainerPort {
                    container_port: 80,
                    protocol: "ICMP".into(),
                    ..Default::default()
                }]
            },
            &[
                "spec.containers[0].ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            ],
        ),
        case(
            "no protocol",
            |p| {
                app(p).ports = vec![ContainerPort {
                    container_port: 80,
                    ..Default::default()
                }]
            },
            &["spec.containers[0].ports[0].protocol: Required value"],
        ),
        case(
            "port names",
            |p| {
                app(p).ports = vec![
                    ContainerPort {
                        name: "web_1".into(),
                        container_port: 80,
                        protocol: "TCP".into(),
                        ..Default::default()
                    },
                    ContainerPort {
                        name: "metrics".into(),
                        container_port: 81,
                        protocol: "TCP".into(),
                        ..Default::default()
                    },
                    ContainerPort {
                        name: "metrics".into(),
                        container_port: 82,
                        protocol: "TCP".into(),
                        ..Default::default()
                    },
                ]
            },
            &[
                "spec.containers[0].ports[0].name: Invalid value: \"web_1\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "spec.containers[0].ports[2].name: Duplicate value: \"metrics\"",
            ],
        ),
        case(
            "host port conflict across containers",
            |p| {
                app(p).ports = vec![ContainerPort {
                    container_port: 80,
                    host_port: 8080,
                    protocol: "TCP".into(),
                    ..Default::default()
                }];
                let mut other = app(p).clone();
                other.name = "other".into();
                spec(p).containers.push(other);
            },
            &["spec.containers[1].ports[0].hostPort: Duplicate value: \"/TCP/8080\""],
        ),
        case(
            "same host port, other protocol or IP",
            |p| {
                app(p).ports = vec![
                    ContainerPort {
                        container_port: 80,
                        host_port: 8080,
                        protocol: "TCP".into(),
                        ..Default::default()
                    },
                    ContainerPort {
                        container_port: 80,
                        host_port: 8080,
                        protocol: "UDP".into(),
                        ..Default::default()
                    },
                    ContainerPort {
                        container_port: 80,
                        host_port: 8080,
                        protocol: "TCP".into(),
                        host_ip: "10.0.0.1".into(),
                        ..Default::default()
                    },
                ]
            },
            &[],
        ),
        case(
            "host network needs hostPort == containerPort",
            |p| {
                spec(p).host_network = true;
                app(p).ports = vec![ContainerPort {
                    container_port: 80,
                    host_port: 8080,
                    protocol: "TCP".into(),
                    ..Default::default()
                }];
            },
            &[
                "spec.containers[0].ports[0].hostPort: Invalid value: 8080: must match `containerPort` when `hostNetwork` is true",
            ],
        ),
    ]);
}

fn env_from(source: EnvVarSource) -> EnvVar {
    EnvVar {
        name: "X".into(),
        value_from: Some(source),
        ..Default::default()
    }
}

fn field_ref(path: &str) -> EnvVarSource {
    EnvVarSource {
        field_ref: Some(ObjectFieldSelector {
            api_version: "v1".into(),
            field_path: path.into(),
        }),
        ..Default::default()
    }
}

fn resource_ref(resource: &str, divisor: &str) -> EnvVarSource {
    let divisor = (!divisor.is_empty()).then(|| Quantity::new(divisor));
    EnvVarSource {
        resource_field_ref: Some(ResourceFieldSelector {
            resource: resource.into(),
            divisor,
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn env() {
    run(vec![
        case(
            "empty name",
            |p| app(p).env = vec![EnvVar::default()],
            &[
                "spec.containers[0].env[0].name: Required value",
                "spec.containers[0].env[0].name: Invalid value: \"\": environment variable name must be non-empty",
            ],
        ),
        case(
            "name with =",
            |p| {
                app(p).env = vec![EnvVar {
                    name: "A=B".into(),
                    ..Default::default()
                }]
            },
            &[
                "spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
            ],
        ),
        case(
            "relaxed names are fine",
            |p| {
                app(p).env = vec![EnvVar {
                    name: "1st.var-x".into(),
                    ..Default::default()
                }]
            },
            &[],
        ),
        case(
            "valueFrom without a source",
            |p| app(p).env = vec![env_from(EnvVarSource::default())],
            &[
                "spec.containers[0].env[0].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ],
        ),
        case(
            "two sources",
            |p| {
                let mut source = field_ref("metadata.name");
                source.secret_key_ref = Some(SecretKeySelector {
                    name: "s".into(),
                    key: "k".into(),
                    optional: None,
                });
                app(p).env = vec![env_from(source)];
            },
            &[
                "spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not have more than one field specified at a time",
            ],
        ),
        case(
            "value and valueFrom",
            |p| {
                app(p).env = vec![EnvVar {
                    value: "v".into(),
                    ..env_from(field_ref("metadata.name"))
                }]
            },
            &[
                "spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty",
            ],
        ),
        case(
            "field not exposed to env",
            |p| app(p).env = vec![env_from(field_ref("spec.restartPolicy"))],
            &[
                "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: \"spec.restartPolicy\": supported values: \"metadata.name\", \"metadata.namespace\", \"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", \"status.hostIP\", \"status.hostIPs\", \"status.podIP\", \"status.podIPs\"",
            ],
        ),
        case(
            "whole labels are for volumes only",
            |p| app(p).env = vec![env_from(field_ref("metadata.labels"))],
            &["spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: \"metadata.labels\""],
        ),
        case(
            "unknown field",
            |p| app(p).env = vec![env_from(field_ref("spec.foo"))],
            &[
                "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Invalid value: \"spec.foo\": error converting fieldPath: field label not supported: spec.foo",
            ],
        ),
        case(
            "subscript on a plain field",
            |p| app(p).env = vec![env_from(field_ref("metadata.name['x']"))],
            &[
                "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Invalid value: \"metadata.name['x']\": error converting fieldPath: field label does not support subscript: metadata.name['x']",
            ],
        ),
        case(
            "bad label key",
            |p| app(p).env = vec![env_from(field_ref("metadata.labels['a b']"))],
            &["spec.containers[0].env[0].valueFrom.fieldRef: Invalid value: \"a b\": name part "],
        ),
        case(
            "api version",
            |p| {
                let mut source = field_ref("metadata.name");
                source.field_ref.as_mut().unwrap().api_version = "v2".into();
                app(p).env = vec![env_from(source)];
            },
            &[
                "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Invalid value: \"metadata.name\": error converting fieldPath: unsupported pod version: v2",
            ],
        ),
        case(
            "spec.host is the old nodeName",
            |p| app(p).env = vec![env_from(field_ref("spec.host"))],
            &[],
        ),
        case(
            "resource",
            |p| app(p).env = vec![env_from(resource_ref("limits.gpu", ""))],
            &[
                "spec.containers[0].env[0].valueFrom.resourceFieldRef.resource: Unsupported value: \"limits.gpu\": supported values: \"limits.cpu\", \"limits.ephemeral-storage\", \"limits.memory\", \"requests.cpu\", \"requests.ephemeral-storage\", \"requests.memory\"",
            ],
        ),
        case(
            "hugepages resource",
            |p| app(p).env = vec![env_from(resource_ref("limits.hugepages-2Mi", "1Mi"))],
            &[],
        ),
        case(
            "cpu divisor",
            |p| app(p).env = vec![env_from(resource_ref("limits.cpu", "1Mi"))],
            &[
                "spec.containers[0].env[0].valueFrom.resourceFieldRef.divisor: Invalid value: \"limits.cpu\": only divisor's values 1m and 1 are supported with the cpu resource",
            ],
        ),
        case(
            "memory divisor",
            |p| app(p).env = vec![env_from(resource_ref("requests.memory", "3"))],
            &[
                "spec.containers[0].env[0].valueFrom.resourceFieldRef.divisor: Invalid value: \"requests.memory\": only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource",
            ],
        ),
        case(
            "divisor 1000m is 1",
            |p| app(p).env = vec![env_from(resource_ref("limits.cpu", "1000m"))],
            &[],
        ),
        case(
            "config map key",
            |p| {
                app(p).env = vec![
                    env_from(EnvVarSource {
                        config_map_key_ref: Some(ConfigMapKeySelector {
                            name: "cfg".into(),
                            key: String::new(),
                            optional: None,
                        }),
                        ..Default::default()
                    }),
                    env_from(EnvVarSource {
                        config_map_key_ref: Some(ConfigMapKeySelector {
                            name: "Cfg".into(),
                            key: "a b".into(),
                            optional: None,
                        }),
                        ..Default::default()
                    }),
                ]
            },
            &[
                "spec.containers[0].env[0].valueFrom.configMapKeyRef.key: Required value",
                "spec.containers[0].env[1].valueFrom.configMapKeyRef.name: Invalid value: \"Cfg\": a lowercase RFC 1123 subdomain",
                "spec.containers[0].env[1].valueFrom.configMapKeyRef.key: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            ],
        ),
        case(
            "envFrom",
            |p| {
                app(p).env_from = vec![
                    EnvFromSource::default(),
                    EnvFromSource {
                        prefix: "A=".into(),
                        secret_ref: Some(SecretEnvSource {
                            name: String::new(),
                            optional: None,
                        }),
                        config_map_ref: None,
                    },
                ]
            },
            &[
                "spec.containers[0].envFrom: Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`",
                "spec.containers[0].envFrom[1].prefix: Invalid value: \"A=\": a valid environment variable name",
                "spec.containers[0].envFrom[1].secretRef.name: Required value",
            ],
        ),
    ]);
}

fn resources(limits: &[(&str, &str)], requests: &[(&str, &str)]) -> Option<ResourceRequirements> {
    Some(ResourceRequirements {
        limits: quantities(limits),
        requests: quantities(requests),
        ..Default::default()
    })
}

#[test]
fn resource_requirements() {
    run(vec![
        case(
            "unparsable quantity",
            |p| app(p).resources = resources(&[("cpu", "abc")], &[]),
            &[
                "spec.containers[0].resources.limits[cpu]: Invalid value: \"abc\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            ],
        ),
        case(
            "negative",
            |p| app(p).resources = resources(&[], &[("memory", "-1")]),
            &[
                "spec.containers[0].resources.requests[memory]: Invalid value: \"-1\": must be greater than or equal to 0",
            ],
        ),
        case(
            "request above limit",
            |p| app(p).resources = resources(&[("cpu", "1")], &[("cpu", "2")]),
            &[
                "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
            ],
        ),
        case(
            "request above limit, printed in canonical form",
            |p| app(p).resources = resources(&[("memory", "1Gi")], &[("memory", "2048Mi")]),
            &[
                "spec.containers[0].resources.requests: Invalid value: \"2Gi\": must be less than or equal to memory limit of 1Gi",
            ],
        ),
        case(
            "request equal in another notation",
            |p| app(p).resources = resources(&[("cpu", "1")], &[("cpu", "1000m")]),
            &[],
        ),
        case(
            "unknown unprefixed resource",
            |p| app(p).resources = resources(&[("foo", "1")], &[("foo", "1")]),
            &[
                "spec.containers[0].resources.limits[foo]: Invalid value: \"foo\": must be a standard resource type or fully qualified",
                "spec.containers[0].resources.limits[foo]: Invalid value: \"foo\": must be a standard resource for containers",
                "spec.containers[0].resources.requests[foo]: Invalid value: \"foo\": must be a standard resource type or fully qualified",
                "spec.containers[0].resources.requests[foo]: Invalid value: \"foo\": must be a standard resource for containers",
            ],
        ),
        case(
            "standard but not for containers",
            |p| app(p).resources = resources(&[("pods", "1")], &[]),
            &[
                "spec.containers[0].resources.limits[pods]: Invalid value: \"pods\": must be a standard resource for containers",
            ],
        ),
        case(
            "bad resource name",
            |p| app(p).resources = resources(&[("a b", "1")], &[]),
            &["spec.containers[0].resources.limits[a b]: Invalid value: \"a b\": name part"],
        ),
        case(
            "extended resources must not overcommit",
            |p| app(p).resources = resources(&[("example.com/gpu", "2")], &[("example.com/gpu", "1")]),
            &[
                "spec.containers[0].resources.requests: Invalid value: \"1\": must be equal to example.com/gpu limit of 2",
            ],
        ),
        case(
            "extended resource needs a limit",
            |p| app(p).resources = resources(&[], &[("example.com/gpu", "1")]),
            &[
                "spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources",
            ],
        ),
        case(
            "extended resources are whole",
            |p| app(p).resources = resources(&[("example.com/gpu", "500m")], &[("example.com/gpu", "500m")]),
            &[
                "spec.containers[0].resources.limits[example.com/gpu]: Invalid value: \"500m\": must be an integer",
                "spec.containers[0].resources.requests[example.com/gpu]: Invalid value: \"500m\": must be an integer",
            ],
        ),
        case(
            "hugepages need cpu or memory",
            |p| app(p).resources = resources(&[("hugepages-2Mi", "2Mi")], &[("hugepages-2Mi", "2Mi")]),
            &["spec.containers[0].resources: Forbidden: HugePages require cpu or memory"],
        ),
        case(
            "overhead",
            |p| spec(p).overhead = quantities(&[("cpu", "-1")]),
            &["spec.overhead.limits[cpu]: Invalid value: \"-1\": must be greater than or equal to 0"],
        ),
    ]);
}

fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        ..Default::default()
    }
}

#[test]
fn volume_mounts_and_devices() {
    run(vec![
        case(
            "unknown volume",
            |p| app(p).volume_mounts.push(mount("x", "/x")),
            &["spec.containers[0].volumeMounts[1].name: Not found: \"x\""],
        ),
        case(
            "no name, no path",
            |p| app(p).volume_mounts.push(VolumeMount::default()),
            &[
                "spec.containers[0].volumeMounts[1].name: Required value",
                "spec.containers[0].volumeMounts[1].name: Not found: \"\"",
                "spec.containers[0].volumeMounts[1].mountPath: Required value",
            ],
        ),
        case(
            "duplicate mount path",
            |p| app(p).volume_mounts.push(mount("data", "/data")),
            &["spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/data\": must be unique"],
        ),
        case(
            "subPath",
            |p| {
                app(p).volume_mounts[0].sub_path = "/abs/../x".into();
            },
            &[
                "spec.containers[0].volumeMounts.subPath: Invalid value: \"/abs/../x\": must be a relative path",
                "spec.containers[0].volumeMounts.subPath: Invalid value: \"/abs/../x\": must not contain '..'",
            ],
        ),
        case(
            "subPath and subPathExpr",
            |p| {
                app(p).volume_mounts[0].sub_path = "a".into();
                app(p).volume_mounts[0].sub_path_expr = "$(POD)".into();
            },
            &[
                "spec.containers[0].volumeMounts[0].subPathExpr: Invalid value: \"$(POD)\": subPathExpr and subPath are mutually exclusive",
            ],
        ),
        case(
            "bidirectional needs privilege",
            |p| app(p).volume_mounts[0].mount_propagation = Some("Bidirectional".into()),
            &[
                "spec.containers[0].volumeMounts.mountPropagation: Forbidden: Bidirectional mount propagation is available only to privileged containers",
            ],
        ),
        case(
            "bidirectional when privileged",
            |p| {
                app(p).volume_mounts[0].mount_propagation = Some("Bidirectional".into());
                app(p).security_context = Some(SecurityContext {
                    privileged: Some(true),
                    ..Default::default()
                });
            },
            &[],
        ),
        case(
            "unknown propagation",
            |p| app(p).volume_mounts[0].mount_propagation = Some("Sideways".into()),
            &[
                "spec.containers[0].volumeMounts.mountPropagation: Unsupported value: \"Sideways\": supported values: \"Bidirectional\", \"HostToContainer\", \"None\"",
            ],
        ),
        case(
            "recursive read-only",
            |p| app(p).volume_mounts[0].recursive_read_only = Some("Enabled".into()),
            &[
                "spec.containers[0].volumeMounts.recursiveReadOnly: Forbidden: may only be specified when readOnly is true",
            ],
        ),
        case(
            "device on a non-claim volume",
            |p| {
                app(p).volume_devices = vec![VolumeDevice {
                    name: "data".into(),
                    device_path: "/dev/x".into(),
                }]
            },
            &[
                "spec.containers[0].volumeDevices[0].name: Invalid value: \"data\": can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
                "spec.containers[0].volumeDevices[0].name: Invalid value: \"data\": must not already exist in volumeMounts",
                "spec.containers[0].volumeMounts[0].name: Invalid value: \"data\": must not already exist in volumeDevices",
            ],
        ),
    ]);
}

#[test]
fn probes_and_hooks() {
    run(vec![
        case(
            "no handler",
            |p| {
                app(p).liveness_probe = Some(Probe {
                    timeout_seconds: 1,
                    period_seconds: 10,
                    success_threshold: 1,
                    failure_threshold: 3,
                    ..Default::default()
                })
            },
            &["spec.containers[0].livenessProbe: Required value: must specify a handler type"],
        ),
        case(
            "two handlers",
            |p| {
                let mut probe = http_probe(IntOrString::int(80));
                probe.exec = Some(ExecAction {
                    command: vec!["true".into()],
                });
                app(p).liveness_probe = Some(probe);
            },
            &["spec.containers[0].livenessProbe.httpGet: Forbidden: may not specify more than 1 handler type"],
        ),
        case(
            "liveness success threshold",
            |p| {
                app(p).liveness_probe = Some(Probe {
                    success_threshold: 2,
                    ..http_probe(IntOrString::int(80))
                })
            },
            &["spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"],
        ),
        case(
            "startup success threshold",
            |p| {
                app(p).startup_probe = Some(Probe {
                    success_threshold: 3,
                    ..http_probe(IntOrString::int(80))
                })
            },
            &["spec.containers[0].startupProbe.successThreshold: Invalid value: 3: must be 1"],
        ),
        case(
            "readiness may need several successes",
            |p| {
                app(p).readiness_probe = Some(Probe {
                    success_threshold: 3,
                    ..http_probe(IntOrString::int(80))
                })
            },
            &[],
        ),
        case(
            "negative timings",
            |p| {
                app(p).readiness_probe = Some(Probe {
                    initial_delay_seconds: -1,
                    failure_threshold: -2,
                    ..http_probe(IntOrString::int(80))
                })
            },
            &[
                "spec.containers[0].readinessProbe.initialDelaySeconds: Invalid value: -1: must be greater than or equal to 0",
                "spec.containers[0].readinessProbe.failureThreshold: Invalid value: -2: must be greater than or equal to 0",
            ],
        ),
        case(
            "probe grace period",
            |p| {
                app(p).liveness_probe = Some(Probe {
                    termination_grace_period_seconds: Some(0),
                    ..http_probe(IntOrString::int(80))
                });
                app(p).readiness_probe = Some(Probe {
                    termination_grace_period_seconds: Some(5),
                    ..http_probe(IntOrString::int(80))
                });
            },
            &[
                "spec.containers[0].livenessProbe.terminationGracePeriodSeconds: Invalid value: 0: must be greater than 0",
                "spec.containers[0].readinessProbe.terminationGracePeriodSeconds: Invalid value: 5: must not be set for readinessProbes",
            ],
        ),
        case(
            "http port",
            |p| {
                app(p).liveness_probe = Some(http_probe(IntOrString::int(0)));
                app(p).readiness_probe = Some(http_probe(IntOrString::string("Web")));
            },
            &[
                "spec.containers[0].livenessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.containers[0].readinessProbe.httpGet.port: Invalid value: \"Web\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            ],
        ),
        case(
            "http scheme, path and headers",
            |p| {
                let mut probe = http_probe(IntOrString::int(80));
                let http = probe.http_get.as_mut().unwrap();
                http.scheme = "FTP".into();
                http.path.clear();
                http.http_headers = vec![HttpHeader {
                    name: "Bad Header".into(),
                    value: "v".into(),
                }];
                app(p).liveness_probe = Some(probe);
            },
            &[
                "spec.containers[0].livenessProbe.httpGet.path: Required value",
                "spec.containers[0].livenessProbe.httpGet.scheme: Unsupported value: \"FTP\": supported values: \"HTTP\", \"HTTPS\"",
                "spec.containers[0].livenessProbe.httpGet.httpHeaders: Invalid value: \"Bad Header\": a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')",
            ],
        ),
        case(
            "exec, tcp and grpc",
            |p| {
                app(p).liveness_probe = Some(
                    Probe {
                        exec: Some(ExecAction::default()),
                        ..http_probe(IntOrString::int(80))
                    }
                    .without_http(),
                );
                app(p).readiness_probe = Some(
                    Probe {
                        tcp_socket: Some(TcpSocketAction::default()),
                        ..http_probe(IntOrString::int(80))
                    }
                    .without_http(),
                );
                app(p).startup_probe = Some(
                    Probe {
                        grpc: Some(GrpcAction {
                            port: 70000,
                            service: None,
                        }),
                        ..http_probe(IntOrString::int(80))
                    }
                    .without_http(),
                );
            },
            &[
                "spec.containers[0].livenessProbe.exec.command: Required value",
                "spec.containers[0].readinessProbe.tcpSocket.port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.containers[0].startupProbe.grpc.port: Invalid value: 70000: must be between 1 and 65535, inclusive",
            ],
        ),
        case(
            "sleep beyond the grace period",
            |p| {
                app(p).lifecycle = Some(Lifecycle {
                    pre_stop: Some(LifecycleHandler {
                        sleep: Some(SleepAction { seconds: 100 }),
                        ..Default::default()
                    }),
                    post_start: Some(LifecycleHandler::default()),
                })
            },
            &[
                "spec.containers[0].lifecycle.postStart: Required value: must specify a handler type",
                "spec.containers[0].lifecycle.preStop.sleep: Invalid value: 100: must be greater than 0 and less than terminationGracePeriodSeconds (30)",
            ],
        ),
        case(
            "sidecars may have probes",
            |p| {
                let mut c = app(p).clone();
                c.name = "sidecar".into();
                c.restart_policy = Some("Always".into());
                c.readiness_probe = Some(http_probe(IntOrString::int(80)));
                c.liveness_probe = Some(Probe {
                    success_threshold: 2,
                    ..http_probe(IntOrString::int(80))
                });
                spec(p).init_containers.push(c);
            },
            &["spec.initContainers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"],
        ),
    ]);
}

trait WithoutHttp {
    fn without_http(self) -> Self;
}

impl WithoutHttp for Probe {
    fn without_http(mut self) -> Self {
        self.http_get = None;
        self
    }
}
