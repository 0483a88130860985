//! Signed file links: `GET /api/files/{id}?user=..&expires=..&signature=..` serves one file
//! without an `Authorization` header (for `<img src>`). The signature is an HMAC-SHA256 over
//! the file id, the user id and the expiry, keyed with `FILES_SIGNING_SECRET`. A link to an
//! image variant (`?w=..&h=..&format=..&user=..`) also signs the variant's canonical query, in
//! a context of its own: it opens that variant only, never the original or another size. The same key
//! signs the direct-upload URLs of the fs store (`PUT /api/files/uploads/{uploadId}?..`) in
//! another context, so neither kind of link can stand in for the other.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use crate::config::Secret;
use crate::model::UserId;

/// Lifetime of a link when the request names none.
pub const DEFAULT_LIFETIME_SECS: u64 = 15 * 60;
/// The longest lifetime a link may have.
pub const MAX_LIFETIME_SECS: u64 = 60 * 60;
/// Distinguish these signatures from any other use of the same secret.
const CONTEXT: &str = "quillstore-file-link-v1";
const UPLOAD_CONTEXT: &str = "quillstore-direct-upload-v1";
const VARIANT_CONTEXT: &str = "quillstore-file-variant-link-v1";

/// Seconds since the Unix epoch, the unit of `expires`.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Why a signed link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the signed link is incomplete or malformed")]
    Malformed,
    #[error("the signed link has expired")]
    Expired,
    #[error("the signed link's signature is not valid for this file")]
    BadSignature,
}

/// Signs and checks file links with one key, fixed for the life of the process.
pub struct UrlSigner {
    key: Vec<u8>,
}

/// The query of a signed link, as sent back by the client.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedQuery {
    pub user: Option<String>,
    pub expires: Option<String>,
    pub signature: Option<String>,
}

impl SignedQuery {
    pub fn is_empty(&self) -> bool {
        self.user.is_none() && self.expires.is_none() && self.signature.is_none()
    }
}

impl UrlSigner {
    /// Uses the configured secret, or a random one (and says so: links then die on restart
    /// and differ between instances).
    pub fn new(secret: Option<&Secret>) -> anyhow::Result<Self> {
        let key = match secret {
            Some(secret) => secret.expose().as_bytes().to_vec(),
            None => {
                let mut key = vec![0u8; 32];
                getrandom::fill(&mut key)
                    .map_err(|error| anyhow::anyhow!("cannot generate a signing key: {error}"))?;
                tracing::warn!(
                    "FILES_SIGNING_SECRET is not set: signed file links use a random per-process \
                     key and stop working when the service restarts"
                );
                key
            }
        };
        Ok(Self { key })
    }

