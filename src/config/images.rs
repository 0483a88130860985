//! Image variant settings: which sizes a client may ask for (`IMAGE_VARIANT_SIZES`, so no
//! client can fill the store with every width from 1 to 2048), how many images are decoded at
//! once (`IMAGE_MAX_CONCURRENT`), and the largest image decoded (`IMAGE_MAX_PIXELS`, against
//! decompression bombs).

use super::RawConfig;
use super::values::parse_or;

/// The longest side a variant may have, whatever `IMAGE_VARIANT_SIZES` says.
pub const MAX_VARIANT_SIDE: u32 = 2048;

/// What `IMAGE_VARIANT_SIZES` holds when unset: avatar and thumbnail sizes.
pub const DEFAULT_VARIANT_SIZES: &[u32] = &[32, 48, 64, 96, 128, 192, 256, 384, 512, 1024, 2048];

#[derive(Debug, Clone)]
pub struct ImageConfig {
    /// Allowed widths and heights of a variant, ascending.
    pub variant_sizes: Vec<u32>,
    /// Images decoded and encoded at once; more requests wait their turn.
    pub max_concurrent: usize,
    /// Images with more pixels than this are refused (422) before any pixel is decoded.
    pub max_pixels: u64,
}

impl ImageConfig {
    pub(super) fn parse(raw: &RawConfig, check: &mut impl FnMut(Result<(), String>)) -> Self {
        let variant_sizes = match raw.image_variant_sizes.as_deref() {
            None => DEFAULT_VARIANT_SIZES.to_vec(),
            Some(text) => parse_sizes(text).unwrap_or_else(|problem| {
                check(Err(format!("IMAGE_VARIANT_SIZES={text}: {problem}")));
                DEFAULT_VARIANT_SIZES.to_vec()
            }),
        };
        let default_concurrent = std::thread::available_parallelism().map_or(2, usize::from);
        let max_concurrent: usize = parse_or(
            &raw.image_max_concurrent,
            "IMAGE_MAX_CONCURRENT",
            default_concurrent,
            check,
        );
        if max_concurrent == 0 {
            check(Err("IMAGE_MAX_CONCURRENT must be at least 1".to_owned()));
        }
        let max_pixels: u64 =
            parse_or(&raw.image_max_pixels, "IMAGE_MAX_PIXELS", 50_000_000, check);
        if max_pixels == 0 {
            check(Err("IMAGE_MAX_PIXELS must be at least 1".to_owned()));
        }
        Self {
            variant_sizes,
            max_concurrent: max_concurrent.max(1),
            max_pixels: max_pixels.max(1),
        }
    }

    /// The image lines of `check-config`.
    pub(super) fn describe(&self, lines: &mut Vec<(&'static str, String)>) {
        let sizes: Vec<String> = self.variant_sizes.iter().map(u32::to_string).collect();
        lines.push(("IMAGE_VARIANT_SIZES", sizes.join(",")));
        lines.push(("IMAGE_MAX_CONCURRENT", self.max_concurrent.to_string()));
        lines.push(("IMAGE_MAX_PIXELS", self.max_pixels.to_string()));
    }
}

/// A comma-separated list of sizes, each 1 to [`MAX_VARIANT_SIDE`], sorted and deduplicated.
fn parse_sizes(text: &str) -> Result<Vec<u32>, String> {
    let mut sizes = Vec::new();
    for part in text
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        match part.parse::<u32>() {
            Ok(size) if (1..=MAX_VARIANT_SIDE).contains(&size) => sizes.push(size),
            _ => {
                return Err(format!(
                    "{part:?} is not a size from 1 to {MAX_VARIANT_SIDE} pixels"
                ));
            }
        }
    }
    if sizes.is_empty() {
        return Err("expected at least one size, e.g. 64,128,256".to_owned());
    }
    sizes.sort_unstable();
    sizes.dedup();
    Ok(sizes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: RawConfig) -> (ImageConfig, Vec<String>) {
        let mut problems = Vec::new();
        let config = ImageConfig::parse(&raw, &mut |result| {
            if let Err(problem) = result {
                problems.push(problem);
            }
        });
        (config, problems)
    }

    #[test]
    fn sizes_are_bounded_sorted_and_named_when_wrong() {
        let (config, problems) = parse(RawConfig {
            image_variant_sizes: Some("256, 64,64,128".into()),
            image_max_concurrent: Some("3".into()),
            ..RawConfig::default()
        });
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(config.variant_sizes, vec![64, 128, 256]);
        assert_eq!(config.max_concurrent, 3);
        for bad in ["0", "4096", "big", ""] {
            let (config, problems) = parse(RawConfig {
                image_variant_sizes: Some(bad.into()),
                ..RawConfig::default()
            });
            assert_eq!(problems.len(), 1, "{bad}: {problems:?}");
            assert!(problems[0].starts_with("IMAGE_VARIANT_SIZES="));
            assert_eq!(config.variant_sizes, DEFAULT_VARIANT_SIZES);
        }
        let (_, problems) = parse(RawConfig {
            image_max_concurrent: Some("0".into()),
            image_max_pixels: Some("many".into()),
            ..RawConfig::default()
        });
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
