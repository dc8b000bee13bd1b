//! The client's address behind proxies: the right-most `X-Forwarded-For` entry that is not
//! a configured trusted proxy (`MEDCHAIN_TRUSTED_PROXIES`, CIDRs). Every proxy appends the
//! address it received from, so entries to the right of the last trusted hop were written
//! by trusted proxies and the one just left of them is the client as the outermost
//! trusted proxy saw it; everything further left was written by the client and could say
//! anything. The header counts only when the connection itself comes from a trusted proxy.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn none() -> Self {
        Self(Vec::new())
    }

    /// The loopback proxies `MEDCHAIN_TRUST_PROXY=true` stands for.
    pub fn loopback() -> Self {
        Self(vec![
            "127.0.0.0/8".parse().expect("a CIDR"),
            "::1/128".parse().expect("a CIDR"),
        ])
    }

    /// A comma-separated list of CIDRs or single addresses.
    pub fn parse(raw: &str) -> Result<Self, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{s:?} is not an address or a CIDR like 10.0.0.0/8"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn with(mut self, other: Self) -> Self {
        self.0.extend(other.0);
        self
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request that arrived from `peer` with these headers.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect::<Vec<_>>();
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                // Garbage where an address should be: nobody trusted wrote it, so the
                // last trusted hop's sender is the best answer.
                return client;
            };
            let ip = canonical(ip);
            client = ip;
            if !self.trusts(ip) {
                return ip;
            }
        }
        client
    }
}

/// An IPv4 address mapped into IPv6 is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn xff(value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static(value));
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.0.2.1").unwrap();
        // The client wrote 1.1.1.1 itself; the trusted proxy appended what it saw.
        let h = xff("1.1.1.1, 203.0.113.9, 10.0.0.5");
        assert_eq!(proxies.client(ip("192.0.2.1"), &h), ip("203.0.113.9"));
        assert_eq!(
            proxies.client(ip("10.1.2.3"), &xff("203.0.113.9")),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let proxies = TrustedProxies::loopback();
        assert_eq!(
            proxies.client(ip("198.51.100.4"), &xff("1.2.3.4")),
            ip("198.51.100.4")
        );
        assert_eq!(
            TrustedProxies::none().client(ip("127.0.0.1"), &xff("1.2.3.4")),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn garbage_or_only_trusted_hops_stop_at_the_last_trusted_sender() {
        let proxies = TrustedProxies::loopback();
        assert_eq!(
            proxies.client(ip("127.0.0.1"), &xff("nonsense")),
            ip("127.0.0.1")
        );
        assert_eq!(
            proxies.client(ip("127.0.0.1"), &xff("127.0.0.2")),
            ip("127.0.0.2")
        );
        assert_eq!(
            proxies.client(ip("::ffff:127.0.0.1"), &xff("192.0.2.8")),
            ip("192.0.2.8")
        );
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("").unwrap().0.is_empty());
    }
}
