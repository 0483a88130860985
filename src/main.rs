//! The `quillstore` binary: parses the command line and hands over to the library.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use quillstore::config::{Config, RawConfig};
use quillstore::migrate::cli::MigrateCommand;
use quillstore::users::UsersCommand;
use quillstore::{Application, telemetry};

/// jemalloc: a small GET spends about a fifth fewer instructions than with glibc's malloc
/// (allocation is a quarter of a request's work); RSS stays within a few MiB of glibc's,
/// freed memory going back to the system some seconds later (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "quillstore",
    version,
    about = "HTTP storage service for AI character-chat apps"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service.
    Serve(RawConfig),
    /// Print the effective configuration (secrets masked) and check the stores.
    CheckConfig(RawConfig),
    /// Find blobs without file records (and records without blobs); dry run by default.
    /// With blobs on S3 and metadata on MongoDB it may run beside live instances; otherwise
    /// stop the service first (the json store and the fs blob store lock DATA_DIR).
    Gc {
        /// Remove the orphan blobs instead of only listing them.
        #[arg(long)]
        apply: bool,
        /// Orphan blobs written less than this many seconds ago are kept: an upload in flight
        /// writes its blob a moment before its record.
        #[arg(long, default_value_t = quillstore::files::gc::DEFAULT_MIN_AGE_SECS)]
        min_age: u64,
        #[command(flatten)]
        config: RawConfig,
    },
    /// Move data between backends: MongoDB schema migrations, copies and their verification
    /// (see docs/operations.md).
    #[command(subcommand)]
    Migrate(MigrateCommand),
    /// Stored secrets (API keys).
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Accounts: list users, export or delete everything one user owns (see docs/operations.md).
    #[command(subcommand)]
    Users(UsersCommand),
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Re-encrypt every stored API key under ENCRYPTION_MASTER_KEY; keys sealed with an
    /// older key need it in ENCRYPTION_PREVIOUS_KEYS. Resumable: run it again after a stop.
    /// With the json store, stop the service first (it locks DATA_DIR).
    Rotate(RawConfig),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Serve(raw) => runtime.block_on(serve(raw)),
        Command::CheckConfig(raw) => runtime.block_on(quillstore::check::check_config(raw)),
        Command::Gc {
            apply,
            min_age,
            config,
        } => runtime.block_on(gc(config, apply, Duration::from_secs(min_age))),
        Command::Migrate(command) => runtime.block_on(quillstore::migrate::cli::run(command)),
        Command::Secrets(SecretsCommand::Rotate(raw)) => runtime.block_on(rotate_secrets(raw)),
        Command::Users(command) => runtime.block_on(quillstore::users::run(command)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(raw: RawConfig) -> anyhow::Result<()> {
    let config = Config::from_raw(raw)?;
    telemetry::init(config.log_format);
    let application = Application::build(config).await?;
    println!("quillstore listening on http://{}", application.address());
    application.run_until_stopped().await
}

async fn rotate_secrets(raw: RawConfig) -> anyhow::Result<()> {
    let config = Config::from_raw(raw)?;
    telemetry::init(config.log_format);
    let keyring = quillstore::keyring(&config)?;
    let store = quillstore::store::open(&config).await?;
    let rotation = quillstore::secrets::rotate::rotate(&store, &keyring).await?;
    print!("{rotation}");
    Ok(())
}

async fn gc(raw: RawConfig, apply: bool, min_age: Duration) -> anyhow::Result<()> {
    let config = Config::from_raw(raw)?;
    telemetry::init(config.log_format);
    let report = quillstore::files::gc::run(&config, apply, min_age).await?;
    print!("{report}");
    Ok(())
}
