//! Podium's agent, its kubelet: it registers its node and runs the pods bound to it.
//!
//! Built so far: the node (`node`: registration with capacity, labels, addresses and
//! nodeInfo; the heartbeat Lease; status updates on change and every minute) over a
//! CRI-shaped `runtime` trait with an in-memory fake. The pod workers and the Docker runtime
//! come next.
//!
//! # Layout
//! - `node`: the Node and its Lease; `node::host` reads the machine's facts.
//! - `runtime`: the `ContainerRuntime` trait, on Docker and in memory (`FakeRuntime`).
//! - `pause`: the pause image, imported from the `pause` binary when Docker lacks it.
//! - `pod`: what a Pod becomes in its sandbox: `/etc/hosts` and `/etc/resolv.conf`.

pub mod node;
pub mod pause;
pub mod pod;
pub mod runtime;
