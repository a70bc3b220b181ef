//! `spawn_app()`: a running Carnet on a fresh database, with an administrator
//! and an API key, and small HTTP helpers.

use carnet_app::access::{keys, users, User};
use carnet_app::Carnet;
use carnet_web::api::contract::Contract;
use carnet_web::api::guard::ApiLimits;
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub const ADMIN_EMAIL: &str = "admin@test.example";
pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub url: String,
    pub addr: SocketAddr,
    pub carnet: Carnet,
    pub admin: User,
    pub key: String,
    pub http: Client,
    pub dir: PathBuf,
    /// Every API answer of this app checked against the OpenAPI document.
    pub contract: Arc<Contract>,
}

/// A test whose answers broke the API document fails, even if it did not look
/// at the answer that did.
impl Drop for TestApp {
    fn drop(&mut self) {
        let v = self.contract.violations();
        if !v.is_empty() && !std::thread::panicking() {
            panic!("answers that break the OpenAPI document:\n{}", v.join("\n"));
        }
    }
}

/// Which database the suite runs on.
pub fn database() -> String {
    std::env::var("CARNET_TEST_DATABASE").unwrap_or_else(|_| "sqlite".into())
}

async fn fresh_database_url(dir: &std::path::Path) -> String {
    match database().as_str() {
        "sqlite" => format!("sqlite:{}", dir.join("carnet.db").display()),
        "postgres" => {
            let base = std::env::var("CARNET_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
            let name = format!(
                "carnet_test_{}",
                carnet_app::access::random_token()
                    .to_lowercase()
                    .replace(['-', '_'], "")
                    .chars()
                    .take(16)
                    .collect::<String>()
            );
            let admin = carnet_app::Db::connect(&format!("{base}/postgres"))
                .await
                .expect("PostgreSQL is reachable (CARNET_TEST_PG_URL)");
            let mut c = admin.conn().await.unwrap();
            carnet_app::db::dialect::exec_raw(&mut c, &format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            drop(c);
            admin.close().await;
            format!("{base}/{name}")
        }
        other => panic!("CARNET_TEST_DATABASE must be sqlite or postgres, not {other}"),
    }
}

/// Starts Carnet with no user at all (for the first-run setup).
pub async fn spawn_empty() -> (SocketAddr, Carnet, PathBuf) {
    let (addr, carnet, dir, _) = spawn_empty_with_url().await;
    (addr, carnet, dir)
}

pub async fn spawn_empty_with_url() -> (SocketAddr, Carnet, PathBuf, String) {
    let (addr, carnet, dir, url, _) = spawn_empty_with(carnet_app::registry(), ApiLimits::default()).await;
    (addr, carnet, dir, url)
}

/// Starts Carnet with a registry of the test's (job kinds of its own).
async fn spawn_empty_with(
    registry: carnet_app::platform::registry::Registry,
    limits: ApiLimits,
) -> (SocketAddr, Carnet, PathBuf, String, Arc<Contract>) {
    let dir = std::env::temp_dir().join(format!("carnet-test-{}", carnet_app::access::random_token()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = fresh_database_url(&dir).await;
    let carnet = Carnet::open_with(&url, dir.join("files"), registry).await.expect("Carnet opens");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    carnet.set_public_url(&format!("http://{addr}"));
    let mut contract = Contract::new(carnet_web::api::openapi::build());
    // While mending the document: see every violation, not the first of each test.
    contract.report_only = std::env::var("CARNET_CONTRACT_REPORT").is_ok();
    let contract = Arc::new(contract);
    let state = carnet_web::AppState::new(carnet.clone(), false)
        .with_contract(contract.clone())
        .with_api_limits(limits);
    tokio::spawn(carnet_web::serve(state, listener, std::future::pending()));
    (addr, carnet, dir, url, contract)
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(carnet_app::registry()).await
}

/// The test handle of a started Carnet, with an API key for `admin`.
async fn signed_in(addr: SocketAddr, carnet: Carnet, dir: PathBuf, url: String, contract: Arc<Contract>, admin: User) -> TestApp {
    let (_, key) = keys::create(&carnet.db, admin.id, "tests").await.unwrap();
    TestApp {
        url,
        addr,
        carnet,
        admin,
        key,
        http: Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
        dir,
        contract,
    }
}

/// A running Carnet filled with the demo company, signed in as its
/// administrator, without a rate limit (for tests that send many requests).
pub async fn spawn_demo() -> TestApp {
    let (addr, carnet, dir, url, contract) = spawn_empty_with(carnet_app::registry(), ApiLimits::OFF).await;
    carnet_app::demo::fill(&carnet, 7).await.unwrap();
    let admin = users::find_by_email(&carnet.db, carnet_app::demo::DEMO_ADMIN)
        .await
        .unwrap()
        .unwrap();
    signed_in(addr, carnet, dir, url, contract, admin).await
}

/// A running Carnet whose registry the test chose.
pub async fn spawn_app_with(registry: carnet_app::platform::registry::Registry) -> TestApp {
    let (addr, carnet, dir, url, contract) = spawn_empty_with(registry, ApiLimits::default()).await;
    let admin = users::create(
        &carnet.db,
        users::NewUser::parse(ADMIN_EMAIL, "Ada Admin", "admin", PASSWORD, "en", "Europe/Paris").unwrap(),
    )
    .await
    .unwrap();
    signed_in(addr, carnet, dir, url, contract, admin).await
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// An API call with a key; returns the status and the JSON body (Null if none).
    pub async fn api_with(&self, key: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path)).bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn api(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.api_with(&self.key.clone(), method, path, body).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.api(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.api(Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.api(Method::PATCH, path, Some(body)).await
    }

    /// Creates a user with a role and returns an API key acting as them.
    pub async fn user_with_key(&self, email: &str, role: &str) -> (User, String) {
        let u = users::create(
            &self.carnet.db,
            users::NewUser::parse(email, email, role, PASSWORD, "en", "Europe/Paris").unwrap(),
        )
        .await
        .unwrap();
        let (_, key) = keys::create(&self.carnet.db, u.id, "k").await.unwrap();
        (u, key)
    }

    /// A browser-like client signed in as `email`.
    pub async fn browser(&self, email: &str) -> Browser {
        let http = Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let page = http.get(self.url("/login")).send().await.unwrap().text().await.unwrap();
        let csrf = csrf_in(&page).expect("the sign-in form carries a token");
        let res = http
            .post(self.url("/login"))
            .form(&[("email", email), ("password", PASSWORD), ("next", "/"), ("csrf", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "login as {email}");
        Browser {
            http,
            base: format!("http://{}", self.addr),
        }
    }

    /// Posts the sign-in form as a browser does: the page first (its token and
    /// its cookie), then the form with them.
    pub async fn sign_in(&self, fields: &[(&str, &str)]) -> reqwest::Response {
        let page = self.http.get(self.url("/login")).send().await.unwrap();
        let cookie = page
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string())
            .find(|c| c.starts_with("carnet_login="))
            .expect("the sign-in page sets its cookie");
        let csrf = csrf_in(&page.text().await.unwrap()).expect("the sign-in form carries a token");
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf", &csrf));
        self.http
            .post(self.url("/login"))
            .header("cookie", cookie)
            .form(&all)
            .send()
            .await
            .unwrap()
    }

    pub async fn count(&self, table: &str) -> i64 {
        carnet_app::db::q(format!("SELECT COUNT(*) FROM {table}"))
            .scalar::<i64>(&mut self.carnet.db.conn().await.unwrap())
            .await
            .unwrap()
    }
}

/// A signed-in browser session (cookies kept), for the HTML pages.
pub struct Browser {
    pub http: Client,
    pub base: String,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

impl Browser {
    pub async fn get(&self, path: &str) -> Page {
        Self::page(self.http.get(format!("{}{path}", self.base)).send().await.unwrap()).await
    }

    async fn page(res: reqwest::Response) -> Page {
        let status = res.status();
        let location = res.headers().get("location").map(|l| l.to_str().unwrap().to_string());
        Page {
            status,
            location,
            body: res.text().await.unwrap(),
        }
    }

    /// The CSRF token of the session, read from a page's form.
    pub async fn csrf(&self) -> String {
        let page = self.get("/accounts").await;
        csrf_in(&page.body).expect("a page with a form carries the CSRF token")
    }

    /// Posts a form with the session's CSRF token added.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.csrf().await;
        let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Posts a form exactly as given (no CSRF token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        Self::page(self.http.post(format!("{}{path}", self.base)).form(fields).send().await.unwrap()).await
    }
}

pub fn csrf_in(html: &str) -> Option<String> {
    let i = html.find("name=\"csrf\" value=\"")?;
    let rest = &html[i + 19..];
    Some(rest[..rest.find('"')?].to_string())
}

/// The id at the end of a `Location` like `/accounts/12`.
pub fn id_from_location(p: &Page) -> i64 {
    p.location
        .as_deref()
        .and_then(|l| l.rsplit('/').next())
        .and_then(|s| s.split('#').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no id in {:?}", p.location))
}

/// Queues a job, as the application would, in a transaction of its own.
pub async fn queue<K: carnet_app::platform::registry::JobKind>(app: &TestApp, payload: K::Payload) {
    let mut tx = app.carnet.db.begin().await.unwrap();
    carnet_app::platform::jobs::enqueue::<K>(&mut tx, &payload, carnet_app::platform::jobs::When::Now, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

pub async fn drain(app: &TestApp) -> usize {
    let mut n = 0;
    while carnet_app::platform::jobs::run_once(&app.carnet, "test-worker", 60).await.unwrap() {
        n += 1;
        assert!(n < 10_000, "the queue does not drain");
    }
    n
}
