//! Pure rendering of iptables-restore input (no I/O), so the rule text is unit-tested.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use super::{NetworkRules, PortRule};

/// The chain names of one prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chains {
    /// filter `<P>-FORWARD`, jumped to from the top of FORWARD.
    pub forward: String,
    /// nat `<P>-POSTROUTING`, jumped to from the top of POSTROUTING.
    pub postrouting: String,
    /// nat `<P>-PORTS`, jumped to from PREROUTING and OUTPUT for local destinations.
    pub ports: String,
}

/// Lines of an `iptables-restore --noflush` input, per table: chain declarations (which create
/// or flush the chain) come before rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleSet {
    filter_decl: Vec<String>,
    filter_rules: Vec<String>,
    nat_decl: Vec<String>,
    nat_rules: Vec<String>,
}

impl RuleSet {
    /// Appends `other`'s lines.
    pub fn extend(&mut self, other: RuleSet) {
        self.filter_decl.extend(other.filter_decl);
        self.filter_rules.extend(other.filter_rules);
        self.nat_decl.extend(other.nat_decl);
        self.nat_rules.extend(other.nat_rules);
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.filter_decl.is_empty()
            && self.filter_rules.is_empty()
            && self.nat_decl.is_empty()
            && self.nat_rules.is_empty()
    }

    /// The restore text (tables without lines are left out).
    pub fn to_restore(&self) -> String {
        let mut s = String::new();
        for (table, decl, rules) in [
            ("filter", &self.filter_decl, &self.filter_rules),
            ("nat", &self.nat_decl, &self.nat_rules),
        ] {
            if decl.is_empty() && rules.is_empty() {
                continue;
            }
            s.push('*');
            s.push_str(table);
            s.push('\n');
            for l in decl.iter().chain(rules.iter()) {
                s.push_str(l);
                s.push('\n');
            }
            s.push_str("COMMIT\n");
        }
        s
    }
}

/// Chains declared and rules present per table in an `iptables-save` output.
#[derive(Default)]
struct Saved {
    chains: BTreeMap<String, BTreeSet<String>>,
    rules: BTreeMap<String, Vec<String>>,
}

fn parse_save(saved: &str) -> Saved {
    let mut out = Saved::default();
    let mut table = String::new();
    for line in saved.lines() {
        let line = line.trim();
        if let Some(t) = line.strip_prefix('*') {
            table = t.to_string();
        } else if let Some(c) = line.strip_prefix(':') {
            if let Some(name) = c.split_whitespace().next() {
                out.chains
                    .entry(table.clone())
                    .or_default()
                    .insert(name.to_string());
            }
        } else if line.starts_with("-A ") {
            out.rules
                .entry(table.clone())
                .or_default()
                .push(line.to_string());
        }
    }
    out
}

/// Whether rule `line` (`-A CHAIN ... -j TARGET`) is in `chain` and jumps to `target`.
fn is_jump(line: &str, chain: &str, target: &str) -> bool {
    let toks: Vec<&str> = line.split_whitespace().collect();
    toks.len() >= 4
        && toks[0] == "-A"
        && toks[1] == chain
        && toks[toks.len() - 2] == "-j"
        && toks[toks.len() - 1] == target
}

fn port_spec(chain: &str, op: &str, p: &PortRule) -> String {
    let dst = match p.host_ip {
        Some(ip) if ip != Ipv4Addr::UNSPECIFIED => format!(" -d {ip}/32"),
        _ => String::new(),
    };
    format!(
        "{op} {chain} -p {proto}{dst} --dport {hp} -j DNAT --to-destination {cip}:{cp}",
        proto = p.proto,
        hp = p.host_port,
        cip = p.container_ip,
        cp = p.container_port
    )
}

impl Chains {
    /// The chains of `prefix`.
    pub fn new(prefix: &str) -> Chains {
        Chains {
            forward: format!("{prefix}-FORWARD"),
            postrouting: format!("{prefix}-POSTROUTING"),
            ports: format!("{prefix}-PORTS"),
        }
    }

    /// All three chain names.
    pub fn all(&self) -> [&str; 3] {
        [&self.forward, &self.postrouting, &self.ports]
    }

