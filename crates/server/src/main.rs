//! `podium`: the command line of the server.

use clap::Parser;
use podium_server::Application;
use podium_server::config::{Cli, Command, Config};

/// mimalloc instead of the system allocator: the server allocates on its runtime and
/// store threads and frees across them, where glibc's malloc spends a large share
/// of the CPU consolidating (see docs/benchmarks.md, S3 and S7).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let env: Vec<(String, String)> = std::env::vars().collect();
            let config = match Config::load(&args, &env) {
                Ok(config) => config,
                Err(err) => {
                    eprintln!("podium: {err}");
                    return std::process::ExitCode::from(2);
                }
            };
            podium_server::telemetry::init(&config);
            let app = match Application::build(&config).await {
                Ok(app) => app,
                Err(err) => {
                    tracing::error!("{err}");
                    eprintln!("podium: {err}");
                    return std::process::ExitCode::FAILURE;
                }
            };
            match app.run_until(shutdown_signal()).await {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(err) => {
                    tracing::error!("server error: {err}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
