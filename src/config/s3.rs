//! S3 settings (`S3_MODE` external or embedded): where the bucket is, how to sign for it, how
//! long to wait for it, and where redirected downloads point (presigned URLs or
//! `S3_PUBLIC_URL`). Whether a download is redirected is `FILES_REDIRECT`, in `files`.

use std::path::PathBuf;
use std::time::Duration;

use super::values::parse_bool;
use super::{RawConfig, Secret};

/// How the blob store is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3Mode {
    /// An S3 service run by someone else (AWS, R2, a Garage cluster).
    External,
    /// The Garage started next to quillstore (the all-in-one image): the bucket may be made.
    Embedded,
}

/// Which checksums the store is trusted to verify (`S3_CHECKSUM`): a SHA-256 on direct
/// uploads (so they need not be read back), and the checksum on quillstore's own writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumMode {
    /// Probed at start: quillstore's writes carry a CRC32C when the store verifies one, else
    /// a SHA-256 when it verifies that, else no checksum (the payload is then signed).
    Auto,
    /// The store verifies checksums; quillstore's writes carry a CRC32C (no probe).
    Crc32c,
    /// The store verifies checksums; quillstore's writes carry a SHA-256 (no probe).
    Sha256,
    /// No checksum header: quillstore's writes are protected by a signed payload hash.
    Off,
}

/// How streamed downloads are fetched (`S3_RELAY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayMode {
    /// From a plain `http://` endpoint, on quillstore's own connections with a presigned GET,
    /// the body passed to the client with splice(2) on Linux; from `https://`, as `Sdk`.
    Auto,
    /// Through the AWS SDK, like every other request.
    Sdk,
}

/// The validated S3 settings.
#[derive(Debug, Clone)]
pub struct S3Config {
    pub mode: S3Mode,
    /// `None`: AWS S3, endpoint resolved from the region.
    pub endpoint: Option<String>,
    /// Every request goes to this Unix socket (`S3_SOCKET`) instead of `endpoint`'s address;
    /// `endpoint` (then `http://`) is still the host requests are signed for.
    pub socket: Option<PathBuf>,
    pub region: String,
    /// `None`: the default AWS credential chain (environment, profile, web identity, ECS,
    /// instance metadata), so IAM roles work.
    /// The key id is masked too: it names the account.
    pub access_key: Option<Secret>,
    pub secret_key: Option<Secret>,
    pub bucket: String,
    /// Empty, or segments ending in `/`; prepended to every key.
    pub path_prefix: String,
    /// Redirects go to `{public_url}/{key}` (a CDN or public bucket) instead of a presigned URL.
    pub public_url: Option<String>,
    pub force_path_style: bool,
    /// Presigned URLs are signed for this endpoint instead of `endpoint`
    /// (`S3_PRESIGN_ENDPOINT`): the address browsers reach the store at.
    pub presign_endpoint: Option<String>,
    /// `X-Amz-Expires` of presigned URLs; URLs are signed at the start of windows half as long,
    /// so every URL handed out stays valid for at least half of this.
    pub presign_expiry: Duration,
    pub create_bucket: bool,
    /// Bounds connecting and every request that moves no file body (never a 30 s hang).
    pub timeout: Duration,
    pub checksum: ChecksumMode,
    pub relay: RelayMode,
}

/// The longest presigned URL lifetime SigV4 allows (7 days).
const MAX_PRESIGN_EXPIRY_SECS: u64 = 7 * 24 * 3600;