    /// (table, builtin chain, jump rule body after `-I CHAIN 1`, our chain).
    fn jumps(&self) -> [(&'static str, &'static str, String, &str); 4] {
        let local = "-m addrtype --dst-type LOCAL";
        [
            (
                "filter",
                "FORWARD",
                format!("-j {}", self.forward),
                &self.forward,
            ),
            (
                "nat",
                "POSTROUTING",
                format!("-j {}", self.postrouting),
                &self.postrouting,
            ),
            (
                "nat",
                "PREROUTING",
                format!("{local} -j {}", self.ports),
                &self.ports,
            ),
            (
                "nat",
                "OUTPUT",
                format!("{local} -j {}", self.ports),
                &self.ports,
            ),
        ]
    }

    fn table_of(&self, chain: &str) -> &'static str {
        if chain == self.forward {
            "filter"
        } else {
            "nat"
        }
    }

    /// Declarations of chains absent from `saved` (except `redeclared`, which the caller
    /// declares itself) and insertions of absent jumps.
    pub fn missing(&self, saved: &str, redeclared: &[&str]) -> RuleSet {
        let s = parse_save(saved);
        let mut rs = RuleSet::default();
        for chain in self.all() {
            let table = self.table_of(chain);
            let exists = s.chains.get(table).is_some_and(|c| c.contains(chain));
            if !exists && !redeclared.contains(&chain) {
                let l = format!(":{chain} - [0:0]");
                if table == "filter" {
                    rs.filter_decl.push(l);
                } else {
                    rs.nat_decl.push(l);
                }
            }
        }
        for (table, builtin, body, target) in self.jumps() {
            let present = s
                .rules
                .get(table)
                .is_some_and(|r| r.iter().any(|l| is_jump(l, builtin, target)));
            if !present {
                let l = format!("-I {builtin} 1 {body}");
                if table == "filter" {
                    rs.filter_rules.push(l);
                } else {
                    rs.nat_rules.push(l);
                }
            }
        }
        rs
    }

    /// P-FORWARD and P-POSTROUTING in full for `nets` (both chains declared, i.e. flushed).
    pub fn render_networks(&self, nets: &[NetworkRules]) -> RuleSet {
        let f = &self.forward;
        let mut fw = Vec::new();
        for n in nets {
            let x = &n.bridge;
            fw.push(format!(
                "-A {f} -o {x} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
            ));
            fw.push(format!(
                "-A {f} -o {x} -m conntrack --ctstate DNAT -j ACCEPT"
            ));
            fw.push(format!("-A {f} -i {x} -o {x} -j ACCEPT"));
        }
        for n in nets.iter().filter(|n| n.internal) {
            fw.push(format!("-A {f} -i {} -j DROP", n.bridge));
            fw.push(format!("-A {f} -o {} -j DROP", n.bridge));
        }
        for a in nets {
            for b in nets.iter().filter(|b| b.bridge != a.bridge) {
                fw.push(format!("-A {f} -i {} -o {} -j DROP", a.bridge, b.bridge));
            }
        }
        for n in nets.iter().filter(|n| !n.internal) {
            fw.push(format!("-A {f} -i {} -j ACCEPT", n.bridge));
        }
        for n in nets {
            fw.push(format!("-A {f} -o {} -j DROP", n.bridge));
        }
        let p = &self.postrouting;
        let mut nat = Vec::new();
        for n in nets.iter().filter(|n| !n.internal) {
            nat.push(format!(
                "-A {p} -s {} ! -o {} -j MASQUERADE",
                n.subnet, n.bridge
            ));
        }
        for n in nets {
            nat.push(format!(
                "-A {p} -o {} -m addrtype --src-type LOCAL -j MASQUERADE",
                n.bridge
            ));
            nat.push(format!(
                "-A {p} -s {} -o {} -m conntrack --ctstate DNAT -j MASQUERADE",
                n.subnet, n.bridge
            ));
        }
        RuleSet {
            filter_decl: vec![format!(":{f} - [0:0]")],
            filter_rules: fw,
            nat_decl: vec![format!(":{p} - [0:0]")],
            nat_rules: nat,
        }
    }

    /// P-PORTS in full (declared, i.e. flushed) with `ports`.
    pub fn render_ports_chain(&self, ports: &[PortRule]) -> RuleSet {
        let mut rs = self.render_ports(ports, "-A");
        rs.nat_decl.push(format!(":{} - [0:0]", self.ports));
        rs
    }

    /// `op` (`-A` or `-D`) of the DNAT rules of `ports` in P-PORTS.
    pub fn render_ports(&self, ports: &[PortRule], op: &str) -> RuleSet {
        RuleSet {
            nat_rules: ports
                .iter()
                .map(|p| port_spec(&self.ports, op, p))
                .collect(),
            ..RuleSet::default()
        }
    }

    /// Deletion of every jump to our chains found in `saved`, then flush and delete of the
    /// chains that exist.
    pub fn teardown(&self, saved: &str) -> RuleSet {
        let s = parse_save(saved);
        let mut rs = RuleSet::default();
        for table in ["filter", "nat"] {
            let ours: Vec<&str> = self
                .all()
                .into_iter()
                .filter(|c| self.table_of(c) == table)
                .filter(|c| s.chains.get(table).is_some_and(|set| set.contains(*c)))
                .collect();
            let mut decl = Vec::new();
            let mut rules = Vec::new();
            for line in s.rules.get(table).map(|v| v.as_slice()).unwrap_or(&[]) {
                let toks: Vec<&str> = line.split_whitespace().collect();
                let from_ours = toks.get(1).is_some_and(|c| self.all().contains(c));
                let to_ours = toks.len() >= 2
                    && toks[toks.len() - 2] == "-j"
                    && self.all().contains(&toks[toks.len() - 1]);
                if to_ours && !from_ours {
                    rules.push(format!("-D{}", &line[2..]));
                }
            }
            for c in ours {
                decl.push(format!(":{c} - [0:0]"));
                rules.push(format!("-X {c}"));
            }
            if table == "filter" {
                rs.filter_decl = decl;
                rs.filter_rules = rules;
            } else {
                rs.nat_decl = decl;
                rs.nat_rules = rules;
            }
        }
        rs
    }
}

