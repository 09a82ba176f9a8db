//! Token reuse: the cache key, the fingerprint that must match before a cached token
//! is handed out again, and the freshness rule.
//!
//! A cached token lives in the directory (DynamoDB: one item per client, presented
//! secret, audience and requested scopes, expiring through its `ttl`), so every
//! function instance shares it and it is read in the same round trip as the client,
//! grant and API. It is only returned when its stored [`Fingerprint`] equals the one
//! computed from what was just read: the client (its `version`, status, secrets,
//! organization, metadata), the grant's scopes, the API (scopes, lifetime, profile,
//! reuse policy), the issuer, the active signing key (`kid`) and the claims hook's
//! identity (function and operator epoch). Any change to those re-signs.
//! Authentication always runs first, so a disabled client or a wrong secret is refused
//! before the cache is looked at.
//!
//! A cached access token is a live bearer credential: at rest it is sealed with
//! AES-256-GCM under a key derived from the secret the caller presents ([`seal`]), so a
//! reader of the table, an export or a backup learns nothing usable; it is never
//! logged (the [`CachedToken`] `Debug` is redacted).

mod seal;

use sha2::{Digest as _, Sha256};

pub use seal::{SealedToken, NONCE_LEN};

use crate::model::{ActiveKey, Api, Client, Grant, Reuse};
use crate::types::{Audience, ClientId, ClientSecret, ScopeSet};

/// The scope part of a [`ReuseKey`] when the request named no scope (every granted
/// scope, RFC 6749 §3.3). `"` (%x22) is outside NQCHAR, so no scope, and no
/// space-delimited list of scopes, can be this value.
pub const ALL_GRANTED: &str = "\"";

/// What a token was asked for, and by which secret: the audience and the requested
/// scopes in canonical (sorted) form, or [`ALL_GRANTED`] when the request named none,
/// plus the keys derived from the presented secret ([`seal`]). Two requests with the
/// same key would get tokens with the same claims, up to `iat`, `exp` and `jti`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ReuseKey {
    canonical: String,
    keys: seal::SecretKeys,
}

impl std::fmt::Debug for ReuseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReuseKey")
            .field("canonical", &self.canonical)
            .finish_non_exhaustive()
    }
}

impl ReuseKey {
    /// The key of a request by `client_id` presenting `secret` for `audience` with
    /// `requested` scopes (`None`: omitted).
    pub fn new(
        client_id: &ClientId,
        secret: &ClientSecret,
        audience: &Audience,
        requested: Option<&ScopeSet>,
    ) -> Self {
        Self::from_credential(client_id, secret.expose(), audience, requested)
    }

    /// The key of a request by `client_id` presenting `credential` (a secret, or an
    /// external issuer's token for a federated client) for `audience` with
    /// `requested` scopes (`None`: omitted).
    pub fn from_credential(
        client_id: &ClientId,
        credential: &str,
        audience: &Audience,
        requested: Option<&ScopeSet>,
    ) -> Self {
        let scopes = requested.map_or_else(|| ALL_GRANTED.to_owned(), ScopeSet::to_wire);
        // A newline cannot occur in a scope (RFC 6749 §3.3 NQCHAR) and separates the two
        // unambiguously even if an audience contained one.
        let canonical = format!("{audience}\n{scopes}");
        let keys = seal::SecretKeys::from_credential(credential, client_id, &canonical);
        Self { canonical, keys }
    }

    /// The canonical form, `<audience>\n<sorted scopes or ALL_GRANTED>`.
    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    /// The item's storage key: 32 bytes derived (HKDF-SHA256) from the presented secret,
    /// the client and the canonical form. Fixed length whatever the audience and scopes
    /// (a DynamoDB sort key holds at most 1024 bytes), and unknown to anyone who does
    /// not hold the secret, so a rotated or revoked secret's entries are unreachable.
    pub fn digest(&self) -> [u8; 32] {
        self.keys.slot
    }

    /// Seals `token` for storage ([`seal`]); `None` if the cipher refuses.
    pub fn seal(&self, client_id: &ClientId, token: &CachedToken) -> Option<SealedToken> {
        self.keys.seal(client_id, token)
    }

    /// Opens a stored token; `None` unless it was sealed under this key for `client_id`
    /// with every bound attribute unchanged.
    pub fn open(&self, client_id: &ClientId, sealed: &SealedToken) -> Option<CachedToken> {
        self.keys.open(client_id, sealed)
    }
}