/// With `S3_SOCKET`: the endpoint, `http://localhost` when unset, must be plain HTTP (the socket
/// carries no TLS), and browsers, which cannot reach a socket, are only redirected to the
/// store where `S3_PRESIGN_ENDPOINT` or `S3_PUBLIC_URL` says how they reach it.
fn check_socket(
    path: &std::path::Path,
    endpoint: &mut Option<String>,
    browsers_reach_the_store: bool,
    files_redirect: Option<&str>,
    check: &mut impl FnMut(Result<(), String>),
) {
    if !path.is_absolute() {
        check(Err(format!(
            "S3_SOCKET={}: expected an absolute path such as /run/garage/s3.sock",
            path.display()
        )));
    }
    if cfg!(not(unix)) {
        check(Err(format!(
            "S3_SOCKET={}: Unix sockets need a Unix system",
            path.display()
        )));
    }
    let endpoint = endpoint.get_or_insert_with(|| "http://localhost".to_owned());
    if !endpoint.starts_with("http://") {
        check(Err(format!(
            "S3_SOCKET is plain HTTP: S3_ENDPOINT={endpoint} must be an http:// URL (the host \
             requests are signed for), or unset for http://localhost"
        )));
    }
    if !browsers_reach_the_store && files_redirect != Some("never") {
        check(Err(
            "S3_SOCKET: browsers cannot follow a redirect to a store on a Unix socket: set \
             FILES_REDIRECT=never (quillstore streams every file), or S3_PRESIGN_ENDPOINT or \
             S3_PUBLIC_URL to where browsers reach the store"
                .to_owned(),
        ));
    }
}

/// `a/b` and `a/b/` both become `a/b/`; every segment must be safe in a key.
fn parse_prefix(text: &str, check: &mut impl FnMut(Result<(), String>)) -> String {
    let trimmed = text.trim().trim_matches('/');
    if trimmed.is_empty() {
        return String::new();
    }
    let safe = trimmed.split('/').all(|segment| {
        !segment.is_empty()
            && !segment.starts_with('.')
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    });
    if !safe {
        check(Err(format!(
            "S3_PATH_PREFIX={text}: expected segments of A-Z a-z 0-9 . _ - separated by /"
        )));
    }
    format!("{trimmed}/")
}

