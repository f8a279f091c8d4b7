//! Who a request comes from: the address failed logins are counted by (`crate::accounts`).
//!
//! The client is the TCP peer, unless the peer is one of the reverse proxies named in
//! `[web] trusted_proxies` (quire.toml): then it is the right-most address of
//! `X-Forwarded-For` that is not itself a trusted proxy. Only that entry can be believed: a
//! proxy appends the address it saw to whatever the client sent, so everything to its left
//! may be made up. A peer that is not trusted cannot name another client at all, whatever
//! headers it sends.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::HeaderMap;

/// The reverse proxies whose `X-Forwarded-For` is believed: addresses and networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Network>);

/// An address and how many of its leading bits a match needs (32 or 128: one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    addr: IpAddr,
    bits: u8,
}

impl Network {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(u128::from(net.to_bits()), u128::from(ip.to_bits()), self.bits, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(net.to_bits(), ip.to_bits(), self.bits, 128)
            }
            _ => false,
        }
    }
}

/// Whether the first `bits` of two `width`-bit numbers are equal.
fn prefix_eq(a: u128, b: u128, bits: u8, width: u32) -> bool {
    let drop = width - u32::from(bits);
    drop >= width || (a >> drop) == (b >> drop)
}

impl TrustedProxies {
    /// Parses `127.0.0.1`, `::1`, `10.0.0.0/8`, `fd00::/8`...; an error names the bad entry.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<TrustedProxies, String> {
        let mut out = Vec::new();
        for e in entries {
            let e = e.as_ref().trim();
            let bad = || {
                format!(
                    "trusted_proxies: {e:?} is not an address or a network (`127.0.0.1`, `::1`, `10.0.0.0/8`)"
                )
            };
            let (addr, bits) = match e.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (e, None),
            };
            let addr: IpAddr = addr.parse().map_err(|_| bad())?;
            let addr = addr.to_canonical();
            let width = if addr.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(b) => b.parse::<u8>().ok().filter(|b| *b <= width).ok_or_else(bad)?,
                None => width,
            };
            out.push(Network { addr, bits });
        }
        Ok(TrustedProxies(out))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|n| n.contains(ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The client of a request whose TCP peer is `peer` (see the module's comment).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = peer.to_canonical();
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    if !trusted.contains(peer) {
        if !forwarded.is_empty() && peer.is_loopback() {
            warn_untrusted_proxy(peer);
        }
        return peer;
    }
    let mut client = peer;
    for entry in forwarded.iter().rev() {
        // nginx writes bare addresses; some proxies add a port.
        let Some(ip) = entry
            .parse::<IpAddr>()
            .ok()
            .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        else {
            // Not an address: nothing further left can be believed either.
            break;
        };
        client = ip.to_canonical();
        if !trusted.contains(client) {
            break;
        }
    }
    client
}

/// Says once per process that a proxy on this machine seems to be in front of quire without
/// being trusted: then every client counts as the proxy, and the limit per address is shared
/// by everybody (issue 24).
fn warn_untrusted_proxy(peer: IpAddr) {
    static SAID: AtomicBool = AtomicBool::new(false);
    if !SAID.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            %peer,
            "a request from {peer} carries X-Forwarded-For, but {peer} is not in [web] trusted_proxies of quire.toml: \
             every client behind that proxy counts as {peer} for the login limits (see docs/accounts.md)"
        );
    }
}

/// The key an address's failed logins are counted under: an IPv4 address, or the /64 of an
/// IPv6 address (one subscriber usually gets a whole /64, and could otherwise take a fresh
/// address for every guess).
pub fn limit_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let net = std::net::Ipv6Addr::from_bits(v6.to_bits() & !((1u128 << 64) - 1));
            format!("{net}/64")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_cannot_name_another_client() {
        let trusted = TrustedProxies::parse(&["10.0.0.1"]).unwrap();
        let h = headers(&["198.51.100.1"]);
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &trusted), ip("127.0.0.1"));
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &TrustedProxies::default()), ip("127.0.0.1"));
    }

    #[test]
    fn a_trusted_proxy_names_the_right_most_untrusted_entry() {
        let trusted = TrustedProxies::parse(&["127.0.0.1", "10.0.0.0/8"]).unwrap();
        let peer = ip("127.0.0.1");
        // What the client made up is on the left; the proxies' own entries are skipped.
        let h = headers(&["1.2.3.4, 198.51.100.7", "10.1.2.3"]);
        assert_eq!(client_ip(peer, &h, &trusted), ip("198.51.100.7"));
        assert_eq!(
            client_ip(peer, &headers(&["garbage, 198.51.100.7"]), &trusted),
            ip("198.51.100.7")
        );
        // A proxy's entry that is not an address: the last believable one.
        assert_eq!(client_ip(peer, &headers(&["198.51.100.7, nonsense"]), &trusted), peer);
        assert_eq!(client_ip(peer, &headers(&["198.51.100.7:4711"]), &trusted), ip("198.51.100.7"));
        assert_eq!(client_ip(peer, &headers(&["[2001:db8::1]:443"]), &trusted), ip("2001:db8::1"));
        // Only proxies: the left-most.
        assert_eq!(client_ip(peer, &headers(&["10.9.9.9, 10.0.0.2"]), &trusted), ip("10.9.9.9"));
        assert_eq!(client_ip(peer, &HeaderMap::new(), &trusted), peer);
        // IPv4 peers seen through an IPv6 socket are the same peers.
        assert_eq!(
            client_ip(ip("::ffff:127.0.0.1"), &headers(&["198.51.100.9"]), &trusted),
            ip("198.51.100.9")
        );
    }

    #[test]
    fn trusted_proxies_parse_addresses_and_networks_and_name_a_bad_one() {
        let t = TrustedProxies::parse(&["::1", "fd00::/8", "192.168.0.0/16"]).unwrap();
        assert!(
            t.contains(ip("::1")) && t.contains(ip("fd12::5")) && t.contains(ip("192.168.7.7"))
        );
        assert!(!t.contains(ip("192.169.0.1")) && !t.contains(ip("127.0.0.1")));
        assert!(TrustedProxies::parse(&["0.0.0.0/0"]).unwrap().contains(ip("203.0.113.1")));
        for bad in ["localhost", "10.0.0.0/33", "10.0.0.0/", "::1/129"] {
            let e = TrustedProxies::parse(&[bad]).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        assert_eq!(limit_key(ip("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(limit_key(ip("2001:db8:1:2:bbbb::9")), "2001:db8:1:2::/64");
        assert_eq!(limit_key(ip("198.51.100.7")), "198.51.100.7");
        assert_eq!(limit_key(ip("::ffff:198.51.100.7")), "198.51.100.7");
    }
}
