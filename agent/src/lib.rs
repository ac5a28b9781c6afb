//! Podium's agent, its kubelet: it registers its node and runs the pods bound to it.
//!
//! The node (`node`: registration with capacity, labels, addresses and nodeInfo; the
//! heartbeat Lease; status updates on change and every minute) and the pods (`pod`: one
//! worker per pod UID running its sandbox and containers, and reporting its status), over a
//! CRI-shaped `runtime` trait on Docker Engine with an in-memory fake for tests.
//!
//! # Layout
//! - `node`: the Node and its Lease; `node::host` reads the machine's facts.
//! - `server`: the agent's HTTP endpoint (health).
//! - `runtime`: the `ContainerRuntime` trait, on Docker and in memory (`FakeRuntime`).
//! - `metrics`: the kubelet's Prometheus metrics (pod start-up, running pods and containers,
//!   runtime operations, probes).
//! - `network`: host-gw pod networking across hosts (`--host-gw`): the node's podCIDR on its
//!   pod network, routes to the other nodes' podCIDRs.
//! - `pause`: the pause image, imported from the `pause` binary when Docker lacks it.
//! - `pod`: the pod manager and workers, and what a Pod becomes in its sandbox (container
//!   configs, labels, `/etc/hosts`, `/etc/resolv.conf`, status).

pub mod metrics;
pub mod network;
pub mod node;
pub mod pause;
pub mod pod;
pub mod runtime;
pub mod server;
