//! `podium`: the command line of the server.

use clap::Parser;
use podium_server::Application;
use podium_server::config::{AuditCommand, Cli, Command, Config};

/// mimalloc instead of the system allocator: the server allocates on its runtime and
/// store threads and frees across them, where glibc's malloc spends a large share
/// of the CPU consolidating (see docs/benchmarks.md, S3 and S7).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // `podium script-runner`: one script evaluation for a server, which starts it
    // with no environment and kills it past the script's deadline. Nothing else is
    // started for it: no runtime, no settings, no logging.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "script-runner")
    {
        return script_runner();
    }
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run()),
        Err(err) => {
            eprintln!("podium: cannot start the runtime: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Most CPU seconds a script runner may use, should its server be gone before it
/// can kill it (the longest script deadline is 60 seconds).
const SCRIPT_RUNNER_CPU_SECONDS: u64 = 61;

/// Address space a script runner needs besides its evaluation's memory limit: the
/// program and its libraries (about 50 MiB, with mimalloc's up-front reservation
/// turned off by the server), with room to spare.
const SCRIPT_RUNNER_BASE_BYTES: u64 = 256 * 1024 * 1024;

fn script_runner() -> std::process::ExitCode {
    // A runner that aborts (a stack overflow, an allocation past its cap) leaves no
    // core file: its memory holds the task's input, secrets included. Nor may
    // another process of the same user trace it or read its memory.
    let _ = rlimit::setrlimit(rlimit::Resource::CORE, 0, 0);
    #[cfg(target_os = "linux")]
    if podium_server::confine::unreadable().is_err() {
        return std::process::ExitCode::FAILURE;
    }
    // Best effort: the server kills the runner at the deadline anyway.
    let _ = rlimit::setrlimit(
        rlimit::Resource::CPU,
        SCRIPT_RUNNER_CPU_SECONDS,
        SCRIPT_RUNNER_CPU_SECONDS + 1,
    );
    let confine = |bytes: usize| {
        // The evaluation's own limit, plus room for the program itself.
        let bytes = u64::try_from(bytes)
            .unwrap_or(u64::MAX)
            .saturating_add(SCRIPT_RUNNER_BASE_BYTES);
        rlimit::setrlimit(rlimit::Resource::AS, bytes, bytes)
            .map_err(|e| format!("the memory limit: {e}"))?;
        // From here on it may only compute, allocate and answer.
        #[cfg(target_os = "linux")]
        podium_server::confine::lock_down()?;
        Ok(())
    };
    match podium_core::exec::script::runner::serve(
        std::io::stdin().lock(),
        std::io::stdout().lock(),
        confine,
    ) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(_) => std::process::ExitCode::FAILURE,
    }
}

async fn run() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Audit(AuditCommand::Verify(args)) => {
            let env: Vec<(String, String)> = std::env::vars().collect();
            let config = match load_config(&args, &env) {
                Ok(config) => config,
                Err(code) => return code,
            };
            match podium_server::verify_audit(&config).await {
                Ok(podium_server::AuditVerdict::Intact(count)) => {
                    println!("audit trail intact: {count} entries");
                    std::process::ExitCode::SUCCESS
                }
                Ok(podium_server::AuditVerdict::Broken(broken)) => {
                    println!("audit trail broken at entry {}: {}", broken.seq, broken.why);
                    std::process::ExitCode::FAILURE
                }
                Err(err) => {
                    eprintln!("podium: {err}");
                    std::process::ExitCode::from(2)
                }
            }
        }
        Command::Serve(args) => {
            let env: Vec<(String, String)> = std::env::vars().collect();
            let config = match load_config(&args, &env) {
                Ok(config) => config,
                Err(code) => return code,
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
            #[cfg(unix)]
            reload_keys_on_hangup(app.key_reloader(), args, env);
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

/// The configuration from every source; a bad one is reported, with exit status 2.
fn load_config(
    args: &podium_server::config::ServeArgs,
    env: &[(String, String)],
) -> Result<Config, std::process::ExitCode> {
    Config::load(args, env).map_err(|err| {
        eprintln!("podium: {err}");
        std::process::ExitCode::from(2)
    })
}

/// On SIGHUP, reads the configuration again (the config file, the secrets key file)
/// and takes its secrets master keys: a key rotation without a restart. The
/// environment is the one the server started with.
#[cfg(unix)]
fn reload_keys_on_hangup(
    reloader: podium_server::KeyReloader,
    args: podium_server::config::ServeArgs,
    env: Vec<(String, String)>,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangup) = signal(SignalKind::hangup()) else {
        tracing::warn!("SIGHUP cannot be handled here; secrets keys are reloaded only at start");
        return;
    };
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            let reloaded = match Config::load(&args, &env) {
                Ok(config) => reloader.reload(&config).await.map_err(|e| e.to_string()),
                Err(err) => Err(err.to_string()),
            };
            if let Err(err) = reloaded {
                tracing::error!(
                    "the secrets keys were not reloaded, the server keeps its keys: {err}"
                );
            }
        }
    });
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
