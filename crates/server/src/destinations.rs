//! Where `HTTP` tasks may connect. Public addresses are allowed; loopback, private,
//! link-local (cloud metadata), shared (CGNAT), unspecified, multicast, reserved and
//! documentation ranges, the IPv6 forms that embed such an IPv4 address, and Podium's
//! own listening addresses are refused, unless the `http_task_allow` list names them.
//! The decision is made on the address actually connected to (see `runner`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// One `http_task_allow` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// `10.0.0.0/8`, `fd00::/8`: any address in the range, any port.
    Range { net: IpAddr, prefix: u8 },
    /// `10.1.2.3`, `10.1.2.3:8443`, `[fd00::1]:443`: one address, any or one port.
    Address { ip: IpAddr, port: Option<u16> },
    /// `api.internal`, `api.internal:8443`, `*.internal`: a host name as written in
    /// the URL (any address it resolves to), or any name under a domain.
    Host {
        name: String,
        wildcard: bool,
        port: Option<u16>,
    },
}

/// Why a destination is refused: the kind of address, for the task's reason.
pub type Refusal = &'static str;

/// The destination rules of `HTTP` tasks.
#[derive(Debug, Clone, Default)]
pub struct DestinationPolicy {
    allow: Vec<Entry>,
    /// Podium's own listening addresses (the API and the metrics listener).
    own: Vec<SocketAddr>,
}

fn parse_port(text: &str, entry: &str) -> Result<u16, String> {
    text.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("http_task_allow entry '{entry}': '{text}' is not a port"))
}

fn parse_entry(raw: &str) -> Result<Entry, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err("http_task_allow has an empty entry".into());
    }
    if let Some((net, prefix)) = text.split_once('/') {
        let net: IpAddr = net
            .parse()
            .map_err(|_| format!("http_task_allow entry '{text}': '{net}' is not an IP address"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = prefix
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| {
                format!("http_task_allow entry '{text}': the prefix must be 0 to {max}")
            })?;
        return Ok(Entry::Range {
            net: canonical(net),
            prefix,
        });
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        if addr.port() == 0 {
            return Err(format!("http_task_allow entry '{text}': port 0"));
        }
        return Ok(Entry::Address {
            ip: canonical(addr.ip()),
            port: Some(addr.port()),
        });
    }
    let bare = text.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(Entry::Address {
            ip: canonical(ip),
            port: None,
        });
    }
    let (host, port) = match text.rsplit_once(':') {
        Some((host, port)) => (host, Some(parse_port(port, text)?)),
        None => (text, None),
    };
    let (wildcard, name) = match host.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, host),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if !valid {
        return Err(format!(
            "http_task_allow entry '{text}' is not a CIDR range, an IP address or a host name (with an optional :port)"
        ));
    }
    Ok(Entry::Host {
        name,
        wildcard,
        port,
    })
}

/// An IPv4-mapped IPv6 address as the IPv4 address it reaches.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

pub(crate) fn in_range(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

fn v4_in(ip: Ipv4Addr, net: [u8; 4], prefix: u8) -> bool {
    in_range(IpAddr::V4(ip), IpAddr::V4(Ipv4Addr::from(net)), prefix)
}

/// The kind of a non-public IPv4 address, or None for a public one.
fn v4_class(ip: Ipv4Addr) -> Option<Refusal> {
    let ranges: [([u8; 4], u8, Refusal); 15] = [
        ([0, 0, 0, 0], 8, "an unspecified (\"this network\") address"),
        ([10, 0, 0, 0], 8, "a private address"),
        ([100, 64, 0, 0], 10, "a shared (CGNAT) address"),
        ([127, 0, 0, 0], 8, "a loopback address"),
        ([169, 254, 0, 0], 16, "a link-local address"),
        ([172, 16, 0, 0], 12, "a private address"),
        ([192, 0, 0, 0], 24, "a reserved address"),
        ([192, 0, 2, 0], 24, "a documentation address"),
        ([192, 88, 99, 0], 24, "a reserved address"),
        ([192, 168, 0, 0], 16, "a private address"),
        ([198, 18, 0, 0], 15, "a benchmarking address"),
        ([198, 51, 100, 0], 24, "a documentation address"),
        ([203, 0, 113, 0], 24, "a documentation address"),
        ([224, 0, 0, 0], 4, "a multicast address"),
        ([240, 0, 0, 0], 4, "a reserved address"),
    ];
    ranges
        .iter()
        .find(|(net, prefix, _)| v4_in(ip, *net, *prefix))
        .map(|(_, _, class)| *class)
}

/// The kind of a non-public IPv6 address, or None for a public one. Forms that embed
/// an IPv4 address (NAT64, 6to4) take the class of that address.
fn v6_class(ip: Ipv6Addr) -> Option<Refusal> {
    let bits = u128::from(ip);
    let in6 = |net: u128, prefix: u32| {
        let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
        bits & mask == net & mask
    };
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    // The well-known NAT64 prefix (64:ff9b::/96): the embedded IPv4 address decides.
    if in6(0x0064_ff9b << 96, 96) {
        return v4_class(Ipv4Addr::from((bits & 0xffff_ffff) as u32));
    }
    // Local-use NAT64 (64:ff9b:1::/48) serves a site's own networks.
    if in6(0x0064_ff9b_0001 << 80, 48) {
        return Some("a local-use NAT64 address");
    }
    // IPv4-compatible (::a.b.c.d, deprecated) and the rest of ::/8.
    if in6(0, 8) {
        return Some("a reserved address");
    }
    // 6to4 (2002::/16): the IPv4 address in bits 16..48.
    if in6(0x2002 << 112, 16) {
        let v4 = Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32);
        return v4_class(v4);
    }
    let ranges: [(u128, u32, Refusal); 7] = [
        (0x0100 << 112, 64, "a discard-only address"),
        (0x2001_0db8 << 96, 32, "a documentation address"),
        (0x2001 << 112, 23, "a reserved address"),
        (0xfc00 << 112, 7, "a private (unique local) address"),
        (0xfe80 << 112, 10, "a link-local address"),
        (0xfec0 << 112, 10, "a site-local address"),
        (0xff00 << 112, 8, "a multicast address"),
    ];
    ranges
        .iter()
        .find(|(net, prefix, _)| in6(*net, *prefix))
        .map(|(_, _, class)| *class)
}

