//! What a variant request asks for: `w`, `h` (each from the `IMAGE_VARIANT_SIZES` allow-list),
//! `fit` (`cover`: fill the box, cropping the middle; `contain`: fit inside it) and `format`
//! (`webp`, `jpeg`, `png`). A spec has one canonical spelling, which names the variant's blob
//! and is what a signed variant link signs, so `?h=64&w=64` and `?w=64&h=64` are one variant.

use std::fmt;

/// How the image fills a box of both a width and a height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fit {
    /// Fills the box exactly; what sticks out is cropped, around the middle.
    Cover,
    /// Fits inside the box, keeping the whole image.
    Contain,
}

/// The encoding of a variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    Webp,
    Jpeg,
    Png,
}

impl OutputFormat {
    pub fn extension(self) -> &'static str {
        match self {
            Self::Webp => "webp",
            Self::Jpeg => "jpeg",
            Self::Png => "png",
        }
    }

    pub fn mime_type(self) -> &'static str {
        match self {
            Self::Webp => "image/webp",
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }
}

/// A bounded variant request: at least one of width and height, each from the allow-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VariantSpec {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fit: Fit,
    pub format: OutputFormat,
}

/// The variant parameters of a query, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VariantQuery {
    pub w: Option<String>,
    pub h: Option<String>,
    pub fit: Option<String>,
    pub format: Option<String>,
}

impl VariantQuery {
    /// True when the query names no variant parameter: the original is asked for.
    pub fn is_empty(&self) -> bool {
        self.w.is_none() && self.h.is_none() && self.fit.is_none() && self.format.is_none()
    }
}

/// Why a variant request is refused (a 400 that says what is allowed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SpecError {
    /// The query parameter at fault.
    pub field: &'static str,
    pub message: String,
    /// The allowed sizes.
    pub allowed_sizes: Vec<u32>,
}

/// Bumped when the rendering changes, so variants made by an older version are not served
/// under the new rules (they stay until their original goes).
const RENDERING_VERSION: &str = "v1";

impl VariantSpec {
    /// The spec of `query` under the allow-list `sizes`; `None` when the query asks for the
    /// original. Defaults: `fit=cover`, `format=webp`.
    pub fn parse(query: &VariantQuery, sizes: &[u32]) -> Result<Option<Self>, SpecError> {
        if query.is_empty() {
            return Ok(None);
        }
        let refuse = |field: &'static str, message: String| SpecError {
            field,
            message,
            allowed_sizes: sizes.to_vec(),
        };
        let size = |name: &'static str, value: &Option<String>| -> Result<Option<u32>, SpecError> {
            let Some(text) = value else { return Ok(None) };
            match text.trim().parse::<u32>() {
                Ok(size) if sizes.contains(&size) => Ok(Some(size)),
                _ => Err(refuse(
                    name,
                    format!(
                        "{name}={text} is not an allowed size; allowed: {}",
                        list(sizes)
                    ),
                )),
            }
        };
        let width = size("w", &query.w)?;
        let height = size("h", &query.h)?;
        if width.is_none() && height.is_none() {
            return Err(refuse(
                "w",
                format!(
                    "a variant needs w or h (or both); allowed sizes: {}",
                    list(sizes)
                ),
            ));
        }
        let fit = match query.fit.as_deref() {
            None | Some("cover") => Fit::Cover,
            Some("contain") => Fit::Contain,
            Some(other) => {
                return Err(refuse(
                    "fit",
                    format!("fit={other} is not allowed; allowed: cover, contain"),
                ));
            }
        };
        let format = match query.format.as_deref() {
            None | Some("webp") => OutputFormat::Webp,
            Some("jpeg" | "jpg") => OutputFormat::Jpeg,
            Some("png") => OutputFormat::Png,
            Some(other) => {
                return Err(refuse(
                    "format",
                    format!("format={other} is not allowed; allowed: webp, jpeg, png"),
                ));
            }
        };
        Ok(Some(Self {
            width,
            height,
            fit,
            format,
        }))
    }

    /// The canonical query of this spec (what a signed link carries and signs).
    pub fn canonical_query(&self) -> String {
        let mut parts = Vec::new();
        if let Some(width) = self.width {
            parts.push(format!("w={width}"));
        }
        if let Some(height) = self.height {
            parts.push(format!("h={height}"));
        }
        // The fit matters only when both sides are bounded.
        if self.width.is_some() && self.height.is_some() && self.fit == Fit::Contain {
            parts.push("fit=contain".to_owned());
        }
        parts.push(format!("format={}", self.format.extension()));
        parts.join("&")
    }

    /// The last segment of the variant's blob key, e.g. `v1_w256_h256_cover.webp`.
    pub fn blob_name(&self) -> String {
        use std::fmt::Write;
        let mut name = String::with_capacity(48);
        name.push_str(RENDERING_VERSION);
        if let Some(width) = self.width {
            let _ = write!(name, "_w{width}");
        }
        if let Some(height) = self.height {
            let _ = write!(name, "_h{height}");
        }
        if self.width.is_some() && self.height.is_some() {
            name.push_str(match self.fit {
                Fit::Cover => "_cover",
                Fit::Contain => "_contain",
            });
        }
        name.push('.');
        name.push_str(self.format.extension());
        name
    }
}

