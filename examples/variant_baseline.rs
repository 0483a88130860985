//! Image-variant baseline for `scripts/bench-images.sh`: the same work quillstore does for a
//! first-time variant (decode, EXIF orientation, Lanczos3 resize with `fast_image_resize`,
//! lossy WebP with `webp`), as a plain program without a server, store or limits; and the
//! sample images the benchmark uploads.
//!
//! ```text
//! variant_baseline make DIR COUNT   # DIR/photo-N.jpg (4000x3000), DIR/square-N.png (2048x2048)
//! variant_baseline render FILE RUNS # median ms of one 256x256 cover WebP from FILE
//! ```

use std::io::Cursor;
use std::time::Instant;

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageReader, RgbImage};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("make") => make(&args[1], args[2].parse().expect("a count")),
        Some("render") => {
            let bytes = std::fs::read(&args[1]).expect("read the image");
            let runs: usize = args[2].parse().expect("a number of runs");
            let mut times: Vec<f64> = (0..runs)
                .map(|_| {
                    let started = Instant::now();
                    let encoded = render(&bytes);
                    assert!(!encoded.is_empty());
                    started.elapsed().as_secs_f64() * 1000.0
                })
                .collect();
            times.sort_by(f64::total_cmp);
            println!("{:.1}", times[times.len() / 2]);
        }
        _ => eprintln!("usage: variant_baseline make DIR COUNT | render FILE RUNS"),
    }
}

/// A photo-like picture (smooth gradients and texture, which compresses like a photo), made
/// distinct by `seed`.
fn picture(width: u32, height: u32, seed: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let noise = (x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663) ^ seed) % 23;
        image::Rgb([
            ((x * 255 / width) as u8).wrapping_add(noise as u8),
            ((y * 255 / height) as u8).wrapping_add((seed * 7) as u8),
            (((x + y) / 16 % 256) as u8) ^ (noise as u8),
        ])
    })
}

fn make(directory: &str, count: u32) {
    std::fs::create_dir_all(directory).expect("create the directory");
    for seed in 0..count {
        let photo = picture(4000, 3000, seed);
        let mut jpeg = Vec::new();
        JpegEncoder::new_with_quality(&mut jpeg, 90)
            .write_image(photo.as_raw(), 4000, 3000, image::ExtendedColorType::Rgb8)
            .expect("encode a JPEG");
        std::fs::write(format!("{directory}/photo-{seed}.jpg"), jpeg).expect("write");
        let square = picture(2048, 2048, seed + 1000);
        let mut png = Vec::new();
        PngEncoder::new(&mut png)
            .write_image(square.as_raw(), 2048, 2048, image::ExtendedColorType::Rgb8)
            .expect("encode a PNG");
        std::fs::write(format!("{directory}/square-{seed}.png"), png).expect("write");
    }
}

/// Decode, orient, resize to 256x256 (cover), encode lossy WebP at quality 82.
fn render(bytes: &[u8]) -> Vec<u8> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .expect("a format");
    let mut decoder = reader.into_decoder().expect("a decoder");
    let orientation = decoder.orientation().expect("an orientation");
    let mut image = DynamicImage::from_decoder(decoder).expect("decoded");
    image.apply_orientation(orientation);
    let image = DynamicImage::ImageRgb8(image.to_rgb8());
    let mut target = DynamicImage::new(256, 256, image.color());
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .fit_into_destination(Some((0.5, 0.5)));
    Resizer::new()
        .resize(&image, &mut target, &options)
        .expect("resized");
    webp::Encoder::from_rgb(target.as_bytes(), 256, 256)
        .encode_simple(false, 82.0)
        .expect("encoded")
        .to_vec()
}
