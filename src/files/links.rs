//! The decisions around signed links: who the caller of a route open to them is (a signed
//! link or a bearer token, never a mix), how long a new link to a file lives, and how long a
//! browser may keep what a link served.
//!
//! Links are stable: the expiry is rounded up to the next multiple of a window (the lifetime
//! asked for, at most [`MAX_WINDOW_SECS`]), so every request for the same file, user,
//! variant and lifetime within one window gets the same URL, and a re-rendered `<img>` hits
//! the browser cache. A link always lives at least the lifetime asked for, and less than that
//! plus one window.

use uuid::Uuid;

use super::signing::{DEFAULT_LIFETIME_SECS, LinkError, MAX_LIFETIME_SECS, SignedQuery, UrlSigner};
use crate::error::{ApiError, Result};
use crate::model::{Timestamp, UserId};

/// What a signed link opens: a download of one file, of one variant of it (named by its
/// canonical query), or the direct-upload PUT of one upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose<'a> {
    Download,
    Variant(&'a str),
    Upload,
}

/// The caller of a route open to signed links, at Unix time `now`: with link parameters in
/// the query, the user the link was signed for (for the id in the path, which must be
/// valid); without them, the user of the bearer token (`bearer`). A refused link is a 401.
pub fn caller(
    signer: &UrlSigner,
    purpose: LinkPurpose<'_>,
    id: Option<Uuid>,
    signed: &SignedQuery,
    now: u64,
    bearer: impl FnOnce() -> Result<UserId>,
) -> Result<UserId> {
    if signed.is_empty() {
        return bearer();
    }
    let verified = match id {
        None => Err(LinkError::BadSignature),
        Some(id) => match purpose {
            LinkPurpose::Download => signer.verify(id, signed, now),
            LinkPurpose::Variant(variant) => signer.verify_variant(id, variant, signed, now),
            LinkPurpose::Upload => signer.verify_upload(id, signed, now),
        },
    };
    verified.map_err(|problem| ApiError::Unauthorized(problem.to_string()))
}

/// The longest window within which requests for a link get the same URL.
pub const MAX_WINDOW_SECS: u64 = 5 * 60;

/// The expiry of a link asked at `now` for `lifetime` seconds: `now + lifetime` rounded up to
/// a multiple of the window (`lifetime`, at most [`MAX_WINDOW_SECS`]).
pub fn stable_expiry(now: u64, lifetime: u64) -> u64 {
    let window = lifetime.clamp(1, MAX_WINDOW_SECS);
    (now + lifetime).div_ceil(window) * window
}

/// `Cache-Control` of a response served through a link that expires at `expires`: the
/// browser may keep it for the rest of the link's life (the bytes under a link never change).
pub fn link_cache_control(expires: u64, now: u64) -> String {
    format!(
        "private, max-age={}, immutable",
        expires.saturating_sub(now)
    )
}

/// A link handed to a client: the path and query that serve the file, and when it stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLink {
    pub url: String,
    pub expires_at: Timestamp,
}

