//! The decisions around signed links: who the caller of a route open to them is (a signed
//! link or a bearer token, never a mix), and how long a new link to a file lives.

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

/// A link handed to a client: the path and query that serve the file, and when it stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLink {
    pub url: String,
    pub expires_at: Timestamp,
}

/// A link to file `id` of `user` (or to its variant with the canonical query `variant`)
/// living `requested` seconds from `now` (default 15 minutes, at most an hour; anything else
/// is a 422 on `expiresIn`).
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
    let expires = now + lifetime;
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
        assert_eq!(link.expires_at, Timestamp::from_millis(1_060_000));
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
        assert_eq!(download(1_060).unwrap(), user);
        assert!(matches!(download(1_061), Err(ApiError::Unauthorized(_))));
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
        assert!(file_link(&signer, id, &user, None, Some(3_600), 0).is_ok());
        for refused in [0, 3_601] {
            let error = file_link(&signer, id, &user, None, Some(refused), 0).unwrap_err();
            assert!(matches!(error, ApiError::Validation(_)));
        }
    }
}