/// A setting's trimmed value, `None` when unset or blank.
fn non_empty(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

fn valid_bucket(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && !name.starts_with(['.', '-'])
        && !name.ends_with(['.', '-'])
}

impl S3Config {
    /// The S3 settings of `raw` alone (for tools that need no other setting): `None` when
    /// `S3_MODE` is unset or disabled; every problem named by variable.
    pub fn from_raw(raw: &RawConfig) -> Result<Option<Self>, super::ConfigErrors> {
        let mut problems = Vec::new();
        let settings = Self::parse(raw, &mut |result: Result<(), String>| {
            if let Err(problem) = result {
                problems.push(problem);
            }
        });
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(super::ConfigErrors(problems))
        }
    }

    /// `None` when `S3_MODE` is unset or disabled, or names no mode (then reported).
    pub(super) fn parse(
        raw: &RawConfig,
        check: &mut impl FnMut(Result<(), String>),
    ) -> Option<Self> {
        let mode = match non_empty(&raw.s3_mode).as_deref() {
            None | Some("disabled") => return None,
            Some("external") => S3Mode::External,
            Some("embedded") => S3Mode::Embedded,
            Some(other) => {
                check(Err(format!(
                    "S3_MODE={other}: expected disabled, external or embedded"
                )));
                return None;
            }
        };
        Some(Self::parse_as(raw, mode, check))
    }

    /// The S3 settings of `raw` for a store reached in `mode`, whatever `S3_MODE` says (a
    /// `BLOBS_FALLBACK=s3` bucket is described by the S3_* settings with `S3_MODE=disabled`).
    pub(super) fn parse_as(
        raw: &RawConfig,
        mode: S3Mode,
        check: &mut impl FnMut(Result<(), String>),
    ) -> Self {
        let url =
            |name: &str, value: &Option<String>, check: &mut dyn FnMut(Result<(), String>)| {
                let url = non_empty(value)?;
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    check(Err(format!(
                        "{name}={url}: expected a URL such as http://127.0.0.1:3900"
                    )));
                }
                Some(url)
            };
        let mut endpoint = url("S3_ENDPOINT", &raw.s3_endpoint, check);
        let presign_endpoint = url("S3_PRESIGN_ENDPOINT", &raw.s3_presign_endpoint, check);
        let public_url =
            non_empty(&raw.s3_public_url).map(|url| url.trim_end_matches('/').to_owned());
        let socket = non_empty(&raw.s3_socket).map(PathBuf::from);
        if let Some(path) = &socket {
            check_socket(
                path,
                &mut endpoint,
                presign_endpoint.is_some() || public_url.is_some(),
                raw.files_redirect.as_deref().map(str::trim),
                check,
            );
        }
        if let Some(url) = &public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            check(Err(format!(
                "S3_PUBLIC_URL={url}: expected a URL such as https://cdn.example.com/files"
            )));
        }
        let access_key = non_empty(&raw.s3_access_key).map(Secret::new);
        let secret_key = non_empty(&raw.s3_secret_key).map(Secret::new);
        if access_key.is_some() != secret_key.is_some() {
            check(Err(
                "S3_ACCESS_KEY and S3_SECRET_KEY go together: set both, or neither to use the \
                 default AWS credential chain"
                    .to_owned(),
            ));
        }
        let bucket = non_empty(&raw.s3_bucket).unwrap_or_default();
        if bucket.is_empty() {
            check(Err(
                "S3_BUCKET is required when S3_MODE is external or embedded (or BLOBS_FALLBACK=s3)"
                    .to_owned(),
            ));
        } else if !valid_bucket(&bucket) {
            check(Err(format!(
                "S3_BUCKET={bucket}: not a bucket name (3-63 of a-z 0-9 . -)"
            )));
        }
        let path_prefix = parse_prefix(raw.s3_path_prefix.as_deref().unwrap_or_default(), check);
        let force_path_style = match &raw.s3_force_path_style {
            None => endpoint.is_some(),
            Some(text) => parse_bool(text).unwrap_or_else(|| {
                check(Err(format!(
                    "S3_FORCE_PATH_STYLE={text}: expected true or false"
                )));
                true
            }),
        };
        let create_bucket = match &raw.s3_create_bucket {
            None => mode == S3Mode::Embedded,
            Some(text) => parse_bool(text).unwrap_or_else(|| {
                check(Err(format!(
                    "S3_CREATE_BUCKET={text}: expected true or false"
                )));
                false
            }),
        } || mode == S3Mode::Embedded;
        let mut seconds = |value: &Option<String>, name: &str, default: u64, max: u64| match value {
            None => default,
            Some(text) => match text.trim().parse::<u64>() {
                Ok(number) if (1..=max).contains(&number) => number,
                _ => {
                    check(Err(format!(
                        "{name}={text}: expected a whole number 1-{max}"
                    )));
                    default
                }
            },
        };
        let presign_expiry = seconds(
            &raw.s3_presign_expiry,
            "S3_PRESIGN_EXPIRY",
            3600,
            MAX_PRESIGN_EXPIRY_SECS,
        );
        let timeout_ms = seconds(&raw.s3_timeout_ms, "S3_TIMEOUT_MS", 5000, 600_000);
        let checksum = match non_empty(&raw.s3_checksum).as_deref() {
            None | Some("auto") => ChecksumMode::Auto,
            Some("crc32c") => ChecksumMode::Crc32c,
            Some("sha256") => ChecksumMode::Sha256,
            Some("off") => ChecksumMode::Off,
            Some(other) => {
                check(Err(format!(
                    "S3_CHECKSUM={other}: expected auto, crc32c, sha256 or off"
                )));
                ChecksumMode::Auto
            }
        };
        let relay = match non_empty(&raw.s3_relay).as_deref() {
            None | Some("auto") => RelayMode::Auto,
            Some("sdk") => RelayMode::Sdk,
            Some(other) => {
                check(Err(format!("S3_RELAY={other}: expected auto or sdk")));
                RelayMode::Auto
            }
        };
        Self {
            mode,
            endpoint,
            socket,
            region: non_empty(&raw.s3_region).unwrap_or_else(|| "us-east-1".to_owned()),
            access_key,
            secret_key,
            bucket,
            path_prefix,
            public_url,
            force_path_style,
            presign_endpoint,
            presign_expiry: Duration::from_secs(presign_expiry),
            create_bucket,
            timeout: Duration::from_millis(timeout_ms),
            checksum,
            relay,
        }
    }

    /// Whether browsers can reach the URLs presigned for this store: not for a store on a
    /// Unix socket (`S3_SOCKET`) unless `S3_PRESIGN_ENDPOINT` says where they reach it.
    pub fn presigns_for_browsers(&self) -> bool {
        self.socket.is_none() || self.presign_endpoint.is_some()
    }

    /// `(variable, value)` pairs for `check-config`, secrets masked.
    pub fn describe(&self, lines: &mut Vec<(&'static str, String)>) {
        let mode = match self.mode {
            S3Mode::External => "external",
            S3Mode::Embedded => "embedded",
        };
        lines.push(("S3_MODE", mode.to_owned()));
        lines.push((
            "S3_ENDPOINT",
            self.endpoint
                .clone()
                .unwrap_or_else(|| "(AWS, from the region)".to_owned()),
        ));
        lines.push((
            "S3_SOCKET",
            self.socket.as_ref().map_or_else(
                || "(unset: S3_ENDPOINT's address)".to_owned(),
                |path| path.display().to_string(),
            ),
        ));
        lines.push(("S3_REGION", self.region.clone()));
        match &self.access_key {
            Some(key) => {
                let shown: String = key.expose().chars().take(4).collect();
                lines.push(("S3_ACCESS_KEY", format!("{shown}********")));
                lines.push(("S3_SECRET_KEY", "********".to_owned()));
            }
            None => lines.push((
                "S3_ACCESS_KEY",
                "(unset: the default AWS credential chain)".to_owned(),
            )),
        }
        lines.push(("S3_BUCKET", self.bucket.clone()));
        lines.push(("S3_PATH_PREFIX", self.path_prefix.clone()));
        lines.push((
            "S3_PUBLIC_URL",
            self.public_url
                .clone()
                .unwrap_or_else(|| "(unset: presigned URLs)".to_owned()),
        ));
        lines.push(("S3_FORCE_PATH_STYLE", self.force_path_style.to_string()));
        lines.push((
            "S3_PRESIGN_ENDPOINT",
            self.presign_endpoint
                .clone()
                .unwrap_or_else(|| "(unset: S3_ENDPOINT)".to_owned()),
        ));
        lines.push((
            "S3_PRESIGN_EXPIRY",
            self.presign_expiry.as_secs().to_string(),
        ));
        lines.push(("S3_CREATE_BUCKET", self.create_bucket.to_string()));
        lines.push(("S3_TIMEOUT_MS", self.timeout.as_millis().to_string()));
        let checksum = match self.checksum {
            ChecksumMode::Auto => "auto",
            ChecksumMode::Crc32c => "crc32c",
            ChecksumMode::Sha256 => "sha256",
            ChecksumMode::Off => "off",
        };
        lines.push(("S3_CHECKSUM", checksum.to_owned()));
        let relay = match self.relay {
            RelayMode::Auto => "auto",
            RelayMode::Sdk => "sdk",
        };
        lines.push(("S3_RELAY", relay.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Config, RawConfig};
    use super::*;

    fn s3_raw() -> RawConfig {
        RawConfig {
            s3_mode: Some("external".into()),
            s3_endpoint: Some("http://127.0.0.1:3900".into()),
            s3_bucket: Some("quillstore".into()),
            s3_access_key: Some("GK0123456789abcdef01234567".into()),
            s3_secret_key: Some("topsecret-topsecret-topsecret".into()),
            ..RawConfig::default()
        }
    }

    #[test]
    fn s3_defaults_follow_the_endpoint_and_secrets_are_masked() {
        let config = Config::from_raw(s3_raw()).unwrap();
        let s3 = config.s3.as_ref().unwrap();
        assert!(s3.force_path_style);
        assert!(!s3.create_bucket);
        assert_eq!(s3.path_prefix, "");
        assert_eq!(s3.timeout, Duration::from_secs(5));
        let printed = format!("{config:?} {:?}", config.describe());
        assert!(!printed.contains("topsecret"), "{printed}");
        assert!(!printed.contains("0123456789abcdef"), "{printed}");
        let aws = Config::from_raw(RawConfig {
            s3_endpoint: None,
            s3_mode: Some("embedded".into()),
            s3_path_prefix: Some("/a/b".into()),
            ..s3_raw()
        })
        .unwrap();
        let aws = aws.s3.unwrap();
        assert!(!aws.force_path_style);
        assert!(aws.create_bucket);
        assert_eq!(aws.path_prefix, "a/b/");
        assert!(Config::from_raw(RawConfig::default()).unwrap().s3.is_none());
    }

    #[test]
    fn a_socket_keeps_the_endpoint_as_the_signed_host_and_needs_somewhere_for_browsers() {
        let socket = |endpoint: Option<&str>, redirect: Option<&str>, presign: Option<&str>| {
            Config::from_raw(RawConfig {
                s3_socket: Some("/run/garage/s3.sock".into()),
                s3_endpoint: endpoint.map(Into::into),
                files_redirect: redirect.map(Into::into),
                s3_presign_endpoint: presign.map(Into::into),
                ..s3_raw()
            })
        };
        let config = socket(None, Some("never"), None).unwrap();
        let s3 = config.s3.as_ref().unwrap();
        assert_eq!(s3.endpoint.as_deref(), Some("http://localhost"));
        assert_eq!(s3.socket.as_deref(), Some("/run/garage/s3.sock".as_ref()));
        assert!(s3.force_path_style, "path style, as for any endpoint");
        let described = config.describe();
        assert!(
            described
                .iter()
                .any(|(name, value)| *name == "S3_SOCKET" && value == "/run/garage/s3.sock"),
            "{described:?}"
        );
        let kept = socket(
            Some("http://garage:3900"),
            None,
            Some("http://127.0.0.1:3900"),
        );
        assert_eq!(
            kept.unwrap().s3.unwrap().endpoint.as_deref(),
            Some("http://garage:3900")
        );

        let redirects = socket(None, None, None).unwrap_err().to_string();
        assert!(redirects.contains("FILES_REDIRECT=never"), "{redirects}");
        let tls = socket(Some("https://s3.example.com"), Some("never"), None);
        assert!(tls.unwrap_err().to_string().contains("http:// URL"));
        let relative = Config::from_raw(RawConfig {
            s3_socket: Some("s3.sock".into()),
            files_redirect: Some("never".into()),
            ..s3_raw()
        });
        assert!(relative.unwrap_err().to_string().contains("absolute path"));
        assert!(
            Config::from_raw(s3_raw())
                .unwrap()
                .s3
                .unwrap()
                .socket
                .is_none(),
            "unset: S3_ENDPOINT's address"
        );
    }

    #[test]
    fn every_s3_problem_is_named_by_variable() {
        let raw = RawConfig {
            s3_mode: Some("external".into()),
            s3_endpoint: Some("garage:3900".into()),
            s3_access_key: Some("GK1".into()),
            s3_path_prefix: Some("a/../b".into()),
            s3_force_path_style: Some("maybe".into()),
            s3_presign_expiry: Some("0".into()),
            s3_create_bucket: Some("perhaps".into()),
            s3_timeout_ms: Some("soon".into()),
            s3_checksum: Some("md5".into()),
            s3_relay: Some("always".into()),
            s3_public_url: Some("cdn".into()),
            s3_presign_endpoint: Some("localhost:3900".into()),
            files_redirect: Some("sometimes".into()),
            ..RawConfig::default()
        };
        let errors = Config::from_raw(raw).unwrap_err().to_string();
        for name in [
            "S3_ENDPOINT=",
            "S3_SECRET_KEY",
            "S3_BUCKET is required",
            "S3_PATH_PREFIX=",
            "S3_FORCE_PATH_STYLE=",
            "S3_PRESIGN_EXPIRY=",
            "S3_CREATE_BUCKET=",
            "S3_TIMEOUT_MS=",
            "S3_CHECKSUM=",
            "S3_RELAY=",
            "S3_PUBLIC_URL=",
            "S3_PRESIGN_ENDPOINT=",
            "FILES_REDIRECT=",
        ] {
            assert!(errors.contains(name), "{name} missing from {errors}");
        }
        let bad_mode = RawConfig {
            s3_mode: Some("cloud".into()),
            ..RawConfig::default()
        };
        assert!(
            Config::from_raw(bad_mode)
                .unwrap_err()
                .to_string()
                .contains("S3_MODE=cloud")
        );
    }
}
