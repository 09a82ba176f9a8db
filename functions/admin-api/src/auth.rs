//! Who is calling. In AWS every route uses API Gateway's `AWS_IAM` authorization, so a
//! request reaches the function only with a SigV4 signature API Gateway verified, and
//! its context names the IAM principal; the function still refuses any request whose
//! context names none (a misconfigured route must fail closed, not open).
//!
//! The local stack has no API Gateway: a debug build only may take the principal from
//! `M2M_ADMIN_LOCAL_PRINCIPAL`, which only the local scripts set. A release build (every
//! SAM build) holds neither the variable's name nor the code reading it.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt as _};

/// The IAM principal API Gateway verified, from the request context: the caller's ARN
/// (or, failing that, its caller id).
pub fn iam_principal(req: &Request) -> Option<String> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => {
            let iam = ctx.authorizer.as_ref()?.iam.as_ref()?;
            iam.user_arn
                .clone()
                .or_else(|| iam.caller_id.clone())
                .filter(|p| !p.trim().is_empty())
        }
        _ => None,
    }
}

/// The local stack's stand-in principal: debug builds only; always `None` in release.
pub fn local_principal() -> Option<String> {
    #[cfg(debug_assertions)]
    {
        std::env::var("M2M_ADMIN_LOCAL_PRINCIPAL")
            .ok()
            .filter(|p| !p.trim().is_empty())
    }
    #[cfg(not(debug_assertions))]
    {
        None
    }
}

/// The caller: the IAM principal, else `local` (the stand-in, when configured).
pub fn principal(req: &Request, local: Option<&str>) -> Option<String> {
    iam_principal(req).or_else(|| local.map(str::to_owned))
}

#[cfg(test)]
mod tests {
    /// The stand-in's variable is read only under `cfg(debug_assertions)`: a release
    /// build (every SAM build) neither holds its name nor reads it, so no deployment
    /// can make the function accept an unsigned request.
    #[test]
    fn local_principal_debug_only() {
        let src = include_str!("auth.rs");
        let name = ["M2M", "ADMIN", "LOCAL", "PRINCIPAL"].join("_");
        let lines: Vec<&str> = src.lines().collect();
        let mut reads = 0;
        for (i, line) in lines.iter().enumerate() {
            if line.contains(&format!("env::var(\"{name}\")")) {
                reads += 1;
                let window = &lines[i.saturating_sub(3)..i];
                assert!(
                    window
                        .iter()
                        .any(|l| l.trim() == "#[cfg(debug_assertions)]"),
                    "auth.rs:{} reads the stand-in outside cfg(debug_assertions)",
                    i + 1
                );
            }
        }
        assert_eq!(reads, 1);
        for file in [
            include_str!("lib.rs"),
            include_str!("main.rs"),
            include_str!("config.rs"),
        ] {
            assert!(
                !file.contains(&name),
                "only auth.rs may name the stand-in variable"
            );
        }
    }
}
