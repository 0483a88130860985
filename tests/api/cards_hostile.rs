//! Hostile and broken card imports: each gets a clear 4xx in the error envelope, and no
//! import leaves a character, file, blob, tag or lorebook behind.

use std::io::Write;

use png::text_metadata::{EncodableTextChunk, ZTXtChunk};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::cards::{import, import_ok, zip_of};
use crate::helpers::{TestApp, assert_error, spawn_app, spawn_app_with};

async fn assert_nothing_left(app: &TestApp) {
    for collection in ["characters", "files", "tags", "lorebooks"] {
        let page = app.list(&format!("/api/{collection}")).await;
        assert_eq!(page["items"], json!([]), "no {collection} left behind");
    }
    assert_eq!(
        app.blob_keys().await,
        Vec::<String>::new(),
        "no blobs left behind"
    );
}

async fn refused(
    app: &TestApp,
    bytes: Vec<u8>,
    status: StatusCode,
    code: &str,
    what: &str,
) -> Value {
    let response = import(app, bytes).await;
    let actual = response.status();
    if actual != status {
        panic!(
            "{what}: {actual} {}",
            response.text().await.unwrap_or_default()
        );
    }
    assert_error(response, status, code).await
}

/// A valid 2×3 PNG (checksums included), without a card.
fn tiny_png() -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, 2, 3);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&[200; 2 * 3 * 4]).unwrap();
    writer.finish().unwrap();
    out
}

/// A PNG whose `chara` chunk is zTXt text of `size` bytes that compresses to little.
fn ztxt_png(size: usize) -> Vec<u8> {
    let mut chunk = ZTXtChunk::new("chara", format!("{{\"name\": \"{}\"}}", "a".repeat(size)));
    chunk.compress_text().unwrap();
    let mut encoded = Vec::new();
    chunk.encode(&mut encoded).unwrap();
    let image = tiny_png();
    let mut out = image[..image.len() - 12].to_vec();
    out.extend_from_slice(&encoded);
    out.extend_from_slice(&image[image.len() - 12..]);
    out
}

fn card(assets: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"spec": "chara_card_v3", "spec_version": "3.0",
        "data": {"name": "H", "tags": ["hostile"], "assets": assets,
                 "character_book": {"entries": []}}}))
    .unwrap()
}

