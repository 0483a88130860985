//! `PUBLIC_BASE_URL`: the origin (and optional path prefix) clients reach the API on. When
//! set, every URL the API returns (`Location`, signed links, direct-upload URLs) is absolute
//! on it, so a cross-origin app uses them as they are; when unset they stay relative paths.

use super::RawConfig;

/// The base returned URLs are made absolute on, without a trailing slash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicBaseUrl(Option<String>);

impl PublicBaseUrl {
    pub(super) fn parse(raw: &RawConfig, check: &mut impl FnMut(Result<(), String>)) -> Self {
        let Some(text) = raw
            .public_base_url
            .as_deref()
            .map(str::trim)
            .filter(|text| !text.is_empty())
        else {
            return Self(None);
        };
        let base = text.trim_end_matches('/');
        let valid = (base.starts_with("http://") || base.starts_with("https://"))
            && !base.contains(['?', '#'])
            && base
                .split_once("://")
                .is_some_and(|(_, rest)| !rest.is_empty())
            && base.parse::<axum::http::Uri>().is_ok();
        if !valid {
            check(Err(format!(
                "PUBLIC_BASE_URL: {text:?} is not a base URL like https://api.example.com \
                 (scheme, host, optional path; no query)"
            )));
            return Self(None);
        }
        Self(Some(base.to_owned()))
    }

    /// A base for tests and embedders.
    pub fn new(base: Option<&str>) -> Self {
        Self(base.map(|base| base.trim_end_matches('/').to_owned()))
    }

    /// `path` (starting with `/`) as clients should use it: absolute on the base when one is
    /// set; anything that is not a path (an S3 URL) as it is.
    pub fn absolute(&self, path: &str) -> String {
        match &self.0 {
            Some(base) if path.starts_with('/') => format!("{base}{path}"),
            _ => path.to_owned(),
        }
    }

    /// The `PUBLIC_BASE_URL` line of `check-config`.
    pub(super) fn describe(&self, lines: &mut Vec<(&'static str, String)>) {
        let value = match &self.0 {
            Some(base) => base.clone(),
            None => "(none: returned URLs are relative paths)".to_owned(),
        };
        lines.push(("PUBLIC_BASE_URL", value));
    }
}

#[cfg(test)]
mod tests {
    use super::super::values::parse_with_problems;
    use super::*;

    fn parse(value: &str) -> (PublicBaseUrl, Vec<String>) {
        let raw = RawConfig {
            public_base_url: Some(value.into()),
            ..RawConfig::default()
        };
        parse_with_problems(|check| PublicBaseUrl::parse(&raw, check))
    }

    #[test]
    fn a_base_makes_paths_absolute_and_leaves_other_urls_alone() {
        let (base, problems) = parse("https://api.example.com/store/");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            base.absolute("/api/files/1"),
            "https://api.example.com/store/api/files/1"
        );
        assert_eq!(base.absolute("http://s3/x"), "http://s3/x");
        assert_eq!(parse(" ").0.absolute("/api/tags"), "/api/tags");
        for bad in [
            "api.example.com",
            "https://",
            "https://a.example/?x=1",
            "ftp://a",
        ] {
            let (_, problems) = parse(bad);
            assert!(
                problems
                    .iter()
                    .any(|problem| problem.starts_with("PUBLIC_BASE_URL")),
                "{bad}: {problems:?}"
            );
        }
    }
}
