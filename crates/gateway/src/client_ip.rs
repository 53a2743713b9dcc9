//! The client's IP address. Behind a load balancer or ingress the TCP peer is the proxy, and
//! the client is named in `X-Forwarded-For`; but any client can send that header, so it is
//! believed only when the peer is a configured trusted proxy. The list is read right to left
//! (each proxy appends the address it saw), skipping trusted proxies: the first untrusted
//! address is the client. A malformed entry stops the walk at the last address we trust.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request};
use ipnet::IpNet;

const FORWARDED_FOR: &str = "x-forwarded-for";

/// The address the request came from, put into the request's extensions by
/// [`TrustedProxies::resolve`] (the HTTP server inserts the peer as `ConnectInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Networks whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses addresses (`10.0.0.1`) and networks (`10.0.0.0/8`); the error names the entry.
    pub fn parse(entries: &[String]) -> anyhow::Result<Self> {
        let networks = entries
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| anyhow::anyhow!("'{entry}' is neither an IP address nor a network"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self(networks))
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.0.iter().any(|network| network.contains(&address))
    }

    /// The client's address for a request from `peer` with these headers.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        let hops = headers
            .get_all(FORWARDED_FOR)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect::<Vec<_>>();
        for hop in hops.into_iter().rev() {
            let Ok(address) = hop.trim().parse::<IpAddr>() else {
                break;
            };
            client = canonical(address);
            if !self.trusts(client) {
                break;
            }
        }
        client
    }

    /// Records the [`ClientIp`] of a request in its extensions (once, before anything reads it).
    pub fn resolve<B>(&self, request: &mut Request<B>) -> IpAddr {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |info| info.0.ip());
        let client = self.client_ip(peer, request.headers());
        request.extensions_mut().insert(ClientIp(client));
        client
    }
}

/// IPv4 clients of a dual-stack listener appear as `::ffff:a.b.c.d`; they are IPv4 clients.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        IpAddr::V4(_) => address,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(FORWARDED_FOR, value.parse().unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_ignored_from_an_untrusted_peer() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".into()]).unwrap();
        let forged = headers(&["1.2.3.4"]);
        assert_eq!(proxies.client_ip(ip("203.0.113.7"), &forged), ip("203.0.113.7"));
        assert_eq!(
            TrustedProxies::default().client_ip(ip("10.0.0.1"), &forged),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn the_first_untrusted_hop_from_the_right_is_the_client() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".into(), "192.0.2.1".into()]).unwrap();
        // The client put a forged entry first; the ingress (10.1.1.1) appended what it saw.
        let chain = headers(&["6.6.6.6, 198.51.100.9", "192.0.2.1"]);
        assert_eq!(proxies.client_ip(ip("10.1.1.1"), &chain), ip("198.51.100.9"));
        // Only proxies in the chain: the leftmost is as far as we can see.
        assert_eq!(
            proxies.client_ip(ip("10.1.1.1"), &headers(&["10.2.2.2"])),
            ip("10.2.2.2")
        );
        // A malformed entry ends the walk at the last address a trusted proxy vouched for.
        let broken = headers(&["198.51.100.9, garbage, 10.3.3.3"]);
        assert_eq!(proxies.client_ip(ip("10.1.1.1"), &broken), ip("10.3.3.3"));
        // No header: the proxy itself.
        assert_eq!(
            proxies.client_ip(ip("10.1.1.1"), &HeaderMap::new()),
            ip("10.1.1.1")
        );
    }

    #[test]
    fn mapped_ipv4_peers_match_ipv4_networks() {
        let proxies = TrustedProxies::parse(&["127.0.0.1".into()]).unwrap();
        let chain = headers(&["198.51.100.9"]);
        assert_eq!(
            proxies.client_ip(ip("::ffff:127.0.0.1"), &chain),
            ip("198.51.100.9")
        );
    }

    #[test]
    fn bad_entries_are_named() {
        let error = TrustedProxies::parse(&["10.0.0.0/8".into(), "proxy.local".into()]).unwrap_err();
        assert!(error.to_string().contains("'proxy.local'"), "{error}");
    }
}
