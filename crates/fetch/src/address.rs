//! Which network addresses a key set may be fetched from. A `jwks_uri` or an issuer
//! is a URL someone else chose; if it leads to an address inside the deployment's own
//! network — the host itself (where the Lambda runtime API listens), the VPC, the
//! instance metadata service at 169.254.169.254 — fetching it is server-side request
//! forgery. Only globally routable unicast addresses are public here; the special-use
//! ranges of the IANA IPv4 and IPv6 special-purpose registries (RFC 6890) are not.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What an address is, as far as fetching from it is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressClass {
    /// Globally routable unicast: may be fetched from.
    Public,
    /// The host itself (127.0.0.0/8, `::1`, and their IPv4-mapped form): only a local
    /// stack may fetch from it ([`crate::FetchPolicy::allow_loopback`]).
    Loopback,
    /// Never fetched from: a private, link-local, shared, reserved, documentation or
    /// non-unicast range, named for the log.
    Forbidden(&'static str),
}

/// The class of `ip`. IPv6 forms that carry an IPv4 address (IPv4-mapped, NAT64,
/// 6to4) are judged by that address, so `::ffff:169.254.169.254` is as forbidden as
/// `169.254.169.254`.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    use AddressClass::{Forbidden, Loopback, Public};
    if ip == Ipv4Addr::BROADCAST {
        return Forbidden("broadcast (255.255.255.255)");
    }
    match ip.octets() {
        [127, ..] => Loopback,
        [0, ..] => Forbidden("unspecified, this network (0.0.0.0/8)"),
        [10, ..] => Forbidden("private (10.0.0.0/8)"),
        [100, 64..=127, ..] => Forbidden("shared address space, CGNAT (100.64.0.0/10)"),
        [169, 254, ..] => Forbidden("link-local, instance metadata (169.254.0.0/16)"),
        [172, 16..=31, ..] => Forbidden("private (172.16.0.0/12)"),
        [192, 0, 0, _] => Forbidden("IETF protocol assignments (192.0.0.0/24)"),
        [192, 0, 2, _] => Forbidden("documentation (192.0.2.0/24)"),
        [192, 88, 99, _] => Forbidden("6to4 relay anycast (192.88.99.0/24)"),
        [192, 168, ..] => Forbidden("private (192.168.0.0/16)"),
        [198, 18..=19, ..] => Forbidden("benchmarking (198.18.0.0/15)"),
        [198, 51, 100, _] => Forbidden("documentation (198.51.100.0/24)"),
        [203, 0, 113, _] => Forbidden("documentation (203.0.113.0/24)"),
        [224..=239, ..] => Forbidden("multicast (224.0.0.0/4)"),
        [240..=255, ..] => Forbidden("reserved (240.0.0.0/4)"),
        _ => Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    use AddressClass::{Forbidden, Loopback, Public};
    if ip.is_unspecified() {
        return Forbidden("unspecified (::)");
    }
    if ip.is_loopback() {
        return Loopback;
    }
    // ::ffff:a.b.c.d is how a dual-stack socket spells an IPv4 peer: the same host.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        classify_v4(Ipv4Addr::new(a, b, c, d))
    };
    match s {
        // Deprecated IPv4-compatible addresses (RFC 4291 §2.5.5.1) and the rest of
        // ::/96: never a legitimate destination.
        [0, 0, 0, 0, 0, 0, _, _] => Forbidden("IPv4-compatible (::/96)"),
        // A DNS64 resolver synthesises 64:ff9b::a.b.c.d for an IPv4-only host (RFC
        // 6052): an IPv6-only subnet reaches public hosts this way, so it is judged by
        // the IPv4 address inside.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => match embedded(hi, lo) {
            Public => Public,
            _ => Forbidden("NAT64 (64:ff9b::/96) of a non-public IPv4 address"),
        },
        [0x64, 0xff9b, 1, ..] => Forbidden("local-use NAT64 (64:ff9b:1::/48)"),
        // 6to4 (RFC 3056): 2002:aabb:ccdd::/48 routes to a.b.c.d.
        [0x2002, hi, lo, ..] => match embedded(hi, lo) {
            Public => Public,
            _ => Forbidden("6to4 (2002::/16) of a non-public IPv4 address"),
        },
        [0x2001, 0x0db8, ..] => Forbidden("documentation (2001:db8::/32)"),
        // Teredo, benchmarking, ORCHID and the other IETF assignments.
        [0x2001, b, ..] if b < 0x0200 => Forbidden("IETF protocol assignments (2001::/23)"),
        [0x3fff, b, ..] if b < 0x1000 => Forbidden("documentation (3fff::/20)"),
        [a, ..] if a & 0xfe00 == 0xfc00 => Forbidden("unique local (fc00::/7)"),
        [a, ..] if a & 0xffc0 == 0xfe80 => Forbidden("link-local (fe80::/10)"),
        [a, ..] if a & 0xffc0 == 0xfec0 => Forbidden("site-local (fec0::/10)"),
        [a, ..] if a & 0xff00 == 0xff00 => Forbidden("multicast (ff00::/8)"),
        // Global unicast is 2000::/3 (RFC 4291 §2.4); everything else is reserved.
        [a, ..] if a & 0xe000 == 0x2000 => Public,
        _ => Forbidden("not global unicast (outside 2000::/3)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> AddressClass {
        classify(s.parse().unwrap())
    }

    fn forbidden(s: &str) -> bool {
        matches!(class(s), AddressClass::Forbidden(_))
    }

    #[test]
    fn public_v4_public() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "52.94.236.248",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "169.253.255.255",
            "192.167.255.255",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "11.0.0.0",
        ] {
            assert_eq!(class(ip), AddressClass::Public, "{ip}");
        }
    }

    #[test]
    fn loopback_v4_loopback() {
        for ip in ["127.0.0.1", "127.255.255.254", "127.0.0.0"] {
            assert_eq!(class(ip), AddressClass::Loopback, "{ip}");
        }
    }

    #[test]
    fn special_v4_forbidden() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "192.168.255.255",
            "169.254.169.254",
            "169.254.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "255.255.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "198.19.255.255",
            "192.88.99.1",
        ] {
            assert!(forbidden(ip), "{ip} should be forbidden: {:?}", class(ip));
        }
    }

    #[test]
    fn metadata_service_forbidden_as_link_local() {
        assert_eq!(
            class("169.254.169.254"),
            AddressClass::Forbidden("link-local, instance metadata (169.254.0.0/16)")
        );
    }

    #[test]
    fn public_v6_public() {
        for ip in [
            "2600:1f18::1",
            "2a00:1450:4001:82b::200e",
            "2001:4860:4860::8888",
            "2001:200::1",
            "3fff:1000::1",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(class(ip), AddressClass::Public, "{ip}");
        }
    }

    #[test]
    fn loopback_v6_loopback() {
        assert_eq!(class("::1"), AddressClass::Loopback);
        assert_eq!(class("::ffff:127.0.0.1"), AddressClass::Loopback);
    }

    #[test]
    fn special_v6_forbidden() {
        for ip in [
            "::",
            "fe80::1",
            "febf:ffff::1",
            "fec0::1",
            "fc00::1",
            "fd00:ec2::254",
            "fdff:ffff::1",
            "ff02::1",
            "ff0e::1",
            "2001:db8::1",
            "2001::1",
            "2001:2::1",
            "2001:10::1",
            "3fff::1",
            "100::1",
            "5f00::1",
            "4000::1",
            "64:ff9b:1::a00:1",
        ] {
            assert!(forbidden(ip), "{ip} should be forbidden: {:?}", class(ip));
        }
    }

    #[test]
    fn mapped_v6_of_special_v4_forbidden() {
        for ip in [
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:172.16.0.1",
            "::ffff:192.168.1.1",
            "::ffff:100.64.0.1",
            "::ffff:0.0.0.0",
            "::ffff:224.0.0.1",
            "::ffff:255.255.255.255",
        ] {
            assert!(forbidden(ip), "{ip} should be forbidden: {:?}", class(ip));
        }
        assert_eq!(class("::ffff:8.8.8.8"), AddressClass::Public);
    }

    #[test]
    fn compatible_v6_forbidden() {
        for ip in [
            "::10.0.0.1",
            "::169.254.169.254",
            "::127.0.0.1",
            "::8.8.8.8",
        ] {
            assert!(forbidden(ip), "{ip} should be forbidden: {:?}", class(ip));
        }
    }

    #[test]
    fn nat64_and_6to4_of_special_v4_forbidden() {
        for ip in [
            "64:ff9b::a00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
            "2002:a00:1::1",
            "2002:a9fe:a9fe::1",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
        ] {
            assert!(forbidden(ip), "{ip} should be forbidden: {:?}", class(ip));
        }
    }
}
