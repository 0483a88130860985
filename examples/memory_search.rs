//! Benchmark of `POST /api/memories/search` on the embedded json store: one character with
//! 10,000 memories of 1,536 dimensions, beside another character of the same user with as
//! many (which a search must not read), searched over HTTP on loopback one request at a time.
//! Prints one JSON line: p50, p95, max latency in milliseconds.
//!
//! ```text
//! cargo run --release --example memory_search -- [--memories 10000] [--dimensions 1536] [--searches 200]
//! ```

use std::time::{Duration, Instant};

use quillstore::config::{Config, RawConfig};
use serde_json::json;

fn option(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|arg| *arg == format!("--{name}"))
        .and_then(|index| args.get(index + 1))
        .map_or(default, |text| text.parse().expect("a number"))
}

/// A deterministic pseudo-random vector (xorshift), values in [-0.5, 0.5).
fn vector(seed: u64, dimensions: usize) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..dimensions)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

/// Writes documents straight into the json store's layout (as `loadgen seed-documents` does):
/// seeding 20,000 vectors through the API would measure the seeding, not the search.
fn seed(dir: &std::path::Path, memories: usize, dimensions: usize) -> (String, String) {
    let now = "2026-01-01T00:00:00.000Z";
    let write = |collection: &str, document: &serde_json::Value| {
        let folder = dir.join(collection);
        std::fs::create_dir_all(&folder).expect("create dir");
        let id = document["id"].as_str().expect("id");
        std::fs::write(
            folder.join(format!("{id}.json")),
            serde_json::to_vec(document).expect("json"),
        )
        .expect("write");
    };
    let mut characters = Vec::new();
    for name in ["Searched", "Other"] {
        let id = uuid::Uuid::now_v7().to_string();
        write(
            "characters",
            &json!({"id": id, "userId": "local", "createdAt": now,
            "updatedAt": now, "version": 1, "name": name, "tags": [], "personaLinks": [],
            "avatarOverrides": [], "physicalDescriptions": []}),
        );
        characters.push(id);
    }
    for (offset, character) in characters.iter().enumerate() {
        for index in 0..memories {
            let seed = (offset * memories + index) as u64 + 1;
            write(
                "memories",
                &json!({"id": uuid::Uuid::now_v7(), "userId": "local",
                "createdAt": now, "updatedAt": now, "version": 1, "characterId": character,
                "content": format!("memory {index}"), "keywords": [], "tags": [],
                "importance": 0.5, "source": "auto",
                "embedding": {"model": "bench", "vector": vector(seed, dimensions)}}),
            );
        }
    }
    (characters[0].clone(), characters[1].clone())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (memories, dimensions, searches) = (
        option("memories", 10_000),
        option("dimensions", 1_536),
        option("searches", 200),
    );
    let temp = tempfile::tempdir()?;
    let started = Instant::now();
    let (character, _) = seed(temp.path(), memories, dimensions);
    let seeded = started.elapsed();
    let raw = RawConfig {
        host: Some("127.0.0.1".into()),
        port: Some("0".into()),
        data_dir: Some(temp.path().to_path_buf()),
        auth_mode: Some("none".into()),
        rate_limit_user_per_minute: Some("0".into()),
        rate_limit_ip_per_minute: Some("0".into()),
        max_json_bytes: Some("1MiB".into()),
        ..RawConfig::default()
    };
    let started = Instant::now();
    let application = quillstore::Application::build(Config::from_raw(raw)?).await?;
    let loaded = started.elapsed();
    let url = format!("http://{}/api/memories/search", application.address());
    tokio::spawn(application.run_until_stopped());
    let client = reqwest::Client::new();
    let mut latencies = Vec::with_capacity(searches);
    for index in 0..searches + 5 {
        let body = json!({"characterId": character, "model": "bench",
            "vector": vector(1_000_000 + index as u64, dimensions), "limit": 10});
        let sent = Instant::now();
        let response = client.post(&url).json(&body).send().await?;
        let status = response.status();
        let found: serde_json::Value = response.json().await?;
        let elapsed = sent.elapsed();
        assert!(status.is_success(), "{status}: {found}");
        assert_eq!(found["items"].as_array().map(Vec::len), Some(10));
        if index >= 5 {
            latencies.push(elapsed);
        }
    }
    latencies.sort();
    let millis = |duration: Duration| (duration.as_secs_f64() * 1000.0 * 100.0).round() / 100.0;
    let at = |fraction: f64| latencies[((latencies.len() - 1) as f64 * fraction) as usize];
    println!(
        "{}",
        json!({"label": "POST /api/memories/search", "memories": memories,
            "otherCharacterMemories": memories, "dimensions": dimensions, "searches": searches,
            "p50Ms": millis(at(0.5)), "p95Ms": millis(at(0.95)), "maxMs": millis(at(1.0)),
            "seedSeconds": seeded.as_secs(), "loadSeconds": loaded.as_secs()})
    );
    Ok(())
}
