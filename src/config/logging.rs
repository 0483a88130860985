//! `LOG_FORMAT`: human-readable text or JSON lines. The filter stays `RUST_LOG`, read by
//! `telemetry`.

use super::RawConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    pub(super) fn parse(raw: &RawConfig, check: &mut impl FnMut(Result<(), String>)) -> Self {
        match raw.log_format.as_deref().unwrap_or("text") {
            "text" => Self::Text,
            "json" => Self::Json,
            other => {
                check(Err(format!("LOG_FORMAT={other}: expected text or json")));
                Self::Text
            }
        }
    }

    /// The `LOG_FORMAT` line of `check-config`.
    pub(super) fn describe(self, lines: &mut Vec<(&'static str, String)>) {
        let format = match self {
            Self::Text => "text",
            Self::Json => "json",
        };
        lines.push(("LOG_FORMAT", format.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::super::values::parse_with_problems;
    use super::*;

    fn parse(value: Option<&str>) -> (LogFormat, Vec<String>) {
        let raw = RawConfig {
            log_format: value.map(str::to_owned),
            ..RawConfig::default()
        };
        parse_with_problems(|check| LogFormat::parse(&raw, check))
    }

    #[test]
    fn text_by_default_json_when_asked_anything_else_named() {
        assert_eq!(parse(None), (LogFormat::Text, Vec::new()));
        assert_eq!(parse(Some("json")), (LogFormat::Json, Vec::new()));
        assert_eq!(
            parse(Some("xml")),
            (
                LogFormat::Text,
                vec!["LOG_FORMAT=xml: expected text or json".to_owned()]
            )
        );
    }
}
