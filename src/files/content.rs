//! What the bytes of an upload are: the type sniffed from the content (with `infer`) and
//! checked against the declared one and the allow-list, image dimensions (with `imagesize`),
//! and the rules for serving a type inline or as a sandboxed attachment.

/// How much of the start of an upload is looked at before anything is stored: enough for
/// every signature `infer` knows and for the headers of most images.
pub const HEAD_LEN: usize = 256 * 1024;

/// Why an upload's type is refused (415).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypeProblem {
    #[error("the content is {detected} but was declared as {declared}")]
    Contradicts { declared: String, detected: String },
    #[error("files of type {0} are not accepted (see GET /api/limits)")]
    NotAllowed(String),
}

/// What sniffing found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sniffed {
    /// A format with a signature (image, audio, video, PDF, archive, HTML, XML, SVG...).
    Known(&'static str),
    /// UTF-8 text without a recognizable format.
    Text,
    /// Bytes that are neither.
    Binary,
}

/// The type an upload is stored and served as. The content decides whenever it is
/// recognizable; a declared type is kept only where the content cannot tell (plain text,
/// unknown binary formats) and must never contradict it.
pub fn resolve_type(
    declared: Option<&str>,
    head: &[u8],
    filename: &str,
    allowed: &[String],
) -> Result<String, TypeProblem> {
    let declared = declared
        .map(essence)
        .filter(|declared| !declared.is_empty() && declared != "application/octet-stream");
    let contradiction = |declared: &str, detected: &str| TypeProblem::Contradicts {
        declared: declared.to_owned(),
        detected: detected.to_owned(),
    };
    let resolved = match (sniff(head), declared) {
        (Sniffed::Known(detected), Some(declared)) if !compatible(&declared, detected) => {
            return Err(contradiction(&declared, detected));
        }
        (Sniffed::Known(detected), _) => detected.to_owned(),
        (Sniffed::Text, None) => text_type_for(filename).to_owned(),
        (Sniffed::Text, Some(declared)) if is_textual(&declared) => declared,
        (Sniffed::Text, Some(declared)) => return Err(contradiction(&declared, "text/plain")),
        (Sniffed::Binary, None) => "application/octet-stream".to_owned(),
        (Sniffed::Binary, Some(declared)) if is_textual(&declared) || has_signature(&declared) => {
            return Err(contradiction(&declared, "application/octet-stream"));
        }
        (Sniffed::Binary, Some(declared)) => declared,
    };
    if is_allowed(&resolved, allowed) {
        Ok(resolved)
    } else {
        Err(TypeProblem::NotAllowed(resolved))
    }
}

/// `type/subtype` lowercased, without parameters.
fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn sniff(head: &[u8]) -> Sniffed {
    if let Some(kind) = infer::get(head) {
        return match kind.mime_type() {
            "text/x-shellscript" => Sniffed::Text,
            "text/xml" if contains_ignore_case(head, b"<svg") => Sniffed::Known("image/svg+xml"),
            other => Sniffed::Known(canonical(other)),
        };
    }
    if !looks_like_text(head) {
        return Sniffed::Binary;
    }
    let start = head.trim_ascii_start();
    let start = start.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(start);
    if start.len() >= 4 && start[..4].eq_ignore_ascii_case(b"<svg") {
        Sniffed::Known("image/svg+xml")
    } else {
        Sniffed::Text
    }
}

/// UTF-8 without NUL bytes; a multi-byte character cut off at the end of the head is fine.
fn looks_like_text(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(error) => error.error_len().is_none() && head.len() >= HEAD_LEN,
    }
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle))
}

/// One name per format where `infer` and browsers use several.
fn canonical(mime_type: &'static str) -> &'static str {
    match mime_type {
        "audio/x-wav" => "audio/wav",
        "audio/x-flac" => "audio/flac",
        "audio/x-m4a" | "audio/m4a" => "audio/mp4",
        other => other,
    }
}

/// Names of one format that a client may declare for what sniffing calls by another name.
const ALIASES: &[&[&str]] = &[
    &["image/jpeg", "image/jpg", "image/pjpeg"],
    &["image/x-icon", "image/vnd.microsoft.icon"],
    &["audio/mpeg", "audio/mp3", "audio/mpeg3"],
    &["audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"],
    &["audio/flac", "audio/x-flac"],
    &["audio/mp4", "audio/m4a", "audio/x-m4a", "video/mp4"],
    &["audio/ogg", "audio/opus", "video/ogg", "application/ogg"],
    &["audio/webm", "video/webm", "video/x-matroska"],
    &["text/xml", "application/xml", "image/svg+xml"],
    &["application/zip", "application/x-zip-compressed"],
];

fn compatible(declared: &str, detected: &str) -> bool {
    declared == detected
        || ALIASES
            .iter()
            .any(|group| group.contains(&declared) && group.contains(&detected))
}

/// Types whose content carries a signature `infer` recognizes: declaring one for bytes
/// without that signature is a contradiction.
fn has_signature(mime_type: &str) -> bool {
    ["image/", "audio/", "video/"]
        .iter()
        .any(|prefix| mime_type.starts_with(prefix))
        || matches!(
            mime_type,
            "application/pdf" | "application/zip" | "application/gzip"
        )
}

/// Types whose content is text.
fn is_textual(mime_type: &str) -> bool {
    mime_type.starts_with("text/")
        || mime_type.ends_with("+json")
        || mime_type.ends_with("+xml")
        || matches!(
            mime_type,
            "application/json"
                | "application/x-ndjson"
                | "application/xml"
                | "application/javascript"
                | "application/ecmascript"
                | "application/yaml"
                | "application/x-yaml"
                | "application/toml"
        )
}

/// The type of undeclared text, by the file name's extension.
fn text_type_for(filename: &str) -> &'static str {
    let extension = filename
        .rsplit_once('.')
        .map(|(_, extension)| extension.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "md" | "markdown" => "text/markdown",
        "json" => "application/json",
        "jsonl" | "ndjson" => "application/x-ndjson",
        "csv" => "text/csv",
        _ => "text/plain",
    }
}

