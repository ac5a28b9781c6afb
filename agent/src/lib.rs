//! Podium's agent, its kubelet: it registers its node and runs the pods bound to it.
//!
//! Built so far: the node (`node`: registration with capacity, labels, addresses and
//! nodeInfo; the heartbeat Lease; status updates on change and every minute) over a
//! CRI-shaped `runtime` trait with an in-memory fake. The pod workers and the Docker runtime
//! come next.
//!
//! # Layout
//! - `node`: the Node and its Lease; `node::host` reads the machine's facts.
//! - `runtime`: the `ContainerRuntime` trait and `FakeRuntime`.

pub mod node;
pub mod runtime;
