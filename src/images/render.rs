//! Making a variant from the bytes of an original: decode (under decoder limits, the pixel
//! count checked from the header before any pixel is decoded), apply the EXIF orientation,
//! resize with a SIMD convolution (`fast_image_resize`, Lanczos3), encode. Only the first
//! frame of an animation is decoded. Nothing of the original's metadata is written (no EXIF,
//! no GPS, no text chunks) except its ICC colour profile, so colours stay what they were.
//! CPU-bound and synchronous: callers run it off the async runtime.

use std::io::Cursor;

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{
    DynamicImage, ExtendedColorType, ImageDecoder, ImageEncoder, ImageFormat, ImageReader, Limits,
    Rgb, RgbImage,
};

use super::spec::{Fit, OutputFormat, VariantSpec};
use super::webp_icc;

/// Quality of lossy encodings (WebP and JPEG): small thumbnails without visible artefacts.
const QUALITY: u8 = 82;
/// Bytes per pixel of the widest pixel the decoders produce (16-bit RGBA), for the allocation cap.
const WIDEST_PIXEL: u64 = 8;

/// The encoded variant and its size in pixels.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// Why an original cannot give a variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error(
        "variants are made from JPEG, PNG, GIF and WebP images; this file's bytes are none of these"
    )]
    Unsupported,
    #[error(
        "the image is {width} x {height} pixels; variants are made from images of at most \
         {max_pixels} pixels (IMAGE_MAX_PIXELS)"
    )]
    TooLarge {
        width: u32,
        height: u32,
        max_pixels: u64,
    },
    #[error("the image cannot be decoded: {0}")]
    Undecodable(String),
    #[error("the variant cannot be encoded: {0}")]
    Encoding(String),
}

/// The variant `spec` of the image in `source`, refusing images of more than `max_pixels`.
pub fn render(source: &[u8], spec: &VariantSpec, max_pixels: u64) -> Result<Rendered, RenderError> {
    let (image, icc_profile) = decode(source, max_pixels)?;
    let (width, height) = target_size(image.width(), image.height(), spec);
    let image = if spec.format == OutputFormat::Jpeg && image.color().has_alpha() {
        flatten_on_white(&image)
    } else {
        image
    };
    let image = resize(&image, width, height)?;
    let bytes = encode(&image, spec.format, icc_profile)?;
    Ok(Rendered {
        bytes,
        width,
        height,
    })
}

/// The first frame of the image, upright, as 8-bit RGB or RGBA, and its ICC profile.
fn decode(source: &[u8], max_pixels: u64) -> Result<(DynamicImage, Option<Vec<u8>>), RenderError> {
    let undecodable = |error: image::ImageError| match error {
        image::ImageError::Limits(limit) => {
            RenderError::Undecodable(format!("it exceeds the decoder limits ({limit})"))
        }
        other => RenderError::Undecodable(other.to_string()),
    };
    let mut reader = ImageReader::new(Cursor::new(source))
        .with_guessed_format()
        .map_err(|error| RenderError::Undecodable(error.to_string()))?;
    match reader.format() {
        Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Gif | ImageFormat::WebP) => {}
        _ => return Err(RenderError::Unsupported),
    }
    let mut limits = Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(WIDEST_PIXEL));
    reader.limits(limits);
    // Reads the header only: the size is known before any pixel buffer exists.
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(RenderError::TooLarge {
            width,
            height,
            max_pixels,
        });
    }
    let orientation = decoder.orientation().map_err(undecodable)?;
    let icc_profile = decoder.icc_profile().ok().flatten();
    let mut image = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    image.apply_orientation(orientation);
    let image = match image {
        DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_) => image,
        other if other.color().has_alpha() => DynamicImage::ImageRgba8(other.to_rgba8()),
        other => DynamicImage::ImageRgb8(other.to_rgb8()),
    };
    Ok((image, icc_profile))
}

