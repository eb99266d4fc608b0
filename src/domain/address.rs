//! Which network addresses the user-info client may call. The endpoint's URI comes from a
//! caller, and the service answers with what the endpoint said (status, the first bytes of a
//! body), so an address inside the service's network would let that caller read what only the
//! service can reach: a cloud metadata service's credentials, a sidecar, the metrics page.
//! Metadata and link-local addresses are never called; loopback and private ones only when the
//! operator allows them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The setting that lets the client call loopback and private addresses, as refusals name it.
pub const ALLOW_PRIVATE_SETTING: &str = "--user-info-allow-private-addresses";

/// Cloud metadata services outside the link-local ranges: Alibaba Cloud's, Azure's WireServer
/// (which hands VM extensions their settings), Oracle Cloud's older one, and AWS's over IPv6.
/// 169.254.169.254, which most clouds use, is link-local.
const METADATA_V4: [Ipv4Addr; 3] = [
    Ipv4Addr::new(100, 100, 100, 200),
    Ipv4Addr::new(168, 63, 129, 16),
    Ipv4Addr::new(192, 0, 0, 192),
];
const METADATA_V6: [Ipv6Addr; 1] = [Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)];

/// What an address reaches, as far as calling it is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressKind {
    /// Anything else: called.
    Public,
    // Called only when the operator allows private addresses.
    Loopback,
    /// 10/8, 172.16/12, 192.168/16 (RFC 1918).
    Private,
    /// 100.64/10 (RFC 6598), carrier-grade NAT and some clouds' internal networks.
    SharedNat,
    /// fc00::/7 (RFC 4193).
    UniqueLocal,
    /// fec0::/10, deprecated but still routed as private by some networks.
    SiteLocal,
    // Never called.
    Metadata,
    /// 169.254/16 and fe80::/10, where 169.254.169.254 answers.
    LinkLocal,
    /// 0.0.0.0/8 and ::, which a connection takes to mean this host.
    Unspecified,
    Multicast,
    Broadcast,
}

impl AddressKind {
    /// What `ip` reaches. An IPv6 address carrying an IPv4 one (IPv4-mapped, IPv4-compatible,
    /// NAT64's 64:ff9b::/96) is the IPv4 address, since that is where the connection goes.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::of_v4(v4),
            IpAddr::V6(v6) => match embedded_v4(v6) {
                Some(v4) => Self::of_v4(v4),
                None => Self::of_v6(v6),
            },
        }
    }

    fn of_v4(ip: Ipv4Addr) -> Self {
        let [a, b, ..] = ip.octets();
        if METADATA_V4.contains(&ip) {
            Self::Metadata
        } else if ip.is_link_local() {
            Self::LinkLocal
        } else if a == 0 {
            Self::Unspecified
        } else if ip.is_broadcast() {
            Self::Broadcast
        } else if ip.is_multicast() {
            Self::Multicast
        } else if ip.is_loopback() {
            Self::Loopback
        } else if ip.is_private() {
            Self::Private
        } else if a == 100 && b & 0xc0 == 64 {
            Self::SharedNat
        } else {
            Self::Public
        }
    }

    fn of_v6(ip: Ipv6Addr) -> Self {
        let first = ip.segments()[0];
        if METADATA_V6.contains(&ip) {
            Self::Metadata
        } else if ip.is_unspecified() {
            Self::Unspecified
        } else if ip.is_multicast() {
            Self::Multicast
        } else if first & 0xffc0 == 0xfe80 {
            Self::LinkLocal
        } else if ip.is_loopback() {
            Self::Loopback
        } else if first & 0xfe00 == 0xfc00 {
            Self::UniqueLocal
        } else if first & 0xffc0 == 0xfec0 {
            Self::SiteLocal
        } else {
            Self::Public
        }
    }

    /// Called only when the operator allows private addresses.
    fn is_private(self) -> bool {
        matches!(
            self,
            Self::Loopback | Self::Private | Self::SharedNat | Self::UniqueLocal | Self::SiteLocal
        )
    }

    /// The kind of address, as a refusal says it.
    fn describe(self) -> &'static str {
        match self {
            Self::Public => "a public address",
            Self::Loopback => "a loopback address",
            Self::Private => "a private address (RFC 1918)",
            Self::SharedNat => "a shared address (100.64.0.0/10)",
            Self::UniqueLocal => "a unique local address (fc00::/7)",
            Self::SiteLocal => "a site-local address (fec0::/10)",
            Self::Metadata => "a cloud metadata service's address",
            Self::LinkLocal => "a link-local address (cloud metadata services answer there)",
            Self::Unspecified => "an unspecified address (it reaches this host)",
            Self::Multicast => "a multicast address",
            Self::Broadcast => "a broadcast address",
        }
    }
}

