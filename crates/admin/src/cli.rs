//! The command line (clap derive): every command and argument, with the help text
//! operators read in `m2m-admin --help` and `m2m-admin <command> --help`. Quotas,
//! token revocation, organizations and usage are in [`control`].

mod control;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use m2m_core::model::{
    Alg, Profile, DEFAULT_REUSE_MIN_REMAINING_PCT, DEFAULT_TOKEN_LIFETIME, MAX_TOKEN_LIFETIME,
};
use m2m_core::types::Scope;

pub use control::{OrgCommand, QuotaArgs, TokenCommand, UsageArgs};

const AFTER_HELP: &str = "\
Environment:
  M2M_TABLE          the directory table (or --table)
  AWS_REGION         the AWS region (us-east-1 for the local stack)
  AWS_ENDPOINT_URL   the local emulator, e.g. http://127.0.0.1:4566 (unset in AWS)
  M2M_STACK          the stack name (or --stack) for init and keys create: required
                     against AWS, `local` on a local stack

Exit status: 0 success, 2 invalid input, 3 not found, 4 refused (already exists,
in use, too early, or changed concurrently), 1 AWS or other failure.";

/// m2m-admin: manage the APIs, customer clients, grants, secrets, client keys, trust
/// rules, signing keys, revocations, quotas and usage of an m2m-auth deployment.
#[derive(Debug, Parser)]
#[command(name = "m2m-admin", version, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// Print one JSON document on stdout instead of a table (errors go to stderr as JSON).
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,

    /// The DynamoDB table holding the directory.
    #[arg(
        long,
        global = true,
        env = "M2M_TABLE",
        value_name = "NAME",
        help_heading = "Global options"
    )]
    pub table: Option<String>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// APIs (resource servers): the audiences tokens are issued for, and their scopes.
    #[command(subcommand)]
    Api(ApiCommand),
    /// Clients: one per customer backend, each with its own secret.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Grants: which scopes of which API a client may obtain.
    #[command(subcommand)]
    Grant(GrantCommand),
    /// Client secrets: rotation with a grace period, and revocation.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// A client's own public keys, for private_key_jwt (RFC 7523): the client signs a
    /// short-lived assertion instead of sending a secret.
    #[command(subcommand)]
    ClientKey(ClientKeyCommand),
    /// Trust rules (workload identity federation): a client accepts a token from an
    /// external issuer (a Kubernetes cluster, GitHub Actions) whose subject, audience
    /// and claims match a rule, instead of a secret.
    #[command(subcommand)]
    Trust(TrustCommand),
    /// Signing keys (KMS): create, activate, retire, list, delete.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Access tokens already issued: revoke one by its jti (RFC 7009).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Organizations (customers): the quota their clients share, offboarding.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Tokens issued per hour to a client or an organization, for billing and support.
    Usage(UsageArgs),
    /// Prepare a fresh deployment or local stack: the table (local only) and a first
    /// active signing key. Safe to run again.
    Init(InitArgs),
}

/// `m2m-admin api ...`
#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Register an API.
    Create(ApiCreate),
    /// List every API.
    List,
    /// Show an API and the clients granted access to it.
    Show {
        /// The API identifier (the token's `aud`).
        identifier: String,
    },
    /// Change an API's name, scopes, token lifetime or profile.
    Update(ApiUpdate),
    /// Delete an API. Refused while clients hold grants on it, unless --force.
    Delete {
        /// The API identifier.
        identifier: String,
        /// Also delete every grant on the API (those clients lose access at once).
        #[arg(long)]
        force: bool,
    },
}

