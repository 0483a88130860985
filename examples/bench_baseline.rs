//! The baseline of `scripts/bench.sh`: the least an axum server can do to accept and serve the
//! same files. `POST /upload` streams the multipart `file` part into a file (no hashing, no
//! sniffing, no fsync, no metadata); `GET /files/{name}` streams it back with
//! `Content-Length`. Listens on 127.0.0.1 (`PORT`, default 0) and prints
//! `listening on http://...`; files go to `BASELINE_DIR`.

// A bare axum server, not quillstore's API: its routes need no OpenAPI operation.
#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(std::env::var("BASELINE_DIR").unwrap_or_else(|_| "baseline".into()));
    tokio::fs::create_dir_all(&dir).await?;
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let app = Router::new()
        .route("/upload", post(upload))
        .route("/files/{name}", get(download))
        .layer(DefaultBodyLimit::disable())
        .with_state(Arc::new(dir));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn upload(State(dir): State<Arc<PathBuf>>, mut form: Multipart) -> Response {
    let mut stored = 0u64;
    while let Ok(Some(mut field)) = form.next_field().await {
        if field.name() != Some("file") {
            continue;
        }
        let name = format!("{}.bin", uuid::Uuid::now_v7());
        let Ok(file) = tokio::fs::File::create(dir.join(&name)).await else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        let mut writer = tokio::io::BufWriter::with_capacity(256 * 1024, file);
        while let Ok(Some(chunk)) = field.chunk().await {
            stored += chunk.len() as u64;
            if writer.write_all(&chunk).await.is_err() {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        }
        if writer.flush().await.is_err() {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        return (
            StatusCode::CREATED,
            format!("{{\"id\":\"{name}\",\"size\":{stored}}}"),
        )
            .into_response();
    }
    StatusCode::BAD_REQUEST.into_response()
}

async fn download(State(dir): State<Arc<PathBuf>>, Path(name): Path<String>) -> Response {
    if name.contains('/') || name.starts_with('.') {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let Ok(file) = tokio::fs::File::open(dir.join(&name)).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(metadata) = file.metadata().await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let body = Body::from_stream(ReaderStream::with_capacity(file, 256 * 1024));
    (
        [
            (header::CONTENT_LENGTH, metadata.len().to_string()),
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
        ],
        body,
    )
        .into_response()
}
