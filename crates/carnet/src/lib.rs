//! What the `carnet` binary does, as a library so that tests and benchmarks start
//! the same server the command starts.

pub mod smtp_sink;

use carnet_app::{AppError, Carnet};
use std::path::PathBuf;

use carnet_app::platform::jobs;

/// Workers per node.
const WORKERS: usize = 2;

/// The default of [`Config::job_lease_secs`].
pub const DEFAULT_JOB_LEASE_SECS: i64 = 120;

/// The default of [`Config::api_rate_limit`].
pub const DEFAULT_API_RATE_LIMIT: u32 = 600;

pub struct Config {
    pub database_url: String,
    pub files_dir: PathBuf,
    pub listen: String,
    pub secure_cookies: bool,
    /// The public base URL links are built from (`--public-url`).
    pub public_url: Option<String>,
    /// How long a claimed job is held before another worker may take it over
    /// (a crashed node's jobs run again after this).
    pub job_lease_secs: i64,
    /// API requests a minute per key or session (twice as many per address); 0: no limit.
    pub api_rate_limit: u32,
    /// The SMTP relay (`--smtp-url`); none: emails wait in the outbox.
    pub smtp: Option<carnet_app::mail::smtp::Relay>,
}

pub fn init_logging() {
    let level = match std::env::var("RUST_LOG").unwrap_or_default().to_lowercase().as_str() {
        "trace" => tracing::Level::TRACE,
        "debug" => tracing::Level::DEBUG,
        "warn" => tracing::Level::WARN,
        "error" => tracing::Level::ERROR,
        _ => tracing::Level::INFO,
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
}

pub async fn open(cfg: &Config) -> Result<Carnet, AppError> {
    let carnet = Carnet::open(&cfg.database_url, cfg.files_dir.clone()).await?;
    if let Some(url) = &cfg.public_url {
        carnet.set_public_url(url);
    }
    if cfg.smtp.is_some() {
        // Messages queued while no relay was set get a send job again.
        let n = carnet_app::mail::outbox::resume(&carnet.db).await?;
        if n > 0 {
            tracing::info!(messages = n, "emails waiting in the outbox are queued for sending");
        }
    }
    Ok(carnet.with_relay(cfg.smtp.clone()))
}

/// Prints where Carnet listens, the setup link on a database without users,
/// and a login when one is known (the demo's).
pub async fn print_ready(carnet: &Carnet, addr: std::net::SocketAddr, login: Option<(&str, &str)>) -> Result<(), AppError> {
    let url = format!("http://{addr}");
    println!("Carnet is running at {url}");
    if let Some(token) = carnet_app::access::users::ensure_setup_token(&carnet.db).await? {
        println!("No user yet. Create the first administrator here (one-time link):\n  {url}/setup?token={token}");
    }
    if let Some((email, password)) = login {
        println!("Sign in as {email} with password {password}");
    }
    Ok(())
}

/// Serves until Ctrl-C (or SIGTERM).
pub async fn run_server(carnet: Carnet, cfg: &Config, login: Option<(&str, &str)>) -> Result<(), AppError> {
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .map_err(|e| AppError::Internal(format!("cannot listen on {}: {e}", cfg.listen)))?;
    let addr = listener.local_addr().map_err(AppError::internal)?;
    // Without a configured public address, links point where this server listens.
    if cfg.public_url.is_none() {
        carnet.set_public_url(&format!("http://{addr}"));
    }
    print_ready(&carnet, addr, login).await?;
    let db = carnet.db.clone();
    // Background workers run the durable job queue beside the web server.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers: Vec<_> = (0..WORKERS)
        .map(|i| {
            tokio::spawn(jobs::worker(
                carnet.clone(),
                jobs::worker_name(i),
                cfg.job_lease_secs,
                stopped.clone(),
            ))
        })
        .collect();
    let state = carnet_web::AppState::new(carnet, cfg.secure_cookies)
        .with_api_limits(carnet_web::api::guard::ApiLimits::per_minute(cfg.api_rate_limit));
    carnet_web::serve(state, listener, shutdown_signal())
        .await
        .map_err(AppError::internal)?;
    let _ = stop.send(true);
    for w in workers {
        let _ = w.await;
    }
    db.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
