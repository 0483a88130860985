//! File helpers: multipart uploads, deterministic content, hashes and the blobs on disk.

use std::path::{Path, PathBuf};

use reqwest::multipart::{Form, Part};
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Api, json_body};

/// A PNG header of a 2×3 image: enough for type sniffing and dimensions.
pub const PNG_2X3: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x02\0\0\0\x03\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\x00IEND\xaeB`\x82";

/// A form holding only a `file` part.
pub fn file_form(bytes: Vec<u8>, filename: &str, mime: Option<&str>) -> Form {
    Form::new().part("file", file_part(bytes, filename, mime))
}

pub fn file_part(bytes: Vec<u8>, filename: &str, mime: Option<&str>) -> Part {
    let part = Part::bytes(bytes).file_name(filename.to_owned());
    match mime {
        Some(mime) => part.mime_str(mime).expect("a valid MIME type"),
        None => part,
    }
}

/// `length` bytes of printable ASCII that depend on `seed` (stored as text/plain).
pub fn text_bytes(length: usize, seed: u64) -> Vec<u8> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b' ' + (state % 95) as u8
        })
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Api {
    /// `POST /api/files` with a multipart form.
    pub async fn upload_form(&self, form: Form) -> Response {
        self.send(self.request(Method::POST, "/api/files").multipart(form))
            .await
    }

    /// Uploads one file, asserting 201; returns the file's metadata.
    pub async fn upload(&self, bytes: &[u8], filename: &str, mime: Option<&str>) -> Value {
        let response = self
            .upload_form(file_form(bytes.to_vec(), filename, mime))
            .await;
        let status = response.status();
        let body = json_body(response).await;
        assert_eq!(status, StatusCode::CREATED, "upload {filename}: {body}");
        body
    }

    /// `GET /api/files/{id}` with extra headers.
    pub async fn download(&self, id: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = self.request(Method::GET, &format!("/api/files/{id}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    /// The whole body of a 200 download of `id`.
    pub async fn download_bytes(&self, id: &str) -> Vec<u8> {
        let response = self.download(id, &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.bytes().await.expect("read the file").to_vec()
    }
}

/// Every blob file under `DATA_DIR/blobs/users`.
pub fn blob_files(data_dir: &Path) -> Vec<PathBuf> {
    blob_files_under(data_dir, "users")
}

/// The files under `DATA_DIR/blobs/{top}`, sorted.
pub fn blob_files_under(data_dir: &Path, top: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, found);
            } else {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&data_dir.join("blobs").join(top), &mut found);
    found.sort();
    found
}

/// The files in `DATA_DIR/blobs/.tmp` (uploads in progress).
pub fn temp_files(data_dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(data_dir.join("blobs").join(".tmp"))
        .map(|entries| {
            entries
                .map(|entry| entry.expect("dir entry").path())
                .collect()
        })
        .unwrap_or_default()
}