/// The size of the variant of a `width` x `height` image. One side given: the other follows
/// the aspect ratio. Both: `cover` is the box, `contain` the largest size inside it. A
/// variant is never larger than its original: a box larger than the image shrinks, keeping
/// its own aspect ratio (cover) or the image's (contain).
pub fn target_size(width: u32, height: u32, spec: &VariantSpec) -> (u32, u32) {
    let (source_width, source_height) = (f64::from(width), f64::from(height));
    let scaled = |value: f64, scale: f64| ((value * scale).round() as u32).max(1);
    match (spec.width, spec.height) {
        (Some(box_width), Some(box_height)) => {
            let (box_width, box_height) = (f64::from(box_width), f64::from(box_height));
            match spec.fit {
                Fit::Cover => {
                    let shrink = (source_width / box_width)
                        .min(source_height / box_height)
                        .min(1.0);
                    (scaled(box_width, shrink), scaled(box_height, shrink))
                }
                Fit::Contain => {
                    let scale = (box_width / source_width)
                        .min(box_height / source_height)
                        .min(1.0);
                    (scaled(source_width, scale), scaled(source_height, scale))
                }
            }
        }
        (Some(box_width), None) => {
            let scale = (f64::from(box_width) / source_width).min(1.0);
            (scaled(source_width, scale), scaled(source_height, scale))
        }
        (None, Some(box_height)) => {
            let scale = (f64::from(box_height) / source_height).min(1.0);
            (scaled(source_width, scale), scaled(source_height, scale))
        }
        (None, None) => (width, height),
    }
}

/// JPEG has no alpha: transparent pixels become white rather than whatever colour they hid.
fn flatten_on_white(image: &DynamicImage) -> DynamicImage {
    let rgba = image.to_rgba8();
    let mut flat = RgbImage::new(rgba.width(), rgba.height());
    for (target, source) in flat.pixels_mut().zip(rgba.pixels()) {
        let alpha = u16::from(source[3]);
        let blend = |channel: u8| ((u16::from(channel) * alpha + 255 * (255 - alpha)) / 255) as u8;
        *target = Rgb([blend(source[0]), blend(source[1]), blend(source[2])]);
    }
    DynamicImage::ImageRgb8(flat)
}

/// `image` resized to `width` x `height`, cropped around the middle when the aspect ratios
/// differ (alpha premultiplied while filtering, so edges keep their colour).
fn resize(image: &DynamicImage, width: u32, height: u32) -> Result<DynamicImage, RenderError> {
    if (image.width(), image.height()) == (width, height) {
        return Ok(image.clone());
    }
    let mut target = DynamicImage::new(width, height, image.color());
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .fit_into_destination(Some((0.5, 0.5)));
    Resizer::new()
        .resize(image, &mut target, &options)
        .map_err(|error| RenderError::Encoding(error.to_string()))?;
    Ok(target)
}

fn encode(
    image: &DynamicImage,
    format: OutputFormat,
    icc_profile: Option<Vec<u8>>,
) -> Result<Vec<u8>, RenderError> {
    let (width, height) = (image.width(), image.height());
    let color = match image {
        DynamicImage::ImageRgba8(_) => ExtendedColorType::Rgba8,
        _ => ExtendedColorType::Rgb8,
    };
    let failed = |error: image::ImageError| RenderError::Encoding(error.to_string());
    let mut bytes = Vec::new();
    match format {
        OutputFormat::Webp => {
            let encoder = match color {
                ExtendedColorType::Rgba8 => {
                    webp::Encoder::from_rgba(image.as_bytes(), width, height)
                }
                _ => webp::Encoder::from_rgb(image.as_bytes(), width, height),
            };
            let encoded = encoder
                .encode_simple(false, f32::from(QUALITY))
                .map_err(|error| RenderError::Encoding(format!("{error:?}")))?;
            bytes = match icc_profile {
                Some(profile) => webp_icc::with_icc_profile(&encoded, &profile, width, height)
                    .map_err(RenderError::Encoding)?,
                None => encoded.to_vec(),
            };
        }
        OutputFormat::Jpeg => {
            let mut encoder = JpegEncoder::new_with_quality(&mut bytes, QUALITY);
            if let Some(profile) = icc_profile {
                // A profile the encoder cannot carry is dropped, not fatal.
                let _ = encoder.set_icc_profile(profile);
            }
            encoder
                .write_image(image.as_bytes(), width, height, color)
                .map_err(failed)?;
        }
        OutputFormat::Png => {
            let mut encoder = PngEncoder::new(&mut bytes);
            if let Some(profile) = icc_profile {
                let _ = encoder.set_icc_profile(profile);
            }
            encoder
                .write_image(image.as_bytes(), width, height, color)
                .map_err(failed)?;
        }
    }
    Ok(bytes)
}
