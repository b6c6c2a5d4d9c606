//! Where a webhook may be delivered: public addresses only, unless an
//! admin allowed a private range for an on-premises receiver
//! (`WEBHOOK_ALLOW_PRIVATE`).
//!
//! An admin-supplied URL must not become a way to reach the service's own
//! network (loopback, link-local and the cloud metadata address, private
//! and unique-local ranges). The check runs at delivery time, on the
//! addresses the name resolves to then, and the connection goes to the
//! checked address: the webhook client's resolver is [`CheckedResolver`],
//! which answers only with addresses it has checked, so a name that
//! resolves to a public address for a check and to 127.0.0.1 a moment
//! later cannot slip through.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;

/// The private ranges a deployment lets webhooks reach.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    allowed: Arc<Vec<IpNet>>,
}

impl AddressPolicy {
    pub fn new(allowed: Vec<IpNet>) -> Self {
        AddressPolicy {
            allowed: Arc::new(allowed),
        }
    }

    /// Why `ip` may not be reached, or `None` when it may.
    pub fn refusal(&self, ip: IpAddr) -> Option<Refused> {
        let ip = canonical(ip);
        if self.allowed.iter().any(|net| net.contains(&ip)) {
            return None;
        }
        reserved_kind(ip).map(|kind| Refused { ip, kind })
    }
}

/// A webhook address that is not public.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub ip: IpAddr,
    pub kind: &'static str,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refused: the receiver's address {} is {}; allow its range with WEBHOOK_ALLOW_PRIVATE for an on-premises receiver",
            self.ip, self.kind
        )
    }
}

impl std::error::Error for Refused {}

/// An IPv4 address written as IPv6 (mapped, compatible or NAT64) is
/// judged as the IPv4 address it reaches.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let mapped = s[..5] == [0; 5] && s[5] == 0xffff;
    // ::a.b.c.d, but not :: and ::1 themselves.
    let compatible = s[..6] == [0; 6] && (s[6] != 0 || s[7] > 1);
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    (mapped || compatible || nat64).then_some(tail)
}

/// What kind of non-public address `ip` is, if it is one.
fn reserved_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_link_local() {
                // 169.254.169.254 is the metadata service of most clouds.
                Some("link-local (cloud metadata)")
            } else if v4.is_private() {
                Some("private")
            } else if a == 100 && (64..128).contains(&b) {
                Some("shared address space (carrier NAT, some cloud metadata)")
            } else if a == 0 || v4.is_broadcast() || a >= 240 {
                Some("not routable")
            } else if v4.is_multicast() {
                Some("multicast")
            } else if (a == 192 && b == 0 && c == 0) || (a == 198 && (b & 0xfe) == 18) {
                Some("reserved")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("not routable")
            } else if first & 0xffc0 == 0xfe80 || first & 0xffc0 == 0xfec0 {
                Some("link-local")
            } else if first & 0xfe00 == 0xfc00 {
                Some("unique-local (private)")
            } else if v6.is_multicast() {
                Some("multicast")
            } else {
                None
            }
        }
    }
}

/// The webhook client's resolver: the system's lookup, answering only when
/// every address the name has is allowed (a name with one private address
/// among public ones is refused whole, as it may be rebinding).
pub struct CheckedResolver {
    pub policy: AddressPolicy,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(checked_lookup(
            name.as_str().to_string(),
            self.policy.clone(),
        ))
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn checked_lookup(
    host: String,
    policy: AddressPolicy,
) -> Result<reqwest::dns::Addrs, BoxError> {
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
    if let Some(refused) = found.iter().find_map(|a| policy.refusal(a.ip())) {
        return Err(Box::new(refused));
    }
    if found.is_empty() {
        return Err(format!("{host} has no address").into());
    }
    Ok(Box::new(found.into_iter()))
}

/// The refusal somewhere in an error's chain of causes.
pub fn refusal_in<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refused> {
    let mut cause: Option<&'a (dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return Some(refused);
        }
        cause = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(policy: &AddressPolicy, ip: &str) -> bool {
        policy.refusal(ip.parse().unwrap()).is_some()
    }

    #[test]
    fn loopback_link_local_private_unique_local_and_metadata_addresses_are_refused() {
        let policy = AddressPolicy::default();
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::10.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(refused(&policy, ip), "{ip} is refused");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!refused(&policy, ip), "{ip} is public");
        }
    }

    #[test]
    fn an_allowed_range_opens_only_itself() {
        let policy = AddressPolicy::new(vec!["10.20.0.0/16".parse().unwrap()]);
        assert!(!refused(&policy, "10.20.3.4"));
        assert!(refused(&policy, "10.21.0.1"));
        assert!(refused(&policy, "127.0.0.1"));
        assert!(refused(&policy, "169.254.169.254"));
    }

    #[test]
    fn the_refusal_names_the_address_and_the_setting() {
        let text = AddressPolicy::default()
            .refusal("127.0.0.1".parse().unwrap())
            .unwrap()
            .to_string();
        assert!(
            text.contains("127.0.0.1") && text.contains("loopback"),
            "{text}"
        );
        assert!(text.contains("WEBHOOK_ALLOW_PRIVATE"), "{text}");
    }
}
