//! `BLOBS_FALLBACK`: the blob store files move away from after the blob backend was switched
//! (fs to S3, or back). While it is set, a file whose record still names the old backend is
//! served from it, and `quillstore migrate copy --from-fallback` moves those blobs to the
//! configured store one record at a time. It is always the other kind of store:
//!
//! - `fs`: the blobs under `DATA_DIR` (where the service kept them before `S3_MODE` was set);
//! - `fs:DIR`: the blobs of the `DATA_DIR` `DIR` (kept in `DIR/blobs`);
//! - `s3`: the bucket the `S3_*` settings describe, with `S3_MODE=disabled` (switching back
//!   to fs): `S3_ENDPOINT`, `S3_BUCKET`, `S3_PATH_PREFIX` and the keys keep their values.
//!
//! `BLOBS_FALLBACK_MOVE=true` has the service run that move itself in the background (the
//! json store admits no second process beside the service).

use std::path::{Path, PathBuf};

use super::values::parse_bool;
use super::{RawConfig, S3Config, S3Mode};

/// The old blob store, validated.
#[derive(Debug, Clone)]
pub enum BlobsFallback {
    /// The `DATA_DIR` whose fs blob store (its `blobs/`) holds the blobs.
    Fs(PathBuf),
    S3(Box<S3Config>),
}

impl BlobsFallback {
    /// `None` when unset; a fallback of the same kind as the current store is refused.
    pub(super) fn parse(
        raw: &RawConfig,
        data_dir: &Path,
        current_is_s3: bool,
        check: &mut impl FnMut(Result<(), String>),
    ) -> Option<Self> {
        let text = raw.blobs_fallback.as_deref().map(str::trim)?;
        if text.is_empty() {
            return None;
        }
        let fallback = match text.split_once(':') {
            None if text == "fs" => Self::Fs(data_dir.to_path_buf()),
            Some(("fs", dir)) if !dir.is_empty() => Self::Fs(PathBuf::from(dir)),
            None if text == "s3" => {
                Self::S3(Box::new(S3Config::parse_as(raw, S3Mode::External, check)))
            }
            _ => {
                check(Err(format!(
                    "BLOBS_FALLBACK={text}: expected fs, fs:DIR (a DATA_DIR) or s3"
                )));
                return None;
            }
        };
        match (&fallback, current_is_s3) {
            (Self::Fs(_), false) => {
                check(Err(format!(
                    "BLOBS_FALLBACK={text}: the blob store is fs already (S3_MODE is disabled); \
                     the fallback is the store the blobs move away from: s3 when switching back \
                     from S3"
                )));
                None
            }
            (Self::S3(_), true) => {
                check(Err(format!(
                    "BLOBS_FALLBACK={text}: the blob store is S3 already (S3_MODE is set); the \
                     fallback is the store the blobs move away from: fs or fs:DIR"
                )));
                None
            }
            _ => Some(fallback),
        }
    }

    /// `BLOBS_FALLBACK_MOVE`: false unless set, and only with a fallback.
    pub(super) fn parse_move(
        raw: &RawConfig,
        fallback: Option<&Self>,
        check: &mut impl FnMut(Result<(), String>),
    ) -> bool {
        let Some(text) = raw.blobs_fallback_move.as_deref().map(str::trim) else {
            return false;
        };
        let Some(moves) = parse_bool(text) else {
            check(Err(format!(
                "BLOBS_FALLBACK_MOVE={text}: expected true or false"
            )));
            return false;
        };
        if moves && fallback.is_none() && raw.blobs_fallback.is_none() {
            check(Err(
                "BLOBS_FALLBACK_MOVE=true needs BLOBS_FALLBACK (the store to move from)".to_owned(),
            ));
        }
        moves
    }

    /// The name its records carry in `storage.backend`.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Fs(_) => "fs",
            Self::S3(_) => "s3",
        }
    }

    /// The line `check-config` prints.
    pub(super) fn describe(
        this: Option<&Self>,
        moves: bool,
        lines: &mut Vec<(&'static str, String)>,
    ) {
        let shown = match this {
            None => "(unset)".to_owned(),
            Some(Self::Fs(dir)) => format!("fs (the blobs of the DATA_DIR {})", dir.display()),
            Some(Self::S3(s3)) => format!(
                "s3 (bucket {} at {}, prefix {:?})",
                s3.bucket,
                s3.endpoint.as_deref().unwrap_or("AWS"),
                s3.path_prefix
            ),
        };
        lines.push(("BLOBS_FALLBACK", shown));
        lines.push(("BLOBS_FALLBACK_MOVE", moves.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    fn on_s3(fallback: &str) -> RawConfig {
        RawConfig {
            data_dir: Some(PathBuf::from("/srv/q")),
            s3_mode: Some("external".into()),
            s3_endpoint: Some("http://127.0.0.1:3900".into()),
            s3_bucket: Some("quillstore".into()),
            blobs_fallback: Some(fallback.into()),
            ..RawConfig::default()
        }
    }

    #[test]
    fn the_fallback_is_the_other_kind_of_store() {
        let config = Config::from_raw(on_s3("fs")).unwrap();
        assert!(
            matches!(&config.blobs_fallback, Some(BlobsFallback::Fs(dir)) if dir == Path::new("/srv/q"))
        );
        let elsewhere = Config::from_raw(on_s3("fs:/old")).unwrap();
        assert!(
            matches!(&elsewhere.blobs_fallback, Some(BlobsFallback::Fs(dir)) if dir == Path::new("/old"))
        );
        let back = Config::from_raw(RawConfig {
            s3_mode: Some("disabled".into()),
            ..on_s3("s3")
        })
        .unwrap();
        match &back.blobs_fallback {
            Some(BlobsFallback::S3(s3)) => assert_eq!(s3.bucket, "quillstore"),
            other => panic!("{other:?}"),
        }
        assert!(back.s3.is_none());
        for (raw, named) in [
            (on_s3("s3"), "the blob store is S3 already"),
            (
                RawConfig {
                    s3_mode: None,
                    ..on_s3("fs")
                },
                "the blob store is fs already",
            ),
            (on_s3("ftp:x"), "expected fs, fs:DIR"),
            (
                RawConfig {
                    s3_mode: None,
                    s3_bucket: None,
                    ..on_s3("s3")
                },
                "S3_BUCKET is required",
            ),
        ] {
            let errors = Config::from_raw(raw).unwrap_err().to_string();
            assert!(errors.contains(named), "{named} missing from {errors}");
        }
        let moving = Config::from_raw(RawConfig {
            blobs_fallback_move: Some("true".into()),
            ..on_s3("fs")
        })
        .unwrap();
        assert!(moving.blobs_fallback_move);
        let errors = Config::from_raw(RawConfig {
            blobs_fallback_move: Some("true".into()),
            blobs_fallback: None,
            ..on_s3("fs")
        })
        .unwrap_err()
        .to_string();
        assert!(
            errors.contains("BLOBS_FALLBACK_MOVE=true needs"),
            "{errors}"
        );
        assert!(
            Config::from_raw(on_s3(" "))
                .unwrap()
                .blobs_fallback
                .is_none()
        );
    }
}
