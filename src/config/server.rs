//! Settings of the HTTP server itself: where it listens (`HOST`, `PORT`) and how far each
//! request and a shutdown may go (`MAX_JSON_BYTES`, `MAX_IMPORT_BYTES`,
//! `REQUEST_TIMEOUT_SECS`, `SHUTDOWN_TIMEOUT_SECS`).
//!
//! They stay flat fields of [`Config`] (the rest of the crate reads `config.port`), so
//! parsing returns a group that [`Config::from_raw`] spreads, and describing is a method of
//! [`Config`] written here.

use std::time::Duration;

use super::values::{parse_or, size_or};
use super::{Config, RawConfig};

/// `HOST` and `PORT`. Parsed first: whether `AUTH_MODE` may stay unset depends on `HOST`.
pub(super) struct Listen {
    pub(super) host: String,
    pub(super) port: u16,
}

impl Listen {
    pub(super) fn parse(raw: &RawConfig, check: &mut impl FnMut(Result<(), String>)) -> Self {
        Self {
            host: raw.host.clone().unwrap_or_else(|| "127.0.0.1".to_owned()),
            port: parse_or(&raw.port, "PORT", 8080u16, check),
        }
    }
}

/// Bounds on one JSON request, one chat import, and the drain at shutdown.
pub(super) struct RequestLimits {
    pub(super) max_json_bytes: usize,
    pub(super) max_import_bytes: usize,
    pub(super) request_timeout: Duration,
    pub(super) shutdown_timeout: Duration,
}

impl RequestLimits {
    pub(super) fn parse(raw: &RawConfig, check: &mut impl FnMut(Result<(), String>)) -> Self {
        let max_json_bytes = size_or(&raw.max_json_bytes, "MAX_JSON_BYTES", 1 << 20, check);
        let max_import_bytes = size_or(&raw.max_import_bytes, "MAX_IMPORT_BYTES", 50 << 20, check);
        let request_timeout = parse_or(
            &raw.request_timeout_secs,
            "REQUEST_TIMEOUT_SECS",
            30u64,
            check,
        );
        let shutdown_timeout = parse_or(
            &raw.shutdown_timeout_secs,
            "SHUTDOWN_TIMEOUT_SECS",
            20u64,
            check,
        );
        if request_timeout == 0 {
            check(Err("REQUEST_TIMEOUT_SECS must be at least 1".to_owned()));
        }
        Self {
            max_json_bytes,
            max_import_bytes,
            request_timeout: Duration::from_secs(request_timeout),
            shutdown_timeout: Duration::from_secs(shutdown_timeout),
        }
    }
}

impl Config {
    /// The `HOST` and `PORT` lines of `check-config`.
    pub(super) fn describe_listen(&self, lines: &mut Vec<(&'static str, String)>) {
        lines.push(("HOST", self.host.clone()));
        lines.push(("PORT", self.port.to_string()));
    }

    /// The request limit lines of `check-config`. `MAX_IMPORT_BYTES` has never been printed.
    pub(super) fn describe_request_limits(&self, lines: &mut Vec<(&'static str, String)>) {
        lines.push(("MAX_JSON_BYTES", self.max_json_bytes.to_string()));
        lines.push((
            "REQUEST_TIMEOUT_SECS",
            self.request_timeout.as_secs().to_string(),
        ));
        lines.push((
            "SHUTDOWN_TIMEOUT_SECS",
            self.shutdown_timeout.as_secs().to_string(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::values::parse_with_problems;
    use super::*;

    #[test]
    fn listen_defaults_to_loopback_and_names_a_bad_port() {
        let (listen, problems) =
            parse_with_problems(|check| Listen::parse(&RawConfig::default(), check));
        assert_eq!(
            (listen.host.as_str(), listen.port, problems.len()),
            ("127.0.0.1", 8080, 0)
        );
        let raw = RawConfig {
            port: Some("65536".into()),
            ..RawConfig::default()
        };
        let (_, problems) = parse_with_problems(|check| Listen::parse(&raw, check));
        assert_eq!(
            problems,
            ["PORT=65536: expected a non-negative whole number in range"]
        );
    }

    #[test]
    fn request_limits_parse_sizes_and_refuse_a_zero_request_timeout() {
        let raw = RawConfig {
            max_json_bytes: Some("2MiB".into()),
            max_import_bytes: Some("10MB".into()),
            shutdown_timeout_secs: Some("0".into()),
            ..RawConfig::default()
        };
        let (limits, problems) = parse_with_problems(|check| RequestLimits::parse(&raw, check));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(limits.max_json_bytes, 2 << 20);
        assert_eq!(limits.max_import_bytes, 10_000_000);
        assert_eq!(limits.request_timeout, Duration::from_secs(30));
        assert_eq!(limits.shutdown_timeout, Duration::ZERO);
        let raw = RawConfig {
            max_import_bytes: Some("big".into()),
            request_timeout_secs: Some("0".into()),
            ..RawConfig::default()
        };
        let (_, problems) = parse_with_problems(|check| RequestLimits::parse(&raw, check));
        assert_eq!(
            problems,
            [
                "MAX_IMPORT_BYTES=big: expected a size such as 1048576, 512KiB or 2MiB",
                "REQUEST_TIMEOUT_SECS must be at least 1",
            ]
        );
    }
}
