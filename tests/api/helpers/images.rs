//! Images the tests make themselves (no binary fixtures): a two-colour JPEG with a hand-built
//! EXIF segment (orientation, a description and GPS coordinates), a PNG whose header claims
//! 100,000 x 100,000 pixels, an animated GIF, a PNG with an ICC profile. Shared by the unit
//! tests of `src/images` (included by path) and the API suite, so it uses only `image`.

#![allow(dead_code)]

use std::io::Cursor;

use image::codecs::gif::GifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{Delay, Frame, ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};

/// What the EXIF segment of [`exif_jpeg`] describes the picture as; must not survive.
pub const EXIF_MARKER: &str = "quillstore-secret-description";

pub const RED: [u8; 3] = [220, 20, 20];
pub const BLUE: [u8; 3] = [20, 20, 220];

/// A `width` x `height` image, red in its left half and blue in its right half.
pub fn halves(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, _| {
        Rgb(if x < width / 2 { RED } else { BLUE })
    })
}

/// The JPEG of `image`.
pub fn jpeg(image: &RgbImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, 95)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("a JPEG");
    bytes
}

/// A JPEG of [`halves`] whose EXIF says `orientation` (6: rotate 90° clockwise to show), with
/// an image description and a GPS position.
pub fn exif_jpeg(width: u32, height: u32, orientation: u16) -> Vec<u8> {
    let plain = jpeg(&halves(width, height));
    let segment = exif_segment(orientation);
    let mut bytes = plain[..2].to_vec();
    bytes.extend_from_slice(&segment);
    bytes.extend_from_slice(&plain[2..]);
    bytes
}

/// An APP1 `Exif` segment: a big-endian TIFF with IFD0 (Orientation, ImageDescription, a
/// pointer to the GPS IFD) and a GPS IFD (GPSLatitudeRef `N`).
fn exif_segment(orientation: u16) -> Vec<u8> {
    let description = format!("{EXIF_MARKER}\0");
    let entry = |tag: u16, kind: u16, count: u32, value: [u8; 4]| {
        let mut entry = Vec::new();
        entry.extend_from_slice(&tag.to_be_bytes());
        entry.extend_from_slice(&kind.to_be_bytes());
        entry.extend_from_slice(&count.to_be_bytes());
        entry.extend_from_slice(&value);
        entry
    };
    // Header (8) + IFD0: count (2), 3 entries (36), next offset (4).
    let description_offset: u32 = 8 + 2 + 3 * 12 + 4;
    let gps_offset = description_offset + description.len() as u32;
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&3u16.to_be_bytes());
    let [high, low] = orientation.to_be_bytes();
    tiff.extend(entry(0x0112, 3, 1, [high, low, 0, 0]));
    tiff.extend(entry(
        0x010e,
        2,
        description.len() as u32,
        description_offset.to_be_bytes(),
    ));
    tiff.extend(entry(0x8825, 4, 1, gps_offset.to_be_bytes()));
    tiff.extend_from_slice(&0u32.to_be_bytes());
    tiff.extend_from_slice(description.as_bytes());
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend(entry(0x0001, 2, 2, *b"N\0\0\0"));
    tiff.extend_from_slice(&0u32.to_be_bytes());
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend(tiff);
    let mut segment = vec![0xff, 0xe1];
    segment.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    segment.extend(payload);
    segment
}

/// A PNG whose header claims `width` x `height` RGBA pixels, followed by `padding` bytes of an
/// IDAT chunk that decompresses to nothing useful: a decompression bomb's header.
pub fn claimed_png(width: u32, height: u32, padding: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 6, 0, 0, 0]);
    png_chunk(&mut bytes, b"IHDR", &header);
    png_chunk(&mut bytes, b"IDAT", &vec![0u8; padding]);
    png_chunk(&mut bytes, b"IEND", &[]);
    bytes
}

fn png_chunk(bytes: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    bytes.extend_from_slice(&(data.len() as u32).to_be_bytes());
    bytes.extend_from_slice(kind);
    bytes.extend_from_slice(data);
    let mut checked = kind.to_vec();
    checked.extend_from_slice(data);
    bytes.extend_from_slice(&crc32(&checked).to_be_bytes());
}

/// The CRC-32 of PNG chunks (ISO 3309), bit by bit: tests only.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A two-frame GIF: red, then blue.
pub fn animated_gif(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut bytes);
        for colour in [RED, BLUE] {
            let [r, g, b] = colour;
            let frame = RgbaImage::from_pixel(width, height, Rgba([r, g, b, 255]));
            encoder
                .encode_frame(Frame::from_parts(
                    frame,
                    0,
                    0,
                    Delay::from_numer_denom_ms(100, 1),
                ))
                .expect("a GIF frame");
        }
    }
    bytes
}

/// A half-transparent PNG carrying `profile` as its ICC profile.
pub fn png_with_profile(width: u32, height: u32, profile: &[u8]) -> Vec<u8> {
    let image = RgbaImage::from_fn(width, height, |x, _| {
        Rgba(if x < width / 2 {
            [0, 200, 0, 255]
        } else {
            [0, 0, 0, 0]
        })
    });
    let mut bytes = Vec::new();
    let mut encoder = PngEncoder::new(&mut bytes);
    encoder
        .set_icc_profile(profile.to_vec())
        .expect("PNG carries ICC profiles");
    encoder
        .write_image(
            image.as_raw(),
            width,
            height,
            image::ExtendedColorType::Rgba8,
        )
        .expect("a PNG");
    bytes
}

/// The pixel at `(x, y)` of the decoded `bytes`, as RGBA.
pub fn pixel(bytes: &[u8], x: u32, y: u32) -> [u8; 4] {
    let image = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .expect("readable")
        .decode()
        .expect("an image");
    image.to_rgba8().get_pixel(x, y).0
}

/// The width and height of the decoded `bytes`.
pub fn dimensions(bytes: &[u8]) -> (u32, u32) {
    image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .expect("readable")
        .into_dimensions()
        .expect("an image")
}

/// Whether `colour` is within `tolerance` of `expected` on every channel.
pub fn near(colour: [u8; 4], expected: [u8; 3], tolerance: u8) -> bool {
    colour[..3]
        .iter()
        .zip(expected)
        .all(|(got, want)| got.abs_diff(want) <= tolerance)
}