/// `m2m-admin api create`
#[derive(Debug, Args)]
pub struct ApiCreate {
    /// The API identifier, usually its base URI (https://api.example.com/): the `aud`
    /// of its tokens, and what clients send as `audience`.
    #[arg(long, value_parser = parse_identifier)]
    pub identifier: String,
    /// The scopes the API defines, comma-separated (e.g. read:orders,write:orders).
    #[arg(long, value_delimiter = ',', value_parser = parse_scope, required = true)]
    pub scopes: Vec<Scope>,
    /// A human-readable name (default: the identifier).
    #[arg(long)]
    pub name: Option<String>,
    /// Lifetime of its access tokens in seconds (at most 86400).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_TOKEN_LIFETIME,
          value_parser = clap::value_parser!(u64).range(1..=MAX_TOKEN_LIFETIME))]
    pub token_lifetime: u64,
    /// Claim layout of its tokens: RFC 9068, or Auth0-compatible.
    #[arg(long, value_enum, default_value_t = ProfileArg::Rfc9068)]
    pub profile: ProfileArg,
    /// Token reuse: a repeat request gets the token already issued while enough of its
    /// lifetime is left, instead of a new signature.
    #[arg(long, value_enum, default_value_t = OnOff::On)]
    pub reuse: OnOff,
    /// Reuse a token while more than this percentage of its lifetime is left (1-99).
    #[arg(long, value_name = "PCT", default_value_t = DEFAULT_REUSE_MIN_REMAINING_PCT,
          value_parser = clap::value_parser!(u8).range(1..=99))]
    pub reuse_min_remaining: u8,
    /// Reuse even when a claims hook is configured (the hook is then not asked again
    /// until the token is re-signed).
    #[arg(long, value_enum, value_name = "on|off", default_value_t = OnOff::Off,
          num_args = 0..=1, default_missing_value = "on")]
    pub reuse_with_hook: OnOff,
}

/// `on` or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

/// `m2m-admin api update`
#[derive(Debug, Args)]
pub struct ApiUpdate {
    /// The API identifier.
    pub identifier: String,
    /// A new name.
    #[arg(long)]
    pub name: Option<String>,
    /// Replace the scopes with these, comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = parse_scope,
          conflicts_with_all = ["add_scopes", "remove_scopes"])]
    pub scopes: Option<Vec<Scope>>,
    /// Add these scopes, comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = parse_scope)]
    pub add_scopes: Vec<Scope>,
    /// Remove these scopes, comma-separated. Grants holding them are refused unless
    /// --cascade also removes the scopes from those grants.
    #[arg(long, value_delimiter = ',', value_parser = parse_scope)]
    pub remove_scopes: Vec<Scope>,
    /// With --remove-scopes (or --scopes dropping scopes): remove them from every grant
    /// too, so adding a scope back never silently re-grants it.
    #[arg(long)]
    pub cascade: bool,
    /// A new token lifetime in seconds (at most 86400).
    #[arg(long, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=MAX_TOKEN_LIFETIME))]
    pub token_lifetime: Option<u64>,
    /// A new claim layout.
    #[arg(long, value_enum)]
    pub profile: Option<ProfileArg>,
    /// Turn token reuse on or off.
    #[arg(long, value_enum)]
    pub reuse: Option<OnOff>,
    /// Reuse a token while more than this percentage of its lifetime is left (1-99).
    #[arg(long, value_name = "PCT", value_parser = clap::value_parser!(u8).range(1..=99))]
    pub reuse_min_remaining: Option<u8>,
    /// Reuse even when a claims hook is configured.
    #[arg(long, value_enum, value_name = "on|off", num_args = 0..=1, default_missing_value = "on")]
    pub reuse_with_hook: Option<OnOff>,
}