/// The kind of a non-public address, or None for a public one.
pub fn class_of(ip: IpAddr) -> Option<Refusal> {
    match canonical(ip) {
        IpAddr::V4(v4) => v4_class(v4),
        IpAddr::V6(v6) => v6_class(v6),
    }
}

/// Whether `ip` is an address of this machine: binding to it succeeds only then.
fn is_local_address(ip: IpAddr) -> bool {
    std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

impl DestinationPolicy {
    /// The policy for `http_task_allow` entries; an entry that does not parse is an
    /// error naming it.
    pub fn parse(entries: &[String]) -> Result<DestinationPolicy, String> {
        let allow = entries
            .iter()
            .map(|e| parse_entry(e))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DestinationPolicy {
            allow,
            own: Vec::new(),
        })
    }

    /// The policy, also refusing Podium's own listening addresses.
    pub fn with_own_addresses(mut self, own: Vec<SocketAddr>) -> DestinationPolicy {
        self.own = own;
        self
    }

    /// Whether an entry names the host (as written in the URL) and port.
    fn host_allowed(&self, host: Option<&str>, port: u16, need_port: bool) -> bool {
        let Some(host) = host.map(|h| h.trim_end_matches('.').to_ascii_lowercase()) else {
            return false;
        };
        self.allow.iter().any(|entry| match entry {
            Entry::Host {
                name,
                wildcard,
                port: p,
            } => {
                let name_matches = if *wildcard {
                    host.strip_suffix(name.as_str())
                        .is_some_and(|rest| rest.ends_with('.'))
                } else {
                    host == *name
                };
                name_matches && (p.is_some_and(|p| p == port) || (!need_port && p.is_none()))
            }
            _ => false,
        })
    }

    /// Whether an entry names the address (and port).
    fn address_allowed(&self, ip: IpAddr, port: u16, need_port: bool) -> bool {
        self.allow.iter().any(|entry| match entry {
            Entry::Range { net, prefix } => !need_port && in_range(ip, *net, *prefix),
            Entry::Address { ip: a, port: p } => {
                *a == ip && (p.is_some_and(|p| p == port) || (!need_port && p.is_none()))
            }
            Entry::Host { .. } => false,
        })
    }

    /// Whether connecting to `ip:port` reaches one of Podium's own listeners.
    fn is_own(&self, ip: IpAddr, port: u16) -> bool {
        self.own.iter().any(|own| {
            if own.port() != port {
                return false;
            }
            let own_ip = canonical(own.ip());
            own_ip == ip
                || (ip.is_unspecified() && (own_ip.is_loopback() || own_ip.is_unspecified()))
                || (own_ip.is_unspecified() && (ip.is_loopback() || is_local_address(ip)))
        })
    }

    /// Decides a connection to `ip:port` for a URL whose host is `host` (None when
    /// the URL names the address itself). Podium's own listeners are refused unless
    /// an entry names them with their port.
    pub fn check(&self, host: Option<&str>, ip: IpAddr, port: u16) -> Result<(), Refusal> {
        let ip = canonical(ip);
        if self.is_own(ip, port) {
            return if self.host_allowed(host, port, true) || self.address_allowed(ip, port, true) {
                Ok(())
            } else {
                Err("Podium's own address")
            };
        }
        match class_of(ip) {
            None => Ok(()),
            Some(_) if self.host_allowed(host, port, false) => Ok(()),
            Some(_) if self.address_allowed(ip, port, false) => Ok(()),
            Some(class) => Err(class),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn policy(entries: &[&str]) -> DestinationPolicy {
        DestinationPolicy::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>())
            .unwrap()
    }

    #[test]
    fn refuses_every_internal_kind_of_address_by_default() {
        let policy = policy(&[]);
        for (address, class) in [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("fd12::1", "private"),
            ("::ffff:10.0.0.1", "private"),
            ("169.254.169.254", "link-local"),
            ("fe80::1", "link-local"),
            ("::ffff:169.254.169.254", "link-local"),
            ("100.64.0.1", "CGNAT"),
            ("100.127.255.254", "CGNAT"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("224.0.0.1", "multicast"),
            ("ff02::1", "multicast"),
            ("255.255.255.255", "reserved"),
            ("::127.0.0.1", "reserved"),
            ("64:ff9b::7f00:1", "loopback"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("64:ff9b:1::a00:1", "NAT64"),
            ("2002:7f00:1::", "loopback"),
            ("2002:c0a8:0101::1", "private"),
        ] {
            let refusal = policy.check(None, ip(address), 80).err();
            assert!(
                refusal.is_some_and(|r| r.contains(class)),
                "{address}: {refusal:?}"
            );
        }
        for address in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(policy.check(None, ip(address), 443), Ok(()), "{address}");
        }
    }

    #[test]
    fn allow_entries_open_ranges_addresses_ports_and_names() {
        let policy = policy(&[
            "10.8.0.0/16",
            "192.168.1.5:8443",
            "[fd00::7]",
            "api.internal",
            "svc.corp:9000",
            "*.lab.example",
        ]);
        assert_eq!(policy.check(None, ip("10.8.3.4"), 1), Ok(()));
        assert!(policy.check(None, ip("10.9.0.1"), 80).is_err());
        assert_eq!(policy.check(None, ip("192.168.1.5"), 8443), Ok(()));
        assert!(policy.check(None, ip("192.168.1.5"), 22).is_err());
        assert_eq!(policy.check(None, ip("fd00::7"), 22), Ok(()));
        assert_eq!(
            policy.check(Some("API.internal."), ip("10.0.0.1"), 80),
            Ok(())
        );
        assert_eq!(policy.check(Some("svc.corp"), ip("10.0.0.2"), 9000), Ok(()));
        assert!(
            policy
                .check(Some("svc.corp"), ip("10.0.0.2"), 9001)
                .is_err()
        );
        assert_eq!(
            policy.check(Some("a.b.lab.example"), ip("127.0.0.1"), 80),
            Ok(())
        );
        assert!(
            policy
                .check(Some("lab.example"), ip("127.0.0.1"), 80)
                .is_err()
        );
        assert!(
            policy
                .check(Some("evil-lab.example"), ip("127.0.0.1"), 80)
                .is_err()
        );
        // An entry for 10.8/16 also covers the IPv4-mapped form.
        assert_eq!(policy.check(None, ip("::ffff:10.8.0.1"), 80), Ok(()));
    }

    #[test]
    fn podium_itself_is_refused_unless_named_with_its_port() {
        let own: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let loopback = policy(&["127.0.0.0/8"]).with_own_addresses(vec![own]);
        assert_eq!(loopback.check(None, ip("127.0.0.1"), 9999), Ok(()));
        assert_eq!(
            loopback.check(None, ip("127.0.0.1"), 8080),
            Err("Podium's own address")
        );
        assert!(loopback.check(None, ip("0.0.0.0"), 8080).is_err());
        let named = policy(&["127.0.0.1:8080"]).with_own_addresses(vec![own]);
        assert_eq!(named.check(None, ip("127.0.0.1"), 8080), Ok(()));
        // Listening on every interface: loopback and this machine's addresses.
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let everywhere = policy(&["127.0.0.0/8"]).with_own_addresses(vec![any]);
        assert!(everywhere.check(None, ip("127.0.0.2"), 8080).is_err());
        assert_eq!(everywhere.check(None, ip("127.0.0.2"), 8081), Ok(()));
    }

    #[test]
    fn bad_entries_are_named() {
        for bad in [
            "",
            "10.0.0.0/33",
            "host:0",
            "host:http",
            "a b",
            "10.0.0.1:0",
        ] {
            let err = DestinationPolicy::parse(&[bad.to_string()]).unwrap_err();
            assert!(err.contains("http_task_allow"), "{bad}: {err}");
        }
    }
}
