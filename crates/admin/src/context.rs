//! What every command runs against: the directory store, the KMS client and the time.
//! The one place the CLI reads the clock (or, in debug builds only, its test override)
//! and builds its AWS SDK configuration.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::Client as DynamoClient;
use aws_sdk_kms::Client as KmsClient;
use aws_sdk_sts::Client as StsClient;
use m2m_aws::DynamoAdminStore;

use crate::error::AdminError;

/// The environment variable that overrides the clock, in Unix seconds. A testing aid:
/// tests (which run the debug binary) advance time through it (secret grace periods,
/// key publication delays) instead of sleeping. It does not exist in a release build,
/// so no environment can make an operator's CLI misjudge a key's or secret's age.
#[cfg(debug_assertions)]
pub const NOW_VARIABLE: &str = "M2M_ADMIN_NOW";

/// The clock override from the environment: debug builds only; always `None` in a
/// release build.
pub fn now_override() -> Option<String> {
    #[cfg(debug_assertions)]
    {
        std::env::var(NOW_VARIABLE).ok()
    }
    #[cfg(not(debug_assertions))]
    {
        None
    }
}

/// The command's environment.
#[derive(Debug)]
pub struct Ctx {
    /// The directory table.
    pub store: DynamoAdminStore,
    /// DynamoDB, for table creation.
    pub dynamo: DynamoClient,
    /// KMS, for signing keys.
    pub kms: KmsClient,
    /// STS, for the account new keys' policies name.
    pub sts: StsClient,
    /// The current time, Unix seconds, read once per command.
    pub now: u64,
    /// `AWS_ENDPOINT_URL` when set: a local emulator rather than AWS.
    pub endpoint: Option<String>,
}

impl Ctx {
    /// Builds the SDK clients from the standard AWS environment (`AWS_REGION`,
    /// `AWS_ENDPOINT_URL`, credentials chain). Operator commands are not latency-bound,
    /// so the timeouts are patient (KMS key generation can take seconds) and throttled
    /// calls are retried.
    ///
    /// # Errors
    /// [`AdminError::Invalid`] when no region is configured.
    pub async fn connect(
        table: String,
        now: u64,
        endpoint: Option<String>,
    ) -> Result<Self, AdminError> {
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(3))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_timeout(Duration::from_secs(60))
                    .build(),
            )
            .load()
            .await;
        if sdk.region().is_none() {
            return Err(AdminError::Invalid(
                "no AWS region: set AWS_REGION (any region, e.g. us-east-1, for the local stack)"
                    .into(),
            ));
        }
        let dynamo = DynamoClient::new(&sdk);
        Ok(Self {
            store: DynamoAdminStore::new(dynamo.clone(), table),
            dynamo,
            kms: KmsClient::new(&sdk),
            sts: StsClient::new(&sdk),
            now,
            endpoint,
        })
    }
}

/// The current time in Unix seconds: `override_value` ([`now_override`]) when set, else
/// the wall clock.
///
/// # Errors
/// [`AdminError::Invalid`] when the override is not a whole number of seconds.
pub fn now(override_value: Option<&str>) -> Result<u64, AdminError> {
    match override_value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => v.parse().map_err(|_| {
            AdminError::Invalid(
                "the clock override must be Unix seconds (a whole number); unset it to use the clock"
                    .to_owned(),
            )
        }),
        None => Ok(m2m_aws::clock::system_clock()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_read() {
        assert_eq!(now(Some("1800000000")).ok(), Some(1_800_000_000));
        assert!(matches!(now(Some("soon")), Err(AdminError::Invalid(_))));
        assert!(now(None).is_ok_and(|t| t > 1_700_000_000));
    }

    /// The override's name appears in the CLI's sources only under
    /// `cfg(debug_assertions)`, so a release build holds neither the name nor the code
    /// reading it.
    #[test]
    fn clock_override_debug_only() {
        let sources = [
            ("context.rs", include_str!("context.rs")),
            ("main.rs", include_str!("main.rs")),
            ("cli.rs", include_str!("cli.rs")),
        ];
        let name = ["M2M", "ADMIN", "NOW"].join("_");
        let read = format!("env::var({})", "NOW_VARIABLE");
        for (file, src) in sources {
            let lines: Vec<&str> = src.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                if line.contains(&name) && !line.trim_start().starts_with("//") {
                    let guarded = i > 0 && lines[i - 1].trim() == "#[cfg(debug_assertions)]";
                    assert!(
                        guarded,
                        "{file}:{} names the override outside cfg(debug_assertions)",
                        i + 1
                    );
                }
            }
            for (i, line) in lines.iter().enumerate() {
                if line.contains(&read) {
                    let window = &lines[i.saturating_sub(3)..i];
                    assert!(
                        window
                            .iter()
                            .any(|l| l.trim() == "#[cfg(debug_assertions)]"),
                        "{file}:{} reads the override outside cfg(debug_assertions)",
                        i + 1
                    );
                }
            }
        }
        assert!(cfg!(debug_assertions) == now_override_compiled());
    }

    fn now_override_compiled() -> bool {
        #[cfg(debug_assertions)]
        {
            let _ = NOW_VARIABLE;
            true
        }
        #[cfg(not(debug_assertions))]
        {
            false
        }
    }
}
