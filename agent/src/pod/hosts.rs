//! The per-pod `/etc/hosts`, as kubelet writes it and bind-mounts into every container: the
//! loopback entries, the pod's own name on its IP, then the pod's `hostAliases`.

use podium_proto::k8s::core::v1::Pod;

/// The pod's hostname: `spec.hostname`, else the pod's name (at most 63 characters).
pub fn pod_hostname(pod: &Pod) -> String {
    let explicit = pod.spec.as_ref().map(|s| s.hostname.clone()).unwrap_or_default();
    let name = if explicit.is_empty() {
        pod.metadata.as_ref().map(|m| m.name.clone()).unwrap_or_default()
    } else {
        explicit
    };
    let truncated: String = name.chars().take(63).collect();
    truncated.trim_end_matches(['-', '.']).to_owned()
}

/// The hosts file for a pod with IP `pod_ip` in a cluster whose domain is `cluster_domain`.
pub fn hosts_file(pod: &Pod, pod_ip: &str, cluster_domain: &str) -> String {
    let mut out = String::from(
        "# Kubernetes-managed hosts file.\n\
         127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\n\
         fe00::0\tip6-mcastprefix\n\
         fe00::1\tip6-allnodes\n\
         fe00::2\tip6-allrouters\n",
    );
    let hostname = pod_hostname(pod);
    let subdomain = pod.spec.as_ref().map(|s| s.subdomain.as_str()).unwrap_or_default();
    let namespace = pod.metadata.as_ref().map(|m| m.namespace.as_str()).unwrap_or_default();
    if !pod_ip.is_empty() {
        if subdomain.is_empty() {
            out.push_str(&format!("{pod_ip}\t{hostname}\n"));
        } else {
            out.push_str(&format!(
                "{pod_ip}\t{hostname}.{subdomain}.{namespace}.svc.{cluster_domain}\t{hostname}\n"
            ));
        }
    }
    let aliases = pod.spec.as_ref().map(|s| s.host_aliases.as_slice()).unwrap_or_default();
    if !aliases.is_empty() {
        out.push_str("\n# Entries added by HostAliases.\n");
        for alias in aliases {
            out.push_str(&format!("{}\t{}\n", alias.ip, alias.hostnames.join("\t")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use podium_proto::k8s::core::v1::{HostAlias, PodSpec};
    use podium_proto::k8s::meta::v1::ObjectMeta;

    use super::*;

    fn pod(name: &str, hostname: &str, subdomain: &str, aliases: Vec<HostAlias>) -> Pod {
        Pod {
            metadata: Some(ObjectMeta {
                name: name.into(),
                namespace: "default".into(),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                hostname: hostname.into(),
                subdomain: subdomain.into(),
                host_aliases: aliases,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_pod_name_and_aliases_are_listed() {
        let aliases = vec![HostAlias {
            ip: "10.1.2.3".into(),
            hostnames: vec!["foo.local".into(), "bar.local".into()],
        }];
        let hosts = hosts_file(&pod("web", "", "", aliases), "10.88.0.5", "cluster.local");
        assert!(hosts.starts_with("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"));
        assert!(hosts.contains("\n10.88.0.5\tweb\n"));
        assert!(hosts.ends_with("\n# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n"));
    }

    #[test]
    fn hostname_and_subdomain_give_the_fqdn() {
        let hosts = hosts_file(&pod("web-abc", "web-0", "web", vec![]), "10.88.0.5", "cluster.local");
        assert!(
            hosts.contains("\n10.88.0.5\tweb-0.web.default.svc.cluster.local\tweb-0\n"),
            "{hosts}"
        );
        assert!(!hosts.contains("HostAliases"));
    }

    #[test]
    fn long_names_are_cut_to_a_valid_hostname() {
        let name = format!("{}-x", "a".repeat(62));
        assert_eq!(pod_hostname(&pod(&name, "", "", vec![])), "a".repeat(62));
    }
}