#[tokio::test]
async fn hostile_imports_get_a_4xx_and_leave_nothing() {
    let app = spawn_app_with(|raw| raw.max_import_bytes = Some("1MiB".into())).await;
    refused(
        &app,
        b"GIF89a....".to_vec(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "not a card format",
    )
    .await;
    refused(
        &app,
        b"[1, 2]".to_vec(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        "JSON that is not an object",
    )
    .await;
    refused(
        &app,
        b"{\"name\": ".to_vec(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        "malformed JSON",
    )
    .await;
    refused(
        &app,
        br#"{"spec": "chara_card_v2", "data": 3}"#.to_vec(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        "data not an object",
    )
    .await;
    refused(
        &app,
        tiny_png().to_vec(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        "a PNG without a card",
    )
    .await;
    refused(
        &app,
        tiny_png()[..30].to_vec(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        "a truncated PNG",
    )
    .await;
    // 8 MiB of text in a zTXt chunk under the 1 MiB limit: inflated only up to the limit.
    let bomb = ztxt_png(8 << 20);
    assert!(bomb.len() < 1 << 20, "{}", bomb.len());
    refused(
        &app,
        bomb,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "a zTXt bomb",
    )
    .await;
    let small = import_ok(&app, ztxt_png(10)).await;
    assert_eq!(small["name"], "aaaaaaaaaa", "a small zTXt card imports");
    let small = small["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/api/characters/{small}"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let files: Vec<String> = app.list("/api/files").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect();
    for id in files {
        app.delete(&format!("/api/files/{id}")).await;
    }
    // A zip whose one entry inflates to 8 MiB; and one with too many entries.
    let bomb_card = card(
        json!([{"type": "icon", "uri": "embeded://assets/x.png", "name": "main", "ext": "png"}]),
    );
    let zip_bomb = zip_of(&[("card.json", bomb_card), ("assets/x.png", vec![0; 8 << 20])]);
    assert!(zip_bomb.len() < 1 << 20, "{}", zip_bomb.len());
    refused(
        &app,
        zip_bomb,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "a zip bomb",
    )
    .await;
    let many: Vec<(String, Vec<u8>)> = (0..1_001)
        .map(|index| (format!("f{index}"), Vec::new()))
        .collect();
    let many: Vec<(&str, Vec<u8>)> = many
        .iter()
        .map(|(name, bytes)| (name.as_str(), bytes.clone()))
        .collect();
    refused(
        &app,
        zip_of(&many),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "too many entries",
    )
    .await;
    for path in [
        "../evil.png",
        "/etc/evil.png",
        "assets/../../evil.png",
        "C:/evil.png",
    ] {
        let archive = zip_of(&[("card.json", card(json!([]))), (path, tiny_png().to_vec())]);
        let error = refused(
            &app,
            archive,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            path,
        )
        .await;
        assert!(
            error["error"]["details"][0]["message"]
                .as_str()
                .unwrap()
                .contains("outside"),
            "{error}"
        );
    }
    for uri in [
        "embeded://../card.json",
        "embeded:///etc/passwd",
        "embeded://assets/missing.png",
    ] {
        let assets = json!([{"type": "icon", "uri": uri, "name": "main", "ext": "png"}]);
        let archive = zip_of(&[("card.json", card(assets))]);
        let error = refused(
            &app,
            archive,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            uri,
        )
        .await;
        assert_eq!(
            error["error"]["details"][0]["field"], "data.assets[0].uri",
            "{error}"
        );
    }
    refused(
        &app,
        zip_of(&[("other.json", b"{}".to_vec())]),
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        "no card.json",
    )
    .await;
    let response = app
        .send(
            app.request(Method::POST, "/api/characters/import")
                .body(vec![b' '; (1 << 20) + 1]),
        )
        .await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(vec![b'{'; (1 << 20) + 1]),
    );
    let response = app
        .send(
            app.request(Method::POST, "/api/characters/import")
                .multipart(form),
        )
        .await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert_nothing_left(&app).await;
}

/// A failure after the first write (a tag, the lorebook and the avatar were stored, then an
/// asset of a refused type): everything the import wrote is removed again.
#[tokio::test]
async fn a_failed_import_removes_what_it_wrote() {
    let app = spawn_app().await;
    let assets = json!([
        {"type": "icon", "uri": "embeded://assets/icon/images/main.png", "name": "main", "ext": "png"},
        {"type": "other", "uri": "embeded://assets/other/tool.bin", "name": "tool", "ext": "bin"}
    ]);
    let mut executable = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0".to_vec();
    executable.write_all(&[0; 64]).unwrap();
    let archive = zip_of(&[
        ("card.json", card(assets)),
        ("assets/icon/images/main.png", tiny_png().to_vec()),
        ("assets/other/tool.bin", executable),
    ]);
    let response = import(&app, archive).await;
    assert_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    assert_nothing_left(&app).await;
}

#[tokio::test]
async fn a_card_whose_image_would_pass_the_file_quota_is_refused_and_leaves_nothing() {
    let app = spawn_app_with(|raw| raw.quota_files_per_user = Some("1".into())).await;
    let kept = app.upload(b"the one file", "kept.txt", None).await;
    let body = refused(
        &app,
        ztxt_png(10),
        StatusCode::PAYLOAD_TOO_LARGE,
        "quota_exceeded",
        "a PNG card past the file quota",
    )
    .await;
    assert_eq!(body["error"]["details"][0]["quota"], "files", "{body}");
    for collection in ["characters", "tags", "lorebooks"] {
        let page = app.list(&format!("/api/{collection}")).await;
        assert_eq!(page["items"], json!([]), "no {collection} left behind");
    }
    let files = app.list("/api/files").await;
    assert_eq!(files["items"].as_array().unwrap().len(), 1, "{files}");
    assert_eq!(files["items"][0]["id"], kept["id"]);
    assert_eq!(
        app.blob_keys().await.len(),
        1,
        "no blob of the refused card"
    );
    // A card without an image stores no file: the quota does not stop it.
    let json_card = serde_json::to_vec(&json!({"name": "No image"})).unwrap();
    assert_eq!(import_ok(&app, json_card).await["name"], "No image");
}
