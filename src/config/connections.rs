//! Client connection limits: how long a request's headers may take, how long a kept-alive
//! connection may idle, how long a response may wait for a client that takes none of its bytes,
//! and how many connections may be open at once.

use std::time::Duration;

use super::RawConfig;

#[derive(Debug, Clone, Copy)]
pub struct ConnectionsConfig {
    /// `HEADER_READ_TIMEOUT_SECS`: a request's headers must be complete within this.
    pub header_read_timeout: Duration,
    /// `KEEPALIVE_IDLE_SECS`: a kept-alive connection with no request for this long closes.
    pub keepalive_idle: Duration,
    /// `SEND_TIMEOUT_SECS`: a connection whose client takes no byte of what is sent to it for
    /// this long closes.
    pub send_timeout: Duration,
    /// `MAX_CONNECTIONS`: client connections open at once.
    pub max_connections: usize,
    /// Whether `max_connections` was derived from the descriptor limit (not set).
    pub max_connections_derived: bool,
}

impl ConnectionsConfig {
    /// The lines `check-config` prints for these settings.
    pub(super) fn describe(&self, lines: &mut Vec<(&'static str, String)>) {
        let max = if self.max_connections_derived {
            format!(
                "{} (derived from the descriptor limit {})",
                self.max_connections,
                descriptor_limit().map_or_else(|| "unknown".to_owned(), |limit| limit.to_string())
            )
        } else {
            self.max_connections.to_string()
        };
        lines.push((
            "HEADER_READ_TIMEOUT_SECS",
            self.header_read_timeout.as_secs().to_string(),
        ));
        lines.push((
            "KEEPALIVE_IDLE_SECS",
            self.keepalive_idle.as_secs().to_string(),
        ));
        lines.push(("SEND_TIMEOUT_SECS", self.send_timeout.as_secs().to_string()));
        lines.push(("MAX_CONNECTIONS", max));
    }

    pub(super) fn parse(raw: &RawConfig, check: &mut impl FnMut(Result<(), String>)) -> Self {
        let mut positive = |value: &Option<String>, name: &str, default: u64| match value {
            None => default,
            Some(text) => match text.trim().parse::<u64>() {
                Ok(number) if number > 0 => number,
                _ => {
                    check(Err(format!(
                        "{name}={text}: expected a whole number above 0"
                    )));
                    default
                }
            },
        };
        let header_read_timeout = positive(
            &raw.header_read_timeout_secs,
            "HEADER_READ_TIMEOUT_SECS",
            10,
        );
        let keepalive_idle = positive(&raw.keepalive_idle_secs, "KEEPALIVE_IDLE_SECS", 60);
        let mut send_timeout = positive(&raw.send_timeout_secs, "SEND_TIMEOUT_SECS", 60);
        let derived = default_max_connections(descriptor_limit());
        let max_connections = positive(&raw.max_connections, "MAX_CONNECTIONS", derived as u64);
        if send_timeout > MAX_SEND_TIMEOUT_SECS {
            check(Err(format!(
                "SEND_TIMEOUT_SECS={send_timeout}: at most {MAX_SEND_TIMEOUT_SECS} (the kernel \
                 takes it in milliseconds that fit in 31 bits, about 24 days)"
            )));
            send_timeout = MAX_SEND_TIMEOUT_SECS;
        }
        ConnectionsConfig {
            header_read_timeout: Duration::from_secs(header_read_timeout),
            keepalive_idle: Duration::from_secs(keepalive_idle),
            send_timeout: Duration::from_secs(send_timeout),
            max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
            max_connections_derived: raw.max_connections.is_none(),
        }
    }
}

/// The longest `SEND_TIMEOUT_SECS`: `TCP_USER_TIMEOUT` is an `int` of milliseconds.
const MAX_SEND_TIMEOUT_SECS: u64 = i32::MAX as u64 / 1000;

/// The process's soft limit on open descriptors, where the platform has one.
fn descriptor_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rlimit::getrlimit(rlimit::Resource::NOFILE)
            .ok()
            .map(|(soft, _)| soft)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Client connections that leave room under the descriptor limit for everything else a
/// process holds: store connections (MongoDB pool, S3 client), blob and log files being read
/// or written, the listeners. A quarter of the limit, and never less than 256, stays free.
fn default_max_connections(descriptor_limit: Option<u64>) -> usize {
    let Some(limit) = descriptor_limit else {
        return 1024;
    };
    let reserve = (limit / 4).max(256);
    usize::try_from(limit.saturating_sub(reserve).max(32)).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The settings `raw` gives, and every problem reported on the way.
    fn parse(raw: &RawConfig) -> (ConnectionsConfig, Vec<String>) {
        let mut problems = Vec::new();
        let parsed = ConnectionsConfig::parse(raw, &mut |result| {
            if let Err(problem) = result {
                problems.push(problem);
            }
        });
        (parsed, problems)
    }

    #[test]
    fn the_default_cap_leaves_a_quarter_of_the_descriptors_and_at_least_256() {
        assert_eq!(default_max_connections(Some(1024)), 768);
        assert_eq!(default_max_connections(Some(20_000)), 15_000);
        assert_eq!(default_max_connections(Some(300)), 44);
        assert_eq!(default_max_connections(Some(100)), 32);
        assert_eq!(default_max_connections(None), 1024);
    }

    #[test]
    fn a_send_timeout_past_what_the_kernel_takes_is_refused() {
        let raw = RawConfig {
            send_timeout_secs: Some("2147484".to_owned()),
            ..RawConfig::default()
        };
        let (parsed, problems) = parse(&raw);
        assert_eq!(parsed.send_timeout, Duration::from_secs(2_147_483));
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("SEND_TIMEOUT_SECS=2147484: at most 2147483"),
            "{problems:?}"
        );
        let raw = RawConfig {
            send_timeout_secs: Some("2147483".to_owned()),
            ..RawConfig::default()
        };
        assert_eq!(parse(&raw).1, Vec::<String>::new());
    }

    #[test]
    fn zero_or_text_is_refused_naming_the_variable() {
        let raw = RawConfig {
            header_read_timeout_secs: Some("0".to_owned()),
            keepalive_idle_secs: Some("soon".to_owned()),
            send_timeout_secs: Some("-1".to_owned()),
            max_connections: Some("5".to_owned()),
            ..RawConfig::default()
        };
        let (parsed, problems) = parse(&raw);
        assert_eq!(parsed.max_connections, 5);
        assert!(!parsed.max_connections_derived);
        assert_eq!(
            problems,
            [
                "HEADER_READ_TIMEOUT_SECS=0: expected a whole number above 0",
                "KEEPALIVE_IDLE_SECS=soon: expected a whole number above 0",
                "SEND_TIMEOUT_SECS=-1: expected a whole number above 0",
            ]
        );
    }
}
