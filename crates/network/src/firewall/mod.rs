//! iptables rules of one daemon: forwarding and isolation between its bridges, masquerading,
//! and DNAT of published ports. All chains carry the daemon's prefix (`BERTH`, `BT<hex>`), so
//! several daemons never touch each other's rules (nor Docker's).
//!
//! Every change is one `iptables-restore --noflush -w` with the rules on stdin; the first
//! change of a [`Firewall`] also creates missing chains and jumps (found by one `iptables-save`).
//! All functions are blocking.

mod render;

use std::fmt;
use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use crate::ipam::Subnet;
use crate::{NetError, Result};

pub use render::{Chains, RuleSet};

/// A transport protocol of a published port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

impl FromStr for Proto {
    type Err = NetError;

    fn from_str(s: &str) -> Result<Proto> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            _ => Err(NetError::Other(format!("invalid proto '{s}'"))),
        }
    }
}

/// The firewall view of one bridge network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkRules {
    /// The Linux bridge name.
    pub bridge: String,
    /// The network's subnet.
    pub subnet: Subnet,
    /// Internal networks get no outside access (no masquerade, traffic dropped).
    pub internal: bool,
}

/// One published port: DNAT of `host_ip:host_port` to `container_ip:container_port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortRule {
    /// The protocol.
    pub proto: Proto,
    /// The host address; None = every local address.
    pub host_ip: Option<Ipv4Addr>,
    /// The host port.
    pub host_port: u16,
    /// The container's address.
    pub container_ip: Ipv4Addr,
    /// The container's port.
    pub container_port: u16,
    /// The bridge the container is reached through.
    pub bridge: String,
}

#[derive(Debug, Default)]
struct State {
    /// Chains and jumps are known to exist.
    ready: bool,
    nets: Vec<NetworkRules>,
}

/// The iptables rules of one daemon (one chain prefix). Keeps its set of networks.
#[derive(Debug)]
pub struct Firewall {
    chains: Chains,
    state: Mutex<State>,
}

impl Firewall {
    /// A firewall whose chains are `<prefix>-FORWARD`, `<prefix>-POSTROUTING`, `<prefix>-PORTS`.
    /// Nothing is touched until the first call.
    pub fn new(prefix: &str) -> Firewall {
        Firewall {
            chains: Chains::new(prefix),
            state: Mutex::new(State::default()),
        }
    }

    /// The chain names.
    pub fn chains(&self) -> &Chains {
        &self.chains
    }

