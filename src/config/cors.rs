//! `CORS_ALLOWED_ORIGINS`: which browser origins may call the API.

use super::RawConfig;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// No CORS headers: same-origin use only.
    None,
    Any,
    List(Vec<String>),
}

impl CorsOrigins {
    pub(super) fn parse(raw: &RawConfig, check: &mut impl FnMut(Result<(), String>)) -> Self {
        let Some(raw) = raw
            .cors_allowed_origins
            .as_deref()
            .map(str::trim)
            .filter(|text| !text.is_empty())
        else {
            return Self::None;
        };
        if raw == "*" {
            return Self::Any;
        }
        let mut origins = Vec::new();
        for origin in raw
            .split(',')
            .map(str::trim)
            .filter(|origin| !origin.is_empty())
        {
            let valid = (origin.starts_with("http://") || origin.starts_with("https://"))
                && !origin.ends_with('/')
                && origin.parse::<axum::http::HeaderValue>().is_ok();
            if valid {
                origins.push(origin.to_owned());
            } else {
                check(Err(format!(
                    "CORS_ALLOWED_ORIGINS: {origin:?} is not an origin like https://app.example.com"
                )));
            }
        }
        Self::List(origins)
    }

    /// The `CORS_ALLOWED_ORIGINS` line of `check-config`.
    pub(super) fn describe(&self, lines: &mut Vec<(&'static str, String)>) {
        let cors = match self {
            Self::None => "(none: same origin only)".to_owned(),
            Self::Any => "*".to_owned(),
            Self::List(origins) => origins.join(","),
        };
        lines.push(("CORS_ALLOWED_ORIGINS", cors));
    }
}

#[cfg(test)]
mod tests {
    use super::super::values::parse_with_problems;
    use super::*;

    fn parse(value: &str) -> (CorsOrigins, Vec<String>) {
        let raw = RawConfig {
            cors_allowed_origins: Some(value.into()),
            ..RawConfig::default()
        };
        parse_with_problems(|check| CorsOrigins::parse(&raw, check))
    }

    #[test]
    fn origins_are_listed_any_or_none() {
        assert_eq!(parse("  ").0, CorsOrigins::None);
        assert_eq!(parse(" * ").0, CorsOrigins::Any);
        let (origins, problems) = parse("https://app.example.com, http://localhost:3000,");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            origins,
            CorsOrigins::List(vec![
                "https://app.example.com".to_owned(),
                "http://localhost:3000".to_owned(),
            ])
        );
    }

    #[test]
    fn an_origin_with_a_path_or_without_a_scheme_is_named() {
        let (origins, problems) = parse("app.example.com,https://ok.example.com/");
        assert_eq!(origins, CorsOrigins::List(Vec::new()));
        assert_eq!(
            problems,
            [
                "CORS_ALLOWED_ORIGINS: \"app.example.com\" is not an origin like https://app.example.com",
                "CORS_ALLOWED_ORIGINS: \"https://ok.example.com/\" is not an origin like https://app.example.com",
            ]
        );
    }
}
