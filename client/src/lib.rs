//! A typed gRPC client for Podium's apiserver, and a list-then-watch cache built on it.
//!
//! `Client` connects once; `client.resource::<Pod>()` gives the verbs for one kind with the
//! same semantics as Kubernetes' REST API. Errors come back as the `ApiError` the server
//! produced (reason, code and causes intact). `Reflector` keeps a local copy of a kind in
//! step with the apiserver, surviving disconnects, restarts and compacted history: the
//! scheduler and the agent are built on it.
//!
//! # Layout
//! - `kind`: `ClientKind`, which ties each kind to its generated gRPC client.
//! - `client`: `Client` and `Objects<K>`, the typed verbs.
//! - `reflector`: the list-then-watch cache.
//! - `leader`: leader election through a Lease, for components that run standbys.
//! - `signals`: SIGINT/SIGTERM as the binaries' one shutdown signal.

mod client;
mod kind;
pub mod leader;
pub mod reflector;
pub mod signals;

pub use client::{Client, ClientError, ListParams, Objects, WatchParams};
pub use kind::{ClientKind, WatchEvent};
pub use reflector::{Reflector, ReflectorEvent};

pub type Result<T, E = ClientError> = std::result::Result<T, E>;
