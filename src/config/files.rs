//! File settings: upload limit, MIME allow-list, link signing secret, and when downloads from
//! S3 are redirected (`FILES_REDIRECT_THRESHOLD`, `FILES_REDIRECT`).

use super::values::parse_size;
use super::{RawConfig, Secret};

/// Settings of the file routes and the blob store.
#[derive(Debug, Clone)]
pub struct FilesConfig {
    pub max_upload_size: u64,
    /// Lowercase MIME types; an entry `type/*` admits every subtype.
    pub allowed_mime_types: Vec<String>,
    /// `None`: a key generated once into `DATA_DIR` (see `src/generated.rs`) is used.
    pub signing_secret: Option<Secret>,
    pub redirect_threshold: u64,
    /// Whether downloads from S3 are redirected (`FILES_REDIRECT`).
    pub redirect: RedirectMode,
}

/// How downloads of files on S3 are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectMode {
    /// Files larger than `FILES_REDIRECT_THRESHOLD` are redirected, smaller ones streamed.
    Auto,
    /// Every file is streamed through quillstore.
    Never,
    /// Every file is redirected.
    Always,
}

/// What `ALLOWED_MIME_TYPES` holds when unset: images, audio, video, PDF and plain data
/// formats. Active types (HTML, XML, JavaScript) are left out; SVG is in, always served as an
/// attachment with `Content-Security-Policy: sandbox`.
pub const DEFAULT_ALLOWED_MIME_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/bmp",
    "image/svg+xml",
    "audio/mpeg",
    "audio/ogg",
    "audio/wav",
    "audio/x-wav",
    "audio/webm",
    "audio/flac",
    "audio/x-flac",
    "audio/aac",
    "audio/mp4",
    "audio/m4a",
    "audio/x-m4a",
    "video/mp4",
    "video/webm",
    "video/ogg",
    "video/quicktime",
    "application/pdf",
    "text/plain",
    "text/markdown",
    "text/csv",
    "application/json",
    "application/x-ndjson",
];

/// The signing secret must be at least this long.
const MIN_SIGNING_SECRET_LEN: usize = 32;

impl FilesConfig {
    pub(super) fn parse(raw: &RawConfig, check: &mut impl FnMut(Result<(), String>)) -> Self {
        let mut size = |value: &Option<String>, name: &str, default: u64| match value {
            None => default,
            Some(text) => parse_size(text).map_or_else(
                || {
                    check(Err(format!(
                        "{name}={text}: expected a size such as 104857600, 100MiB or 1GiB"
                    )));
                    default
                },
                |bytes| bytes as u64,
            ),
        };
        let max_upload_size = size(&raw.max_upload_size, "MAX_UPLOAD_SIZE", 100 << 20);
        let redirect_threshold = size(
            &raw.files_redirect_threshold,
            "FILES_REDIRECT_THRESHOLD",
            5 << 20,
        );
        let allowed_mime_types = match raw.allowed_mime_types.as_deref() {
            None => DEFAULT_ALLOWED_MIME_TYPES
                .iter()
                .map(|text| (*text).to_owned())
                .collect(),
            Some(list) => parse_mime_list(list, check),
        };
        let signing_secret = match raw.files_signing_secret.as_deref() {
            None | Some("") => None,
            Some(secret) if secret.len() < MIN_SIGNING_SECRET_LEN => {
                check(Err(format!(
                    "FILES_SIGNING_SECRET must be at least {MIN_SIGNING_SECRET_LEN} characters"
                )));
                None
            }
            Some(secret) => Some(Secret::new(secret)),
        };
        Self {
            max_upload_size,
            allowed_mime_types,
            signing_secret,
            redirect_threshold,
            redirect: parse_redirect(raw, check),
        }
    }

