//! Protective settings: rate limits per user and per client address, bounded concurrent
//! uploads, and who may read `/metrics`.

use std::net::SocketAddr;
use std::time::Duration;

use super::{RawConfig, Secret};

#[derive(Debug, Clone)]
pub struct GuardConfig {
    /// Requests per minute one user may make (0: no limit).
    pub user_per_minute: u32,
    /// Requests per minute one client address may make (0: no limit).
    pub ip_per_minute: u32,
    /// Uploads in flight at once; more get 429 with Retry-After.
    pub max_concurrent_uploads: usize,
    /// How long an upload may send nothing before it is answered 408.
    pub upload_idle_timeout: Duration,
    /// `/metrics` on the main port answers only with `Authorization: Bearer <token>`.
    pub metrics_token: Option<Secret>,
    /// `/metrics` also (or only) on this separate address, without a token.
    pub metrics_addr: Option<SocketAddr>,
}

impl GuardConfig {
    pub(super) fn parse(raw: &RawConfig, check: &mut impl FnMut(Result<(), String>)) -> Self {
        let mut number = |value: &Option<String>, name: &str, default: u64| match value {
            None => default,
            Some(text) => text.trim().parse::<u64>().unwrap_or_else(|_| {
                check(Err(format!(
                    "{name}={text}: expected a whole number (0 turns the limit off)"
                )));
                default
            }),
        };
        let user_per_minute = number(
            &raw.rate_limit_user_per_minute,
            "RATE_LIMIT_USER_PER_MINUTE",
            1200,
        );
        let ip_per_minute = number(
            &raw.rate_limit_ip_per_minute,
            "RATE_LIMIT_IP_PER_MINUTE",
            3000,
        );
        let max_concurrent_uploads =
            number(&raw.max_concurrent_uploads, "MAX_CONCURRENT_UPLOADS", 16);
        let upload_idle_timeout = number(
            &raw.upload_idle_timeout_secs,
            "UPLOAD_IDLE_TIMEOUT_SECS",
            30,
        );
        if max_concurrent_uploads == 0 {
            check(Err("MAX_CONCURRENT_UPLOADS must be at least 1".to_owned()));
        }
        if upload_idle_timeout == 0 {
            check(Err("UPLOAD_IDLE_TIMEOUT_SECS must be at least 1".to_owned()));
        }
        let metrics_token = raw
            .metrics_token
            .as_ref()
            .filter(|token| !token.trim().is_empty())
            .map(Secret::new);
        if metrics_token
            .as_ref()
            .is_some_and(|token| token.expose().len() < 16)
        {
            check(Err(
                "METRICS_TOKEN must be at least 16 characters".to_owned()
            ));
        }
        let metrics_addr = raw
            .metrics_addr
            .as_ref()
            .filter(|text| !text.trim().is_empty())
            .and_then(|text| {
                text.trim().parse::<SocketAddr>().map_or_else(
                    |_| {
                        check(Err(format!(
                            "METRICS_ADDR={text}: expected an address such as 127.0.0.1:9090"
                        )));
                        None
                    },
                    Some,
                )
            });
        Self {
            user_per_minute: clamp(user_per_minute),
            ip_per_minute: clamp(ip_per_minute),
            max_concurrent_uploads: max_concurrent_uploads.max(1) as usize,
            upload_idle_timeout: Duration::from_secs(upload_idle_timeout.max(1)),
            metrics_token,
            metrics_addr,
        }
    }

    /// The rate limit, upload and `/metrics` lines of `check-config`; the token never shows.
    pub(super) fn describe(&self, lines: &mut Vec<(&'static str, String)>) {
        let per_minute = |limit: u32| {
            if limit == 0 {
                "off".to_owned()
            } else {
                limit.to_string()
            }
        };
        lines.push((
            "RATE_LIMIT_USER_PER_MINUTE",
            per_minute(self.user_per_minute),
        ));
        lines.push(("RATE_LIMIT_IP_PER_MINUTE", per_minute(self.ip_per_minute)));
        lines.push((
            "MAX_CONCURRENT_UPLOADS",
            self.max_concurrent_uploads.to_string(),
        ));
        lines.push((
            "UPLOAD_IDLE_TIMEOUT_SECS",
            self.upload_idle_timeout.as_secs().to_string(),
        ));
        let token = if self.metrics_token.is_some() {
            "********"
        } else {
            "(unset: /metrics not on the main port)"
        };
        lines.push(("METRICS_TOKEN", token.to_owned()));
        let address = self
            .metrics_addr
            .map_or_else(|| "(unset)".to_owned(), |address| address.to_string());
        lines.push(("METRICS_ADDR", address));
    }
}

fn clamp(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::super::values::parse_with_problems;
    use super::*;

    #[test]
    fn zero_turns_a_rate_limit_off_and_the_token_never_shows() {
        let raw = RawConfig {
            rate_limit_user_per_minute: Some("0".into()),
            metrics_token: Some("0123456789abcdef-token".into()),
            metrics_addr: Some("127.0.0.1:9090".into()),
            ..RawConfig::default()
        };
        let (guard, problems) = parse_with_problems(|check| GuardConfig::parse(&raw, check));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!((guard.user_per_minute, guard.ip_per_minute), (0, 3000));
        let mut lines = Vec::new();
        guard.describe(&mut lines);
        assert_eq!(lines[0], ("RATE_LIMIT_USER_PER_MINUTE", "off".to_owned()));
        assert_eq!(lines[4], ("METRICS_TOKEN", "********".to_owned()));
        assert_eq!(lines[5], ("METRICS_ADDR", "127.0.0.1:9090".to_owned()));
    }

    #[test]
    fn every_guard_problem_is_named_by_variable() {
        let raw = RawConfig {
            rate_limit_ip_per_minute: Some("-1".into()),
            max_concurrent_uploads: Some("0".into()),
            metrics_token: Some("short".into()),
            metrics_addr: Some("nowhere".into()),
            ..RawConfig::default()
        };
        let (_, problems) = parse_with_problems(|check| GuardConfig::parse(&raw, check));
        assert_eq!(
            problems,
            [
                "RATE_LIMIT_IP_PER_MINUTE=-1: expected a whole number (0 turns the limit off)",
                "MAX_CONCURRENT_UPLOADS must be at least 1",
                "METRICS_TOKEN must be at least 16 characters",
                "METRICS_ADDR=nowhere: expected an address such as 127.0.0.1:9090",
            ]
        );
    }
}
