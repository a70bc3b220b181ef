//! Browser tests in a real headless Chromium, driven over WebDriver by Debian's
//! chromedriver. They run when `CARNET_BROWSER_TESTS=1` (set by `.ci/run`); the
//! plain `cargo test` needs only Rust.

use crate::helpers::*;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn enabled() -> bool {
    std::env::var("CARNET_BROWSER_TESTS").is_ok_and(|v| v == "1")
}

struct Driver {
    child: Child,
    http: reqwest::Client,
    base: String,
    session: String,
    _profile: std::path::PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Driver {
        Driver::start_with(json!({})).await
    }

    /// A browser with these Chromium preferences (`{"enable_do_not_track": true}`).
    async fn start_with(prefs: Value) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let child = Command::new(&bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("CARNET_BROWSER_TESTS=1 but {bin} cannot start: {e}"));
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if http.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = std::env::temp_dir().join(format!("carnet-chromium-{}", carnet_app::access::random_token()));
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", "--window-size=1280,900",
                     format!("--user-data-dir={}", profile.display())],
            "prefs": prefs}}}});
        let res: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {res}"))
            .to_string();
        Driver {
            child,
            http,
            base,
            session,
            _profile: profile,
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        if v["value"].get("error").is_some() {
            panic!("WebDriver {path}: {}", v["value"]);
        }
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    async fn find(&self, css: &str) -> String {
        for _ in 0..50 {
            let url = format!("{}/session/{}/element", self.base, self.session);
            let v: Value = self
                .http
                .post(url)
                .json(&json!({"using": "css selector", "value": css}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if let Some(id) = v["value"][ELEMENT].as_str() {
                return id.to_string();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "no element {css}; page: {}",
            self.source().await.chars().take(2000).collect::<String>()
        );
    }

    async fn type_in(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{e}/clear"), Some(json!({})))
            .await;
        self.cmd(reqwest::Method::POST, &format!("/element/{e}/value"), Some(json!({"text": text})))
            .await;
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{e}/click"), Some(json!({})))
            .await;
    }

    async fn source(&self) -> String {
        self.cmd(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    async fn wait_for_text(&self, text: &str) {
        for _ in 0..50 {
            if self.source().await.contains(text) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the page never showed {text:?}");
    }

    async fn screenshot(&self, name: &str) {
        use base64::Engine;
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        if let (Some(b64), Ok(dir)) = (v.as_str(), std::env::var("CARNET_SCREENSHOTS")) {
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(
                format!("{dir}/{name}.png"),
                base64::engine::general_purpose::STANDARD.decode(b64).unwrap_or_default(),
            );
        }
    }
}

/// Log in, create an account with a tag and a custom field, add a contact with
/// a role, comment, find the account by search and by a saved view, and switch
/// the interface to French.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sales_day_in_the_browser() {
    if !enabled() {
        eprintln!("browser tests off: set CARNET_BROWSER_TESTS=1 to run them");
        return;
    }
    let app = spawn_app().await;
    app.post(
        "/api/v1/custom-fields",
        json!({"entity": "account", "key": "printers", "label": "Printers installed", "kind": "number"}),
    )
    .await;
    let d = Driver::start().await;
    let base = format!("http://{}", app.addr);

    d.goto(&format!("{base}/login")).await;
    d.type_in("#email", ADMIN_EMAIL).await;
    d.type_in("#password", PASSWORD).await;
    d.click("button[type=submit]").await;
    d.wait_for_text("News feed").await;

    d.goto(&format!("{base}/accounts/new")).await;
    d.type_in("#f-name", "Riverside Print Works").await;
    d.type_in("#f-city", "Nantes").await;
    d.type_in("#f-cf-printers", "14").await;
    let gold = app.get("/api/v1/tag-categories").await.1["data"][0]["tags"][0]["id"].to_string();
    d.click(&format!("#f-tags-1 option[value='{gold}']")).await;
    d.screenshot("account-form").await;
    d.click("form.recordform button.primary[type=submit]").await;
    d.wait_for_text("Printers installed").await;
    let src = d.source().await;
    assert!(src.contains("Riverside Print Works") && src.contains("Gold") && src.contains(">14<"));
    let account_id: i64 = app.get("/api/v1/accounts").await.1["data"][0]["id"].as_i64().unwrap();

    // A contact with a role, from the account card.
    d.click("#links a.button").await;
    d.type_in("#f-first_name", "Margaux").await;
    d.type_in("#f-last_name", "Girard").await;
    d.click("#f-role option:nth-child(3)").await;
    d.click("form.recordform button.primary[type=submit]").await;
    d.wait_for_text("Margaux Girard").await;
    d.goto(&format!("{base}/accounts/{account_id}")).await;
    d.wait_for_text("Margaux Girard").await;
    assert!(d.source().await.contains("Billing contact"));

    d.type_in("#comment-body", "Wants a quote for 14 printers").await;
    d.click("form.comment button").await;
    d.wait_for_text("Wants a quote for 14 printers").await;
    d.screenshot("account-card").await;

    // Search: the suggestion list, then the results page.
    d.goto(&format!("{base}/")).await;
    d.type_in("#global-q", "river").await;
    d.wait_for_text("class=\"suggest\"").await;
    d.goto(&format!("{base}/search?q=river")).await;
    d.wait_for_text(&format!("/accounts/{account_id}")).await;

    // A saved view.
    d.goto(&format!("{base}/accounts?tag={gold}")).await;
    d.type_in("#view-name", "Gold accounts").await;
    d.click("form.saveview button").await;
    d.wait_for_text("Gold accounts").await;
    assert!(d.source().await.contains("Riverside Print Works"));
    d.screenshot("account-list").await;

    // The interface in French.
    d.goto(&format!("{base}/profile")).await;
    d.click("#p-locale option[value=fr]").await;
    d.click("form[action='/profile'] button.primary").await;
    d.wait_for_text("Enregistré.").await;
    d.goto(&format!("{base}/")).await;
    d.wait_for_text("Fil d'actualité").await;
    d.goto(&format!("{base}/accounts/{account_id}")).await;
    d.wait_for_text("Historique").await;
    d.screenshot("account-card-fr").await;
    let _ = d.cmd(reqwest::Method::DELETE, "", None).await;
}

impl Driver {
    async fn run_js(&self, script: &str) -> Value {
        self.cmd(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": []})))
            .await
    }

    /// Runs a script that ends by calling `arguments[0](result)`.
    async fn run_async(&self, script: &str) -> Value {
        self.cmd(reqwest::Method::POST, "/execute/async", Some(json!({"script": script, "args": []})))
            .await
    }

    /// Drags a board card onto a drop target with real DragEvents, as a mouse would.
    async fn drag(&self, card_id: i64, target_css: &str) {
        self.run_js(&format!(
            "const card = document.querySelector('.dealcard[data-id=\"{card_id}\"]'); const zone = document.querySelector('{target_css}');\
             const dt = new DataTransfer(); card.dispatchEvent(new DragEvent('dragstart', {{bubbles: true, dataTransfer: dt}}));\
             zone.dispatchEvent(new DragEvent('dragover', {{bubbles: true, cancelable: true, dataTransfer: dt}}));\
             zone.dispatchEvent(new DragEvent('drop', {{bubbles: true, cancelable: true, dataTransfer: dt}}));"
        ))
        .await;
    }

    async fn text_of(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.cmd(reqwest::Method::GET, &format!("/element/{e}/text"), None)
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

/// Drag a card to the next stage and see the column totals change; mark one
/// deal won and one lost (the lost reason is asked for).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_board_in_the_browser() {
    if !enabled() {
        eprintln!("browser tests off: set CARNET_BROWSER_TESTS=1 to run them");
        return;
    }
    let app = spawn_app().await;
    let (_, a) = app
        .post("/api/v1/accounts", json!({"name": "Alpine Textiles", "tags": ["Gold"]}))
        .await;
    let mut ids = Vec::new();
    for (name, amount) in [("Fleet", "10000"), ("Scanners", "2000"), ("Maintenance", "500")] {
        let (_, o) = app
            .post("/api/v1/opportunities", json!({"name": name, "account": a["id"], "amount": amount}))
            .await;
        ids.push(o["id"].as_i64().unwrap());
    }
    let (_, p) = app.get("/api/v1/pipelines").await;
    let pipeline = p["data"][0]["id"].as_i64().unwrap();
    let stage = |name: &str| {
        p["data"][0]["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let d = Driver::start().await;
    let base = format!("http://{}", app.addr);
    d.goto(&format!("{base}/login")).await;
    d.type_in("#email", ADMIN_EMAIL).await;
    d.type_in("#password", PASSWORD).await;
    d.click("button[type=submit]").await;
    d.wait_for_text("News feed").await;

    d.goto(&format!("{base}/pipelines/{pipeline}/board")).await;
    let qual = format!(".column[data-stage=\"{}\"]", stage("Qualification"));
    let disc = format!(".column[data-stage=\"{}\"]", stage("Discovery"));
    assert_eq!(d.text_of(&format!("{qual} .count")).await, "3");
    assert_eq!(d.text_of(&format!("{qual} .total")).await, "€12,500.00");
    d.screenshot("board-before").await;

    d.drag(ids[0], &disc).await;
    for _ in 0..50 {
        if d.text_of(&format!("{disc} .count")).await == "1" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(d.text_of(&format!("{disc} .total")).await, "€10,000.00");
    assert_eq!(d.text_of(&format!("{disc} .weighted")).await, "€2,500.00");
    assert_eq!(d.text_of(&format!("{qual} .total")).await, "€2,500.00");

    // Won: straight onto the zone.
    d.drag(ids[1], &format!(".dropzone[data-stage=\"{}\"]", stage("Won"))).await;
    for _ in 0..50 {
        if d.text_of(&format!("{qual} .count")).await == "1" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.get(&format!("/api/v1/opportunities/{}", ids[1])).await.1["status"], "won");

    // Lost: the form opens on the missing reason.
    d.drag(ids[2], &format!(".dropzone[data-stage=\"{}\"]", stage("Lost"))).await;
    d.wait_for_text("is required to close an opportunity as lost").await;
    d.screenshot("lost-reason").await;
    let reasons = app.get("/api/v1/lost-reasons").await.1;
    let price = reasons["data"][0]["id"].as_i64().unwrap();
    d.click(&format!("#f-lost_reason option[value='{price}']")).await;
    d.click("form.recordform button.primary[type=submit]").await;
    d.wait_for_text("Stage history").await;
    let o = app.get(&format!("/api/v1/opportunities/{}", ids[2])).await.1;
    assert_eq!(
        (o["status"].as_str(), o["lost_reason"]["name"].as_str()),
        (Some("lost"), Some("Price"))
    );
    d.goto(&format!("{base}/pipelines/{pipeline}/board")).await;
    d.screenshot("board-after").await;
    let _ = d.cmd(reqwest::Method::DELETE, "", None).await;
}

/// The agenda in the browser: open the week of two diaries, plan an appointment
/// for a colleague, move it an hour later by dragging it in the day view, then
/// book a slot on the public page and see it appear in the diary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agenda_and_booking_in_the_browser() {
    if !enabled() {
        eprintln!("browser tests off: set CARNET_BROWSER_TESTS=1 to run them");
        return;
    }
    let app = spawn_app().await;
    let (rep, _) = app.user_with_key("rep@test.example", "sales").await;
    let (s, _) = app
        .api(
            reqwest::Method::PUT,
            "/api/v1/me/booking-page",
            Some(json!({"slug": "ada", "type": "Videoconference", "duration": 30, "min_notice": 0, "horizon_days": 30,
                        "hours": {"monday": "09:00-12:00", "tuesday": "09:00-12:00", "wednesday": "09:00-12:00", "thursday": "09:00-12:00", "friday": "09:00-12:00"}})),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::NO_CONTENT);
    let mut monday = app.carnet.db.clock().today_utc() + chrono::Duration::days(2);
    while chrono::Datelike::weekday(&monday) != chrono::Weekday::Mon {
        monday += chrono::Duration::days(1);
    }
    let demo = app.get("/api/v1/action-types").await.1["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Demo")
        .unwrap()["id"]
        .to_string();
    let d = Driver::start().await;
    let base = format!("http://{}", app.addr);
    d.goto(&format!("{base}/login")).await;
    d.type_in("#email", ADMIN_EMAIL).await;
    d.type_in("#password", PASSWORD).await;
    d.click("button[type=submit]").await;
    d.wait_for_text("News feed").await;

    // The week of both diaries; an appointment for the colleague.
    let week = format!("{base}/agenda?view=week&date={monday}&users={}&users={}", app.admin.id, rep.id);
    d.goto(&week).await;
    d.wait_for_text(&format!("data-user=\"{}\"", rep.id)).await;
    d.click(&format!("#f-type option[value='{demo}']")).await;
    d.type_in("#f-subject", "Demo for Acme").await;
    d.click(&format!("#f-assignee option[value='{}']", rep.id)).await;
    d.run_js(&format!("document.querySelector('#f-starts_at').value = '{monday}T10:00';"))
        .await;
    d.type_in("#f-duration", "60").await;
    d.click("form.recordform button.primary").await;
    d.wait_for_text("Demo for Acme").await;
    let row = d.text_of(&format!("td[data-user='{}'][data-day='{monday}']", rep.id)).await;
    assert!(
        row.contains("Demo for Acme") && row.contains("10:00 – 11:00"),
        "in the colleague's diary: {row}"
    );
    d.screenshot("agenda-week").await;
    let action = app.get(&format!("/api/v1/actions?assignee={}", rep.id)).await.1["data"][0].clone();

    // Day view: drag it one hour (48 px) down.
    d.goto(&format!("{base}/agenda?view=day&date={monday}&users={}", rep.id)).await;
    d.wait_for_text("Demo for Acme").await;
    d.run_js(
        "const it = document.querySelector('.item.placed[data-move]'); const r = it.getBoundingClientRect();\
         const x = r.left + 5, y = r.top + 4;\
         it.dispatchEvent(new PointerEvent('pointerdown', {bubbles: true, clientX: x, clientY: y}));\
         document.dispatchEvent(new PointerEvent('pointermove', {bubbles: true, clientX: x, clientY: y + 48}));\
         document.dispatchEvent(new PointerEvent('pointerup', {bubbles: true, clientX: x, clientY: y + 48}));",
    )
    .await;
    let mut moved = Value::Null;
    for _ in 0..50 {
        moved = app.get(&format!("/api/v1/actions/{}", action["id"])).await.1;
        if moved["sequence"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let expected = carnet_domain::agenda::parse_local(&format!("{monday}T11:00"), chrono_tz::Europe::Paris).unwrap();
    let got = chrono::DateTime::parse_from_rfc3339(moved["starts_at"].as_str().unwrap())
        .unwrap()
        .timestamp();
    assert_eq!(got, expected, "moved to 11:00: {moved}");
    d.wait_for_text("11:00 – 12:00").await;
    d.screenshot("agenda-day-moved").await;

    // A prospect books Monday 09:00 on the public page.
    let slot = carnet_domain::agenda::parse_local(&format!("{monday}T09:00"), chrono_tz::Europe::Paris).unwrap();
    d.goto(&format!("{base}/book/ada")).await;
    d.click(&format!("input[name=slot][value='{slot}']")).await;
    d.type_in("#b-name", "Paula Prospect").await;
    d.type_in("#b-email", "paula@prospect.example").await;
    d.click("form button.primary").await;
    d.wait_for_text("Your meeting is booked").await;
    d.screenshot("booking-confirmed").await;
    d.goto(&week).await;
    let cell = d.text_of(&format!("td[data-user='{}'][data-day='{monday}']", app.admin.id)).await;
    assert!(
        cell.contains("Paula Prospect") && cell.contains("09:00 – 09:30"),
        "the booking is in the diary: {cell}"
    );
    let _ = d.cmd(reqwest::Method::DELETE, "", None).await;
}

/// A rep writes to a contact from the card and sees it on the timeline; a
/// prospect books on the public page and the confirmation reaches the relay;
/// the card with its email form fits a phone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emails_in_the_browser() {
    if !enabled() {
        eprintln!("browser tests off: set CARNET_BROWSER_TESTS=1 to run them");
        return;
    }
    let app = spawn_app().await;
    let sink = carnet::smtp_sink::Sink::start().await;
    // The node's job worker, sending through the sink.
    let sender = app
        .carnet
        .clone()
        .with_relay(Some(carnet_app::mail::smtp::Relay::parse(&sink.url()).unwrap()));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(carnet_app::platform::jobs::worker(sender, "browser".into(), 60, stopped));
    let (_, c) = app
        .post(
            "/api/v1/contacts",
            json!({"first_name": "Margaux", "last_name": "Girard", "email": "margaux@riverside.example"}),
        )
        .await;
    let cid = c["id"].as_i64().unwrap();
    let d = Driver::start().await;
    let base = format!("http://{}", app.addr);
    d.goto(&format!("{base}/login")).await;
    d.type_in("#email", ADMIN_EMAIL).await;
    d.type_in("#password", PASSWORD).await;
    d.click("button[type=submit]").await;
    d.wait_for_text("News feed").await;

    d.goto(&format!("{base}/contacts/{cid}")).await;
    d.click("#write-email summary").await;
    // Refused without a subject: the form stays open with what was typed.
    d.type_in("#em-body", "Hello Margaux,\n\nHere is our price list: https://acme.example/prices")
        .await;
    d.run_js("document.querySelector('#em-subject').removeAttribute('maxlength');")
        .await;
    d.click("#write-email button.primary").await;
    d.wait_for_text("subject: is required").await;
    assert!(d.source().await.contains("Here is our price list"));
    d.type_in("#em-subject", "Our prices").await;
    d.click("#write-email button.primary").await;
    d.wait_for_text("sent an email “Our prices”").await;
    d.screenshot("contact-email-sent").await;
    let got = sink.wait_for(1, 20).await;
    assert_eq!(got[0].to, vec!["margaux@riverside.example".to_string()]);
    // The timeline follows the message: sent, not opened yet.
    for _ in 0..50 {
        d.goto(&format!("{base}/contacts/{cid}")).await;
        if d.source().await.contains("not opened yet") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(d.source().await.contains("— sent, not opened yet"));

    // At phone width the card and its email form fit.
    d.cmd(reqwest::Method::POST, "/window/rect", Some(json!({"width": 390, "height": 844})))
        .await;
    d.goto(&format!("{base}/contacts/{cid}")).await;
    d.click("#write-email summary").await;
    let overflow = d
        .run_js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
        .await;
    let wide = d
        .run_js("return Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1).slice(0, 8).map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().right)).join(' | ');")
        .await;
    assert!(
        overflow.as_i64().unwrap_or(1) <= 0,
        "no sideways scrolling at 390 px: {overflow}: {wide}"
    );
    d.screenshot("contact-email-phone").await;
    d.cmd(reqwest::Method::POST, "/window/rect", Some(json!({"width": 1280, "height": 900})))
        .await;

    // A prospect books: the confirmation, with its invitation, reaches the relay.
    let (s, _) = app
        .api(
            reqwest::Method::PUT,
            "/api/v1/me/booking-page",
            Some(json!({"slug": "ada", "type": "Videoconference", "duration": 30, "min_notice": 0, "horizon_days": 30,
                        "hours": {"monday": "09:00-12:00", "tuesday": "09:00-12:00", "wednesday": "09:00-12:00", "thursday": "09:00-12:00", "friday": "09:00-12:00"}})),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::NO_CONTENT);
    let mut monday = app.carnet.db.clock().today_utc() + chrono::Duration::days(2);
    while chrono::Datelike::weekday(&monday) != chrono::Weekday::Mon {
        monday += chrono::Duration::days(1);
    }
    let slot = carnet_domain::agenda::parse_local(&format!("{monday}T09:00"), chrono_tz::Europe::Paris).unwrap();
    d.goto(&format!("{base}/book/ada")).await;
    d.click(&format!("input[name=slot][value='{slot}']")).await;
    d.type_in("#b-name", "Paula Prospect").await;
    d.type_in("#b-email", "paula@prospect.example").await;
    d.click("form button.primary").await;
    d.wait_for_text("Your meeting is booked").await;
    let got = sink.wait_for(3, 20).await;
    let confirmation = got
        .iter()
        .find(|m| m.to == vec!["paula@prospect.example".to_string()])
        .expect("the prospect's confirmation arrived");
    let text = String::from_utf8_lossy(&confirmation.data);
    assert!(text.contains("text/calendar") && text.contains("method=REQUEST"), "{text}");
    let _ = stop.send(true);
    let _ = worker.await;
    let _ = d.cmd(reqwest::Method::DELETE, "", None).await;
}

/// Serves one HTML page on another port of the loopback: the company's own
/// site, where a form is embedded.
async fn company_site(html: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        // Bounded: a test page is asked for a few times at most.
        for _ in 0..50 {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                html.len()
            );
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(html.as_bytes()).await;
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn forms_in_the_browser() {
    if !enabled() {
        eprintln!("browser tests off: set CARNET_BROWSER_TESTS=1 to run them");
        return;
    }
    let app = spawn_app().await;
    let d = Driver::start().await;
    let base = format!("http://{}", app.addr);
    d.goto(&format!("{base}/login")).await;
    d.type_in("#email", ADMIN_EMAIL).await;
    d.type_in("#password", PASSWORD).await;
    d.click("button[type=submit]").await;
    d.wait_for_text("News feed").await;

    // Build a form: the city mandatory, a consent text that must be ticked.
    d.goto(&format!("{base}/marketing/forms")).await;
    d.type_in("#f-name", "Customer experience guide").await;
    d.type_in("#f-slug", "cx-guide").await;
    d.click("form[action='/marketing/forms'] button.primary").await;
    d.wait_for_text("Where it lives").await;
    d.run_js("document.querySelector('select[name=\"use.city\"]').value = 'mandatory';")
        .await;
    d.type_in("#fe-consent", "I agree to receive the guide and related news from Acme.")
        .await;
    d.click("input[name=consent_required]").await;
    let site = company_site(String::new()).await;
    d.type_in("#fe-origins", &site).await;
    d.click("form.formbuilder button.primary").await;
    d.wait_for_text("Saved").await;
    d.screenshot("form-builder").await;

    // Filled in on its hosted page; the consent forgotten first.
    d.goto(&format!("{base}/f/cx-guide")).await;
    d.type_in("#cf-first_name", "Inès").await;
    d.type_in("#cf-last_name", "Moreau").await;
    d.type_in("#cf-email", "ines@client.example").await;
    d.type_in("#cf-city", "Lyon").await;
    // A person takes a few seconds; a faster send is a bot's.
    tokio::time::sleep(Duration::from_millis(3300)).await;
    d.click("form.publicform button.primary").await;
    d.wait_for_text("Please tick this box").await;
    assert!(d.source().await.contains("value=\"Inès\""), "what was typed stays");
    d.click("input[name=consent]").await;
    tokio::time::sleep(Duration::from_millis(3300)).await;
    d.click("form.publicform button.primary").await;
    d.wait_for_text("Thank you!").await;
    let id: (i64,) = carnet_app::db::q("SELECT id FROM contacts WHERE email_key = 'ines@client.example'")
        .fetch_one(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    d.goto(&format!("{base}/contacts/{}", id.0)).await;
    d.wait_for_text("I agree to receive the guide").await;
    assert!(d.source().await.contains("filled in “Customer experience guide”"));
    d.screenshot("contact-consent").await;

    // At phone width the hosted page fits.
    d.cmd(reqwest::Method::POST, "/window/rect", Some(json!({"width": 390, "height": 844})))
        .await;
    d.goto(&format!("{base}/f/cx-guide")).await;
    let overflow = d
        .run_js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
        .await;
    assert!(overflow.as_i64().unwrap_or(1) <= 0, "no sideways scrolling at 390 px: {overflow}");
    d.screenshot("form-phone").await;
    d.cmd(reqwest::Method::POST, "/window/rect", Some(json!({"width": 1280, "height": 900})))
        .await;

    // Embedded on the company's site (another origin, allowed): loaded, sent, thanked, without leaving the page.
    let page = company_site(format!(
        "<!doctype html><html><head><title>Acme</title></head><body><h1>Acme</h1>{}</body></html>",
        carnet_web::api::marketing::embed_snippet(&base, "cx-guide")
    ))
    .await;
    // The builder saved the first site's origin; this one is allowed too.
    let (s, f) = app.get("/api/v1/forms").await;
    assert_eq!(s, reqwest::StatusCode::OK);
    let mut input = f["data"][0].clone();
    for k in ["id", "created_at", "updated_at", "consent_version", "results_email", "file"] {
        input.as_object_mut().unwrap().remove(k);
    }
    input["allowed_origins"] = json!(format!("{site} {page}"));
    let (s, e) = app
        .api(reqwest::Method::PUT, &format!("/api/v1/forms/{}", f["data"][0]["id"]), Some(input))
        .await;
    assert_eq!(s, reqwest::StatusCode::OK, "{e}");
    d.goto(&format!("{page}/?utm_source=newsletter")).await;
    d.wait_for_text("Customer experience guide").await;
    d.type_in("#cf-first_name", "Hugo").await;
    d.type_in("#cf-last_name", "Blanc").await;
    d.type_in("#cf-email", "hugo@client.example").await;
    d.type_in("#cf-city", "Nantes").await;
    d.click("input[name=consent]").await;
    tokio::time::sleep(Duration::from_millis(3300)).await;
    d.click("form.publicform button.primary").await;
    d.wait_for_text("Thank you!").await;
    assert!(d.source().await.contains("<h1>Acme</h1>"), "still on the company's page");
    let data: (String,) = carnet_app::db::q(
        "SELECT s.data FROM form_submissions s JOIN contacts c ON c.id = s.contact_id WHERE c.email_key = 'hugo@client.example'",
    )
    .fetch_one(&mut app.carnet.db.conn().await.unwrap())
    .await
    .unwrap();
    assert!(data.0.contains("\"utm_source\":\"newsletter\""), "{}", data.0);
}

/// Waits (bounded) until `n` page views are written; returns how many there are.
async fn page_views(app: &TestApp, n: i64) -> i64 {
    let mut got = 0;
    for _ in 0..50 {
        app.carnet.tracker.settled(&app.carnet.db).await;
        got = carnet_app::db::q("SELECT COUNT(*) FROM page_views")
            .scalar(&mut app.carnet.db.conn().await.unwrap())
            .await
            .unwrap();
        if got >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    got
}

#[tokio::test]
async fn the_tracker_in_the_browser() {
    if !enabled() {
        eprintln!("browser tests off: set CARNET_BROWSER_TESTS=1 to run them");
        return;
    }
    let app = spawn_app().await;
    let base = format!("http://{}", app.addr);
    let (s, site) = app
        .post(
            "/api/v1/tracking/sites",
            json!({"name": "Acme", "origins": "https://placeholder.example"}),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::CREATED, "{site}");
    // The company's site, on another port, with the tag from the settings.
    let page = company_site(format!(
        "<!doctype html><html><head><title>Acme pricing</title></head><body><h1>Acme</h1>\
         <a id=\"form\" href=\"{base}/f/demo\">Ask for a demo</a>{}</body></html>",
        site["snippet"].as_str().unwrap()
    ))
    .await;
    let (s, e) = app
        .api(
            reqwest::Method::PUT,
            &format!("/api/v1/tracking/sites/{}", site["id"]),
            Some(json!({"name": "Acme", "origins": page})),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::OK, "{e}");
    let d = Driver::start().await;
    d.goto(&format!("{page}/pricing?utm_source=ad")).await;
    assert_eq!(page_views(&app, 1).await, 1, "the page view is recorded");
    d.goto(&format!("{page}/about")).await;
    // A single-page application's navigation counts too.
    d.run_js("history.pushState({}, '', '/spa-step');").await;
    assert_eq!(page_views(&app, 3).await, 3);
    let urls: Vec<(String,)> = carnet_app::db::q("SELECT u.url FROM page_views p JOIN track_urls u ON u.id = p.url_id ORDER BY p.at_ms")
        .fetch_all(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    let urls: Vec<String> = urls.into_iter().map(|u| u.0).collect();
    assert_eq!(
        urls,
        [format!("{page}/pricing"), format!("{page}/about"), format!("{page}/spa-step")]
    );
    let vid = d.run_js("return localStorage.getItem('carnet_vid');").await;
    assert_eq!(vid.as_str().map(str::len), Some(16), "one random id: {vid}");
    // Links to Carnet's forms carry the visitor along.
    let href = d
        .run_js("var a = document.getElementById('form'); a.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true})); return a.href;")
        .await;
    assert!(
        href.as_str().unwrap().contains(&format!("carnet_v={}", vid.as_str().unwrap())),
        "{href}"
    );
    // Small: at most 2 KB gzipped (measured by the browser's own gzip).
    d.goto(&format!("{base}/login")).await;
    d.type_in("#email", ADMIN_EMAIL).await;
    d.type_in("#password", PASSWORD).await;
    d.click("button[type=submit]").await;
    d.wait_for_text("News feed").await;
    let gz = d
        .run_async(
            "const done = arguments[0]; fetch('/t/carnet.js').then(r => r.body.pipeThrough(new CompressionStream('gzip'))) \
             .then(s => new Response(s).arrayBuffer()).then(b => done(b.byteLength));",
        )
        .await;
    assert!(gz.as_i64().unwrap() <= 2048, "{gz} bytes gzipped");
    // The settings page: a site added by its form (a bad origin first: what was typed stays), at phone width.
    d.cmd(reqwest::Method::POST, "/window/rect", Some(json!({"width": 390, "height": 844})))
        .await;
    d.goto(&format!("{base}/marketing/website")).await;
    d.type_in("#w-name", "Blog").await;
    d.type_in("#w-origins", "blog.example").await;
    d.click("#new-site button.primary").await;
    d.wait_for_text("is not an origin").await;
    assert!(d.source().await.contains("value=\"Blog\""), "what was typed stays");
    d.type_in("#w-origins", "https://blog.example").await;
    d.click("#new-site button.primary").await;
    d.wait_for_text("https://blog.example").await;
    let overflow = d
        .run_js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
        .await;
    assert!(overflow.as_i64().unwrap_or(1) <= 0, "no sideways scrolling at 390 px: {overflow}");
    d.screenshot("website-phone").await;
    drop(d);

    // Do Not Track: nothing is sent, no id is kept.
    let d = Driver::start_with(json!({"enable_do_not_track": true})).await;
    d.goto(&format!("{page}/private")).await;
    let dnt = d.run_js("return navigator.doNotTrack;").await;
    assert_eq!(dnt, "1", "the browser asks not to be tracked");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(page_views(&app, 4).await, 3, "nothing recorded");
    assert_eq!(d.run_js("return localStorage.getItem('carnet_vid');").await, Value::Null);
}
