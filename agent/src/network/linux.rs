//! `LinuxHost`: the host-gw plan applied with iproute2, iptables and sysctl.
//!
//! Routes this agent makes carry their own routing protocol number (`proto 200`), so it can
//! list and remove its own without touching anyone else's. The packet filter gets two chains
//! of its own, rewritten only when they differ from the plan: `PODIUM-FORWARD` (jumped to
//! from FORWARD) accepts traffic from and to this node's pods, and `PODIUM-POSTROUTING` (from
//! nat POSTROUTING, ahead of Docker's masquerade) exempts traffic between pod CIDRs from
//! address translation.

use std::collections::BTreeSet;
use std::net::IpAddr;

use tokio::process::Command;

use super::{HostNetwork, NetworkError, Plan, Route};

/// The routing protocol number marking this agent's routes.
const ROUTE_PROTOCOL: &str = "200";
const FORWARD_CHAIN: &str = "PODIUM-FORWARD";
const NAT_CHAIN: &str = "PODIUM-POSTROUTING";

/// The host's network, or (for tests) that of a named network namespace standing in for a
/// host: commands then run through `ip netns exec`.
#[derive(Debug, Clone, Default)]
pub struct LinuxHost {
    netns: Option<String>,
}

impl LinuxHost {
    /// This machine's own network.
    pub fn new() -> Self {
        LinuxHost::default()
    }

    /// The network namespace `name` (as `ip netns` knows it).
    pub fn in_netns(name: impl Into<String>) -> Self {
        LinuxHost {
            netns: Some(name.into()),
        }
    }

    /// Runs `program args`, returning its standard output, or an error naming the command
    /// with its standard error.
    async fn run(&self, program: &str, args: &[&str]) -> Result<String, NetworkError> {
        let mut command = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, program]);
                c
            }
            None => Command::new(program),
        };
        command.args(args);
        let text = format!("{program} {}", args.join(" "));
        let out = command.output().await.map_err(|source| NetworkError::Spawn {
            command: text.clone(),
            source,
        })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(NetworkError::Failed {
                command: text,
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            })
        }
    }

    async fn iptables(&self, table: &str, args: &[&str]) -> Result<String, NetworkError> {
        let mut all = vec!["-w", "-t", table];
        all.extend_from_slice(args);
        self.run("iptables", &all).await
    }

    /// The routes this agent made, as `ip route` lists them.
    async fn own_routes(&self) -> Result<BTreeSet<Route>, NetworkError> {
        let listed = self
            .run("ip", &["-4", "route", "show", "proto", ROUTE_PROTOCOL])
            .await?;
        Ok(listed.lines().filter_map(parse_route).collect())
    }

    async fn sync_routes(&self, wanted: &BTreeSet<Route>) -> Result<(), NetworkError> {
        let present = self.own_routes().await?;
        let mut first_error = None;
        let wanted_destinations: BTreeSet<&str> = wanted.iter().map(|r| r.destination.as_str()).collect();
        let stale = present
            .iter()
            .filter(|r| !wanted_destinations.contains(r.destination.as_str()));
        let changes = stale
            .map(|r| ("del", r))
            .chain(wanted.difference(&present).map(|r| ("replace", r)));
        for (verb, route) in changes {
            let gateway = route.gateway.to_string();
            let args = [
                "route",
                verb,
                &route.destination,
                "via",
                &gateway,
                "proto",
                ROUTE_PROTOCOL,
            ];
            if let Err(e) = self.run("ip", &args).await {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Makes `chain` in `table` hold exactly `rules` (in `iptables -S` form, without the
    /// `-A <chain>` prefix) and be jumped to from the top of `parent`.
    async fn sync_chain(&self, table: &str, parent: &str, chain: &str, rules: &[String]) -> Result<(), NetworkError> {
        let present = match self.iptables(table, &["-S", chain]).await {
            Ok(listed) => listed,
            Err(_) => {
                self.iptables(table, &["-N", chain]).await?;
                String::new()
            }
        };
        let prefix = format!("-A {chain} ");
        let present: Vec<&str> = present.lines().filter_map(|l| l.strip_prefix(&prefix)).collect();
        if present != rules.iter().map(String::as_str).collect::<Vec<_>>() {
            self.iptables(table, &["-F", chain]).await?;
            for rule in rules {
                let mut args = vec!["-A", chain];
                args.extend(rule.split_whitespace());
                self.iptables(table, &args).await?;
            }
        }
        if self.iptables(table, &["-C", parent, "-j", chain]).await.is_err() {
            self.iptables(table, &["-I", parent, "1", "-j", chain]).await?;
        }
        Ok(())
    }
}

/// `10.244.2.0/24 via 192.168.56.12 dev eth1 proto 200` → the route.
fn parse_route(line: &str) -> Option<Route> {
    let mut words = line.split_whitespace();
    let destination = words.next()?.to_owned();
    let mut gateway: Option<IpAddr> = None;
    while let Some(word) = words.next() {
        if word == "via" {
            gateway = words.next()?.parse().ok();
        }
    }
    Some(Route {
        destination,
        gateway: gateway?,
    })
}

/// The filter and nat rules for `plan`.
fn rules(plan: &Plan) -> (Vec<String>, Vec<String>) {
    let local = &plan.local;
    let forward = vec![format!("-s {local} -j ACCEPT"), format!("-d {local} -j ACCEPT")];
    let remote: BTreeSet<&str> = plan.routes.iter().map(|r| r.destination.as_str()).collect();
    let nat = remote.iter().map(|r| format!("-s {local} -d {r} -j ACCEPT")).collect();
    (forward, nat)
}

impl HostNetwork for LinuxHost {
    async fn apply(&self, plan: &Plan) -> Result<(), NetworkError> {
        self.run("sysctl", &["-qw", "net.ipv4.ip_forward=1"]).await?;
        let (forward, nat) = rules(plan);
        self.sync_chain("filter", "FORWARD", FORWARD_CHAIN, &forward).await?;
        self.sync_chain("nat", "POSTROUTING", NAT_CHAIN, &nat).await?;
        self.sync_routes(&plan.routes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_routes_parse_from_ip_route_output() {
        assert_eq!(
            parse_route("10.244.2.0/24 via 192.168.56.12 dev eth1 proto 200 "),
            Some(Route {
                destination: "10.244.2.0/24".into(),
                gateway: "192.168.56.12".parse().unwrap(),
            })
        );
        assert_eq!(parse_route("10.244.2.0/24 dev eth1 proto 200"), None);
        assert_eq!(parse_route(""), None);
    }

    #[test]
    fn rules_accept_the_local_cidr_and_skip_nat_between_pod_cidrs() {
        let plan = Plan {
            local: "10.244.1.0/24".into(),
            routes: [("10.244.2.0/24", "192.168.56.12"), ("10.244.3.0/24", "192.168.56.13")]
                .into_iter()
                .map(|(d, g)| Route {
                    destination: d.into(),
                    gateway: g.parse().unwrap(),
                })
                .collect(),
        };
        let (forward, nat) = rules(&plan);
        assert_eq!(forward, ["-s 10.244.1.0/24 -j ACCEPT", "-d 10.244.1.0/24 -j ACCEPT"]);
        assert_eq!(
            nat,
            [
                "-s 10.244.1.0/24 -d 10.244.2.0/24 -j ACCEPT",
                "-s 10.244.1.0/24 -d 10.244.3.0/24 -j ACCEPT"
            ]
        );
    }
}
