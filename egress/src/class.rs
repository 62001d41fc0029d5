//! The classes of addresses that are not public unicast (loopback, link-local, private,
//! ...), as named in `egress.allow`, and the classification of an address into one.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A class of addresses that is refused unless `egress.allow` names it. Every address
/// outside all classes is public unicast and always allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 169.254.0.0/16, fe80::/10: where clouds serve instance metadata and credentials.
    LinkLocal,
    /// 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (RFC 1918), fc00::/7 (unique local),
    /// fec0::/10 (the deprecated site-local).
    Private,
    /// 100.64.0.0/10, the shared address space of carrier-grade NAT (RFC 6598), also
    /// used inside some clouds and VPNs.
    Cgnat,
    /// 0.0.0.0/8 and ::; connecting to 0.0.0.0 reaches this host on Linux.
    Unspecified,
    /// 255.255.255.255.
    Broadcast,
    /// 224.0.0.0/4, ff00::/8.
    Multicast,
    /// Ranges that are not routed on the internet: IETF protocol assignments
    /// (192.0.0.0/24), documentation (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
    /// 2001:db8::/32), benchmarking (198.18.0.0/15, 2001:2::/48), the 6to4 relay
    /// anycast (192.88.99.0/24), 240.0.0.0/4, discard (100::/64), IPv4-compatible IPv6
    /// (::/96) and local-use NAT64 (64:ff9b:1::/48).
    Reserved,
}

impl Class {
    pub const ALL: [Class; 8] = [
        Class::Loopback,
        Class::LinkLocal,
        Class::Private,
        Class::Cgnat,
        Class::Unspecified,
        Class::Broadcast,
        Class::Multicast,
        Class::Reserved,
    ];

    /// The name `egress.allow` uses.
    pub fn name(self) -> &'static str {
        match self {
            Class::Loopback => "loopback",
            Class::LinkLocal => "link_local",
            Class::Private => "private",
            Class::Cgnat => "cgnat",
            Class::Unspecified => "unspecified",
            Class::Broadcast => "broadcast",
            Class::Multicast => "multicast",
            Class::Reserved => "reserved",
        }
    }

    pub fn parse(name: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|class| class.name() == name)
    }

    /// How messages call the class's addresses.
    pub fn description(self) -> &'static str {
        match self {
            Class::Loopback => "loopback",
            Class::LinkLocal => "link-local",
            Class::Private => "private",
            Class::Cgnat => "shared (cgnat)",
            Class::Unspecified => "unspecified",
            Class::Broadcast => "broadcast",
            Class::Multicast => "multicast",
            Class::Reserved => "reserved",
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// The address a connection to `address` really reaches: an IPv4-mapped IPv6 address
/// (`::ffff:a.b.c.d`) is the IPv4 address it carries, because the kernel sends it
/// there; so is a NAT64 address (`64:ff9b::a.b.c.d`, RFC 6052), because a NAT64 gateway
/// on the way would.
pub fn effective(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let segments = v6.segments();
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [.., high, low] = segments;
                return IpAddr::V4(Ipv4Addr::from((u32::from(high) << 16) | u32::from(low)));
            }
            IpAddr::V6(v6)
        }
        v4 => v4,
    }
}

/// The class of the address a connection to `address` reaches ([`effective`]); `None`
/// for public unicast.
pub fn classify(address: IpAddr) -> Option<Class> {
    match effective(address) {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(address: Ipv4Addr) -> Option<Class> {
    let [a, b, c, _] = address.octets();
    let class = if a == 0 {
        Class::Unspecified
    } else if address.is_loopback() {
        Class::Loopback
    } else if address.is_link_local() {
        Class::LinkLocal
    } else if address.is_private() {
        Class::Private
    } else if a == 100 && (64..128).contains(&b) {
        Class::Cgnat
    } else if address.is_broadcast() {
        Class::Broadcast
    } else if address.is_multicast() {
        Class::Multicast
    } else if (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 192 && b == 88 && c == 99)
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 240
    {
        Class::Reserved
    } else {
        return None;
    };
    Some(class)
}

fn classify_v6(address: Ipv6Addr) -> Option<Class> {
    let segments = address.segments();
    let class = if address.is_unspecified() {
        Class::Unspecified
    } else if address.is_loopback() {
        Class::Loopback
    } else if segments[0] & 0xffc0 == 0xfe80 {
        Class::LinkLocal
    } else if segments[0] & 0xfe00 == 0xfc00 || segments[0] & 0xffc0 == 0xfec0 {
        Class::Private
    } else if address.is_multicast() {
        Class::Multicast
    } else if segments[..6] == [0; 6]
        || segments[..4] == [0x100, 0, 0, 0]
        || segments[..2] == [0x2001, 0xdb8]
        || segments[..3] == [0x2001, 0x2, 0]
        || segments[..3] == [0x64, 0xff9b, 0x1]
    {
        // ::/96 holds the deprecated IPv4-compatible addresses (:: and ::1 are caught above).
        Class::Reserved
    } else {
        return None;
    };
    Some(class)
}

#[cfg(test)]
mod tests;