#[cfg(test)]
mod tests {
    use super::super::Proto;
    use super::*;

    fn net(b: &str, s: &str, internal: bool) -> NetworkRules {
        NetworkRules {
            bridge: b.into(),
            subnet: s.parse().unwrap(),
            internal,
        }
    }

    #[test]
    fn networks_render_in_order() {
        let c = Chains::new("BT1");
        let rs = c.render_networks(&[
            net("br1", "172.18.0.0/16", false),
            net("br2", "172.19.0.0/16", true),
        ]);
        let text = rs.to_restore();
        let want = "\
*filter
:BT1-FORWARD - [0:0]
-A BT1-FORWARD -o br1 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A BT1-FORWARD -o br1 -m conntrack --ctstate DNAT -j ACCEPT
-A BT1-FORWARD -i br1 -o br1 -j ACCEPT
-A BT1-FORWARD -o br2 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A BT1-FORWARD -o br2 -m conntrack --ctstate DNAT -j ACCEPT
-A BT1-FORWARD -i br2 -o br2 -j ACCEPT
-A BT1-FORWARD -i br2 -j DROP
-A BT1-FORWARD -o br2 -j DROP
-A BT1-FORWARD -i br1 -o br2 -j DROP
-A BT1-FORWARD -i br2 -o br1 -j DROP
-A BT1-FORWARD -i br1 -j ACCEPT
-A BT1-FORWARD -o br1 -j DROP
-A BT1-FORWARD -o br2 -j DROP
COMMIT
*nat
:BT1-POSTROUTING - [0:0]
-A BT1-POSTROUTING -s 172.18.0.0/16 ! -o br1 -j MASQUERADE
-A BT1-POSTROUTING -o br1 -m addrtype --src-type LOCAL -j MASQUERADE
-A BT1-POSTROUTING -s 172.18.0.0/16 -o br1 -m conntrack --ctstate DNAT -j MASQUERADE
-A BT1-POSTROUTING -o br2 -m addrtype --src-type LOCAL -j MASQUERADE
-A BT1-POSTROUTING -s 172.19.0.0/16 -o br2 -m conntrack --ctstate DNAT -j MASQUERADE
COMMIT
";
        assert_eq!(text, want);
    }

