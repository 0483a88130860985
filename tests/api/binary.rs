//! Runs the real `quillstore` binary (for crash and lock tests that need a separate process).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::helpers::Backend;

/// How long a child may take to bind or to exit before the test gives up on it.
const PROCESS_DEADLINE: Duration = Duration::from_secs(30);

/// A `quillstore serve` child process.
pub struct RunningBinary {
    pub child: Child,
    /// `http://127.0.0.1:PORT`, from the line the binary prints once it listens.
    pub address: String,
    /// Everything the child wrote to stderr so far (its logs).
    pub stderr: Arc<Mutex<String>>,
}

impl Drop for RunningBinary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `quillstore serve` command on `data_dir`, port 0, loopback, no auth.
pub fn serve_command(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quillstore"));
    command
        .arg("serve")
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("DATA_DIR", data_dir)
        .env("AUTH_MODE", "none")
        .env_remove("AUTH_JWT_SECRET")
        .env_remove("AUTH_JWT_PUBLIC_KEY")
        .env_remove("CORS_ALLOWED_ORIGINS")
        .env("RUST_LOG", "warn")
        .env("RATE_LIMIT_USER_PER_MINUTE", "0")
        .env("RATE_LIMIT_IP_PER_MINUTE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .envs(Backend::under_test().env_vars(data_dir));
    command
}

/// Starts the binary and waits for its `quillstore listening on http://...` line.
pub async fn spawn_binary(data_dir: &Path) -> RunningBinary {
    spawn_binary_with(data_dir, |_| {}).await
}

/// Like [`spawn_binary`], after letting `configure` adjust the command (e.g. its env).
pub async fn spawn_binary_with(
    data_dir: &Path,
    configure: impl FnOnce(&mut Command),
) -> RunningBinary {
    let mut command = serve_command(data_dir);
    configure(&mut command);
    let mut child = command.spawn().expect("start the quillstore binary");
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let stderr_text = drain_in_background(stderr);
    let waiting = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        let address = lines.by_ref().map_while(Result::ok).find_map(|line| {
            line.strip_prefix("quillstore listening on ")
                .map(str::to_owned)
        });
        // Keep draining so the child never blocks on a full stdout pipe.
        std::thread::spawn(move || lines.for_each(drop));
        address
    });
    let address = tokio::time::timeout(PROCESS_DEADLINE, waiting).await;
    match address {
        Ok(Ok(Some(address))) => {
            assert!(
                address.starts_with("http://127.0.0.1:"),
                "listening line: {address}"
            );
            assert!(
                !address.ends_with(":0"),
                "the line must show the real port: {address}"
            );
            RunningBinary {
                child,
                address,
                stderr: stderr_text,
            }
        }
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = stderr_text.lock().unwrap().clone();
            panic!("the binary never printed its listening line; stderr:\n{stderr}");
        }
    }
}

/// Runs the binary to completion (it is expected to exit by itself); returns (success, stderr).
pub async fn run_binary_to_exit(data_dir: &Path) -> (bool, String) {
    let mut child = serve_command(data_dir)
        .spawn()
        .expect("start the quillstore binary");
    let stderr = child.stderr.take().expect("piped stderr");
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut text);
        text
    });
    drain_in_background(child.stdout.take().expect("piped stdout"));
    let deadline = tokio::time::Instant::now() + PROCESS_DEADLINE;
    loop {
        if let Some(status) = child.try_wait().expect("poll the child") {
            let stderr = stderr_reader.join().expect("stderr reader");
            return (status.success(), stderr);
        }
        if tokio::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a second quillstore on the same DATA_DIR kept running instead of exiting");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn drain_in_background(mut pipe: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(read @ 1..) = pipe.read(&mut buffer) {
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buffer[..read]));
        }
    });
    text
}
