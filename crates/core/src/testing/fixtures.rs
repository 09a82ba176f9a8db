//! Fixtures: a fixed clock, canonical ids, and builders of APIs, clients, secrets and
//! grants with sensible defaults, so a test states only what it is about.

use std::collections::BTreeMap;

use super::InMemoryDirectory;
use crate::model::{
    Api, Client, ClientStatus, Grant, Profile, Reuse, StoredSecret, DEFAULT_TOKEN_LIFETIME,
};
use crate::secret::hash_secret;
use crate::types::{Audience, ClientId, ClientSecret, OrgId, ScopeSet, SecretId};

/// The fixed "now" of every test: 2023-11-14T22:13:20Z, in Unix seconds.
pub const NOW: u64 = 1_700_000_000;
/// One day in seconds.
pub const DAY: u64 = 86_400;
/// The issuer URL tests use.
pub const ISSUER: &str = "https://auth.example.com/";
/// The API (audience) of [`directory`].
pub const API: &str = "https://api.example.com";
/// The scopes [`API`] defines in [`directory`].
pub const API_SCOPES: &[&str] = &["read:orders", "write:orders", "admin"];
/// The client of [`directory`].
pub const CLIENT_ID: &str = "client-1";
/// [`CLIENT_ID`]'s secret.
pub const CLIENT_SECRET: &str = "m2m_sk_client-1-secret";
/// The scopes [`CLIENT_ID`] is granted on [`API`] in [`directory`].
pub const GRANTED_SCOPES: &[&str] = &["read:orders", "write:orders"];

/// A directory with [`API`], [`CLIENT_ID`] (secret [`CLIENT_SECRET`]) and its grant
/// of [`GRANTED_SCOPES`]: the happy path.
pub fn directory() -> InMemoryDirectory {
    InMemoryDirectory::new()
        .with_api(api(API, API_SCOPES))
        .with_client(client(CLIENT_ID, CLIENT_SECRET))
        .with_grant(grant(CLIENT_ID, API, GRANTED_SCOPES))
}

/// Like [`directory`], with token reuse off for [`API`]: every request signs afresh
/// (for tests about fresh tokens, e.g. unique `jti`s).
pub fn directory_without_reuse() -> InMemoryDirectory {
    InMemoryDirectory::new()
        .with_api(Api {
            reuse: Reuse::Off,
            ..api(API, API_SCOPES)
        })
        .with_client(client(CLIENT_ID, CLIENT_SECRET))
        .with_grant(grant(CLIENT_ID, API, GRANTED_SCOPES))
}

/// A scope set.
pub fn scopes(scopes: &[&str]) -> ScopeSet {
    scopes.iter().copied().collect()
}

/// An RFC 9068-profile API named after its identifier, with the default lifetime and
/// the default token reuse (on at 50 %, off with a hook).
pub fn api(identifier: &str, api_scopes: &[&str]) -> Api {
    Api {
        identifier: Audience::new(identifier),
        name: identifier.to_owned(),
        scopes: scopes(api_scopes),
        token_lifetime: DEFAULT_TOKEN_LIFETIME,
        profile: Profile::Rfc9068,
        reuse: Reuse::default(),
    }
}

/// Like [`api`], with the Auth0-compatible profile.
pub fn auth0_api(identifier: &str, api_scopes: &[&str]) -> Api {
    Api {
        profile: Profile::Auth0,
        ..api(identifier, api_scopes)
    }
}

/// The stored form of `secret` with no expiry, created a day before [`NOW`]. Its id
/// is derived from the hash, so it is stable across runs.
pub fn stored_secret(secret: &str) -> StoredSecret {
    let hash = hash_secret(&ClientSecret::new(secret));
    let id = format!(
        "sec_{:02x}{:02x}{:02x}{:02x}",
        hash[0], hash[1], hash[2], hash[3]
    );
    StoredSecret {
        id: SecretId::new(id),
        hash,
        created_at: NOW - DAY,
        expires_at: None,
        last_used_at: None,
    }
}

/// Like [`stored_secret`], expiring at `expires_at`.
pub fn expiring_secret(secret: &str, expires_at: u64) -> StoredSecret {
    StoredSecret {
        expires_at: Some(expires_at),
        ..stored_secret(secret)
    }
}

/// An active client named after its id, with no organization or metadata, holding
/// one secret (only its SHA-256 hash is stored).
pub fn client(id: &str, secret: &str) -> Client {
    Client {
        id: ClientId::new(id),
        name: id.to_owned(),
        org_id: None,
        status: ClientStatus::Active,
        metadata: BTreeMap::new(),
        secrets: vec![stored_secret(secret)],
        keys: Vec::new(),
        jwks_uri: None,
        quota: None,
        org_quota: None,
        not_before: None,
        revocation_epoch: 0,
        introspect: false,
        version: 1,
    }
}

/// Like [`client`], belonging to organization `org`.
pub fn client_in_org(id: &str, secret: &str, org: &str) -> Client {
    Client {
        org_id: Some(OrgId::new(org)),
        ..client(id, secret)
    }
}

/// Like [`client`], disabled.
pub fn disabled_client(id: &str, secret: &str) -> Client {
    Client {
        status: ClientStatus::Disabled,
        ..client(id, secret)
    }
}

/// Like [`client`], holding several secrets (e.g. during a rotation).
pub fn client_with_secrets(id: &str, secrets: Vec<StoredSecret>) -> Client {
    Client {
        secrets,
        ..client(id, "")
    }
}

/// A grant of `granted` on `audience` to `client_id`.
pub fn grant(client_id: &str, audience: &str, granted: &[&str]) -> Grant {
    Grant {
        client_id: ClientId::new(client_id),
        audience: Audience::new(audience),
        scopes: scopes(granted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::verify_secret;

    #[test]
    fn client_secret_verifies_against_fixture() {
        let c = client(CLIENT_ID, CLIENT_SECRET);
        assert!(verify_secret(&ClientSecret::new(CLIENT_SECRET), &c.secrets, NOW).is_some());
        assert!(verify_secret(&ClientSecret::new("wrong"), &c.secrets, NOW).is_none());
    }

    #[test]
    fn expiring_secret_expires() {
        let c = client_with_secrets("c", vec![expiring_secret("s", NOW + 1)]);
        assert!(verify_secret(&ClientSecret::new("s"), &c.secrets, NOW).is_some());
        assert!(verify_secret(&ClientSecret::new("s"), &c.secrets, NOW + 1).is_none());
    }

    #[test]
    fn grant_is_subset_of_api() {
        let a = api(API, API_SCOPES);
        let g = grant(CLIENT_ID, API, GRANTED_SCOPES);
        assert!(g.scopes.is_subset(&a.scopes));
        assert_eq!(auth0_api(API, &[]).profile, Profile::Auth0);
        assert!(client_in_org("c", "s", "acme").org_id.is_some());
        assert_eq!(disabled_client("c", "s").status, ClientStatus::Disabled);
    }
}