/// The IPv4 address an IPv6 address carries. `::` and `::1` are IPv6's own unspecified and
/// loopback addresses, not IPv4-compatible forms of 0.0.0.0 and 0.0.0.1.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if ip.is_unspecified() || ip.is_loopback() {
        return None;
    }
    match ip.segments() {
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => {
            Some(Ipv4Addr::from((u32::from(high) << 16) | u32::from(low)))
        }
        _ => ip.to_ipv4(),
    }
}

/// Whether `name` is `localhost` or a name under it, which resolve to loopback (RFC 6761).
pub fn is_localhost_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// An address the client will not call, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedAddress {
    /// The address as given (with the IPv4 address it carries, if any), or the host name.
    pub address: String,
    pub kind: AddressKind,
}

impl std::fmt::Display for RefusedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is {}; ", self.address, self.kind.describe())?;
        if self.kind.is_private() {
            write!(
                f,
                "the user-info client calls those only when the server runs with \
                 {ALLOW_PRIVATE_SETTING}"
            )
        } else {
            f.write_str("the user-info client never calls those")
        }
    }
}

impl std::error::Error for RefusedAddress {}

/// Which addresses the user-info client may call: never metadata, link-local, unspecified,
/// multicast or broadcast ones; loopback and private ones only when `allow_private`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    pub allow_private: bool,
}

impl AddressPolicy {
    pub fn check_ip(self, ip: IpAddr) -> Result<(), RefusedAddress> {
        let kind = AddressKind::of(ip);
        if kind == AddressKind::Public || (self.allow_private && kind.is_private()) {
            return Ok(());
        }
        let address = match ip {
            IpAddr::V6(v6) => match embedded_v4(v6) {
                Some(v4) => format!("{v6} (IPv4 {v4})"),
                None => v6.to_string(),
            },
            IpAddr::V4(v4) => v4.to_string(),
        };
        Err(RefusedAddress { address, kind })
    }

    /// Checks what a URI's host shows of where it leads: an IP address, or a localhost name.
    /// Other names are checked when they are resolved, since what they resolve to can change.
    pub fn check_host(self, host: &url::Host<&str>) -> Result<(), RefusedAddress> {
        match host {
            url::Host::Domain(name) if is_localhost_name(name) && !self.allow_private => {
                Err(RefusedAddress {
                    address: (*name).to_owned(),
                    kind: AddressKind::Loopback,
                })
            }
            url::Host::Domain(_) => Ok(()),
            _ => host_ip(host).map_or(Ok(()), |ip| self.check_ip(ip)),
        }
    }
}