    /// The file lines of `check-config`, from `MAX_UPLOAD_SIZE` to `FILES_REDIRECT`.
    pub(super) fn describe(&self, lines: &mut Vec<(&'static str, String)>) {
        lines.push(("MAX_UPLOAD_SIZE", self.max_upload_size.to_string()));
        lines.push(("ALLOWED_MIME_TYPES", self.allowed_mime_types.join(",")));
        let signing = match &self.signing_secret {
            Some(_) => "********",
            None => "(unset: a key generated once into DATA_DIR/secrets/files-signing.key)",
        };
        lines.push(("FILES_SIGNING_SECRET", signing.to_owned()));
        lines.push((
            "FILES_REDIRECT_THRESHOLD",
            self.redirect_threshold.to_string(),
        ));
        let redirect = match self.redirect {
            RedirectMode::Auto => "auto",
            RedirectMode::Never => "never",
            RedirectMode::Always => "always",
        };
        lines.push(("FILES_REDIRECT", redirect.to_owned()));
    }
}

fn parse_redirect(raw: &RawConfig, check: &mut impl FnMut(Result<(), String>)) -> RedirectMode {
    match raw.files_redirect.as_deref().map(str::trim) {
        None | Some("") | Some("auto") => RedirectMode::Auto,
        Some("never") => RedirectMode::Never,
        Some("always") => RedirectMode::Always,
        Some(other) => {
            check(Err(format!(
                "FILES_REDIRECT={other}: expected auto, never or always"
            )));
            RedirectMode::Auto
        }
    }
}

fn parse_mime_list(list: &str, check: &mut impl FnMut(Result<(), String>)) -> Vec<String> {
    let mut types = Vec::new();
    for entry in list
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
    {
        let entry = entry.to_ascii_lowercase();
        let valid = entry.split_once('/').is_some_and(|(kind, subtype)| {
            let token = |text: &str| {
                !text.is_empty()
                    && text
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
            };
            token(kind) && (subtype == "*" || token(subtype))
        });
        if valid {
            types.push(entry);
        } else {
            check(Err(format!(
                "ALLOWED_MIME_TYPES: {entry:?} is not a MIME type like image/png or image/*"
            )));
        }
    }
    if types.is_empty() {
        check(Err("ALLOWED_MIME_TYPES names no type".to_owned()));
    }
    types
}

#[cfg(test)]
mod tests {
    use super::super::values::parse_with_problems;
    use super::*;

    #[test]
    fn defaults_and_a_custom_allow_list() {
        let (files, problems) =
            parse_with_problems(|check| FilesConfig::parse(&RawConfig::default(), check));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(files.max_upload_size, 100 << 20);
        assert_eq!(files.redirect_threshold, 5 << 20);
        assert_eq!(
            files.allowed_mime_types.len(),
            DEFAULT_ALLOWED_MIME_TYPES.len()
        );
        assert!(files.signing_secret.is_none());
        let raw = RawConfig {
            max_upload_size: Some("1GiB".into()),
            allowed_mime_types: Some("Image/*, text/plain".into()),
            files_redirect: Some("never".into()),
            ..RawConfig::default()
        };
        let (files, problems) = parse_with_problems(|check| FilesConfig::parse(&raw, check));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(files.max_upload_size, 1 << 30);
        assert_eq!(files.allowed_mime_types, ["image/*", "text/plain"]);
        assert_eq!(files.redirect, RedirectMode::Never);
    }

    #[test]
    fn every_file_problem_is_named_by_variable() {
        let raw = RawConfig {
            max_upload_size: Some("huge".into()),
            allowed_mime_types: Some("image".into()),
            files_signing_secret: Some("short".into()),
            ..RawConfig::default()
        };
        let (_, problems) = parse_with_problems(|check| FilesConfig::parse(&raw, check));
        assert_eq!(
            problems,
            [
                "MAX_UPLOAD_SIZE=huge: expected a size such as 104857600, 100MiB or 1GiB",
                "ALLOWED_MIME_TYPES: \"image\" is not a MIME type like image/png or image/*",
                "ALLOWED_MIME_TYPES names no type",
                "FILES_SIGNING_SECRET must be at least 32 characters",
            ]
        );
    }
}
