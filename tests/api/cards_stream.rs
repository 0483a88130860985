//! Exports of a character with a large avatar (a 25 MB PNG): PNG and CharX are streamed from
//! the blob store (no `Content-Length`, many pieces), and the image's bytes come out untouched
//! (in the PNG, with the card chunks inserted right after IHDR; in the CharX, as the main
//! icon). That the server's memory does not grow with the image is shown by
//! `scripts/bench-cards.sh` (peak RSS above idle during these exports), not asserted here.

use std::io::{Cursor, Read};

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cards::card_of;
use crate::helpers::{TestApp, json_body, spawn_app};

/// A `side` x `side` RGB PNG of a pattern, stored without compression (fast to make, and as
/// large on the wire as in memory).
fn large_png(side: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::NoCompression);
    let pixels: Vec<u8> = (0..side as usize * side as usize * 3)
        .map(|index| (index % 251) as u8)
        .collect();
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&pixels).unwrap();
    writer.finish().unwrap();
    out
}

/// `GET path` read piece by piece: the pieces' count, the bytes, and `Content-Length`.
async fn streamed(app: &TestApp, path: &str) -> (usize, Vec<u8>, Option<String>) {
    let response = app.get(path).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let length = response
        .headers()
        .get("content-length")
        .map(|value| value.to_str().unwrap().to_owned());
    let mut pieces = 0;
    let mut bytes = Vec::new();
    let mut body = response.bytes_stream();
    while let Some(piece) = body.next().await {
        bytes.extend_from_slice(&piece.unwrap());
        pieces += 1;
    }
    (pieces, bytes, length)
}

#[tokio::test]
async fn a_large_avatar_exports_streamed_and_untouched_as_png_and_charx() {
    let app = spawn_app().await;
    let image = large_png(2900);
    assert!(image.len() > 25_000_000, "{}", image.len());
    let avatar = app.upload(&image, "big.png", Some("image/png")).await;
    let response = app
        .post(
            "/api/characters",
            &json!({"name": "Big", "defaultImageId": avatar["id"]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let character: Value = json_body(response).await;
    let export = |format: &str| {
        format!(
            "/api/characters/{}/export?format={format}",
            character["id"].as_str().unwrap()
        )
    };

    let (pieces, png, length) = streamed(&app, &export("png")).await;
    assert_eq!(length, None, "a streamed PNG has no Content-Length");
    assert!(pieces > 1, "{pieces} pieces");
    // Signature and IHDR, the card chunks, then every other byte of the image as it was.
    assert_eq!(&png[..33], &image[..33]);
    assert!(png.len() > image.len());
    assert!(png.ends_with(&image[33..]), "the image bytes are untouched");
    let reader = png::Decoder::new(Cursor::new(&png)).read_info().unwrap();
    assert_eq!((reader.info().width, reader.info().height), (2900, 2900));
    let texts = &reader.info().uncompressed_latin1_text;
    let keywords: Vec<&str> = texts.iter().map(|text| text.keyword.as_str()).collect();
    assert_eq!(keywords, ["ccv3", "chara"]);

    let (pieces, charx, length) = streamed(&app, &export("charx")).await;
    assert_eq!(length, None, "a streamed CharX has no Content-Length");
    assert!(pieces > 1, "{pieces} pieces");
    assert_eq!(card_of("charx", &charx)["data"]["name"], "Big");
    let mut archive = zip::ZipArchive::new(Cursor::new(charx)).unwrap();
    let mut icon = Vec::new();
    archive
        .by_name("assets/icon/images/main.png")
        .unwrap()
        .read_to_end(&mut icon)
        .unwrap();
    assert!(icon == image, "the CharX carries the avatar as it is");
}
