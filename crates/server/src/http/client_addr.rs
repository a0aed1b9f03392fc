//! The address of the client behind a request: the peer of the connection, or,
//! when that peer is a reverse proxy listed in `trusted_proxies`, the address the
//! proxies put in `X-Forwarded-For` (the nearest one that is not itself a trusted
//! proxy). Sign-in throttling and the audit trail count clients by it, so without
//! this every client behind a proxy would share the proxy's address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::state::AppState;
use crate::destinations::{canonical, in_range};

/// Most `X-Forwarded-For` entries looked at.
const MOST_HOPS: usize = 32;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// From `trusted_proxies` entries: addresses or CIDR ranges.
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, String> {
        let mut ranges = Vec::new();
        for raw in entries {
            let text = raw.trim();
            let (net, prefix) = match text.split_once('/') {
                Some((net, prefix)) => (net, Some(prefix)),
                None => (text, None),
            };
            let net: IpAddr = net.parse().map_err(|_| {
                format!("trusted_proxies entry '{text}' is not an address or a CIDR range")
            })?;
            let max = if net.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                None => max,
                Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| {
                    format!("trusted_proxies entry '{text}': the prefix must be 0 to {max}")
                })?,
            };
            ranges.push((canonical(net), prefix));
        }
        Ok(TrustedProxies(ranges))
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0
            .iter()
            .any(|(net, prefix)| in_range(ip, *net, *prefix))
    }

    /// The client's address for a request from `peer` with these headers.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .take(MOST_HOPS)
            .map_while(|hop| hop.parse::<IpAddr>().ok())
            .collect();
        // From the nearest hop outwards, the first one that is not a trusted proxy.
        hops.iter()
            .copied()
            .find(|hop| !self.trusts(*hop))
            .or_else(|| hops.last().copied())
            .unwrap_or(peer)
    }
}

/// The client's address, when the connection's is known.
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_of(
            parts.extensions.get::<ConnectInfo<SocketAddr>>(),
            &parts.headers,
            state,
        )))
    }
}

/// The client's address from a connection's peer and the request's headers.
pub fn client_of(
    peer: Option<&ConnectInfo<SocketAddr>>,
    headers: &HeaderMap,
    state: &AppState,
) -> Option<IpAddr> {
    peer.map(|ConnectInfo(addr)| state.trusted_proxies.client(addr.ip(), headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in xff {
            map.append("x-forwarded-for", value.parse().expect("header"));
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let proxies =
            TrustedProxies::parse(&["10.0.0.0/8".into(), "192.0.2.1".into()]).expect("parse");
        // Not a trusted proxy: its header is ignored.
        assert_eq!(
            proxies.client(ip("203.0.113.5"), &headers(&["198.51.100.7"])),
            ip("203.0.113.5")
        );
        // A trusted proxy: the nearest hop that is not one of ours. A client cannot
        // hide behind a made-up address it put first.
        assert_eq!(
            proxies.client(
                ip("10.1.1.1"),
                &headers(&["6.6.6.6, 198.51.100.7, 10.2.2.2"])
            ),
            ip("198.51.100.7")
        );
        assert_eq!(
            proxies.client(ip("::ffff:192.0.2.1"), &headers(&["198.51.100.8"])),
            ip("198.51.100.8")
        );
        // No header, or garbage: the proxy's own address.
        assert_eq!(
            proxies.client(ip("10.1.1.1"), &headers(&[])),
            ip("10.1.1.1")
        );
        assert_eq!(
            proxies.client(ip("10.1.1.1"), &headers(&["not-an-ip"])),
            ip("10.1.1.1")
        );
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["proxy.local".into()]).is_err());
    }
}
