//! Load generator for `scripts/bench.sh`: drives a running quillstore (or a trivial axum
//! baseline it starts itself) on loopback with a fixed number of concurrent clients, and
//! prints one JSON line of results (requests/s, p50, p99). Bounded in count and time.
//!
//! ```text
//! loadgen run --base URL --method POST --path /api/characters --body '{"name":"c{n}"}' \
//!             --requests 10000 --concurrency 32 [--save-ids FILE]
//! loadgen run --base URL --method GET --path '/api/characters/{id}' --ids FILE \
//!             --seconds 10 --concurrency 32
//! loadgen baseline --seconds 10 --concurrency 32
//! loadgen seed-documents --dir DATA_DIR --count 100000
//! loadgen seed-chats --dir DATA_DIR --chats 200 --messages 5000
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

struct Options {
    args: Vec<String>,
}

impl Options {
    fn value(&self, name: &str) -> Option<String> {
        let flag = format!("--{name}");
        self.args
            .iter()
            .position(|arg| *arg == flag)
            .and_then(|index| self.args.get(index + 1))
            .cloned()
    }

    fn number(&self, name: &str, default: u64) -> u64 {
        self.value(name)
            .map_or(default, |text| text.parse().expect("a number"))
    }
}

#[derive(Clone)]
struct Plan {
    label: String,
    base: String,
    method: reqwest::Method,
    path: String,
    body: Option<String>,
    ids: Arc<Vec<String>>,
    requests: Option<u64>,
    deadline: Duration,
    concurrency: u64,
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().cloned().unwrap_or_default();
    let options = Options { args };
    match command.as_str() {
        "run" => {
            let ids = options.value("ids").map(|file| {
                std::fs::read_to_string(file)
                    .expect("read ids")
                    .lines()
                    .map(str::to_owned)
                    .collect()
            });
            let plan = Plan {
                label: options.value("label").unwrap_or_else(|| "run".to_owned()),
                base: options.value("base").expect("--base"),
                method: options
                    .value("method")
                    .unwrap_or_else(|| "GET".into())
                    .parse()
                    .expect("a method"),
                path: options.value("path").expect("--path"),
                body: options.value("body"),
                ids: Arc::new(ids.unwrap_or_default()),
                requests: options
                    .value("requests")
                    .map(|text| text.parse().expect("a number")),
                deadline: Duration::from_secs(options.number("seconds", 60)),
                concurrency: options.number("concurrency", 32),
            };
            let (report, created) = drive(plan).await;
            if let Some(file) = options.value("save-ids") {
                std::fs::write(file, created.join("\n")).expect("write ids");
            }
            println!("{report}");
        }
        "baseline" => {
            // A bare axum server to compare against, not a quillstore route.
            #[allow(clippy::disallowed_methods)]
            let app = axum::Router::new().route(
                "/hello",
                axum::routing::get(|| async { axum::Json(json!({"hello": "world"})) }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let base = format!("http://{}", listener.local_addr().expect("address"));
            tokio::spawn(async move { axum::serve(listener, app).await });
            let plan = Plan {
                label: "baseline: trivial axum GET".to_owned(),
                base,
                method: reqwest::Method::GET,
                path: "/hello".to_owned(),
                body: None,
                ids: Arc::new(Vec::new()),
                requests: None,
                deadline: Duration::from_secs(options.number("seconds", 10)),
                concurrency: options.number("concurrency", 32),
            };
            println!("{}", drive(plan).await.0);
        }
        "seed-documents" => seed_documents(&options),
        "seed-chats" => seed_chats(&options),
        _ => {
            eprintln!("usage: loadgen run|baseline|seed-documents|seed-chats ... (see the source)");
            std::process::exit(2);
        }
    }
}

/// Runs the plan; returns the JSON report and the ids of documents created (for POSTs).
async fn drive(plan: Plan) -> (serde_json::Value, Vec<String>) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(plan.concurrency as usize)
        .build()
        .expect("client");
    let issued = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..plan.concurrency)
        .map(|worker| {
            let (plan, client, issued, errors) =
                (plan.clone(), client.clone(), issued.clone(), errors.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut created = Vec::new();
                loop {
                    let n = issued.fetch_add(1, Ordering::Relaxed);
                    if plan.requests.is_some_and(|limit| n >= limit)
                        || started.elapsed() >= plan.deadline
                    {
                        break;
                    }
                    let path = if plan.ids.is_empty() {
                        plan.path.clone()
                    } else {
                        let pick = (n.wrapping_mul(2_654_435_761).wrapping_add(worker)) as usize
                            % plan.ids.len();
                        plan.path.replace("{id}", &plan.ids[pick])
                    };
                    let mut request =
                        client.request(plan.method.clone(), format!("{}{path}", plan.base));
                    if let Some(body) = &plan.body {
                        request = request
                            .header("content-type", "application/json")
                            .body(body.replace("{n}", &n.to_string()));
                    }
                    let sent = Instant::now();
                    match request.send().await {
                        Ok(response) if response.status().is_success() => {
                            let bytes = response.bytes().await.unwrap_or_default();
                            latencies.push(sent.elapsed().as_micros() as u64);
                            if plan.method == reqwest::Method::POST
                                && let Ok(document) =
                                    serde_json::from_slice::<serde_json::Value>(&bytes)
                                && let Some(id) = document["id"].as_str()
                            {
                                created.push(id.to_owned());
                            }
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                (latencies, created)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut created = Vec::new();
    for worker in workers {
        let (mut part, mut ids) = worker.await.expect("worker");
        latencies.append(&mut part);
        created.append(&mut ids);
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        if latencies.is_empty() {
            0.0
        } else {
            latencies[((latencies.len() as f64 - 1.0) * p).round() as usize] as f64 / 1000.0
        }
    };
    let report = json!({
        "label": plan.label,
        "requests": latencies.len(),
        "errors": errors.load(Ordering::Relaxed),
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "rps": (latencies.len() as f64 / seconds).round(),
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
    });
    (report, created)
}

/// Writes `count` character documents straight into a json store directory, in the format of
/// docs/storage-layout.md, to measure startup time on a large store.
fn seed_documents(options: &Options) {
    let dir = std::path::PathBuf::from(options.value("dir").expect("--dir"));
    let count = options.number("count", 100_000);
    let characters = dir.join("characters");
    std::fs::create_dir_all(&characters).expect("create dir");
    let now = "2026-01-01T00:00:00.000Z";
    for index in 0..count {
        let id = uuid::Uuid::now_v7();
        let document = json!({
            "id": id, "userId": "local", "createdAt": now, "updatedAt": now, "version": 1,
            "name": format!("Character {index}"), "title": "Seeded", "description": "x".repeat(200),
            "isFavorite": index % 7 == 0, "tags": [], "personaLinks": [], "avatarOverrides": [],
            "physicalDescriptions": []
        });
        std::fs::write(
            characters.join(format!("{id}.json")),
            serde_json::to_vec_pretty(&document).expect("json"),
        )
        .expect("write document");
    }
}

/// Writes `chats` chat documents with `messages` committed messages each straight into a json
/// store directory (logs only, as a store of the previous format left them: no indexes), to
/// measure startup with many messages.
fn seed_chats(options: &Options) {
    use std::io::Write;
    let dir = std::path::PathBuf::from(options.value("dir").expect("--dir"));
    let chats = options.number("chats", 200);
    let messages = options.number("messages", 5000);
    let chats_dir = dir.join("chats");
    std::fs::create_dir_all(&chats_dir).expect("create dir");
    let now = "2026-01-01T00:00:00.000Z";
    for chat in 0..chats {
        let chat_id = uuid::Uuid::now_v7();
        let document = json!({
            "id": chat_id, "userId": "local", "createdAt": now, "updatedAt": now, "version": 1,
            "title": format!("Chat {chat}"), "participants": [], "tags": []
        });
        std::fs::write(
            chats_dir.join(format!("{chat_id}.json")),
            serde_json::to_vec_pretty(&document).expect("json"),
        )
        .expect("write chat");
        let log = std::fs::File::create(chats_dir.join(format!("{chat_id}.jsonl"))).expect("log");
        let mut log = std::io::BufWriter::new(log);
        for seq in 1..=messages {
            let role = if seq % 2 == 1 { "user" } else { "assistant" };
            let record = json!({"op": "put", "commit": true, "message": {
                "id": uuid::Uuid::now_v7(), "userId": "local", "createdAt": now, "updatedAt": now,
                "version": 1, "chatId": chat_id, "seq": seq, "type": "message", "role": role,
                "content": format!("message {seq} {}", "x".repeat(300)), "attachments": [],
                "swipeIndex": 0
            }});
            serde_json::to_writer(&mut log, &record).expect("json");
            log.write_all(b"\n").expect("write log");
        }
        log.flush().expect("flush log");
    }
}
