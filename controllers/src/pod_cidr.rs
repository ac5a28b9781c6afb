//! Pod CIDRs: each node gets `spec.podCIDR(s)`, a block of the cluster CIDR no other node has;
//! a deleted node's block is free again (the blocks in use are read from the nodes each pass).

use std::collections::HashSet;
use std::net::Ipv4Addr;

use podium_client::Client;
use podium_proto::k8s::core::v1::Node;

use crate::{ControllerError, Result, Snapshot};

/// An IPv4 network, `a.b.c.d/len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub base: u32,
    pub len: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || ControllerError::Cidr(text.to_owned());
        let (ip, len) = text.split_once('/').ok_or_else(bad)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
        let len: u8 = len.parse().map_err(|_| bad())?;
        if len > 32 {
            return Err(bad());
        }
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        Ok(Cidr {
            base: u32::from(ip) & mask,
            len,
        })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.len)
    }
}

/// The `index`th block of size `/mask` in `cluster`, if there is one.
pub fn block(cluster: Cidr, mask: u8, index: u32) -> Option<Cidr> {
    if mask < cluster.len || mask > 32 {
        return None;
    }
    let count = 1u64 << (mask - cluster.len);
    if u64::from(index) >= count {
        return None;
    }
    let size = 1u64 << (32 - mask);
    let base = u64::from(cluster.base) + u64::from(index) * size;
    Some(Cidr {
        base: u32::try_from(base).ok()?,
        len: mask,
    })
}

/// One pass: gives every node without a podCIDR the first free block.
pub async fn reconcile(client: &Client, snapshot: &Snapshot, cluster: Cidr, mask: u8) -> Result<()> {
    let mut used: HashSet<String> = snapshot
        .nodes
        .iter()
        .filter_map(|n| n.spec.as_ref())
        .filter(|s| !s.pod_cidr.is_empty())
        .map(|s| s.pod_cidr.clone())
        .collect();
    let nodes = client.resource::<Node>("");
    let mut next = 0u32;
    for node in &snapshot.nodes {
        if node.spec.as_ref().is_some_and(|s| !s.pod_cidr.is_empty()) {
            continue;
        }
        let free = loop {
            let Some(candidate) = block(cluster, mask, next) else {
                break None;
            };
            next += 1;
            if !used.contains(&candidate.to_string()) {
                break Some(candidate);
            }
        };
        let Some(free) = free else {
            tracing::warn!(cluster = %cluster, "no pod CIDR left for a node");
            return Ok(());
        };
        let mut node = node.clone();
        let spec = node.spec.get_or_insert_with(Default::default);
        spec.pod_cidr = free.to_string();
        spec.pod_cidrs = vec![free.to_string()];
        used.insert(free.to_string());
        tracing::info!(node = crate::name_of(&node.metadata), cidr = %free, "assigned a pod CIDR");
        nodes.update(node).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_tile_the_cluster_cidr() {
        let cluster = Cidr::parse("10.244.0.0/16").unwrap();
        assert_eq!(block(cluster, 24, 0).unwrap().to_string(), "10.244.0.0/24");
        assert_eq!(block(cluster, 24, 255).unwrap().to_string(), "10.244.255.0/24");
        assert!(block(cluster, 24, 256).is_none());
        assert!(Cidr::parse("10.0.0.0").is_err());
        assert_eq!(Cidr::parse("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
    }
}
