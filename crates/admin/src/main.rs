//! m2m-admin, the operator CLI of m2m-auth: parses the command line, reads the
//! environment once, runs one command and prints its result (stdout) or error (stderr).
#![deny(missing_docs)]

mod api;
mod cli;
mod client;
mod client_key;
mod context;
mod error;
mod grant;
mod init;
mod key_policy;
mod keys;
mod org;
mod output;
mod quota;
mod revoke;
mod secret;
mod trust;
mod usage;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{Cli, Command};
use crate::context::Ctx;
use crate::error::AdminError;
use crate::output::Output;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    let result = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(run(cli)),
        Err(e) => Err(AdminError::Failed(format!("starting the runtime: {e}"))),
    };
    match result {
        Ok(out) => {
            let text = if json {
                serde_json::to_string_pretty(&out.json).unwrap_or_default()
            } else {
                out.text
            };
            // A closed stdout (e.g. `| head`) is not worth a second error.
            let _ = writeln!(std::io::stdout(), "{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let text = if json {
                serde_json::json!({"error": e.kind(), "message": e.to_string()}).to_string()
            } else {
                format!("error: {e}")
            };
            let _ = writeln!(std::io::stderr(), "{text}");
            ExitCode::from(e.exit_code())
        }
    }
}

async fn run(cli: Cli) -> Result<Output, AdminError> {
    let table = cli
        .table
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            AdminError::Invalid("no table: set M2M_TABLE or pass --table NAME".into())
        })?;
    let now = context::now(context::now_override().as_deref())?;
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|e| !e.trim().is_empty());
    let ctx = Ctx::connect(table, now, endpoint).await?;
    match cli.command {
        Command::Api(c) => api::run(&ctx, c).await,
        Command::Client(c) => client::run(&ctx, c).await,
        Command::Grant(c) => grant::run(&ctx, c).await,
        Command::Secret(c) => secret::run(&ctx, c).await,
        Command::ClientKey(c) => client_key::run(&ctx, c).await,
        Command::Trust(c) => trust::run(&ctx, c).await,
        Command::Keys(c) => keys::run(&ctx, c).await,
        Command::Token(c) => revoke::run(&ctx, c).await,
        Command::Org(c) => org::run(&ctx, c).await,
        Command::Usage(a) => usage::run(&ctx, a).await,
        Command::Init(a) => init::run(&ctx, a).await,
    }
}
