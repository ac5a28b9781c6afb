//! Podium's apiserver: the durable object store and the Kubernetes API over it, served over
//! gRPC and Kubernetes' REST API on one port.
//!
//! Start reading at `server` (how the pieces are wired and served), then `registry` (the API
//! semantics every face shares), then `store` (durability, resourceVersions, watches).
//!
//! # Layout
//! - `store`: the `Store` trait and its sled implementation; the only code that opens sled.
//! - `registry`: `Api`, Kubernetes semantics over a store (create, update, delete, list, watch,
//!   binding, namespaces).
//! - `grpc`: the tonic services, one per kind, over `Api`.
//! - `rest`: Kubernetes' HTTP API (kubectl, the Python client) over the same `Api`.
//! - `agents`: the way to a pod's agent, for `pods/log` and `pods/exec`.
//! - `kubeconfig`: a kubeconfig pointing kubectl at the server.
//! - `metrics`: Prometheus metrics (requests, storage, watchers) and request classification.
//! - `server`: configuration, the listener serving gRPC and REST behind the middleware
//!   (request ids, spans, metrics, load shedding, timeouts), and graceful shutdown.

pub mod agents;
pub mod grpc;
pub mod kubeconfig;
pub mod metrics;
pub mod registry;
pub mod rest;
pub mod server;
pub mod store;

pub use registry::Api;
pub use server::{Config, RunningServer, start};
