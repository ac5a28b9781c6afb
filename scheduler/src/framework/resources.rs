//! Resource amounts as the scheduler adds them up: milli-CPU, bytes, pod counts and extended
//! resources, from requests, limits and node allocatable.

use std::collections::BTreeMap;

use podium_api::quantity::Quantity;
use podium_proto::k8s::core::v1::{Container, Pod};
use podium_proto::k8s::meta::v1::Quantity as QuantityText;

pub const CPU: &str = "cpu";
pub const MEMORY: &str = "memory";
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
pub const PODS: &str = "pods";

/// CPU requested by a container that names none, for spreading (Kubernetes' 100m).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Memory requested by a container that names none, for spreading (Kubernetes' 200 MiB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// An amount of every resource the scheduler tracks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    pub allowed_pods: i64,
    /// Extended resources (e.g. `example.com/gpu`) and hugepages, in their base units.
    pub scalar: BTreeMap<String, i64>,
}

fn value_of(text: &QuantityText, milli: bool) -> i64 {
    match Quantity::parse(&text.string) {
        Ok(q) if milli => q.milli_value(),
        Ok(q) => q.value(),
        Err(_) => 0,
    }
}

impl Resources {
    /// Reads a resource list (requests, limits, capacity or allocatable).
    pub fn from_list(list: &BTreeMap<String, QuantityText>) -> Self {
        let mut r = Resources::default();
        for (name, quantity) in list {
            match name.as_str() {
                CPU => r.milli_cpu = value_of(quantity, true),
                MEMORY => r.memory = value_of(quantity, false),
                EPHEMERAL_STORAGE => r.ephemeral_storage = value_of(quantity, false),
                PODS => r.allowed_pods = value_of(quantity, false),
                other => {
                    r.scalar.insert(other.to_owned(), value_of(quantity, false));
                }
            }
        }
        r
    }

    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        self.allowed_pods += other.allowed_pods;
        for (name, value) in &other.scalar {
            *self.scalar.entry(name.clone()).or_default() += value;
        }
    }

    pub fn sub(&mut self, other: &Resources) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        self.allowed_pods -= other.allowed_pods;
        for (name, value) in &other.scalar {
            *self.scalar.entry(name.clone()).or_default() -= value;
        }
    }

    /// Each resource the larger of the two.
    pub fn max_with(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        self.allowed_pods = self.allowed_pods.max(other.allowed_pods);
        for (name, value) in &other.scalar {
            let entry = self.scalar.entry(name.clone()).or_default();
            *entry = (*entry).max(*value);
        }
    }

    /// The amount of a named resource.
    pub fn get(&self, name: &str) -> i64 {
        match name {
            CPU => self.milli_cpu,
            MEMORY => self.memory,
            EPHEMERAL_STORAGE => self.ephemeral_storage,
            PODS => self.allowed_pods,
            other => self.scalar.get(other).copied().unwrap_or(0),
        }
    }
}

fn container_requests(container: &Container) -> Resources {
    container
        .resources
        .as_ref()
        .map(|r| Resources::from_list(&r.requests))
        .unwrap_or_default()
}

/// A container's requests with unset cpu and memory counted as the spreading defaults.
fn container_non_zero_requests(container: &Container) -> Resources {
    let requests = container.resources.as_ref().map(|r| &r.requests);
    let has = |name: &str| requests.is_some_and(|r| r.contains_key(name));
    let mut r = container_requests(container);
    if !has(CPU) {
        r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
    }
    if !has(MEMORY) {
        r.memory = DEFAULT_MEMORY_REQUEST;
    }
    r
}

fn is_sidecar(container: &Container) -> bool {
    container.restart_policy.as_deref() == Some("Always")
}

/// A pod's effective request (Kubernetes' `computePodResourceRequest`): the larger of its app
/// containers' sum (with sidecars, which keep running) and each init container's request at
/// the time it runs (with the sidecars started before it), plus the pod overhead.
pub fn pod_requests(pod: &Pod) -> Resources {
    requests_with(pod, container_requests)
}

fn requests_with(pod: &Pod, of: fn(&Container) -> Resources) -> Resources {
    let Some(spec) = &pod.spec else {
        return Resources::default();
    };
    let mut total = Resources::default();
    for container in &spec.containers {
        total.add(&of(container));
    }
    let mut sidecars = Resources::default();
    let mut init_peak = Resources::default();
    for container in &spec.init_containers {
        let request = of(container);
        if is_sidecar(container) {
            sidecars.add(&request);
            init_peak.max_with(&sidecars);
        } else {
            let mut at_start = sidecars.clone();
            at_start.add(&request);
            init_peak.max_with(&at_start);
        }
    }
    total.add(&sidecars);
    total.max_with(&init_peak);
    total.add(&Resources::from_list(&spec.overhead));
    total
}

/// A pod's (milli-CPU, memory) request for spreading: containers without a cpu or memory
/// request count as the default request, so BestEffort pods still spread (Kubernetes'
/// non-zero requests), combined over containers as `pod_requests` does.
pub fn pod_non_zero_requests(pod: &Pod) -> (i64, i64) {
    if pod.spec.is_none() {
        return (0, 0);
    }
    let r = requests_with(pod, container_non_zero_requests);
    (r.milli_cpu, r.memory)
}

#[cfg(test)]
mod tests {
    use podium_proto::k8s::core::v1::{PodSpec, ResourceRequirements};

    use super::*;

    fn container(cpu: &str, memory: &str, sidecar: bool) -> Container {
        let mut requests = BTreeMap::new();
        requests.insert(CPU.to_owned(), QuantityText::new(cpu));
        requests.insert(MEMORY.to_owned(), QuantityText::new(memory));
        Container {
            name: "c".into(),
            resources: Some(ResourceRequirements {
                requests,
                ..Default::default()
            }),
            restart_policy: sidecar.then(|| "Always".to_owned()),
            ..Default::default()
        }
    }

    #[test]
    fn a_pod_requests_the_larger_of_its_apps_and_its_init_containers() {
        let pod = Pod {
            spec: Some(PodSpec {
                containers: vec![container("100m", "100Mi", false), container("200m", "100Mi", false)],
                init_containers: vec![container("500m", "50Mi", false)],
                overhead: [(CPU.to_owned(), QuantityText::new("10m"))].into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let r = pod_requests(&pod);
        assert_eq!((r.milli_cpu, r.memory), (510, 200 * 1024 * 1024));
    }

    #[test]
    fn sidecars_add_to_both_phases() {
        let pod = Pod {
            spec: Some(PodSpec {
                containers: vec![container("100m", "1Mi", false)],
                init_containers: vec![container("50m", "1Mi", true), container("300m", "1Mi", false)],
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(pod_requests(&pod).milli_cpu, 350);
    }

    #[test]
    fn best_effort_pods_count_default_requests_for_spreading() {
        let pod = Pod {
            spec: Some(PodSpec {
                containers: vec![Container::default()],
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            pod_non_zero_requests(&pod),
            (DEFAULT_MILLI_CPU_REQUEST, DEFAULT_MEMORY_REQUEST)
        );
    }
}