/// Whether the allow-list admits a type; `type/*` entries admit every subtype.
pub fn is_allowed(mime_type: &str, allowed: &[String]) -> bool {
    allowed.iter().any(|entry| match entry.strip_suffix("/*") {
        Some(kind) => mime_type
            .split_once('/')
            .is_some_and(|(candidate, _)| candidate == kind),
        None => entry == mime_type,
    })
}

/// Width and height from an image's header, when the head holds it.
pub fn image_dimensions(mime_type: &str, head: &[u8]) -> Option<(u32, u32)> {
    if !mime_type.starts_with("image/") || mime_type == "image/svg+xml" {
        return None;
    }
    let size = imagesize::blob_size(head).ok()?;
    Some((
        u32::try_from(size.width).ok()?,
        u32::try_from(size.height).ok()?,
    ))
}

/// Passive types a browser may show in place: raster images, audio, video, PDF, plain text.
/// Everything else (SVG, HTML, XML, scripts, unknown) is served as a sandboxed attachment.
pub fn serves_inline(mime_type: &str) -> bool {
    let passive_image = mime_type.starts_with("image/") && !mime_type.contains("svg");
    passive_image
        || mime_type.starts_with("audio/")
        || mime_type.starts_with("video/")
        || mime_type == "application/pdf"
        || mime_type == "text/plain"
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x02\0\0\0\x03\x08\x06\0\0\0";

    fn allowed() -> Vec<String> {
        crate::config::DEFAULT_ALLOWED_MIME_TYPES
            .iter()
            .map(|text| (*text).to_owned())
            .collect()
    }

    #[test]
    fn content_decides_and_may_not_be_contradicted() {
        let all = allowed();
        assert_eq!(resolve_type(None, PNG, "a", &all).unwrap(), "image/png");
        assert_eq!(
            resolve_type(Some("image/png; q=1"), PNG, "a", &all).unwrap(),
            "image/png"
        );
        assert!(matches!(
            resolve_type(Some("text/html"), PNG, "a", &all),
            Err(TypeProblem::Contradicts { .. })
        ));
        let html = b"<!DOCTYPE html><html><script>alert(1)</script>";
        assert!(matches!(
            resolve_type(Some("image/png"), html, "a.png", &all),
            Err(TypeProblem::Contradicts { .. })
        ));
        assert_eq!(
            resolve_type(None, html, "a.html", &all),
            Err(TypeProblem::NotAllowed("text/html".to_owned()))
        );
        assert_eq!(
            resolve_type(Some("image/jpg"), b"\xFF\xD8\xFF\xE0", "a", &all).unwrap(),
            "image/jpeg"
        );
    }

    #[test]
    fn text_and_unknown_bytes_follow_the_declaration() {
        let all = allowed();
        assert_eq!(
            resolve_type(None, b"", "empty", &all).unwrap(),
            "text/plain"
        );
        assert_eq!(
            resolve_type(None, b"# Title", "notes.md", &all).unwrap(),
            "text/markdown"
        );
        assert_eq!(
            resolve_type(Some("application/json"), b"{}", "x", &all).unwrap(),
            "application/json"
        );
        assert!(resolve_type(Some("image/png"), b"hello", "x", &all).is_err());
        assert!(resolve_type(Some("text/plain"), b"\0\x01\x02", "x", &all).is_err());
        assert_eq!(
            resolve_type(None, b"\0\x01\x02", "x", &all),
            Err(TypeProblem::NotAllowed(
                "application/octet-stream".to_owned()
            ))
        );
        let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>";
        assert_eq!(
            resolve_type(Some("text/plain"), svg, "x", &all),
            Err(TypeProblem::Contradicts {
                declared: "text/plain".to_owned(),
                detected: "image/svg+xml".to_owned()
            })
        );
        assert_eq!(
            resolve_type(None, b"<?xml version=\"1.0\"?><svg/>", "x", &all).unwrap(),
            "image/svg+xml"
        );
    }

    #[test]
    fn wildcards_and_inline_rules() {
        assert!(is_allowed("image/png", &["image/*".to_owned()]));
        assert!(!is_allowed("imagex/png", &["image/*".to_owned()]));
        assert_eq!(image_dimensions("image/png", PNG), Some((2, 3)));
        for inline in [
            "image/png",
            "audio/mpeg",
            "video/mp4",
            "application/pdf",
            "text/plain",
        ] {
            assert!(serves_inline(inline), "{inline}");
        }
        for active in [
            "image/svg+xml",
            "text/html",
            "text/xml",
            "text/javascript",
            "text/markdown",
        ] {
            assert!(!serves_inline(active), "{active}");
        }
    }
}
