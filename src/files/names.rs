//! File names: what is kept of a client's name (`originalFilename`) and how it is written into
//! `Content-Disposition` (RFC 6266: an ASCII fallback plus `filename*` in UTF-8).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The longest name kept, in characters.
const MAX_FILENAME: usize = 255;

/// RFC 8187 `attr-char`: everything else in `filename*` is percent-encoded.
const ATTR_CHAR_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// The name a client gave, reduced to its last path component, without control characters
/// (CR, LF, NUL...) or bidirectional overrides, trimmed and at most 255 characters (the
/// extension kept). Never empty, never `.` or `..`.
pub fn sanitize_filename(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() || trimmed == "." || trimmed == ".." {
        return "file".to_owned();
    }
    let length = trimmed.chars().count();
    if length <= MAX_FILENAME {
        return trimmed.to_owned();
    }
    let extension = trimmed
        .rsplit_once('.')
        .map(|(_, extension)| extension)
        .filter(|extension| extension.chars().count() <= 16)
        .unwrap_or_default();
    let keep = MAX_FILENAME - extension.chars().count() - usize::from(!extension.is_empty());
    let mut shortened: String = trimmed.chars().take(keep).collect();
    if !extension.is_empty() {
        shortened.push('.');
        shortened.push_str(extension);
    }
    shortened
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `inline` or `attachment` with the name twice: a quoted ASCII fallback (anything else,
/// quotes, backslashes and `%` become `_`) and the exact name as `filename*=UTF-8''...`.
pub fn content_disposition(inline: bool, filename: &str) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    // Built in place: this is on the path of every download.
    let mut value = String::with_capacity(kind.len() + 2 * filename.len() + 32);
    value.push_str(kind);
    value.push_str("; filename=\"");
    value.extend(filename.chars().map(|c| {
        if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%') || c == ' ' {
            c
        } else {
            '_'
        }
    }));
    value.push_str("\"; filename*=UTF-8''");
    value.extend(utf8_percent_encode(filename, ATTR_CHAR_ESCAPES));
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_and_control_characters() {
        assert_eq!(sanitize_filename("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_filename("C:\\Users\\me\\cat.png"), "cat.png");
        assert_eq!(
            sanitize_filename("a\r\nSet-Cookie: x.txt"),
            "aSet-Cookie: x.txt"
        );
        assert_eq!(sanitize_filename("evil\u{202E}gnp.exe"), "evilgnp.exe");
        assert_eq!(sanitize_filename(".."), "file");
        assert_eq!(sanitize_filename("   "), "file");
        assert_eq!(sanitize_filename("dir/"), "file");
        let long = format!("{}.png", "x".repeat(400));
        let short = sanitize_filename(&long);
        assert_eq!(short.chars().count(), 255);
        assert!(short.ends_with("x.png"));
    }

    #[test]
    fn dispositions_quote_safely() {
        assert_eq!(
            content_disposition(true, "a \"b\"\\c%.png"),
            "inline; filename=\"a _b__c_.png\"; filename*=UTF-8''a%20%22b%22%5Cc%25.png"
        );
        assert_eq!(
            content_disposition(false, "café ☕.svg"),
            "attachment; filename=\"caf_ _.svg\"; filename*=UTF-8''caf%C3%A9%20%E2%98%95.svg"
        );
    }
}
