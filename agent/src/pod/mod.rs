//! What the agent derives from a Pod for its sandbox and containers.

pub mod dns;
pub mod hosts;