/// The IP address a URI's host is, if it is one rather than a name.
pub fn host_ip(host: &url::Host<&str>) -> Option<IpAddr> {
    match host {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(*ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(*ip)),
        url::Host::Domain(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AddressKind::*;

    #[test]
    fn addresses_are_classified_by_where_they_lead() {
        for (address, kind) in [
            ("93.184.215.14", Public),
            ("8.8.8.8", Public),
            ("2606:4700::1111", Public),
            ("100.63.255.255", Public),
            ("100.128.0.1", Public),
            ("172.32.0.1", Public),
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("::1", Loopback),
            ("10.1.2.3", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.1", Private),
            ("100.64.0.1", SharedNat),
            ("100.127.255.255", SharedNat),
            ("fc00::1", UniqueLocal),
            ("fd12:3456::1", UniqueLocal),
            ("fec0::1", SiteLocal),
            ("169.254.169.254", LinkLocal),
            ("169.254.170.2", LinkLocal),
            ("169.254.0.1", LinkLocal),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("fd00:ec2::254", Metadata),
            ("100.100.100.200", Metadata),
            ("168.63.129.16", Metadata),
            ("192.0.0.192", Metadata),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("::", Unspecified),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("ff02::1", Multicast),
            ("255.255.255.255", Broadcast),
            // IPv6 forms of IPv4 addresses are what they carry.
            ("::ffff:169.254.169.254", LinkLocal),
            ("::ffff:a9fe:a9fe", LinkLocal),
            ("::169.254.169.254", LinkLocal),
            ("64:ff9b::169.254.169.254", LinkLocal),
            ("::ffff:127.0.0.1", Loopback),
            ("::127.0.0.1", Loopback),
            ("64:ff9b::7f00:1", Loopback),
            ("::ffff:10.0.0.1", Private),
            ("::ffff:100.100.100.200", Metadata),
            ("::ffff:0.0.0.0", Unspecified),
            ("::ffff:224.0.0.1", Multicast),
            ("::ffff:255.255.255.255", Broadcast),
            ("::ffff:8.8.8.8", Public),
            ("64:ff9b::8.8.8.8", Public),
        ] {
            let ip: IpAddr = address.parse().unwrap();
            assert_eq!(AddressKind::of(ip), kind, "{address}");
        }
    }

    #[test]
    fn private_addresses_need_the_setting_and_metadata_is_never_called() {
        let strict = AddressPolicy::default();
        let allowing = AddressPolicy {
            allow_private: true,
        };
        for (address, strictly, allowed) in [
            ("8.8.8.8", true, true),
            ("127.0.0.1", false, true),
            ("::ffff:10.0.0.1", false, true),
            ("fd12::1", false, true),
            ("169.254.169.254", false, false),
            ("::ffff:169.254.169.254", false, false),
            ("fd00:ec2::254", false, false),
            ("0.0.0.0", false, false),
            ("ff02::1", false, false),
        ] {
            let ip: IpAddr = address.parse().unwrap();
            assert_eq!(strict.check_ip(ip).is_ok(), strictly, "{address}");
            assert_eq!(allowing.check_ip(ip).is_ok(), allowed, "{address}");
        }
        let metadata = allowing
            .check_ip("::ffff:169.254.169.254".parse().unwrap())
            .unwrap_err()
            .to_string();
        assert_eq!(
            metadata,
            "::ffff:169.254.169.254 (IPv4 169.254.169.254) is a link-local address (cloud \
             metadata services answer there); the user-info client never calls those"
        );
        let loopback = strict
            .check_ip("127.0.0.1".parse().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            loopback.starts_with("127.0.0.1 is a loopback address")
                && loopback.ends_with(ALLOW_PRIVATE_SETTING),
            "{loopback}"
        );
    }

    #[test]
    fn localhost_names_are_loopback_and_other_names_wait_for_resolution() {
        let strict = AddressPolicy::default();
        for name in ["localhost", "LOCALHOST.", "api.localhost"] {
            let refused = strict.check_host(&url::Host::Domain(name)).unwrap_err();
            assert_eq!(refused.kind, Loopback, "{name}");
        }
        for name in ["localhost.example.com", "iam.example.com", "notlocalhost"] {
            assert!(
                strict.check_host(&url::Host::Domain(name)).is_ok(),
                "{name}"
            );
        }
        let allowing = AddressPolicy {
            allow_private: true,
        };
        assert!(allowing.check_host(&url::Host::Domain("localhost")).is_ok());
    }
}
