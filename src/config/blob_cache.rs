//! The in-memory cache of small file blobs: `BLOB_CACHE_BYTES` (total, 0 turns it off) and
//! `BLOB_CACHE_MAX_OBJECT_BYTES` (the largest blob kept). See `src/blob/cache.rs`.

use super::RawConfig;
use super::values::size_or;

/// 64 MiB: a few thousand avatars and thumbnails, small next to the process's other memory.
const DEFAULT_BYTES: usize = 64 << 20;
/// 256 KiB: avatars and thumbnails; larger files stream from the store as before.
const DEFAULT_MAX_OBJECT_BYTES: usize = 256 << 10;

#[derive(Debug, Clone, Copy)]
pub struct BlobCacheConfig {
    /// At most this many bytes of blobs are held; 0: no cache.
    pub bytes: u64,
    /// Blobs larger than this are never cached.
    pub max_object_bytes: u64,
}

impl BlobCacheConfig {
    pub(super) fn parse(raw: &RawConfig, check: &mut impl FnMut(Result<(), String>)) -> Self {
        // Sizes are above 0, except here: 0 turns the cache off.
        let bytes = match raw.blob_cache_bytes.as_deref().map(str::trim) {
            Some("0") => 0,
            _ => size_or(
                &raw.blob_cache_bytes,
                "BLOB_CACHE_BYTES",
                DEFAULT_BYTES,
                check,
            ),
        };
        let max_object_bytes = size_or(
            &raw.blob_cache_max_object_bytes,
            "BLOB_CACHE_MAX_OBJECT_BYTES",
            DEFAULT_MAX_OBJECT_BYTES,
            check,
        );
        Self {
            bytes: bytes as u64,
            max_object_bytes: max_object_bytes as u64,
        }
    }

    /// The lines `check-config` prints for these settings.
    pub(super) fn describe(&self, lines: &mut Vec<(&'static str, String)>) {
        lines.push(("BLOB_CACHE_BYTES", self.bytes.to_string()));
        lines.push((
            "BLOB_CACHE_MAX_OBJECT_BYTES",
            self.max_object_bytes.to_string(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_sizes_and_bad_values_naming_the_variable() {
        let mut problems = Vec::new();
        let mut check = |result: Result<(), String>| {
            if let Err(problem) = result {
                problems.push(problem);
            }
        };
        let parsed = BlobCacheConfig::parse(&RawConfig::default(), &mut check);
        assert_eq!(
            (parsed.bytes, parsed.max_object_bytes),
            (64 << 20, 256 << 10)
        );
        let raw = RawConfig {
            blob_cache_bytes: Some("0".to_owned()),
            blob_cache_max_object_bytes: Some("lots".to_owned()),
            ..RawConfig::default()
        };
        let parsed = BlobCacheConfig::parse(&raw, &mut check);
        assert_eq!(parsed.bytes, 0);
        assert_eq!(
            problems,
            ["BLOB_CACHE_MAX_OBJECT_BYTES=lots: expected a size such as 1048576, 512KiB or 2MiB"]
        );
    }
}
