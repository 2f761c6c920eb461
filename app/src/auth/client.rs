//! Who is on the other end of a connection, for the sign-in back-off.
//! Behind a reverse proxy every connection comes from the proxy, so the
//! client's address is read from `X-Forwarded-For`, but only when the
//! connection comes from a proxy the operator named (`--trusted-proxies`):
//! anyone else could write that header to dodge the per-address limit.

use ipnet::IpNet;
use std::net::IpAddr;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Addresses or networks (`10.0.0.5`, `10.0.0.0/8`, `::1`).
    pub fn parse(list: &[String]) -> Result<Self, String> {
        list.iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("--trusted-proxies: {s:?} is not an address or a network"))
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    pub fn trusts(&self, ip: &IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }

    /// The client behind `peer`: the peer itself unless it is a trusted
    /// proxy; then the nearest address in `forwarded_for` (the header's
    /// values in order) that is not one of ours. An entry that is not an
    /// address stops the walk at the last hop we trust.
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        if !self.trusts(&peer) {
            return peer;
        }
        let hops = forwarded_for
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .rev();
        let mut client = peer;
        for hop in hops {
            match hop.parse::<IpAddr>() {
                Ok(ip) if self.trusts(&ip) => client = ip,
                Ok(ip) => return ip,
                Err(_) => return client,
            }
        }
        client
    }
}

/// How the back-off names a client: one IPv6 host holds a whole /64, so
/// the network is counted.
pub fn throttle_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(ip) => {
            let s = ip.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        ip => ip.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_forwarded_address_counts_only_from_a_trusted_proxy() {
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("10.0.0.5"), &["1.2.3.4"]), ip("10.0.0.5"));
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".into(), "::1".into()]).unwrap();
        assert_eq!(proxies.client(ip("10.0.0.5"), &["1.2.3.4"]), ip("1.2.3.4"));
        assert_eq!(proxies.client(ip("::1"), &["1.2.3.4"]), ip("1.2.3.4"));
        // A stranger's header is ignored.
        assert_eq!(proxies.client(ip("8.8.8.8"), &["1.2.3.4"]), ip("8.8.8.8"));
    }

    #[test]
    fn the_nearest_untrusted_hop_is_the_client_whatever_the_client_wrote() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".into()]).unwrap();
        // The client wrote a fake first entry; our proxies appended after it.
        let chain = ["6.6.6.6, 1.2.3.4", "10.1.1.1"];
        assert_eq!(proxies.client(ip("10.0.0.5"), &chain), ip("1.2.3.4"));
        // Garbage stops the walk at the last hop we trust.
        assert_eq!(
            proxies.client(ip("10.0.0.5"), &["nonsense, 10.2.2.2"]),
            ip("10.2.2.2")
        );
        // No header: the proxy itself.
        assert_eq!(proxies.client(ip("10.0.0.5"), &[]), ip("10.0.0.5"));
    }

    #[test]
    fn bad_entries_are_refused_and_ipv6_counts_by_network() {
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["proxy.local".into()]).is_err());
        assert_eq!(throttle_key(ip("2001:db8:1:2:3::9")), "2001:db8:1:2::/64");
        assert_eq!(throttle_key(ip("1.2.3.4")), "1.2.3.4");
    }
}
