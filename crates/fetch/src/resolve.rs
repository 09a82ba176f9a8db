//! The resolver every connection goes through: the SSRF guard at connection time.
//! Checking a host's addresses before the request and letting the HTTP client resolve
//! it again would leave a window: a DNS name can answer with a public address for the
//! check and 169.254.169.254 for the connection (DNS rebinding). Here the addresses
//! checked are the very ones handed to the connector, and a name that resolves to any
//! refused address is refused as a whole.

use std::error::Error as StdError;
use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::policy::FetchPolicy;

/// A host that resolved to an address the policy refuses.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to a refused address ({range})")]
pub(crate) struct AddressRefused {
    /// The DNS name.
    pub(crate) host: String,
    /// The refused range one of its addresses falls in.
    pub(crate) range: &'static str,
}

/// A host that could not be resolved.
#[derive(Debug, thiserror::Error)]
#[error("{host} could not be resolved")]
struct NotResolved {
    host: String,
    #[source]
    source: Option<std::io::Error>,
}

/// Resolves with the system resolver (`getaddrinfo` through tokio) and refuses a name
/// if any address it resolves to is refused by the policy.
#[derive(Clone, Debug)]
pub(crate) struct GuardedResolver {
    policy: FetchPolicy,
}

impl GuardedResolver {
    pub(crate) fn new(policy: FetchPolicy) -> Self {
        Self { policy }
    }

    /// The addresses of `host`, every one of them permitted.
    pub(crate) async fn lookup(
        &self,
        host: &str,
    ) -> Result<Vec<SocketAddr>, Box<dyn StdError + Send + Sync>> {
        // The port is the connector's business; it replaces this 0.
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
            .await
            .map_err(|e| NotResolved {
                host: host.to_owned(),
                source: Some(e),
            })?
            .collect();
        if addrs.is_empty() {
            return Err(NotResolved {
                host: host.to_owned(),
                source: None,
            }
            .into());
        }
        check_all(&self.policy, host, &addrs)?;
        Ok(addrs)
    }
}

/// Refuses the whole name when any of its addresses is refused: a name with one public
/// and one private address could otherwise be made to connect to the private one.
pub(crate) fn check_all(
    policy: &FetchPolicy,
    host: &str,
    addrs: &[SocketAddr],
) -> Result<(), AddressRefused> {
    for addr in addrs {
        policy.permits(addr.ip()).map_err(|range| AddressRefused {
            host: host.to_owned(),
            range,
        })?;
    }
    Ok(())
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        Box::pin(async move {
            let addrs = this.lookup(name.as_str()).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter()
            .map(|ip| SocketAddr::new(ip.parse().unwrap(), 443))
            .collect()
    }

    #[test]
    fn all_public_permitted() {
        let p = FetchPolicy::default();
        assert!(check_all(
            &p,
            "example.com",
            &addrs(&["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
        )
        .is_ok());
    }

    #[test]
    fn one_private_among_public_refused() {
        let p = FetchPolicy::default();
        let e = check_all(
            &p,
            "rebind.example",
            &addrs(&["93.184.215.14", "169.254.169.254"]),
        )
        .unwrap_err();
        assert_eq!(e.host, "rebind.example");
        assert!(e.range.starts_with("link-local"), "{}", e.range);
    }

    #[test]
    fn loopback_only_with_allow_loopback() {
        let local = FetchPolicy {
            allow_loopback: true,
            ..FetchPolicy::default()
        };
        assert!(check_all(&local, "localhost", &addrs(&["127.0.0.1", "::1"])).is_ok());
        assert!(check_all(&local, "x", &addrs(&["127.0.0.1", "10.1.2.3"])).is_err());
        assert!(check_all(&FetchPolicy::default(), "localhost", &addrs(&["127.0.0.1"])).is_err());
    }

    #[tokio::test]
    async fn localhost_deployed_refused_by_resolver() {
        let r = GuardedResolver::new(FetchPolicy::default());
        let e = r.lookup("localhost").await.unwrap_err();
        let refused = e.downcast_ref::<AddressRefused>().unwrap();
        assert_eq!(refused.host, "localhost");
        assert_eq!(refused.range, "loopback");
    }

    #[tokio::test]
    async fn localhost_allow_loopback_resolved() {
        let r = GuardedResolver::new(FetchPolicy {
            allow_loopback: true,
            ..FetchPolicy::default()
        });
        let found = r.lookup("localhost").await.unwrap();
        assert!(found.iter().all(|a| a.ip().is_loopback()), "{found:?}");
    }

    #[tokio::test]
    async fn ip_literal_name_checked_too() {
        // Should a connector ever hand an IP literal to the resolver, it is still judged.
        let r = GuardedResolver::new(FetchPolicy {
            allow_loopback: true,
            ..FetchPolicy::default()
        });
        let e = r.lookup("169.254.169.254").await.unwrap_err();
        assert!(e.downcast_ref::<AddressRefused>().is_some(), "{e}");
    }
}
