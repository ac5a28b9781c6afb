//! The per-pod `/etc/resolv.conf` from `dnsPolicy` and `dnsConfig`, as kubelet builds it.
//!
//! Podium has no cluster DNS yet, so `ClusterFirst` uses the node's resolvers (what
//! Kubernetes does when no cluster DNS is configured); `Default` uses the node's; `None` uses
//! only `dnsConfig`. `dnsConfig` is merged on top: nameservers and searches appended without
//! duplicates, options replaced by name.

use podium_proto::k8s::core::v1::Pod;

/// Kubernetes' limits on what a resolv.conf may hold.
const MAX_NAMESERVERS: usize = 3;
const MAX_SEARCHES: usize = 32;

/// A parsed resolv.conf.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvConf {
    pub nameservers: Vec<String>,
    pub searches: Vec<String>,
    /// `name` or `name:value`.
    pub options: Vec<String>,
}

impl ResolvConf {
    /// Reads the node's resolv.conf text.
    pub fn parse(text: &str) -> Self {
        let mut conf = ResolvConf::default();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => conf.nameservers.extend(words.next().map(str::to_owned)),
                Some("search" | "domain") => conf.searches = words.map(str::to_owned).collect(),
                Some("options") => conf.options.extend(words.map(str::to_owned)),
                _ => {}
            }
        }
        conf
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for ns in &self.nameservers {
            out.push_str(&format!("nameserver {ns}\n"));
        }
        if !self.searches.is_empty() {
            out.push_str(&format!("search {}\n", self.searches.join(" ")));
        }
        if !self.options.is_empty() {
            out.push_str(&format!("options {}\n", self.options.join(" ")));
        }
        out
    }
}

fn push_unique(list: &mut Vec<String>, items: impl IntoIterator<Item = String>) {
    for item in items {
        if !list.contains(&item) {
            list.push(item);
        }
    }
}

/// The pod's resolv.conf, given the node's.
pub fn pod_resolv_conf(pod: &Pod, node: &ResolvConf) -> ResolvConf {
    let spec = pod.spec.clone().unwrap_or_default();
    let mut conf = match spec.dns_policy.as_str() {
        "None" => ResolvConf::default(),
        // ClusterFirst, ClusterFirstWithHostNet and Default: the node's resolvers until the
        // cluster has DNS.
        _ => node.clone(),
    };
    if let Some(extra) = &spec.dns_config {
        push_unique(&mut conf.nameservers, extra.nameservers.iter().cloned());
        push_unique(&mut conf.searches, extra.searches.iter().cloned());
        for option in &extra.options {
            let name = option.name.clone();
            conf.options.retain(|o| o.split(':').next() != Some(name.as_str()));
            conf.options.push(match &option.value {
                Some(value) => format!("{name}:{value}"),
                None => name,
            });
        }
    }
    conf.nameservers.truncate(MAX_NAMESERVERS);
    conf.searches.truncate(MAX_SEARCHES);
    conf
}

#[cfg(test)]
mod tests {
    use podium_proto::k8s::core::v1::{PodDnsConfig, PodDnsConfigOption, PodSpec};

    use super::*;

    fn pod(policy: &str, config: Option<PodDnsConfig>) -> Pod {
        Pod {
            spec: Some(PodSpec {
                dns_policy: policy.into(),
                dns_config: config,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn node() -> ResolvConf {
        ResolvConf::parse("# generated\nnameserver 192.0.2.53\nsearch example.com\noptions ndots:1 edns0\n")
    }

    #[test]
    fn cluster_first_and_default_use_the_nodes_resolvers() {
        for policy in ["ClusterFirst", "Default", "ClusterFirstWithHostNet", ""] {
            let conf = pod_resolv_conf(&pod(policy, None), &node());
            assert_eq!(
                conf.render(),
                "nameserver 192.0.2.53\nsearch example.com\noptions ndots:1 edns0\n",
                "{policy}"
            );
        }
    }

    #[test]
    fn none_uses_only_dns_config_and_config_merges_on_top() {
        let config = PodDnsConfig {
            nameservers: vec!["1.1.1.1".into()],
            searches: vec!["svc.local".into(), "example.com".into()],
            options: vec![PodDnsConfigOption {
                name: "ndots".into(),
                value: Some("2".into()),
            }],
        };
        let none = pod_resolv_conf(&pod("None", Some(config.clone())), &node());
        assert_eq!(
            none.render(),
            "nameserver 1.1.1.1\nsearch svc.local example.com\noptions ndots:2\n"
        );
        let merged = pod_resolv_conf(&pod("ClusterFirst", Some(config)), &node());
        assert_eq!(
            merged.render(),
            "nameserver 192.0.2.53\nnameserver 1.1.1.1\nsearch example.com svc.local\noptions edns0 ndots:2\n"
        );
    }
}
