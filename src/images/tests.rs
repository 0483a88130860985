//! Variants made from images the tests generate: orientation, metadata, bombs, animation,
//! colour profile, geometry, and the cache on a real fs blob store (made once under
//! concurrency, removed with the original).

#[path = "../../tests/api/helpers/images.rs"]
mod samples;

use std::io::Cursor;
use std::sync::Arc;

use axum::body::Bytes;
use image::ImageDecoder;

use super::render::{RenderError, render, target_size};
use super::spec::{Fit, OutputFormat, VariantSpec};
use super::variants::{Original, Outcome, Variants, remove_variants};
use crate::blob::{BlobKey, BlobStore, FsBlobStore};
use crate::config::ImageConfig;
use crate::model::UserId;
use crate::model::file::FileCategory;
use samples::{BLUE, EXIF_MARKER, RED, dimensions, near, pixel};

const MAX_PIXELS: u64 = 50_000_000;

fn spec(width: Option<u32>, height: Option<u32>, fit: Fit, format: OutputFormat) -> VariantSpec {
    VariantSpec {
        width,
        height,
        fit,
        format,
    }
}

#[test]
fn an_exif_rotated_jpeg_comes_out_upright() {
    // Stored 64 wide x 32 high, red left; orientation 6 shows it turned clockwise: 32 x 64,
    // red on top.
    let source = samples::exif_jpeg(64, 32, 6);
    for format in [OutputFormat::Png, OutputFormat::Webp, OutputFormat::Jpeg] {
        let rendered = render(
            &source,
            &spec(Some(32), None, Fit::Cover, format),
            MAX_PIXELS,
        )
        .unwrap();
        assert_eq!((rendered.width, rendered.height), (32, 64), "{format:?}");
        assert_eq!(dimensions(&rendered.bytes), (32, 64), "{format:?}");
        assert!(near(pixel(&rendered.bytes, 16, 8), RED, 40), "{format:?}");
        assert!(near(pixel(&rendered.bytes, 16, 56), BLUE, 40), "{format:?}");
    }
}

#[test]
fn metadata_does_not_survive_but_the_colour_profile_does() {
    let source = samples::exif_jpeg(64, 32, 1);
    assert!(contains(&source, EXIF_MARKER.as_bytes()));
    for format in [OutputFormat::Png, OutputFormat::Webp, OutputFormat::Jpeg] {
        let rendered = render(
            &source,
            &spec(Some(32), None, Fit::Cover, format),
            MAX_PIXELS,
        )
        .unwrap();
        assert!(
            !contains(&rendered.bytes, EXIF_MARKER.as_bytes()),
            "{format:?}"
        );
        assert!(!contains(&rendered.bytes, b"Exif"), "{format:?}");
    }
    let profile: Vec<u8> = (0..=255u8).cycle().take(601).collect();
    let source = samples::png_with_profile(64, 64, &profile);
    for format in [OutputFormat::Png, OutputFormat::Webp, OutputFormat::Jpeg] {
        let rendered = render(
            &source,
            &spec(Some(32), None, Fit::Cover, format),
            MAX_PIXELS,
        )
        .unwrap();
        let mut decoder = image::ImageReader::new(Cursor::new(&rendered.bytes))
            .with_guessed_format()
            .unwrap()
            .into_decoder()
            .unwrap();
        assert_eq!(
            decoder.icc_profile().unwrap(),
            Some(profile.clone()),
            "{format:?}"
        );
    }
}

#[test]
fn transparency_is_kept_where_the_format_has_it_and_white_where_not() {
    let source = samples::png_with_profile(64, 64, b"icc");
    let png = render(
        &source,
        &spec(Some(32), None, Fit::Cover, OutputFormat::Png),
        MAX_PIXELS,
    )
    .unwrap();
    assert_eq!(pixel(&png.bytes, 28, 16)[3], 0);
    assert_eq!(pixel(&png.bytes, 4, 16)[3], 255);
    let webp = render(
        &source,
        &spec(Some(32), None, Fit::Cover, OutputFormat::Webp),
        MAX_PIXELS,
    )
    .unwrap();
    assert!(pixel(&webp.bytes, 28, 16)[3] < 10);
    let jpeg = render(
        &source,
        &spec(Some(32), None, Fit::Cover, OutputFormat::Jpeg),
        MAX_PIXELS,
    )
    .unwrap();
    assert!(near(pixel(&jpeg.bytes, 28, 16), [255, 255, 255], 8));
}

#[test]
fn a_bomb_is_refused_from_its_header() {
    let bomb = samples::claimed_png(100_000, 100_000, 1 << 20);
    let refused = render(
        &bomb,
        &spec(Some(64), None, Fit::Cover, OutputFormat::Webp),
        MAX_PIXELS,
    )
    .unwrap_err();
    assert_eq!(
        refused,
        RenderError::TooLarge {
            width: 100_000,
            height: 100_000,
            max_pixels: MAX_PIXELS
        }
    );
    let not_an_image = render(
        b"hello",
        &spec(Some(64), None, Fit::Cover, OutputFormat::Png),
        1,
    )
    .unwrap_err();
    assert_eq!(not_an_image, RenderError::Unsupported);
    let truncated = samples::jpeg(&samples::halves(64, 64));
    let truncated = &truncated[..truncated.len() / 3];
    let refused = render(
        truncated,
        &spec(Some(32), None, Fit::Cover, OutputFormat::Png),
        1 << 20,
    );
    assert!(
        matches!(refused, Err(RenderError::Undecodable(_))),
        "{refused:?}"
    );
}