impl fmt::Display for VariantSpec {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.canonical_query())
    }
}

fn list(sizes: &[u32]) -> String {
    sizes
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZES: &[u32] = &[64, 128, 256];

    fn query(pairs: &[(&str, &str)]) -> VariantQuery {
        let value = |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        };
        VariantQuery {
            w: value("w"),
            h: value("h"),
            fit: value("fit"),
            format: value("format"),
        }
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<Option<VariantSpec>, SpecError> {
        VariantSpec::parse(&query(pairs), SIZES)
    }

    #[test]
    fn no_parameters_ask_for_the_original() {
        assert_eq!(parse(&[]).unwrap(), None);
    }

    #[test]
    fn specs_have_one_canonical_spelling_and_blob_name() {
        let one = parse(&[("h", "64"), ("w", "64")]).unwrap().unwrap();
        let other = parse(&[
            ("w", "64"),
            ("h", "64"),
            ("fit", "cover"),
            ("format", "webp"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(one, other);
        assert_eq!(one.canonical_query(), "w=64&h=64&format=webp");
        assert_eq!(one.blob_name(), "v1_w64_h64_cover.webp");
        let contain = parse(&[
            ("w", "128"),
            ("h", "64"),
            ("fit", "contain"),
            ("format", "png"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            contain.canonical_query(),
            "w=128&h=64&fit=contain&format=png"
        );
        assert_eq!(contain.blob_name(), "v1_w128_h64_contain.png");
        // With one side only, the fit changes nothing and is not part of the name.
        let wide = parse(&[("w", "256"), ("fit", "contain"), ("format", "jpg")])
            .unwrap()
            .unwrap();
        assert_eq!(wide.blob_name(), "v1_w256.jpeg");
        assert_eq!(wide.canonical_query(), "w=256&format=jpeg");
    }

    #[test]
    fn sizes_outside_the_allow_list_are_refused_with_the_list() {
        for bad in [
            vec![("w", "100")],
            vec![("w", "0")],
            vec![("h", "4096")],
            vec![("w", "-1")],
            vec![("format", "webp")],
            vec![("w", "64"), ("fit", "stretch")],
            vec![("w", "64"), ("format", "gif")],
        ] {
            let error = parse(&bad).unwrap_err();
            assert_eq!(error.allowed_sizes, SIZES, "{bad:?}");
            assert!(error.message.contains("allowed"), "{}", error.message);
        }
        let error = parse(&[("w", "100")]).unwrap_err();
        assert!(error.message.contains("64, 128, 256"), "{}", error.message);
    }
}
