//! A real Garage (S3) for the tests: a single node with its default bucket and key, in a temp
//! dir, on free loopback ports. [`Garage::start`] owns the process (killed on drop, can be
//! stopped and started again on the same ports and dirs); [`shared`] is one Garage for the
//! whole test binary, watched by a shell that kills it when the test process exits.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use tempfile::TempDir;

/// How to reach a Garage.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
}

/// A Garage process owned by a test.
pub struct Garage {
    pub settings: S3Settings,
    /// The Unix socket its S3 API listens on instead of a port ([`Garage::start_on_socket`]);
    /// `settings.endpoint` is then `http://localhost`, the host requests are signed for.
    pub socket: Option<PathBuf>,
    child: Option<Child>,
    config: PathBuf,
    _dir: TempDir,
}

fn random_hex(length: usize) -> String {
    let mut bytes = vec![0u8; length / 2];
    getrandom::fill(&mut bytes).expect("random bytes");
    hex::encode(bytes)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// The garage binary: `GARAGE_BIN`, else `garage` on PATH or in `~/.cargo/bin`.
pub fn garage_binary() -> PathBuf {
    if let Ok(path) = std::env::var("GARAGE_BIN") {
        return PathBuf::from(path);
    }
    let cargo_bin =
        PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo/bin/garage");
    if cargo_bin.exists() {
        cargo_bin
    } else {
        PathBuf::from("garage")
    }
}

/// Writes a config for a single node in `dir`, its S3 API on a free port or on `socket`;
/// returns its path and the settings.
fn configure(dir: &Path, socket: Option<&Path>) -> (PathBuf, S3Settings) {
    let (s3_port, rpc_port) = (free_port(), free_port());
    let config = dir.join("garage.toml");
    let (api, endpoint) = match socket {
        Some(path) => (path.display().to_string(), "http://localhost".to_owned()),
        None => (
            format!("127.0.0.1:{s3_port}"),
            format!("http://127.0.0.1:{s3_port}"),
        ),
    };
    let text = format!(
        "metadata_dir = \"{meta}\"\ndata_dir = \"{data}\"\ndb_engine = \"sqlite\"\n\
         replication_factor = 1\nrpc_bind_addr = \"127.0.0.1:{rpc_port}\"\n\
         rpc_public_addr = \"127.0.0.1:{rpc_port}\"\nrpc_secret = \"{secret}\"\n\n\
         [s3_api]\ns3_region = \"garage\"\napi_bind_addr = \"{api}\"\n\
         root_domain = \".s3.garage.localhost\"\n",
        meta = dir.join("meta").display(),
        data = dir.join("data").display(),
        secret = random_hex(64),
    );
    std::fs::write(&config, text).expect("write garage.toml");
    let settings = S3Settings {
        endpoint,
        region: "garage".to_owned(),
        bucket: "quillstore".to_owned(),
        access_key: format!("GK{}", random_hex(24)),
        secret_key: random_hex(64),
    };
    (config, settings)
}

fn server_command(config: &Path, settings: &S3Settings) -> Command {
    let mut command = Command::new(garage_binary());
    command
        .arg("-c")
        .arg(config)
        .args(["server", "--single-node", "--default-bucket"])
        .env("RUST_LOG", "warn")
        .env("GARAGE_DEFAULT_ACCESS_KEY", &settings.access_key)
        .env("GARAGE_DEFAULT_SECRET_KEY", &settings.secret_key)
        .env("GARAGE_DEFAULT_BUCKET", &settings.bucket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// Waits until the S3 API (at `endpoint`, or on `socket`) accepts connections (Garage makes
/// its bucket before it listens).
fn wait_ready(endpoint: &str, socket: Option<&Path>) {
    let address = endpoint.trim_start_matches("http://");
    for _ in 0..300 {
        let connected = match socket {
            Some(path) => std::os::unix::net::UnixStream::connect(path).is_ok(),
            None => std::net::TcpStream::connect(address).is_ok(),
        };
        if connected {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("Garage at {endpoint} ({socket:?}) did not answer within 30 s");
}

impl Garage {
    /// Starts a Garage of this test's own.
    pub fn start() -> Garage {
        Self::start_with(false)
    }

    /// Starts a Garage of this test's own whose S3 API listens on a Unix socket.
    pub fn start_on_socket() -> Garage {
        Self::start_with(true)
    }

    fn start_with(on_socket: bool) -> Garage {
        let dir = tempfile::tempdir().expect("temp dir for Garage");
        std::fs::create_dir_all(dir.path().join("meta")).unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let socket = on_socket.then(|| dir.path().join("s3.sock"));
        let (config, settings) = configure(dir.path(), socket.as_deref());
        let mut garage = Garage {
            settings,
            socket,
            child: None,
            config,
            _dir: dir,
        };
        garage.resume();
        garage
    }

    /// Kills the process (as a crash would); its data stays.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the process (SIGSTOP) until [`Garage::unpause`]: the kernel still accepts
    /// connections, nothing answers them (a store that hangs rather than one that is down).
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    pub fn unpause(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("Garage is running").id();
        let status = Command::new("kill")
            .arg(signal)
            .arg(pid.to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// Starts the process again on the same ports and data.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "Garage is running");
        let child = server_command(&self.config, &self.settings)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {:?}: {error}", garage_binary()));
        self.child = Some(child);
        wait_ready(&self.settings.endpoint, self.socket.as_deref());
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One Garage for the whole test binary, started on first use. A watching shell kills it
/// when this process exits, however it exits.
pub fn shared() -> S3Settings {
    static SHARED: OnceLock<S3Settings> = OnceLock::new();
    SHARED.get_or_init(start_shared).clone()
}

#[expect(
    clippy::zombie_processes,
    reason = "the watching shell outlives this process by design; init reaps it"
)]
fn start_shared() -> S3Settings {
    let dir = std::env::temp_dir().join(format!("quillstore-test-garage-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("meta")).unwrap();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let (config, settings) = configure(&dir, None);
    let server = server_command(&config, &settings);
    let program = server.get_program().to_string_lossy().into_owned();
    let watcher = format!(
        "\"$0\" -c \"$1\" server --single-node --default-bucket & garage=$!; \
         while kill -0 {parent} 2>/dev/null && kill -0 $garage 2>/dev/null; do sleep 1; done; \
         kill -9 $garage 2>/dev/null; rm -rf \"$2\"",
        parent = std::process::id()
    );
    let mut command = Command::new("bash");
    command
        .arg("-c")
        .arg(watcher)
        .arg(program)
        .arg(&config)
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (name, value) in server.get_envs() {
        if let Some(value) = value {
            command.env(name, value);
        }
    }
    command.spawn().expect("start the shared Garage");
    wait_ready(&settings.endpoint, None);
    settings
}
