//! Value parsers shared by the sub-configs: sizes, numbers, booleans, host names, and the
//! masking of connection strings for printing. Each reports a problem through `check` with
//! the variable's name and falls back to the default, so one run lists every problem.

use std::net::IpAddr;

/// `true`/`false` and their usual spellings.
pub(super) fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Parses `1048576`, `512KiB`, `2MiB`, `1GiB`, `10MB` (decimal) into bytes.
pub fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number.parse().ok()?;
    let factor: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return None,
    };
    number.checked_mul(factor).filter(|bytes| *bytes > 0)
}

/// The size in `raw`, or `default` when unset or invalid (then reported under `name`).
pub(super) fn size_or(
    raw: &Option<String>,
    name: &str,
    default: usize,
    check: &mut impl FnMut(Result<(), String>),
) -> usize {
    match raw {
        None => default,
        Some(text) => parse_size(text).unwrap_or_else(|| {
            check(Err(format!(
                "{name}={text}: expected a size such as 1048576, 512KiB or 2MiB"
            )));
            default
        }),
    }
}

/// The number in `raw`, or `default` when unset or invalid (then reported under `name`).
pub(super) fn parse_or<T: std::str::FromStr>(
    raw: &Option<String>,
    name: &str,
    default: T,
    check: &mut impl FnMut(Result<(), String>),
) -> T {
    match raw {
        None => default,
        Some(text) => text.trim().parse().unwrap_or_else(|_| {
            check(Err(format!(
                "{name}={text}: expected a non-negative whole number in range"
            )));
            default
        }),
    }
}

/// True for loopback addresses and `localhost`.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

/// A connection string with its password replaced, for printing.
pub fn mask_uri(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return "********".to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:********@{host}")
        }
        None => uri.to_owned(),
    }
}

/// What [`parse_with_problems`] hands a sub-config parser as its `check`.
#[cfg(test)]
pub(super) type Check<'problems> = Box<dyn FnMut(Result<(), String>) + 'problems>;

/// Runs a sub-config parser and returns what it parsed with every problem it reported, so a
/// unit test can reach one sub-config without assembling a whole [`super::Config`].
#[cfg(test)]
pub(super) fn parse_with_problems<T>(parse: impl FnOnce(&mut Check<'_>) -> T) -> (T, Vec<String>) {
    let mut problems = Vec::new();
    let value = {
        let mut check: Check<'_> = Box::new(|result| {
            if let Err(problem) = result {
                problems.push(problem);
            }
        });
        parse(&mut check)
    };
    (value, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("1048576"), Some(1 << 20));
        assert_eq!(parse_size("2MiB"), Some(2 << 20));
        assert_eq!(parse_size("10MB"), Some(10_000_000));
        assert_eq!(parse_size("0"), None);
        assert_eq!(parse_size("many"), None);
    }

    #[test]
    fn an_invalid_size_or_number_is_named_and_replaced_by_the_default() {
        let (size, problems) =
            parse_with_problems(|check| size_or(&Some("lots".into()), "MAX_JSON_BYTES", 7, check));
        assert_eq!(size, 7);
        assert_eq!(
            problems,
            ["MAX_JSON_BYTES=lots: expected a size such as 1048576, 512KiB or 2MiB"]
        );
        let (port, problems) =
            parse_with_problems(|check| parse_or(&Some(" 81 ".into()), "PORT", 80u16, check));
        assert_eq!((port, problems.len()), (81, 0));
        let (port, problems) =
            parse_with_problems(|check| parse_or(&Some("-1".into()), "PORT", 80u16, check));
        assert_eq!(port, 80);
        assert!(problems[0].starts_with("PORT=-1:"), "{problems:?}");
    }

    #[test]
    fn booleans_hosts_and_uris() {
        assert_eq!(parse_bool(" On "), Some(true));
        assert_eq!(parse_bool("no"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
        assert!(is_loopback("LOCALHOST") && is_loopback("::1") && is_loopback("127.0.0.2"));
        assert!(!is_loopback("0.0.0.0"));
        assert_eq!(
            mask_uri("mongodb://app:pw@db:27017/x"),
            "mongodb://app:********@db:27017/x"
        );
        assert_eq!(mask_uri("mongodb://db:27017"), "mongodb://db:27017");
        assert_eq!(mask_uri("not a uri"), "********");
    }
}