    #[test]
    fn empty_networks_still_flush() {
        let c = Chains::new("BT1");
        let text = c.render_networks(&[]).to_restore();
        assert_eq!(
            text,
            "*filter\n:BT1-FORWARD - [0:0]\nCOMMIT\n*nat\n:BT1-POSTROUTING - [0:0]\nCOMMIT\n"
        );
    }

    #[test]
    fn ports_render() {
        let c = Chains::new("BERTH");
        let p = PortRule {
            proto: Proto::Tcp,
            host_ip: None,
            host_port: 8080,
            container_ip: "172.17.0.2".parse().unwrap(),
            container_port: 80,
            bridge: "berth0".into(),
        };
        let mut q = p.clone();
        q.proto = Proto::Udp;
        q.host_ip = Some(Ipv4Addr::LOCALHOST);
        assert_eq!(
            c.render_ports(&[p.clone(), q], "-A").to_restore(),
            "*nat\n-A BERTH-PORTS -p tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80\n\
             -A BERTH-PORTS -p udp -d 127.0.0.1/32 --dport 8080 -j DNAT --to-destination 172.17.0.2:80\nCOMMIT\n"
        );
        assert_eq!(
            c.render_ports_chain(&[]).to_restore(),
            "*nat\n:BERTH-PORTS - [0:0]\nCOMMIT\n"
        );
        assert!(c
            .render_ports(&[p], "-D")
            .to_restore()
            .contains("-D BERTH-PORTS -p tcp"));
    }

    const SAVED: &str = "\
# Generated by iptables-save
*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
:BT1-POSTROUTING - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -j BT1-POSTROUTING
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A OUTPUT -m addrtype --dst-type LOCAL -j BT1-PORTS
COMMIT
*filter
:FORWARD DROP [0:0]
:BT1-FORWARD - [0:0]
-A FORWARD -j BT1-FORWARD
-A FORWARD -j DOCKER-USER
-A BT1-FORWARD -i x -j ACCEPT
COMMIT
";

    #[test]
    fn missing_chains_and_jumps() {
        let c = Chains::new("BT1");
        let rs = c.missing(SAVED, &[]);
        assert_eq!(
            rs.to_restore(),
            "*nat\n:BT1-PORTS - [0:0]\n-I PREROUTING 1 -m addrtype --dst-type LOCAL -j BT1-PORTS\nCOMMIT\n"
        );
        let other = Chains::new("BT2");
        let rs = other.missing(SAVED, &["BT2-FORWARD", "BT2-POSTROUTING"]);
        let t = rs.to_restore();
        assert!(t.contains(":BT2-PORTS - [0:0]"));
        assert!(!t.contains(":BT2-FORWARD"));
        assert!(t.contains("-I FORWARD 1 -j BT2-FORWARD"));
        assert!(t.contains("-I POSTROUTING 1 -j BT2-POSTROUTING"));
        assert!(t.contains("-I OUTPUT 1 -m addrtype --dst-type LOCAL -j BT2-PORTS"));
    }

    #[test]
    fn teardown_removes_only_ours() {
        let c = Chains::new("BT1");
        let t = c.teardown(SAVED).to_restore();
        assert_eq!(
            t,
            "*filter\n:BT1-FORWARD - [0:0]\n-D FORWARD -j BT1-FORWARD\n-X BT1-FORWARD\nCOMMIT\n\
             *nat\n:BT1-POSTROUTING - [0:0]\n-D POSTROUTING -j BT1-POSTROUTING\n\
             -D OUTPUT -m addrtype --dst-type LOCAL -j BT1-PORTS\n-X BT1-POSTROUTING\nCOMMIT\n"
        );
        assert!(Chains::new("BT9").teardown(SAVED).is_empty());
    }
}