/// `m2m-admin client ...`
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client and print its id and secret (the secret is shown only once).
    Create {
        /// A human-readable name, e.g. "Acme Corp backend".
        #[arg(long)]
        name: String,
        /// The customer organization it belongs to: the `org_id` claim of its tokens.
        #[arg(long, value_name = "ORG_ID")]
        org: Option<String>,
        /// Free-form metadata passed to the claims hook, KEY=VALUE (repeatable).
        #[arg(long, value_name = "KEY=VALUE", value_parser = parse_metadata)]
        metadata: Vec<(String, String)>,
        /// Register it without a secret: it authenticates with keys (`client-key add`),
        /// a jwks_uri (`client jwks-uri`) or trust rules (`trust add`).
        #[arg(long)]
        no_secret: bool,
    },
    /// List clients.
    List {
        /// Only the clients of this organization.
        #[arg(long, value_name = "ORG_ID")]
        org: Option<String>,
    },
    /// Show a client, its grants and its secrets' ids, ages and last use (never the
    /// secrets themselves).
    Show {
        /// The client id.
        client_id: String,
    },
    /// Stop a client from obtaining tokens (it fails exactly like an unknown client)
    /// and revoke every token it was issued (RFC 7009).
    Disable {
        /// The client id.
        client_id: String,
    },
    /// Let a disabled client obtain tokens again (tokens revoked stay revoked).
    Enable {
        /// The client id.
        client_id: String,
    },
    /// Delete a client, all its grants and all its trust rules.
    Delete {
        /// The client id.
        client_id: String,
    },
    /// Revoke every token the client was issued until now (RFC 7009): verifiers that
    /// read revocations refuse them, and the token endpoint hands none out again. The
    /// client keeps working: it gets new tokens.
    RevokeTokens {
        /// The client id.
        #[arg(long, value_name = "CLIENT_ID")]
        client: String,
    },
    /// Allow or deny the client the introspection endpoint (RFC 7662): a resource
    /// server's own client asks it whether a token is active.
    #[command(group(ArgGroup::new("permission").required(true).args(["allow", "deny"])))]
    Introspection {
        /// The client id.
        #[arg(long, value_name = "CLIENT_ID")]
        client: String,
        /// Allow it.
        #[arg(long)]
        allow: bool,
        /// Deny it.
        #[arg(long)]
        deny: bool,
    },
    /// Set or clear the client's own quota on token requests (HTTP 429 over it, with
    /// Retry-After); its organization's quota applies as well.
    Quota {
        /// The client id.
        #[arg(long, value_name = "CLIENT_ID")]
        client: String,
        /// The limits.
        #[command(flatten)]
        quota: QuotaArgs,
    },
    /// Set or clear the URL where the client publishes its public keys (a JWK Set,
    /// OpenID Connect Core §9), instead of registering them with `client-key add`.
    #[command(group(ArgGroup::new("change").required(true).args(["set", "clear"])))]
    JwksUri {
        /// The client id.
        #[arg(long, value_name = "CLIENT_ID")]
        client: String,
        /// The https URL of the client's JWK Set (plain http only to 127.0.0.1,
        /// localhost or [::1]).
        #[arg(long, value_name = "URL")]
        set: Option<String>,
        /// Remove the jwks_uri.
        #[arg(long)]
        clear: bool,
    },
}

/// `m2m-admin client-key ...`
#[derive(Debug, Subcommand)]
pub enum ClientKeyCommand {
    /// Register a public key (a JWK: RSA of 2048 bits or more, EC P-256 or Ed25519;
    /// never a private key) and print its kid.
    Add {
        /// The client id.
        #[arg(long, value_name = "CLIENT_ID")]
        client: String,
        /// A file holding the public JWK as JSON (`-` reads standard input).
        #[arg(long, value_name = "PATH")]
        jwk_file: String,
        /// When the key stops working, from now: 90s, 30m, 24h, 30d (default: never).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        expires_in: Option<u64>,
    },
    /// List a client's keys: kid, type, algorithm, dates (never the key itself).
    List {
        /// The client id.
        #[arg(long, value_name = "CLIENT_ID")]
        client: String,
    },
    /// Remove a key at once.
    Remove {
        /// The client id.
        #[arg(long, value_name = "CLIENT_ID")]
        client: String,
        /// The key's kid; it may begin with a dash.
        #[arg(long, value_name = "KID", allow_hyphen_values = true)]
        kid: String,
    },
    /// Set when a key stops working: after the customer has switched to its new key,
    /// expire the old one (or, with --never, keep it without end).
    #[command(group(ArgGroup::new("when").required(true).args(["in", "never"])))]
    Expire {
        /// The client id.
        #[arg(long, value_name = "CLIENT_ID")]
        client: String,
        /// The key's kid; it may begin with a dash.
        #[arg(long, value_name = "KID", allow_hyphen_values = true)]
        kid: String,
        /// From now: 0 (at once), 90s, 30m, 24h, 7d.
        #[arg(long = "in", value_name = "DURATION", value_parser = parse_duration)]
        r#in: Option<u64>,
        /// Remove the key's expiry.
        #[arg(long)]
        never: bool,
    },
}