/// SHA-256 over everything a token's contents or validity depends on besides the
/// clock (see the module documentation).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Parses [`Self::to_hex`]'s output.
    pub fn from_hex(s: &str) -> Option<Self> {
        if s.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            let pair = s.get(2 * i..2 * i + 2)?;
            *byte = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(Self(out))
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

/// A token kept for reuse: what the response needs and when it was signed.
#[derive(Clone, PartialEq, Eq)]
pub struct CachedToken {
    /// The signed JWT: a live bearer credential.
    pub access_token: String,
    /// The granted scopes as answered (RFC 6749 §5.1 `scope`), hook narrowing included.
    pub scope: String,
    /// The token's `iat` (unix seconds).
    pub issued_at: u64,
    /// The token's `exp` (unix seconds); also the item's expiry in the store.
    pub expires_at: u64,
    /// The fingerprint it was signed under.
    pub fingerprint: Fingerprint,
}

impl std::fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedToken")
            .field("access_token", &"<redacted>")
            .field("scope", &self.scope)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

/// What the fingerprint covers.
#[derive(Clone, Copy, Debug)]
pub struct FingerprintInput<'a> {
    /// The deployment's issuer (`iss`).
    pub issuer: &'a str,
    /// The request's key.
    pub key: &'a ReuseKey,
    /// The authenticated client.
    pub client: &'a Client,
    /// Its grant for the audience.
    pub grant: &'a Grant,
    /// The API.
    pub api: &'a Api,
    /// The key that would sign now.
    pub signing_key: &'a ActiveKey,
    /// The claims hook's identity ([`crate::ports::ClaimsHook::identity`]: its function
    /// and the operator's epoch), `None` without a hook.
    pub hook: Option<&'a str>,
}

/// Length-prefixed, so no two different inputs hash the same byte stream.
fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

fn number(h: &mut Sha256, n: u64) {
    h.update(n.to_le_bytes());
}

/// Computes the fingerprint. `last_used_at` is deliberately left out: recording a
/// secret's use must not invalidate the cache.
pub fn fingerprint(input: &FingerprintInput<'_>) -> Fingerprint {
    let mut h = Sha256::new();
    field(&mut h, b"m2m-auth reuse v3");
    field(&mut h, input.issuer.as_bytes());
    field(&mut h, input.key.as_str().as_bytes());

    let c = input.client;
    field(&mut h, c.id.as_str().as_bytes());
    number(&mut h, c.version);
    field(&mut h, c.status.as_str().as_bytes());
    field(&mut h, c.name.as_bytes());
    match &c.org_id {
        Some(org) => field(&mut h, org.as_str().as_bytes()),
        None => number(&mut h, u64::MAX),
    }
    number(&mut h, c.metadata.len() as u64);
    for (k, v) in &c.metadata {
        field(&mut h, k.as_bytes());
        field(&mut h, v.as_bytes());
    }
    number(&mut h, c.secrets.len() as u64);
    for s in &c.secrets {
        field(&mut h, s.id.as_str().as_bytes());
        field(&mut h, &s.hash);
        number(&mut h, s.created_at);
        number(&mut h, s.expires_at.unwrap_or(u64::MAX));
    }

    number(&mut h, c.not_before.unwrap_or(0));
    number(&mut h, c.revocation_epoch);

    field(&mut h, input.grant.scopes.to_wire().as_bytes());

    let a = input.api;
    field(&mut h, a.identifier.as_str().as_bytes());
    field(&mut h, a.scopes.to_wire().as_bytes());
    number(&mut h, a.effective_lifetime());
    field(&mut h, a.profile.as_str().as_bytes());
    match a.reuse {
        Reuse::Off => number(&mut h, 0),
        Reuse::On {
            min_remaining_pct,
            with_hook,
        } => {
            number(&mut h, u64::from(min_remaining_pct));
            number(&mut h, u64::from(with_hook));
        }
    }

    field(&mut h, input.signing_key.alg.as_str().as_bytes());
    field(&mut h, input.signing_key.kid.as_str().as_bytes());
    match input.hook {
        Some(identity) => field(&mut h, identity.as_bytes()),
        None => number(&mut h, u64::MAX),
    }
    Fingerprint(h.finalize().into())
}

/// How long the write that keeps a freshly signed token for reuse may take, in
/// milliseconds. The token is already signed: a slow cache write must not push the
/// request past its budget, and losing the write only costs the next request a
/// signature.
pub const REUSE_WRITE_BUDGET_MS: u64 = 200;

