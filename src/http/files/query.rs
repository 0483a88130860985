//! The query of `GET /api/files/{id}`, parsed by hand: a plain download has none and pays
//! nothing, and a variant's few parameters are read straight into their places (a derived
//! deserializer with a catch-all for unknown names buffers every parameter first).

use crate::files::signing::SignedQuery;
use crate::images::VariantQuery;

/// A signed link's parameters, a variant's, and the names of any others (refused, but only
/// once the caller is known).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DownloadQuery {
    pub signed: SignedQuery,
    pub variant: VariantQuery,
    pub unknown: Vec<String>,
}

impl DownloadQuery {
    /// Parses a raw query string; a parameter given twice is an error (which one counts?).
    pub fn parse(raw: Option<&str>) -> Result<Self, String> {
        let mut query = Self::default();
        let Some(raw) = raw else { return Ok(query) };
        for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
            let slot = match name.as_ref() {
                "user" => &mut query.signed.user,
                "expires" => &mut query.signed.expires,
                "signature" => &mut query.signed.signature,
                "w" => &mut query.variant.w,
                "h" => &mut query.variant.h,
                "fit" => &mut query.variant.fit,
                "format" => &mut query.variant.format,
                _ => {
                    if !query.unknown.iter().any(|known| *known == name) {
                        query.unknown.push(name.into_owned());
                    }
                    continue;
                }
            };
            if slot.is_some() {
                return Err(format!(
                    "the query parameter `{name}` is given more than once"
                ));
            }
            *slot = Some(value.into_owned());
        }
        query.unknown.sort();
        Ok(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_land_in_their_places() {
        let query =
            DownloadQuery::parse(Some("w=256&format=webp&user=u%40x&expires=9&signature=s+t"))
                .unwrap();
        assert_eq!(query.variant.w.as_deref(), Some("256"));
        assert_eq!(query.variant.format.as_deref(), Some("webp"));
        assert_eq!(query.variant.h, None);
        assert_eq!(query.signed.user.as_deref(), Some("u@x"));
        assert_eq!(query.signed.signature.as_deref(), Some("s t"));
        assert!(query.unknown.is_empty());
        assert_eq!(
            DownloadQuery::parse(None).unwrap(),
            DownloadQuery::default()
        );
        assert_eq!(
            DownloadQuery::parse(Some("")).unwrap(),
            DownloadQuery::default()
        );
    }

    #[test]
    fn unknown_names_are_collected_sorted_once_and_repeats_refused() {
        let query = DownloadQuery::parse(Some("z=1&a=2&z=3&w=1")).unwrap();
        assert_eq!(query.unknown, ["a", "z"]);
        let error = DownloadQuery::parse(Some("w=1&w=2")).unwrap_err();
        assert!(error.contains("`w`"), "{error}");
    }
}