/// `m2m-admin trust ...`
#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Trust tokens of an external issuer for a client when they match: its subject
    /// (exactly, or a pattern where `*` is any run of characters and `?` one), its
    /// audience, and every --claim / --claim-glob. Prints the rule's id.
    #[command(group(ArgGroup::new("sub").required(true).args(["subject", "subject_glob"])))]
    Add {
        /// The client id.
        #[arg(long, value_name = "CLIENT_ID")]
        client: String,
        /// The issuer, exactly as its tokens' `iss` reads (an https URL), e.g.
        /// https://token.actions.githubusercontent.com.
        #[arg(long, value_name = "URL")]
        issuer: String,
        /// The exact `sub`, e.g. system:serviceaccount:NAMESPACE:NAME.
        #[arg(long, value_name = "SUB")]
        subject: Option<String>,
        /// A pattern the whole `sub` must match, e.g. repo:OWNER/REPO:ref:refs/heads/*.
        #[arg(long, value_name = "PATTERN")]
        subject_glob: Option<String>,
        /// The audience the token must carry (one of its `aud` values).
        #[arg(long, value_name = "AUDIENCE")]
        audience: String,
        /// A claim that must equal VALUE, NAME=VALUE (repeatable).
        #[arg(long = "claim", value_name = "NAME=VALUE", value_parser = parse_claim)]
        claims: Vec<(String, String)>,
        /// A claim that must match PATTERN, NAME=PATTERN (repeatable).
        #[arg(long = "claim-glob", value_name = "NAME=PATTERN", value_parser = parse_claim)]
        claim_globs: Vec<(String, String)>,
        /// Free text for operators (at most 500 characters).
        #[arg(long)]
        description: Option<String>,
    },
    /// List a client's trust rules, a page at a time.
    List {
        /// The client id.
        #[arg(long, value_name = "CLIENT_ID")]
        client: String,
        /// Rules per page (1-100).
        #[arg(long, value_name = "N", default_value_t = 50,
              value_parser = clap::value_parser!(u16).range(1..=100))]
        limit: u16,
        /// Continue after this cursor (the previous page's next_cursor).
        #[arg(long, value_name = "CURSOR")]
        after: Option<String>,
    },
    /// Remove a trust rule at once.
    Remove {
        /// The client id.
        #[arg(long, value_name = "CLIENT_ID")]
        client: String,
        /// The rule's id (tr_...); it may begin with a dash.
        #[arg(long, value_name = "RULE_ID", allow_hyphen_values = true)]
        rule: String,
    },
}

/// `m2m-admin grant ...`
#[derive(Debug, Subcommand)]
pub enum GrantCommand {
    /// Let a client obtain scopes of an API (added to any it already holds there).
    Add {
        /// The client id.
        #[arg(long, value_name = "CLIENT_ID")]
        client: String,
        /// The API identifier.
        #[arg(long, value_name = "IDENTIFIER")]
        api: String,
        /// Scopes to grant, comma-separated; each must be defined by the API.
        #[arg(long, value_delimiter = ',', value_parser = parse_scope, required = true)]
        scopes: Vec<Scope>,
    },
    /// Take scopes away from a client, or (without --scopes) its whole grant on an API.
    Remove {
        /// The client id.
        #[arg(long, value_name = "CLIENT_ID")]
        client: String,
        /// The API identifier.
        #[arg(long, value_name = "IDENTIFIER")]
        api: String,
        /// Scopes to take away, comma-separated (default: all of them).
        #[arg(long, value_delimiter = ',', value_parser = parse_scope)]
        scopes: Vec<Scope>,
    },
    /// List a client's grants.
    List {
        /// The client id.
        #[arg(long, value_name = "CLIENT_ID")]
        client: String,
    },
}

/// `m2m-admin secret ...`
#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Issue a new secret (printed once) and let the older ones expire after a grace
    /// period, so callers switch over without a failed request.
    Rotate {
        /// The client id.
        #[arg(long, value_name = "CLIENT_ID")]
        client: String,
        /// How long the older secrets keep working: 0, 90s, 30m, 24h, 7d.
        #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration)]
        grace: u64,
    },
    /// Revoke one secret at once (see its id in `client show`).
    Revoke {
        /// The client id.
        #[arg(long, value_name = "CLIENT_ID")]
        client: String,
        /// The secret's id (sec_...).
        #[arg(long, value_name = "SECRET_ID")]
        secret_id: String,
    },
}

