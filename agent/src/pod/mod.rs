//! Running pods: the manager (`manager`) gives each pod bound to the node a worker (`worker`)
//! that drives the runtime from the pod's spec (`spec`, `labels`, `volumes`, `hosts`, `dns`)
//! with Kubernetes' back-off (`backoff`), probes and lifecycle hooks (`prober`), and reports
//! the pod's status (`status`) and Events (`api`).

pub mod api;
pub mod backoff;
pub mod dns;
pub mod hosts;
pub mod labels;
pub mod manager;
pub mod prober;
pub mod spec;
pub mod status;
pub mod volumes;
pub mod worker;

pub use api::PodApi;
pub use manager::PodManager;
pub use worker::{AgentContext, PodUpdate, PodWorker};