    /// The MAC of a link; `context` may carry more lines (a variant's canonical query).
    fn mac(&self, context: &str, id: Uuid, user: &UserId, expires: u64) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        mac.update(format!("{context}\n{id}\n{user}\n{expires}").as_bytes());
        mac
    }

    fn query(&self, context: &str, id: Uuid, user: &UserId, expires: u64) -> String {
        let signature =
            URL_SAFE_NO_PAD.encode(self.mac(context, id, user, expires).finalize().into_bytes());
        let user = URL_SAFE_NO_PAD.encode(user.as_str());
        format!("user={user}&expires={expires}&signature={signature}")
    }

    /// The path and query of a link to `file_id` valid until `expires` (Unix seconds).
    pub fn signed_path(&self, file_id: Uuid, user: &UserId, expires: u64) -> String {
        let query = self.query(CONTEXT, file_id, user, expires);
        format!("/api/files/{file_id}?{query}")
    }

    /// The path and query of a link to the variant `variant` (a canonical variant query such
    /// as `w=256&h=256&format=webp`) of `file_id`, valid until `expires`.
    pub fn signed_variant_path(
        &self,
        file_id: Uuid,
        variant: &str,
        user: &UserId,
        expires: u64,
    ) -> String {
        let context = format!("{VARIANT_CONTEXT}\n{variant}");
        let query = self.query(&context, file_id, user, expires);
        format!("/api/files/{file_id}?{variant}&{query}")
    }

    /// The user a variant link acts for, if it is intact, unexpired and made for this
    /// variant (`variant`: its canonical query) of `file_id`.
    pub fn verify_variant(
        &self,
        file_id: Uuid,
        variant: &str,
        query: &SignedQuery,
        now: u64,
    ) -> Result<UserId, LinkError> {
        self.verify_in(
            &format!("{VARIANT_CONTEXT}\n{variant}"),
            file_id,
            query,
            now,
        )
    }

    /// The path and query of the PUT that uploads the bytes of direct upload `upload_id`.
    pub fn signed_upload_path(&self, upload_id: Uuid, user: &UserId, expires: u64) -> String {
        let query = self.query(UPLOAD_CONTEXT, upload_id, user, expires);
        format!("/api/files/uploads/{upload_id}?{query}")
    }

    /// The user a link acts for, if it is intact, unexpired and made for `file_id`.
    pub fn verify(
        &self,
        file_id: Uuid,
        query: &SignedQuery,
        now: u64,
    ) -> Result<UserId, LinkError> {
        self.verify_in(CONTEXT, file_id, query, now)
    }

    /// The user a direct-upload PUT acts for, if its link is intact, unexpired and made for
    /// `upload_id`.
    pub fn verify_upload(
        &self,
        upload_id: Uuid,
        query: &SignedQuery,
        now: u64,
    ) -> Result<UserId, LinkError> {
        self.verify_in(UPLOAD_CONTEXT, upload_id, query, now)
    }

    fn verify_in(
        &self,
        context: &str,
        file_id: Uuid,
        query: &SignedQuery,
        now: u64,
    ) -> Result<UserId, LinkError> {
        let (Some(user), Some(expires), Some(signature)) =
            (&query.user, &query.expires, &query.signature)
        else {
            return Err(LinkError::Malformed);
        };
        let user = URL_SAFE_NO_PAD
            .decode(user)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| UserId::parse(&text).ok())
            .ok_or(LinkError::Malformed)?;
        let expires: u64 = expires.parse().map_err(|_| LinkError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| LinkError::Malformed)?;
        self.mac(context, file_id, &user, expires)
            .verify_slice(&signature)
            .map_err(|_| LinkError::BadSignature)?;
        if expires < now {
            return Err(LinkError::Expired);
        }
        Ok(user)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The signed query of a link, as a client would send it back (also used by `links`).
    pub(crate) fn query_of(path: &str) -> SignedQuery {
        let query = path.split_once('?').unwrap().1;
        let value = |name: &str| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
                .map(str::to_owned)
        };
        SignedQuery {
            user: value("user"),
            expires: value("expires"),
            signature: value("signature"),
        }
    }

    #[test]
    fn links_open_one_file_for_a_while() {
        let signer = UrlSigner::new(Some(&Secret::new("k".repeat(32)))).unwrap();
        let file = Uuid::now_v7();
        let user = UserId::parse("auth0|abc").unwrap();
        let query = query_of(&signer.signed_path(file, &user, 1_000));
        assert_eq!(signer.verify(file, &query, 999), Ok(user.clone()));
        assert_eq!(signer.verify(file, &query, 1_001), Err(LinkError::Expired));
        assert_eq!(
            signer.verify(Uuid::now_v7(), &query, 999),
            Err(LinkError::BadSignature)
        );
        let mut later = query.clone();
        later.expires = Some("2000".to_owned());
        assert_eq!(
            signer.verify(file, &later, 999),
            Err(LinkError::BadSignature)
        );
        let mut other_user = query.clone();
        other_user.user = Some(URL_SAFE_NO_PAD.encode("mallory"));
        assert_eq!(
            signer.verify(file, &other_user, 999),
            Err(LinkError::BadSignature)
        );
        let upload = query_of(&signer.signed_upload_path(file, &user, 1_000));
        assert_eq!(signer.verify_upload(file, &upload, 999), Ok(user.clone()));
        assert_eq!(
            signer.verify(file, &upload, 999),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            signer.verify_upload(file, &query, 999),
            Err(LinkError::BadSignature)
        );
        let variant = query_of(&signer.signed_variant_path(file, "w=64&format=webp", &user, 1_000));
        assert_eq!(
            signer.verify_variant(file, "w=64&format=webp", &variant, 999),
            Ok(user.clone())
        );
        for (other, variant) in [
            ("w=128&format=webp", &variant),
            ("w=64&format=webp", &query),
        ] {
            assert_eq!(
                signer.verify_variant(file, other, variant, 999),
                Err(LinkError::BadSignature)
            );
        }
        assert_eq!(
            signer.verify(file, &variant, 999),
            Err(LinkError::BadSignature)
        );
        let other_key = UrlSigner::new(None).unwrap();
        assert_eq!(
            other_key.verify(file, &query, 999),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            signer.verify(file, &SignedQuery::default(), 0),
            Err(LinkError::Malformed)
        );
    }
}
