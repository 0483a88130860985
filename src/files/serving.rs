//! How a file is served: the type, disposition and cache headers of a download, the same
//! whether quillstore streams the bytes or the blob store redirects to them (a presigned GET
//! carries them as response overrides), and the store's choice between the two.

use crate::blob::{BlobKey, BlobResult, BlobStore, Delivery, DeliveryRequest, DownloadOverrides};
use crate::config::FilesConfig;
use crate::files::content::serves_inline;
use crate::files::names::content_disposition;
use crate::model::file::File;

/// Downloads are private to their user and the bytes of a record never change.
pub const CACHE_CONTROL: &str = "private, immutable";

/// The headers that say what a downloaded file is and how a browser may show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presentation {
    pub content_type: String,
    pub content_disposition: String,
    /// Active content (SVG, HTML, scripts, anything unknown) is an attachment that also gets
    /// `Content-Security-Policy: sandbox`.
    pub sandboxed: bool,
}

impl Presentation {
    /// Passive types inline, everything else as a sandboxed attachment; plain text says its
    /// charset.
    pub fn of(file: &File) -> Self {
        let inline = serves_inline(&file.mime_type);
        let content_type = if file.mime_type == "text/plain" {
            "text/plain; charset=utf-8".to_owned()
        } else {
            file.mime_type.clone()
        };
        Self {
            content_type,
            content_disposition: content_disposition(inline, &file.original_filename),
            sandboxed: !inline,
        }
    }

    fn overrides(&self) -> DownloadOverrides {
        DownloadOverrides {
            content_type: self.content_type.clone(),
            content_disposition: self.content_disposition.clone(),
            cache_control: CACHE_CONTROL.to_owned(),
        }
    }
}

/// Whether the bytes of `file` (at `key`) are streamed or redirected to, as the blob store
/// decides under `FILES_REDIRECT` and `FILES_REDIRECT_THRESHOLD`; a redirect carries the
/// file's presentation.
pub async fn delivery(
    blobs: &BlobStore,
    files: &FilesConfig,
    key: &BlobKey,
    file: &File,
) -> BlobResult<Delivery> {
    let request = DeliveryRequest {
        overrides: Presentation::of(file).overrides(),
        redirect: files.redirect,
        redirect_threshold: files.redirect_threshold,
    };
    blobs.delivery(key, file.size, &request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(mime_type: &str, name: &str) -> File {
        serde_json::from_value(serde_json::json!({
            "category": "attachment",
            "originalFilename": name,
            "mimeType": mime_type,
            "size": 1,
            "sha256": "0".repeat(64),
            "storage": {"backend": "fs", "key": "users/local/attachment/x"},
        }))
        .unwrap()
    }

    #[test]
    fn passive_types_are_inline_and_active_ones_sandboxed_attachments() {
        let text = Presentation::of(&file("text/plain", "a.txt"));
        assert_eq!(text.content_type, "text/plain; charset=utf-8");
        assert!(text.content_disposition.starts_with("inline;"));
        assert!(!text.sandboxed);
        let svg = Presentation::of(&file("image/svg+xml", "a.svg"));
        assert_eq!(svg.content_type, "image/svg+xml");
        assert!(svg.content_disposition.starts_with("attachment;"));
        assert!(svg.sandboxed);
        let overrides = svg.overrides();
        assert_eq!(overrides.content_disposition, svg.content_disposition);
        assert_eq!(overrides.cache_control, CACHE_CONTROL);
    }
}