/// A link to file `id` of `user` (or to its variant with the canonical query `variant`)
/// living at least `requested` seconds from `now` (default 15 minutes, at most an hour;
/// anything else is a 422 on `expiresIn`), the same URL throughout its window.
pub fn file_link(
    signer: &UrlSigner,
    id: Uuid,
    user: &UserId,
    variant: Option<&str>,
    requested: Option<u64>,
    now: u64,
) -> Result<FileLink> {
    let lifetime = requested.unwrap_or(DEFAULT_LIFETIME_SECS);
    if !(1..=MAX_LIFETIME_SECS).contains(&lifetime) {
        return Err(ApiError::validation(
            "expiresIn",
            format!("must be 1-{MAX_LIFETIME_SECS} seconds"),
        ));
    }
    let expires = stable_expiry(now, lifetime);
    Ok(FileLink {
        url: match variant {
            Some(variant) => signer.signed_variant_path(id, variant, user, expires),
            None => signer.signed_path(id, user, expires),
        },
        expires_at: Timestamp::from_millis(
            i64::try_from(expires).unwrap_or(i64::MAX / 1000) * 1000,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    use crate::files::signing::tests::query_of;

    fn signer() -> UrlSigner {
        UrlSigner::new(Some(&Secret::new("k".repeat(32)))).unwrap()
    }

    fn no_bearer() -> Result<UserId> {
        Err(ApiError::Unauthorized("no token".to_owned()))
    }

    #[test]
    fn a_link_lets_its_user_in_until_it_expires_and_only_for_its_purpose() {
        let (signer, id, user) = (signer(), Uuid::now_v7(), UserId::local());
        let link = file_link(&signer, id, &user, None, Some(60), 1_000).unwrap();
        assert_eq!(link.expires_at, Timestamp::from_millis(1_080_000));
        let signed = query_of(&link.url);
        let download = |now| {
            caller(
                &signer,
                LinkPurpose::Download,
                Some(id),
                &signed,
                now,
                no_bearer,
            )
        };
        assert_eq!(download(1_080).unwrap(), user);
        assert!(matches!(download(1_081), Err(ApiError::Unauthorized(_))));
        let upload = caller(
            &signer,
            LinkPurpose::Upload,
            Some(id),
            &signed,
            1_000,
            no_bearer,
        );
        assert!(matches!(upload, Err(ApiError::Unauthorized(_))));
        let no_id = caller(
            &signer,
            LinkPurpose::Download,
            None,
            &signed,
            1_000,
            no_bearer,
        );
        assert!(matches!(no_id, Err(ApiError::Unauthorized(_))));
    }

    #[test]
    fn links_are_the_same_within_a_window_and_live_at_least_what_was_asked() {
        let (signer, id, user) = (signer(), Uuid::now_v7(), UserId::local());
        let at = |now| file_link(&signer, id, &user, None, Some(900), now).unwrap();
        assert_eq!(at(1_201).url, at(1_500).url);
        assert_ne!(at(1_500).url, at(1_501).url);
        for now in [0, 1, 299, 300, 301, 3_599] {
            for lifetime in [1, 60, 299, 300, 301, 900, 3_600] {
                let expires = stable_expiry(now, lifetime);
                assert!(expires >= now + lifetime, "{now} {lifetime}");
                assert!(expires < now + lifetime + MAX_WINDOW_SECS.min(lifetime).max(1));
            }
        }
        assert_eq!(
            link_cache_control(1_500, 1_200),
            "private, max-age=300, immutable"
        );
        assert_eq!(
            link_cache_control(1_500, 1_600),
            "private, max-age=0, immutable"
        );
    }

    #[test]
    fn without_link_parameters_the_bearer_token_decides() {
        let signer = signer();
        let empty = SignedQuery::default();
        let bearer = || Ok(UserId::local());
        let found = caller(&signer, LinkPurpose::Upload, None, &empty, 0, bearer);
        assert_eq!(found.unwrap(), UserId::local());
        let refused = caller(&signer, LinkPurpose::Download, None, &empty, 0, no_bearer);
        assert!(matches!(refused, Err(ApiError::Unauthorized(_))));
    }

    #[test]
    fn link_lifetimes_default_to_fifteen_minutes_and_stop_at_an_hour() {
        let (signer, id, user) = (signer(), Uuid::now_v7(), UserId::local());
        let default = file_link(&signer, id, &user, None, None, 0).unwrap();
        assert_eq!(default.expires_at, Timestamp::from_millis(900_000));
        let later = file_link(&signer, id, &user, None, None, 1).unwrap();
        assert_eq!(later.expires_at, Timestamp::from_millis(1_200_000));
        assert!(file_link(&signer, id, &user, None, Some(3_600), 0).is_ok());
        for refused in [0, 3_601] {
            let error = file_link(&signer, id, &user, None, Some(refused), 0).unwrap_err();
            assert!(matches!(error, ApiError::Validation(_)));
        }
    }
}