/// `m2m-admin keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a KMS signing key and publish it in the JWKS as `pending`.
    Create(KeyCreate),
    /// Make a pending key the one that signs; the previously active key is retired
    /// (still published until its tokens have expired).
    Activate {
        /// The key id (kid); it may begin with a dash.
        #[arg(allow_hyphen_values = true)]
        kid: String,
        /// Activate even if the key has been published for less than the JWKS cache
        /// lifetime (360 s: 60 s in the JWKS function, 300 s max-age): verifiers with a cached
        /// JWKS may then reject new tokens.
        #[arg(long)]
        force: bool,
    },
    /// Retire a key: it stops signing and stays published for 24 h.
    Retire {
        /// The key id (kid); it may begin with a dash.
        #[arg(allow_hyphen_values = true)]
        kid: String,
        /// Allow retiring the active key, which leaves no active key: the token
        /// function keeps signing with it for at most 10 minutes, then refuses to sign
        /// until a key is activated (M2M_SIGNING_KEY signs only while the registry is
        /// empty).
        #[arg(long)]
        force: bool,
    },
    /// Revoke a compromised key at once: it is removed from the JWKS and never signs
    /// again. Revoking the active key activates a pending key in the same step.
    Revoke {
        /// The key id (kid); it may begin with a dash.
        #[arg(allow_hyphen_values = true)]
        kid: String,
        /// The pending key to activate in its place (needed when several are pending).
        #[arg(long, value_name = "KID", allow_hyphen_values = true)]
        activate: Option<String>,
        /// Revoke the active key even with no pending key to take over: no token is
        /// issued until a key is activated.
        #[arg(long)]
        force: bool,
    },
    /// List signing keys, their state and whether the JWKS still publishes them.
    List,
    /// Remove a retired key whose tokens have all expired, and schedule its KMS key
    /// for deletion.
    Delete {
        /// The key id (kid); it may begin with a dash.
        #[arg(allow_hyphen_values = true)]
        kid: String,
        /// Days before KMS deletes the key material (7 to 30); it can be cancelled until
        /// then with `aws kms cancel-key-deletion`.
        #[arg(long, value_name = "DAYS", default_value_t = 30,
              value_parser = clap::value_parser!(i32).range(7..=30))]
        pending_days: i32,
    },
}

/// `m2m-admin keys create`
#[derive(Debug, Args)]
pub struct KeyCreate {
    /// Signing algorithm: RS256 (KMS RSA_2048) or ES256 (KMS ECC_NIST_P256).
    #[arg(long, value_enum, default_value_t = AlgArg::Rs256, ignore_case = true)]
    pub alg: AlgArg,
    /// The CloudFormation stack name: tagged on the KMS key as m2m-auth:stack, and its
    /// key policy lets only that stack's token role sign. Required against AWS; the
    /// local stack (AWS_ENDPOINT_URL set) defaults to `local`.
    #[arg(long, env = "M2M_STACK", value_name = "NAME")]
    pub stack: Option<String>,
}

/// `m2m-admin init`
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The first key's algorithm, if one has to be created (local stack only: a
    /// deployed stack's first key is the template's RS256 key).
    #[arg(long, value_enum, default_value_t = AlgArg::Rs256, ignore_case = true)]
    pub alg: AlgArg,
    /// The CloudFormation stack name given to `sam deploy`: `init` registers that
    /// stack's signing key (alias/m2m-auth/NAME) as the active key. Required against
    /// AWS; the local stack (AWS_ENDPOINT_URL set) defaults to `local`.
    #[arg(long, env = "M2M_STACK", value_name = "NAME")]
    pub stack: Option<String>,
}

/// A token profile on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProfileArg {
    /// RFC 9068 JWT access tokens (typ at+jwt, sub = client id).
    Rfc9068,
    /// Auth0-compatible (sub = <client id>@clients, gty, azp, typ JWT).
    Auth0,
}

impl From<ProfileArg> for Profile {
    fn from(p: ProfileArg) -> Self {
        match p {
            ProfileArg::Rfc9068 => Profile::Rfc9068,
            ProfileArg::Auth0 => Profile::Auth0,
        }
    }
}

