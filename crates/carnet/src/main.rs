//! The `carnet` command: serve the CRM, fill a demo company, manage users and
//! API keys from the shell.

use carnet::{open, run_server, Config};
use clap::{Parser, Subcommand};
use std::io::Read;

#[derive(Parser)]
#[command(name = "carnet", version, about = "Carnet, a self-hosted CRM for small and medium businesses")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct DbArgs {
    /// `postgres://…` or an SQLite file path; default `carnet.db` in the working directory.
    #[arg(long, env = "CARNET_DATABASE_URL", default_value = "sqlite:carnet.db")]
    database_url: String,
    /// Where attachments are stored.
    #[arg(long, env = "CARNET_FILES_DIR", default_value = "carnet-files")]
    files_dir: String,
}

#[derive(clap::Args, Clone)]
struct ServeArgs {
    #[arg(long, env = "CARNET_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Mark session cookies `Secure` (set when Carnet is reached over HTTPS).
    #[arg(long, env = "CARNET_SECURE_COOKIES")]
    secure_cookies: bool,
    /// The address people reach Carnet at, e.g. https://crm.example.com: links
    /// Carnet hands out (calendar feeds) are built from it, not from the request.
    #[arg(long, env = "CARNET_PUBLIC_URL", value_parser = public_url)]
    public_url: Option<String>,
    /// Seconds a background job is held by its worker; a crashed node's jobs run
    /// again on another node after this. Longer than the slowest job.
    #[arg(long, env = "CARNET_JOB_LEASE_SECS", default_value_t = carnet::DEFAULT_JOB_LEASE_SECS, value_parser = clap::value_parser!(i64).range(1..=86_400))]
    job_lease_secs: i64,
    /// API requests a minute per API key or session (twice as many per client
    /// address); beyond, 429 with Retry-After. 0 turns the limit off.
    #[arg(long, env = "CARNET_API_RATE_LIMIT", default_value_t = carnet::DEFAULT_API_RATE_LIMIT)]
    api_rate_limit: u32,
    /// The SMTP relay emails go through: smtp://user:password@host:587 (STARTTLS),
    /// smtps://…:465 (TLS from the start), or smtp://host:25?tls=none for a
    /// local relay. Without one, emails wait in the outbox.
    #[arg(long, env = "CARNET_SMTP_URL", value_parser = smtp_url, hide_env_values = true)]
    smtp_url: Option<carnet_app::mail::smtp::Relay>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web interface and API.
    Serve {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Fill an empty database with a demo company, then serve it.
    Demo {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        serve: ServeArgs,
        /// Fill, then exit instead of serving.
        #[arg(long)]
        no_serve: bool,
        /// Instead of the demo company, bulk-load N synthetic contacts (and 30 % as many accounts) for benchmarks.
        #[arg(long)]
        scale: Option<u64>,
        /// Seed of the generator: the same seed gives the same data.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Manage API keys.
    ApiKey {
        #[command(subcommand)]
        action: KeyAction,
    },
    /// Check, rebuild or backfill the analysis figures.
    Analytics {
        #[command(subcommand)]
        action: AnalyticsAction,
    },
    /// Print the API's OpenAPI 3.1 document (also served at /api/openapi.json).
    Openapi,
    /// Email: accept delivery reports.
    Mail {
        #[command(subcommand)]
        action: MailAction,
    },
}

#[derive(Subcommand)]
enum MailAction {
    /// Read a delivery status notification (RFC 3464) from standard input and
    /// suppress the addresses it reports as failed for good.
    Bounce {
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum AnalyticsAction {
    /// Recount every metric over the records and report any difference with the maintained figures (exit 1 if any).
    Verify {
        #[command(flatten)]
        db: DbArgs,
        /// How many months back to check, month by month.
        #[arg(long, default_value_t = 24)]
        months: u32,
    },
    /// Recompute the maintained figures from the records (optionally in another reporting time zone).
    Rebuild {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        time_zone: Option<String>,
    },
    /// Rebuild past days of the pipeline history from the stage history.
    Backfill {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long, default_value_t = 365)]
        days: i64,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Create a user; the password is read from standard input.
    Create {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin, manager, sales or marketing
        #[arg(long)]
        role: String,
        #[arg(long, default_value = "en")]
        locale: String,
        #[arg(long, default_value = "Europe/Paris")]
        time_zone: String,
    },
}

#[derive(Subcommand)]
enum KeyAction {
    /// Create an API key for a user and print it once.
    Create {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

fn config(db: &DbArgs, serve: Option<&ServeArgs>) -> Config {
    Config {
        database_url: db.database_url.clone(),
        files_dir: db.files_dir.clone().into(),
        listen: serve.map(|s| s.listen.clone()).unwrap_or_default(),
        secure_cookies: serve.is_some_and(|s| s.secure_cookies),
        public_url: serve.and_then(|s| s.public_url.clone()),
        job_lease_secs: serve.map_or(carnet::DEFAULT_JOB_LEASE_SECS, |s| s.job_lease_secs),
        api_rate_limit: serve.map_or(carnet::DEFAULT_API_RATE_LIMIT, |s| s.api_rate_limit),
        smtp: serve.and_then(|s| s.smtp_url.clone()),
    }
}

fn smtp_url(raw: &str) -> Result<carnet_app::mail::smtp::Relay, String> {
    carnet_app::mail::smtp::Relay::parse(raw)
}

/// An http(s) base URL without a query or fragment.
fn public_url(raw: &str) -> Result<String, String> {
    let ok = (raw.starts_with("https://") || raw.starts_with("http://"))
        && raw.split("://").nth(1).is_some_and(|h| !h.is_empty() && !h.starts_with('/'))
        && !raw.contains(['?', '#', ' ']);
    if ok {
        Ok(raw.trim_end_matches('/').to_string())
    } else {
        Err("must be an http(s) address such as https://crm.example.com".into())
    }
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1)
}

#[tokio::main]
async fn main() {
    carnet::init_logging();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { db, serve } => {
            let cfg = config(&db, Some(&serve));
            let carnet = open(&cfg).await.unwrap_or_else(|e| fail(e));
            if let Err(e) = run_server(carnet, &cfg, None).await {
                fail(e)
            }
        }
        Command::Demo {
            db,
            serve,
            no_serve,
            scale,
            seed,
        } => {
            let cfg = config(&db, Some(&serve));
            let carnet = open(&cfg).await.unwrap_or_else(|e| fail(e));
            match scale {
                Some(n) => {
                    let started = std::time::Instant::now();
                    carnet_app::demo::generate_scale(&carnet, n, seed, |p| eprintln!("  {p}"))
                        .await
                        .unwrap_or_else(|e| fail(e));
                    eprintln!("loaded {n} contacts in {:.1} s", started.elapsed().as_secs_f64());
                }
                None => {
                    let fresh = !carnet_app::demo::has_demo(&carnet).await.unwrap_or_else(|e| fail(e));
                    if fresh {
                        eprintln!("Filling the demo company…");
                        carnet_app::demo::fill(&carnet, seed).await.unwrap_or_else(|e| fail(e));
                    }
                }
            }
            if !no_serve {
                let login = scale
                    .is_none()
                    .then_some((carnet_app::demo::DEMO_ADMIN, carnet_app::demo::DEMO_PASSWORD));
                if let Err(e) = run_server(carnet, &cfg, login).await {
                    fail(e)
                }
            }
        }
        Command::User {
            action:
                UserAction::Create {
                    db,
                    email,
                    name,
                    role,
                    locale,
                    time_zone,
                },
        } => {
            let carnet = open(&config(&db, None)).await.unwrap_or_else(|e| fail(e));
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password).unwrap_or_else(|e| fail(e));
            let password = password.trim_end_matches(['\n', '\r']);
            let nu = carnet_app::access::users::NewUser::parse(&email, &name, &role, password, &locale, &time_zone)
                .unwrap_or_else(|e| fail(e.summary()));
            let u = carnet_app::access::users::create(&carnet.db, nu).await.unwrap_or_else(|e| fail(e));
            println!("created user {} ({}, {})", u.email, u.name, u.role.as_str());
        }
        Command::Analytics { action } => match action {
            AnalyticsAction::Verify { db, months } => {
                let carnet = open(&config(&db, None)).await.unwrap_or_else(|e| fail(e));
                let v = carnet_app::analytics::verify(&carnet.db, months).await.unwrap_or_else(|e| fail(e));
                for d in &v.differences {
                    println!("DIFFERENT {d}");
                }
                println!("{} checks, {} differences", v.checks, v.differences.len());
                if !v.differences.is_empty() {
                    std::process::exit(1);
                }
            }
            AnalyticsAction::Rebuild { db, time_zone } => {
                let carnet = open(&config(&db, None)).await.unwrap_or_else(|e| fail(e));
                let started = std::time::Instant::now();
                carnet_app::analytics::rebuild(&carnet.db, time_zone.as_deref())
                    .await
                    .unwrap_or_else(|e| fail(e));
                println!("rebuilt in {:.1} s", started.elapsed().as_secs_f64());
            }
            AnalyticsAction::Backfill { db, days } => {
                let carnet = open(&config(&db, None)).await.unwrap_or_else(|e| fail(e));
                let today = carnet.db.clock().today_utc();
                let n = carnet_app::analytics::snapshots::backfill(
                    &carnet.db,
                    today - chrono::Duration::days(days),
                    today - chrono::Duration::days(1),
                )
                .await
                .unwrap_or_else(|e| fail(e));
                println!("{n} days of pipeline history rebuilt");
            }
        },
        Command::Mail {
            action: MailAction::Bounce { db },
        } => {
            let carnet = open(&config(&db, None)).await.unwrap_or_else(|e| fail(e));
            let mut raw = Vec::new();
            std::io::stdin()
                .take(carnet_app::mail::bounces::MAX_REPORT as u64 + 1)
                .read_to_end(&mut raw)
                .unwrap_or_else(|e| fail(e));
            let report = carnet_app::mail::bounces::accept(&carnet.db, &raw, "dsn")
                .await
                .unwrap_or_else(|e| fail(e));
            for r in &report.recipients {
                println!("{} {} {}", r.address, r.action, r.status);
            }
            println!("{} address(es) suppressed", report.suppressed.len());
        }
        Command::Openapi => {
            println!("{:#}", carnet_web::api::openapi::build());
        }
        Command::ApiKey {
            action: KeyAction::Create { db, email, name },
        } => {
            let carnet = open(&config(&db, None)).await.unwrap_or_else(|e| fail(e));
            let user = carnet_app::access::users::find_by_email(&carnet.db, &email)
                .await
                .unwrap_or_else(|e| fail(e))
                .unwrap_or_else(|| fail(format!("no user with email {email}")));
            let (_, key) = carnet_app::access::keys::create(&carnet.db, user.id, &name)
                .await
                .unwrap_or_else(|e| fail(e));
            println!("{key}");
        }
    }
}
