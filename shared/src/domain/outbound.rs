//! Which addresses our functions may call on a merchant's behalf. A merchant names URLs we POST to (webhook
//! endpoints); one pointing inside a network (loopback, private, link-local, cloud metadata, or a public-looking
//! form that embeds such an address) would make us call there for them (SSRF). Only globally routable unicast is
//! public. The one place for that rule: checked on the URL when it is registered, and on every address the host
//! resolves to when we connect (see `adapters::http_webhooks`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is a globally routable unicast address we may connect to for a merchant.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

/// IPv4 special-purpose ranges (IANA registry, RFC 6890 and successors) that are not ours to call.
const NOT_PUBLIC_V4: &[(Ipv4Addr, u8)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8),       // "this network", unspecified
    (Ipv4Addr::new(10, 0, 0, 0), 8),      // private
    (Ipv4Addr::new(100, 64, 0, 0), 10),   // carrier-grade NAT (Alibaba's metadata 100.100.100.200 too)
    (Ipv4Addr::new(127, 0, 0, 0), 8),     // loopback
    (Ipv4Addr::new(169, 254, 0, 0), 16),  // link-local, cloud metadata 169.254.169.254
    (Ipv4Addr::new(172, 16, 0, 0), 12),   // private
    (Ipv4Addr::new(192, 0, 0, 0), 24),    // IETF protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0), 24),    // documentation (TEST-NET-1)
    (Ipv4Addr::new(192, 88, 99, 0), 24),  // 6to4 relay anycast
    (Ipv4Addr::new(192, 168, 0, 0), 16),  // private
    (Ipv4Addr::new(198, 18, 0, 0), 15),   // benchmarking
    (Ipv4Addr::new(198, 51, 100, 0), 24), // documentation (TEST-NET-2)
    (Ipv4Addr::new(203, 0, 113, 0), 24),  // documentation (TEST-NET-3)
    (Ipv4Addr::new(224, 0, 0, 0), 4),     // multicast
    (Ipv4Addr::new(240, 0, 0, 0), 4),     // reserved, and 255.255.255.255 broadcast
];

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let bits = u32::from(ip);
    !NOT_PUBLIC_V4.iter().any(|(net, len)| bits >> (32 - len) == u32::from(*net) >> (32 - len))
}

/// Inside global unicast (2000::/3), the ranges that are not ours to call: tunnels and translators that carry
/// an IPv4 address inside (which may be a private one), and documentation.
const NOT_PUBLIC_V6: &[(Ipv6Addr, u8)] = &[
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23), // IETF protocol assignments: Teredo 2001::/32, benchmarking, ORCHID
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16), // 6to4 (an IPv4 address in bits 16–48)
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20), // documentation (RFC 9637)
];

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let bits = u128::from(ip);
    // Only global unicast: this leaves out ::/8 (unspecified, loopback, IPv4-mapped ::ffff:0:0/96 and
    // -compatible ::/96), 64:ff9b::/96 and 64:ff9b:1::/48 (NAT64), 100::/64 (discard), fc00::/7 (unique-local,
    // AWS's metadata fd00:ec2::254), fe80::/10 (link-local) and ff00::/8 (multicast).
    let global_unicast = bits >> 125 == 0b001;
    global_unicast && !NOT_PUBLIC_V6.iter().any(|(net, len)| bits >> (128 - len) == u128::from(*net) >> (128 - len))
}

#[cfg(test)]
pub(crate) use tests::NOT_PUBLIC;

#[cfg(test)]
mod tests {
    use super::*;

    /// One or more addresses of every family that must never be called, with why.
    pub(crate) const NOT_PUBLIC: &[(&str, &str)] = &[
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.7", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local, cloud metadata"),
        ("169.254.0.1", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "CGNAT"),
        ("100.127.255.254", "CGNAT"),
        ("100.100.100.200", "CGNAT, Alibaba metadata"),
        ("::ffff:169.254.169.254", "IPv4-mapped metadata"),
        ("::ffff:a9fe:a9fe", "IPv4-mapped metadata, hex"),
        ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
        ("::ffff:8.8.8.8", "IPv4-mapped, even of a public address"),
        ("::127.0.0.1", "IPv4-compatible loopback"),
        ("::a9fe:a9fe", "IPv4-compatible metadata"),
        ("64:ff9b::a9fe:a9fe", "NAT64 of metadata"),
        ("64:ff9b::7f00:1", "NAT64 of loopback"),
        ("64:ff9b:1::a00:7", "local-use NAT64"),
        ("2002:a9fe:a9fe::1", "6to4 of metadata"),
        ("2002:7f00:1::", "6to4 of loopback"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
        ("2001:0:a9fe:a9fe::", "Teredo"),
        ("fd00:ec2::254", "unique-local, AWS metadata"),
        ("fc00::1", "unique-local"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("ff0e::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("255.255.255.255", "broadcast"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.10", "documentation"),
        ("198.51.100.7", "documentation"),
        ("203.0.113.5", "documentation"),
        ("2001:db8::1", "documentation"),
        ("3fff::1", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("198.19.255.1", "benchmarking"),
        ("2001:2::1", "benchmarking"),
        ("192.0.0.8", "IETF protocol assignment"),
        ("192.88.99.1", "6to4 relay"),
        ("100::1", "discard-only"),
        ("0.1.2.3", "this network"),
    ];

    #[test]
    fn special_purpose_addresses_are_not_public() {
        for (ip, why) in NOT_PUBLIC {
            let parsed: IpAddr = ip.parse().unwrap_or_else(|_| panic!("{ip}"));
            assert!(!is_public(parsed), "{ip} ({why}) taken for public");
        }
    }

    #[test]
    fn ordinary_internet_addresses_are_public() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "200.147.67.142",
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.1",
            "169.253.255.255",
            "2804:14c::1",
            "2606:4700::1111",
            "2001:4860:4860::8888",
            "2a00:1450:4001::1",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip} taken for private");
        }
    }
}
