//! The one place AWS SDK errors become [`PortError`]s: throttling and timeouts get
//! their own kinds (503, retrying later helps), everything else is unavailable (500). The SDK error is kept as the source for the log; requests we send never
//! carry a secret, so neither can the SDK's error.

use std::error::Error as StdError;
use std::fmt::Debug;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use m2m_core::error::{PortError, PortErrorKind};

/// Error codes that mean "slow down" across DynamoDB, KMS and Lambda:
/// DynamoDB `ProvisionedThroughputExceededException`, `RequestLimitExceeded` and
/// `ThrottlingException` (DynamoDB developer guide, "Error handling"); KMS
/// `ThrottlingException` (KMS developer guide, "Request quotas");
/// Lambda `TooManyRequestsException`.
const THROTTLING_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
];

/// True when `code` is a throttling error code.
pub(crate) fn is_throttling_code(code: &str) -> bool {
    THROTTLING_CODES.contains(&code)
}

/// Converts an SDK error into a [`PortError`] with `what` (an operation description,
/// no secrets) as its message.
pub(crate) fn port_error<E, R>(what: &str, err: SdkError<E, R>) -> PortError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    // A timed-out attempt is transient too: answering 503 tells the caller to retry.
    let kind = match &err {
        SdkError::TimeoutError(_) => PortErrorKind::Timeout,
        SdkError::DispatchFailure(d) if d.is_timeout() => PortErrorKind::Timeout,
        _ if err.code().is_some_and(is_throttling_code) => PortErrorKind::Throttled,
        _ => PortErrorKind::Unavailable,
    };
    let message = match err.code() {
        Some(code) => format!("{what}: {code}"),
        None => match &err {
            SdkError::TimeoutError(_) => format!("{what}: timed out"),
            SdkError::DispatchFailure(_) => format!("{what}: could not reach the service"),
            _ => what.to_owned(),
        },
    };
    PortError::new(kind, message).with_source(err)
}

/// The error code of an SDK error, if the service sent one.
pub(crate) fn code<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    err.code()
}