/// A signing algorithm on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AlgArg {
    /// RSASSA-PKCS1-v1_5 SHA-256, KMS RSA_2048 (accepted by API Gateway JWT authorizers).
    #[value(name = "RS256")]
    Rs256,
    /// ECDSA P-256 SHA-256, KMS ECC_NIST_P256.
    #[value(name = "ES256")]
    Es256,
}

impl From<AlgArg> for Alg {
    fn from(a: AlgArg) -> Self {
        match a {
            AlgArg::Rs256 => Alg::RS256,
            AlgArg::Es256 => Alg::ES256,
        }
    }
}

/// One scope token (RFC 6749 §3.3: printable ASCII except space, `"` and `\`).
pub fn parse_scope(value: &str) -> Result<Scope, String> {
    let value = value.trim();
    Scope::parse(value).map_err(|_| {
        format!(
            "`{value}` is not a scope: use printable ASCII without spaces, quotes or backslashes"
        )
    })
}

/// An API identifier: non-empty, no whitespace or control characters, at most 1000
/// bytes (DynamoDB key limits, with room for the prefix).
pub fn parse_identifier(value: &str) -> Result<String, String> {
    if value.is_empty() || value.len() > 1000 {
        return Err("must be between 1 and 1000 bytes long".into());
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".into());
    }
    Ok(value.to_owned())
}

/// `KEY=VALUE`.
pub fn parse_metadata(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("`{value}` is not KEY=VALUE")),
    }
}

/// `NAME=VALUE` of a claim condition; the value may be empty here (the rules refuse
/// it with a message of their own).
pub fn parse_claim(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("`{value}` is not NAME=VALUE")),
    }
}

/// A duration: whole seconds, or a number followed by s, m, h or d; at most 365 days.
/// The arithmetic and overflow checks are humantime's; only those four units are
/// offered, so `1w` or `1M` (week or month?) cannot be misread.
pub fn parse_duration(value: &str) -> Result<u64, String> {
    let value = value.trim();
    let malformed = || format!("`{value}` is not a duration like 0, 90s, 30m, 24h or 7d");
    let digits = value.trim_end_matches(['s', 'm', 'h', 'd']);
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || value.len() - digits.len() > 1
    {
        return Err(malformed());
    }
    let secs = if digits.len() == value.len() {
        digits.parse::<u64>().map_err(|_| malformed())?
    } else {
        humantime::parse_duration(value)
            .map_err(|_| malformed())?
            .as_secs()
    };
    if secs <= 365 * 86_400 {
        Ok(secs)
    } else {
        Err(format!("`{value}` is longer than 365 days"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn cli_definition_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_parsed() {
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("30m"), Ok(1800));
        assert_eq!(parse_duration("24h"), Ok(86_400));
        assert_eq!(parse_duration("7d"), Ok(604_800));
        for bad in [
            "",
            "h",
            "1w",
            "-1h",
            "1.5h",
            "366d",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn value_names_are_the_domain_names() {
        for p in ProfileArg::value_variants() {
            let name = p.to_possible_value().map(|v| v.get_name().to_owned());
            assert_eq!(name.as_deref(), Some(Profile::from(*p).as_str()));
        }
        for a in AlgArg::value_variants() {
            let name = a.to_possible_value().map(|v| v.get_name().to_owned());
            assert_eq!(name.as_deref(), Some(Alg::from(*a).as_str()));
        }
    }

    #[test]
    fn scopes_validated() {
        assert_eq!(parse_scope("read:orders"), Ok(Scope::new("read:orders")));
        assert!(parse_scope("a b").is_err());
        assert!(parse_scope("").is_err());
        assert!(parse_scope("a\"b").is_err());
    }

    #[test]
    fn metadata_parsed() {
        assert_eq!(
            parse_metadata("tier=gold"),
            Ok(("tier".into(), "gold".into()))
        );
        assert_eq!(parse_metadata("k=a=b"), Ok(("k".into(), "a=b".into())));
        assert!(parse_metadata("novalue").is_err());
        assert!(parse_metadata("=v").is_err());
    }

    #[test]
    fn identifiers_validated() {
        assert!(parse_identifier("https://api.example.com/").is_ok());
        assert!(parse_identifier("").is_err());
        assert!(parse_identifier("a b").is_err());
    }
}