#[test]
fn an_animation_gives_its_first_frame() {
    let source = samples::animated_gif(40, 40);
    let rendered = render(
        &source,
        &spec(Some(32), None, Fit::Cover, OutputFormat::Png),
        MAX_PIXELS,
    )
    .unwrap();
    assert!(near(pixel(&rendered.bytes, 16, 16), RED, 10));
}

#[test]
fn sizes_cover_contain_and_never_enlarge() {
    let both = |width, height, fit| spec(Some(width), Some(height), fit, OutputFormat::Webp);
    assert_eq!(
        target_size(4000, 3000, &both(256, 256, Fit::Cover)),
        (256, 256)
    );
    assert_eq!(
        target_size(4000, 3000, &both(256, 256, Fit::Contain)),
        (256, 192)
    );
    assert_eq!(target_size(100, 50, &both(256, 256, Fit::Cover)), (50, 50));
    assert_eq!(
        target_size(100, 50, &both(256, 256, Fit::Contain)),
        (100, 50)
    );
    let width = spec(Some(256), None, Fit::Cover, OutputFormat::Webp);
    assert_eq!(target_size(4000, 3000, &width), (256, 192));
    assert_eq!(target_size(100, 80, &width), (100, 80));
    let height = spec(None, Some(64), Fit::Contain, OutputFormat::Webp);
    assert_eq!(target_size(3000, 4000, &height), (48, 64));
    assert_eq!(target_size(10_000, 1, &height), (10_000, 1));
    // Cover crops the middle: a red|blue|red strip becomes blue.
    let strip = image::RgbImage::from_fn(90, 30, |x, _| {
        image::Rgb(if (30..60).contains(&x) { BLUE } else { RED })
    });
    let source = samples::jpeg(&strip);
    let square = both(32, 32, Fit::Cover);
    let rendered = render(
        &source,
        &VariantSpec {
            format: OutputFormat::Png,
            ..square
        },
        MAX_PIXELS,
    )
    .unwrap();
    assert_eq!(dimensions(&rendered.bytes), (30, 30));
    assert!(near(pixel(&rendered.bytes, 2, 15), BLUE, 40));
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

async fn store_with_original(bytes: Vec<u8>) -> (tempfile::TempDir, BlobStore, Original) {
    let directory = tempfile::tempdir().unwrap();
    let blobs = BlobStore::Fs(FsBlobStore::open(directory.path()).await.unwrap());
    let user = UserId::local();
    let key = BlobKey::for_file(&user, FileCategory::Image, uuid::Uuid::now_v7(), "a.jpg");
    let body = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(bytes))]);
    let outcome = blobs.put(&key, body, u64::MAX).await.unwrap();
    let original = Original {
        user,
        sha256: outcome.sha256,
        mime_type: "image/jpeg".to_owned(),
        key,
    };
    (directory, blobs, original)
}

fn config(max_concurrent: usize) -> ImageConfig {
    ImageConfig {
        variant_sizes: vec![32, 64],
        max_concurrent,
        max_pixels: MAX_PIXELS,
    }
}

#[tokio::test]
async fn concurrent_requests_for_a_missing_variant_decode_once_and_later_ones_not_at_all() {
    let (_directory, blobs, original) =
        store_with_original(samples::jpeg(&samples::halves(600, 400))).await;
    let variants = Arc::new(Variants::new(&config(2)));
    let wanted = spec(Some(64), Some(64), Fit::Cover, OutputFormat::Webp);
    let requests = (0..6).map(|_| {
        let (variants, blobs, original) = (variants.clone(), blobs.clone(), original.clone());
        tokio::spawn(async move {
            variants
                .variant(&blobs, &blobs, &original, &wanted)
                .await
                .unwrap()
        })
    });
    let answers: Vec<_> = futures_util::future::join_all(requests)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(variants.generated(), 1);
    let generated = answers
        .iter()
        .filter(|answer| answer.outcome == Outcome::Generated)
        .count();
    assert_eq!(generated, 1);
    assert!(answers.iter().all(|answer| answer.key == answers[0].key
        && answer.size == answers[0].size
        && answer.identity == answers[0].identity));
    let again = variants
        .variant(&blobs, &blobs, &original, &wanted)
        .await
        .unwrap();
    assert_eq!(again.outcome, Outcome::Stored);
    assert_eq!(variants.generated(), 1);
    let other = spec(Some(32), None, Fit::Cover, OutputFormat::Png);
    let other = variants
        .variant(&blobs, &blobs, &original, &other)
        .await
        .unwrap();
    assert_eq!(other.outcome, Outcome::Generated);
    assert_eq!(variants.generated(), 2);
    assert_eq!(
        remove_variants(&blobs, &original.user, &original.sha256)
            .await
            .unwrap(),
        2
    );
    assert!(!blobs.exists(&again.key).await.unwrap());
    assert!(blobs.exists(&original.key).await.unwrap());
}

#[tokio::test]
async fn files_that_are_not_images_get_no_variant() {
    let (_directory, blobs, mut original) = store_with_original(b"plain text".to_vec()).await;
    original.mime_type = "text/plain".to_owned();
    let variants = Arc::new(Variants::new(&config(1)));
    let wanted = spec(Some(64), None, Fit::Cover, OutputFormat::Webp);
    let refused = variants.variant(&blobs, &blobs, &original, &wanted).await;
    assert!(matches!(refused, Err(super::VariantError::NotAnImage(_))));
    original.mime_type = "image/jpeg".to_owned();
    let refused = variants.variant(&blobs, &blobs, &original, &wanted).await;
    assert!(matches!(
        refused,
        Err(super::VariantError::Render(RenderError::Unsupported))
    ));
    assert_eq!(variants.generated(), 0);
}
