//! File settings: upload limit, MIME allow-list, link signing secret, redirect threshold.

use super::{RawConfig, RedirectMode, Secret, parse_size};

/// Settings of the file routes and the blob store.
#[derive(Debug, Clone)]
pub struct FilesConfig {
    pub max_upload_size: u64,
    /// Lowercase MIME types; an entry `type/*` admits every subtype.
    pub allowed_mime_types: Vec<String>,
    /// `None`: a random secret is generated at start (links die on restart).
    pub signing_secret: Option<Secret>,
    pub redirect_threshold: u64,
    /// Whether downloads from S3 are redirected (`FILES_REDIRECT`).
    pub redirect: RedirectMode,
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

pub(super) fn parse_files(
    raw: &RawConfig,
    check: &mut impl FnMut(Result<(), String>),
) -> FilesConfig {
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
    FilesConfig {
        max_upload_size,
        allowed_mime_types,
        signing_secret,
        redirect_threshold,
        redirect: super::s3::parse_redirect(raw, check),
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