    /// Whether iptables is installed and usable (nat table readable).
    pub fn available() -> bool {
        Command::new("iptables")
            .args(["-w", "-t", "nat", "-S", "POSTROUTING"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Base rules (missing chains and jumps) for a restore, empty once ready.
    fn base(&self, st: &State, redeclared: &[&str]) -> Result<RuleSet> {
        if st.ready {
            return Ok(RuleSet::default());
        }
        let saved = iptables_save()?;
        Ok(self.chains.missing(&saved, redeclared))
    }

    /// Creates chains and jumps if missing, then rewrites all of this prefix's rules to exactly
    /// `nets` and `ports` (one restore).
    pub fn sync(&self, nets: &[NetworkRules], ports: &[PortRule]) -> Result<()> {
        let mut st = self.lock();
        let all = self.chains.all();
        let mut rs = self.base(&State::default(), &all)?;
        rs.extend(self.chains.render_networks(nets));
        rs.extend(self.chains.render_ports_chain(ports));
        restore(&rs.to_restore())?;
        st.ready = true;
        st.nets = nets.to_vec();
        Ok(())
    }

    /// Adds (or updates, by bridge name) a network and re-renders the network rules.
    pub fn add_network(&self, n: &NetworkRules) -> Result<()> {
        let mut st = self.lock();
        let mut nets = st.nets.clone();
        match nets.iter_mut().find(|x| x.bridge == n.bridge) {
            Some(x) => *x = n.clone(),
            None => nets.push(n.clone()),
        }
        self.apply_networks(&mut st, nets)
    }

    /// Removes a network (by bridge name) and re-renders the network rules.
    pub fn remove_network(&self, n: &NetworkRules) -> Result<()> {
        let mut st = self.lock();
        let nets: Vec<NetworkRules> = st
            .nets
            .iter()
            .filter(|x| x.bridge != n.bridge)
            .cloned()
            .collect();
        self.apply_networks(&mut st, nets)
    }

    fn apply_networks(&self, st: &mut State, nets: Vec<NetworkRules>) -> Result<()> {
        let redeclared = [
            self.chains.forward.as_str(),
            self.chains.postrouting.as_str(),
        ];
        let mut rs = self.base(st, &redeclared)?;
        rs.extend(self.chains.render_networks(&nets));
        restore(&rs.to_restore())?;
        st.ready = true;
        st.nets = nets;
        Ok(())
    }

    /// Appends DNAT rules for `p`.
    pub fn add_ports(&self, p: &[PortRule]) -> Result<()> {
        if p.is_empty() {
            return Ok(());
        }
        let mut st = self.lock();
        let mut rs = self.base(&st, &[])?;
        rs.extend(self.chains.render_ports(p, "-A"));
        restore(&rs.to_restore())?;
        st.ready = true;
        Ok(())
    }

    /// Deletes the DNAT rules for `p` (rules already gone are ignored).
    pub fn remove_ports(&self, p: &[PortRule]) -> Result<()> {
        if p.is_empty() {
            return Ok(());
        }
        let _st = self.lock();
        if restore(&self.chains.render_ports(p, "-D").to_restore()).is_ok() {
            return Ok(());
        }
        // Some rule was missing, which fails the whole batch: delete one by
        // one; a rule already gone is fine, any other failure is returned.
        let mut first_err = None;
        for rule in p {
            let res = restore(
                &self
                    .chains
                    .render_ports(std::slice::from_ref(rule), "-D")
                    .to_restore(),
            );
            match res {
                Ok(()) => {}
                Err(e) if is_missing_rule(&e) => {}
                Err(e) => {
                    first_err.get_or_insert(NetError::Iptables(format!(
                        "deleting the rules of port {}/{}: {e}",
                        rule.host_port, rule.proto
                    )));
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Removes this prefix's jumps and chains.
    pub fn teardown(&self) -> Result<()> {
        let mut st = self.lock();
        let saved = iptables_save()?;
        let rs = self.chains.teardown(&saved);
        if !rs.is_empty() {
            restore(&rs.to_restore())?;
        }
        st.ready = false;
        st.nets.clear();
        Ok(())
    }
}

/// Whether an iptables failure says the rule (or its chain) to delete is
/// already gone.
fn is_missing_rule(e: &NetError) -> bool {
    let m = e.to_string();
    m.contains("does a matching rule exist")
        || m.contains("No chain/target/match")
        || m.contains("Bad rule")
        || m.contains("doesn't exist")
}

/// Runs `iptables-save` (all tables) and returns its output.
fn iptables_save() -> Result<String> {
    let out = Command::new("iptables-save")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| NetError::io("running iptables-save", e))?;
    if !out.status.success() {
        return Err(NetError::Iptables(format!(
            "iptables-save failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Feeds `input` to `iptables-restore --noflush -w`.
fn restore(input: &str) -> Result<()> {
    if input.is_empty() {
        return Ok(());
    }
    let mut child = Command::new("iptables-restore")
        .args(["--noflush", "-w"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| NetError::io("running iptables-restore", e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| NetError::io("writing to iptables-restore", e))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| NetError::io("waiting for iptables-restore", e))?;
    if !out.status.success() {
        return Err(NetError::Iptables(format!(
            "iptables-restore failed: {}; input was:\n{input}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Writes 1 to /proc/sys/net/ipv4/ip_forward.
pub fn enable_ip_forward() -> Result<()> {
    let p = "/proc/sys/net/ipv4/ip_forward";
    if std::fs::read_to_string(p)
        .map(|s| s.trim() == "1")
        .unwrap_or(false)
    {
        return Ok(());
    }
    std::fs::write(p, "1").map_err(|e| NetError::io(format!("writing {p}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_rules_are_told_from_real_failures() {
        // What iptables-restore (nft backend) prints for a rule or chain already gone.
        let gone = NetError::Iptables(
            "iptables-restore failed: iptables-restore: line 2 failed: Bad rule (does a matching rule exist in that chain?).".into(),
        );
        assert!(is_missing_rule(&gone));
        let broken = NetError::io(
            "running iptables-restore",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        assert!(!is_missing_rule(&broken));
        let locked = NetError::Iptables(
            "iptables-restore failed: Another app is currently holding the xtables lock.".into(),
        );
        assert!(!is_missing_rule(&locked));
    }
}
