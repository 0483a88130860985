//! The `quillstore` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use quillstore::config::{Config, RawConfig};
use quillstore::migrate::cli::MigrateCommand;
use quillstore::{Application, telemetry};

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
    /// Run it while the service is stopped.
    Gc {
        /// Remove the orphan blobs instead of only listing them.
        #[arg(long)]
        apply: bool,
        #[command(flatten)]
        config: RawConfig,
    },
    /// Move data between backends: MongoDB schema migrations, copies and their verification
    /// (see docs/operations.md).
    #[command(subcommand)]
    Migrate(MigrateCommand),
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
        Command::Gc { apply, config } => runtime.block_on(gc(config, apply)),
        Command::Migrate(command) => runtime.block_on(quillstore::migrate::cli::run(command)),
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

async fn gc(raw: RawConfig, apply: bool) -> anyhow::Result<()> {
    let config = Config::from_raw(raw)?;
    telemetry::init(config.log_format);
    let report = quillstore::files::gc::run(&config, apply).await?;
    print!("{report}");
    Ok(())
}
