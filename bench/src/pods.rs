//! The pod every benchmark creates: small but realistic (labels, one container with a command
//! and resource requests), so that its encoded size is typical of a controller's pod.

use std::collections::BTreeMap;

use podium_proto::k8s::core::v1::{Container, Pod, PodSpec, ResourceRequirements};
use podium_proto::k8s::meta::v1::{ObjectMeta, Quantity};

/// Every benchmark works in this namespace, which exists from the start.
pub const NAMESPACE: &str = "default";

/// The label the selector benchmark selects on; 1% of listed pods carry `bench=selected`.
pub const SELECTOR_LABEL: &str = "bench";
pub const SELECTED: &str = "selected";
/// Same length as `SELECTED`, so selected and other pods encode to the same size.
pub const NOT_SELECTED: &str = "ordinary";

/// The annotation in which the watch benchmark sends each pod's send time (nanoseconds since
/// the benchmark's clock started).
pub const SENT_ANNOTATION: &str = "bench.podium.dev/sent-ns";

/// A pod named `name` in `NAMESPACE`.
pub fn pod(name: String, selected: bool) -> Pod {
    let quantity = |s: &str| Quantity { string: s.to_owned() };
    let labels = BTreeMap::from([
        ("app".to_owned(), "podium-bench".to_owned()),
        (
            SELECTOR_LABEL.to_owned(),
            if selected { SELECTED } else { NOT_SELECTED }.to_owned(),
        ),
    ]);
    Pod {
        metadata: Some(ObjectMeta {
            name,
            namespace: NAMESPACE.to_owned(),
            labels,
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "app".to_owned(),
                image: "registry.example/podium/bench-app:1.0".to_owned(),
                command: vec!["/bin/app".to_owned(), "--serve".to_owned()],
                resources: Some(ResourceRequirements {
                    requests: BTreeMap::from([
                        ("cpu".to_owned(), quantity("100m")),
                        ("memory".to_owned(), quantity("64Mi")),
                    ]),
                    limits: BTreeMap::from([("memory".to_owned(), quantity("128Mi"))]),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The name of the `i`th pod of a run.
pub fn name(prefix: &str, i: u64) -> String {
    format!("{prefix}-{i:07}")
}

/// Whether the `i`th pod carries `bench=selected`: one in a hundred.
pub fn is_selected(i: u64) -> bool {
    i.is_multiple_of(100)
}

/// How many of the pods `0..n` carry `bench=selected`.
pub fn selected_among(n: u64) -> u64 {
    n.div_ceil(100)
}

/// Sets the send-time annotation.
pub fn stamp(pod: &mut Pod, sent_nanos: u64) {
    if let Some(meta) = pod.metadata.as_mut() {
        meta.annotations
            .insert(SENT_ANNOTATION.to_owned(), sent_nanos.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_percent_is_selected() {
        let counted = (0..10_000).filter(|i| is_selected(*i)).count() as u64;
        assert_eq!(counted, selected_among(10_000));
        assert_eq!(counted, 100);
        assert_eq!(selected_among(101), 2);
    }

    #[test]
    fn selected_and_other_pods_are_the_same_size() {
        use prost::Message;
        let a = pod(name("p", 1), true).encoded_len();
        let b = pod(name("p", 2), false).encoded_len();
        assert_eq!(a, b);
    }
}