/// The `expires_in` to answer with (RFC 6749 §5.1: the remaining lifetime in
/// seconds) when `cached` may be handed out at `now`: its fingerprint matches
/// `expected` and more than `min_remaining_pct` percent of its lifetime is left.
pub fn reusable_expires_in(
    cached: &CachedToken,
    expected: &Fingerprint,
    now: u64,
    min_remaining_pct: u8,
) -> Option<u64> {
    if cached.fingerprint != *expected || cached.issued_at > now {
        return None;
    }
    let lifetime = cached.expires_at.checked_sub(cached.issued_at)?;
    let remaining = cached.expires_at.checked_sub(now)?;
    // remaining / lifetime > pct / 100, in integers (no overflow: both ≤ 86 400 in
    // practice, u128 regardless).
    let fresh = u128::from(remaining) * 100 > u128::from(lifetime) * u128::from(min_remaining_pct);
    (fresh && remaining > 0).then_some(remaining)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::{Alg, ClientStatus, Profile};
    use crate::testing::fixtures::{self, API, CLIENT_ID, CLIENT_SECRET, GRANTED_SCOPES, NOW};
    use crate::types::{ClientId, ClientSecret, Kid};

    fn key() -> ActiveKey {
        ActiveKey {
            alg: Alg::RS256,
            kid: Kid::new("k1"),
            handle: "h".into(),
        }
    }

    fn fp_with(
        change: impl FnOnce(&mut Client, &mut Grant, &mut Api, &mut ActiveKey),
    ) -> Fingerprint {
        let mut client = fixtures::client(CLIENT_ID, CLIENT_SECRET);
        let mut grant = fixtures::grant(CLIENT_ID, API, GRANTED_SCOPES);
        let mut api = fixtures::api(API, fixtures::API_SCOPES);
        let mut k = key();
        change(&mut client, &mut grant, &mut api, &mut k);
        let rk = ReuseKey::new(
            &ClientId::new(CLIENT_ID),
            &ClientSecret::new(CLIENT_SECRET),
            &Audience::new(API),
            None,
        );
        fingerprint(&FingerprintInput {
            issuer: fixtures::ISSUER,
            key: &rk,
            client: &client,
            grant: &grant,
            api: &api,
            signing_key: &k,
            hook: None,
        })
    }

    fn cached(fp: Fingerprint) -> CachedToken {
        CachedToken {
            access_token: "t".into(),
            scope: "s".into(),
            issued_at: NOW,
            expires_at: NOW + 3600,
            fingerprint: fp,
        }
    }

    fn rk(secret: &str, scopes: Option<&str>) -> ReuseKey {
        ReuseKey::new(
            &ClientId::new(CLIENT_ID),
            &ClientSecret::new(secret),
            &Audience::new(API),
            scopes.and_then(ScopeSet::parse).as_ref(),
        )
    }

    #[test]
    fn reuse_key_sorted_scopes_equal() {
        let a = rk(CLIENT_SECRET, Some("b a"));
        let b = rk(CLIENT_SECRET, Some("a  b"));
        assert_eq!(a, b);
        assert_eq!(a.as_str(), format!("{API}\na b"));
        assert_ne!(a, rk(CLIENT_SECRET, None));
        assert_ne!(a.digest(), rk(CLIENT_SECRET, None).digest());
    }

    #[test]
    fn all_granted_marker_not_a_scope() {
        // The marker of "no scope requested" can be neither one scope nor a list.
        assert!(ScopeSet::parse(ALL_GRANTED).is_none());
        assert!(ScopeSet::parse(&format!("a {ALL_GRANTED}")).is_none());
        assert_ne!(
            rk(CLIENT_SECRET, None).as_str(),
            rk(CLIENT_SECRET, Some("*")).as_str()
        );
        assert_ne!(
            rk(CLIENT_SECRET, None).digest(),
            rk(CLIENT_SECRET, Some("*")).digest()
        );
    }

    #[test]
    fn reuse_key_follows_presented_secret() {
        // Another (rotated, revoked) secret addresses another item and cannot open it.
        let a = rk(CLIENT_SECRET, None);
        let b = rk("m2m_sk_other", None);
        assert_eq!(a.as_str(), b.as_str());
        assert_ne!(a.digest(), b.digest());
        let sealed = a
            .seal(&ClientId::new(CLIENT_ID), &cached(fp_with(|_, _, _, _| {})))
            .unwrap();
        assert!(b.open(&ClientId::new(CLIENT_ID), &sealed).is_none());
        assert!(a.open(&ClientId::new(CLIENT_ID), &sealed).is_some());
        assert!(!format!("{a:?}").contains(&format!("{:?}", a.digest())));
    }

    #[test]
    fn fingerprint_changes_with_hook_identity() {
        let with = |hook: Option<&str>| {
            let client = fixtures::client(CLIENT_ID, CLIENT_SECRET);
            let grant = fixtures::grant(CLIENT_ID, API, GRANTED_SCOPES);
            let api = fixtures::api(API, fixtures::API_SCOPES);
            let k = key();
            let rk = rk(CLIENT_SECRET, None);
            fingerprint(&FingerprintInput {
                issuer: fixtures::ISSUER,
                key: &rk,
                client: &client,
                grant: &grant,
                api: &api,
                signing_key: &k,
                hook,
            })
        };
        let none = with(None);
        let a = with(Some("arn:aws:lambda:eu-west-1:1:function:a\n1"));
        let b = with(Some("arn:aws:lambda:eu-west-1:1:function:b\n1"));
        let a2 = with(Some("arn:aws:lambda:eu-west-1:1:function:a\n2"));
        assert!(none != a && a != b && a != a2 && none != with(Some("")));
    }

    #[test]
    fn fingerprint_stable_for_same_inputs() {
        assert_eq!(fp_with(|_, _, _, _| {}), fp_with(|_, _, _, _| {}));
    }

    #[test]
    fn fingerprint_ignores_last_used() {
        let base = fp_with(|_, _, _, _| {});
        assert_eq!(
            base,
            fp_with(|c, _, _, _| c.secrets[0].last_used_at = Some(NOW))
        );
    }

    #[test]
    fn fingerprint_changes_with_each_input() {
        let base = fp_with(|_, _, _, _| {});
        type Change = Box<dyn Fn(&mut Client, &mut Grant, &mut Api, &mut ActiveKey)>;
        let changes: Vec<Change> = vec![
            Box::new(|c, _, _, _| c.version += 1),
            Box::new(|c, _, _, _| c.status = ClientStatus::Disabled),
            Box::new(|c, _, _, _| c.secrets.push(fixtures::stored_secret("other"))),
            Box::new(|c, _, _, _| c.secrets[0].expires_at = Some(NOW + 5)),
            Box::new(|c, _, _, _| c.org_id = Some(crate::types::OrgId::new("o"))),
            Box::new(|c, _, _, _| {
                c.metadata.insert("k".into(), "v".into());
            }),
            Box::new(|_, g, _, _| g.scopes = fixtures::scopes(&["read:orders"])),
            Box::new(|_, _, a, _| a.token_lifetime = 60),
            Box::new(|_, _, a, _| a.profile = Profile::Auth0),
            Box::new(|_, _, a, _| a.scopes = fixtures::scopes(&["read:orders"])),
            Box::new(|_, _, a, _| a.reuse = Reuse::Off),
            Box::new(|_, _, _, k| k.kid = Kid::new("k2")),
            Box::new(|_, _, _, k| k.alg = Alg::ES256),
        ];
        for (i, change) in changes.iter().enumerate() {
            assert_ne!(base, fp_with(change), "change {i}");
        }
    }

    #[test]
    fn fingerprint_hex_round_trip_equal() {
        let fp = fp_with(|_, _, _, _| {});
        assert_eq!(Fingerprint::from_hex(&fp.to_hex()), Some(fp));
        assert_eq!(Fingerprint::from_hex("zz"), None);
        assert_eq!(Fingerprint::from_hex(&"g".repeat(64)), None);
    }

    #[test]
    fn more_than_half_left_reused() {
        let fp = fp_with(|_, _, _, _| {});
        assert_eq!(reusable_expires_in(&cached(fp), &fp, NOW, 50), Some(3600));
        assert_eq!(
            reusable_expires_in(&cached(fp), &fp, NOW + 1799, 50),
            Some(1801)
        );
    }

    #[test]
    fn half_or_less_left_not_reused() {
        let fp = fp_with(|_, _, _, _| {});
        assert_eq!(reusable_expires_in(&cached(fp), &fp, NOW + 1800, 50), None);
        assert_eq!(reusable_expires_in(&cached(fp), &fp, NOW + 3600, 1), None);
        assert_eq!(reusable_expires_in(&cached(fp), &fp, NOW + 9999, 1), None);
    }

    #[test]
    fn other_fingerprint_not_reused() {
        let fp = fp_with(|_, _, _, _| {});
        let other = fp_with(|c, _, _, _| c.version += 1);
        assert_eq!(reusable_expires_in(&cached(fp), &other, NOW, 50), None);
    }

    #[test]
    fn issued_in_future_not_reused() {
        let fp = fp_with(|_, _, _, _| {});
        assert_eq!(reusable_expires_in(&cached(fp), &fp, NOW - 1, 50), None);
    }

    #[test]
    fn cached_token_debug_redacted() {
        let mut c = cached(fp_with(|_, _, _, _| {}));
        c.access_token = "eyJsecret".into();
        assert!(!format!("{c:?}").contains("eyJsecret"));
    }

    #[test]
    fn hook_disables_default_reuse() {
        assert_eq!(Reuse::default().min_remaining_pct(false), Some(50));
        assert_eq!(Reuse::default().min_remaining_pct(true), None);
        let opted = Reuse::On {
            min_remaining_pct: 0,
            with_hook: true,
        };
        assert_eq!(opted.min_remaining_pct(true), Some(1));
        assert_eq!(Reuse::Off.min_remaining_pct(false), None);
    }
}
