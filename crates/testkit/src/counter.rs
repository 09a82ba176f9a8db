//! Counters of what a client puts on the wire: [`RequestCounter`] counts the AWS
//! requests SDK clients send, per service and operation; [`ConnectionCounter`] counts
//! the TCP connections they open (a warm client on a keep-alive endpoint opens none).

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::moto::HarnessError;

/// Counts the requests SDK clients put on the wire, per service and operation
/// (`read_before_transmit` runs once per attempt, so retries count). Cloning shares
/// the counts.
#[derive(Clone, Debug, Default)]
pub struct RequestCounter {
    counts: Arc<Mutex<BTreeMap<(String, String), usize>>>,
}

impl RequestCounter {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests sent to `service` (`DynamoDB`, `KMS`, `Lambda`).
    pub fn count(&self, service: &str) -> usize {
        self.snapshot()
            .iter()
            .filter(|((s, _), _)| s == service)
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests sent to every service.
    pub fn total(&self) -> usize {
        self.snapshot().values().sum()
    }

    /// Every `(service, operation) -> count` seen.
    pub fn snapshot(&self) -> BTreeMap<(String, String), usize> {
        match self.counts.lock() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Sets every count back to zero.
    pub fn clear(&self) {
        match self.counts.lock() {
            Ok(mut c) => c.clear(),
            Err(poisoned) => poisoned.into_inner().clear(),
        }
    }

    /// A DynamoDB client on `sdk` that counts into `self`.
    pub fn dynamo(&self, sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(sdk)
                .interceptor(self.clone())
                .build(),
        )
    }

    /// A KMS client on `sdk` that counts into `self`.
    pub fn kms(&self, sdk: &SdkConfig) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::from_conf(
            aws_sdk_kms::config::Builder::from(sdk)
                .interceptor(self.clone())
                .build(),
        )
    }

    /// A Lambda client on `sdk` that counts into `self`.
    pub fn lambda(&self, sdk: &SdkConfig) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::from_conf(
            aws_sdk_lambda::config::Builder::from(sdk)
                .interceptor(self.clone())
                .build(),
        )
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "m2m-testkit RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_owned(), m.name().to_owned()))
            .unwrap_or_else(|| ("unknown".to_owned(), "unknown".to_owned()));
        let mut counts = match self.counts.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        *counts.entry((service, operation)).or_insert(0) += 1;
        Ok(())
    }
}

/// A transparent TCP proxy in front of a local endpoint that counts the connections
/// opened through it: an SDK configuration pointed at [`endpoint`](Self::endpoint)
/// reaches the same server, and [`opened`](Self::opened) tells how many TCP connections
/// its clients opened (a warm client on a keep-alive server opens none).
pub struct ConnectionCounter {
    port: u16,
    opened: Arc<AtomicU64>,
}

impl fmt::Debug for ConnectionCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionCounter")
            .field("port", &self.port)
            .field("opened", &self.opened())
            .finish()
    }
}

impl ConnectionCounter {
    /// Listens on a free loopback port and forwards every connection, byte for byte,
    /// to `127.0.0.1:<upstream>`. The proxy's threads live as long as the test process.
    ///
    /// # Errors
    /// When no port can be bound.
    pub fn start(upstream: u16) -> Result<Self, HarnessError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| HarnessError(format!("binding the connection counter: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| HarnessError(format!("binding the connection counter: {e}")))?
            .port();
        let opened = Arc::new(AtomicU64::new(0));
        let counted = opened.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                counted.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = TcpStream::connect((Ipv4Addr::LOCALHOST, upstream)) else {
                    continue;
                };
                pipe(&client, &server);
                pipe(&server, &client);
            }
        });
        Ok(Self { port, opened })
    }

    /// The endpoint URL, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// TCP connections accepted so far.
    pub fn opened(&self) -> u64 {
        self.opened.load(Ordering::SeqCst)
    }
}

/// Copies `from` to `to` on a thread until `from` closes, then closes `to` for writing.
fn pipe(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}
