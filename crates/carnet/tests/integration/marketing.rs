//! Marketing (M1–M3): campaigns and their figures, forms on their hosted page
//! and embedded from another site, consent with versions, double opt-in
//! through the real SMTP listener, questionnaires scored into bands, and the
//! public endpoint's refusals (bots, floods, foreign sites, oversized posts).

use crate::helpers::*;
use carnet::smtp_sink::Sink;
use carnet_app::db::q;
use carnet_app::mail::smtp::Relay;
use carnet_app::platform::jobs;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A campaign made through the API.
pub async fn campaign(app: &TestApp, name: &str) -> i64 {
    let (s, c) = app
        .post(
            "/api/v1/campaigns",
            json!({"name": name, "channel": "webinar", "starts_on": "2026-11-01", "ends_on": "2026-11-30"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c["id"].as_i64().unwrap()
}

/// A form made through the API from `extra` over sensible defaults.
pub async fn form(app: &TestApp, slug: &str, extra: Value) -> Value {
    let mut body = json!({"slug": slug, "name": format!("Form {slug}"), "title": "Get the white paper"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (s, f) = app.post("/api/v1/forms", body).await;
    assert_eq!(s, StatusCode::CREATED, "{f}");
    f
}

/// The hosted page's time stamp (what a browser sends back).
pub async fn stamp(app: &TestApp, slug: &str) -> String {
    let page = app.http.get(app.url(&format!("/f/{slug}"))).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let at = html.find("name=\"_t\" value=\"").expect("the page carries its stamp") + 17;
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

/// Sends a form as a person would: the page loaded, then filled in for a while.
pub async fn fill(app: &TestApp, slug: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    // The page was served twenty seconds ago; what the post writes is dated now.
    let now = app.carnet.db.now();
    app.carnet.db.clock().pin(Some(now - 20));
    let t = stamp(app, slug).await;
    app.carnet.db.clock().pin(None);
    let mut all: Vec<(&str, &str)> = fields.to_vec();
    all.push(("_t", &t));
    let res = app.http.post(app.url(&format!("/f/{slug}"))).form(&all).send().await.unwrap();
    let status = res.status();
    (status, res.text().await.unwrap())
}

async fn contact_by_email(app: &TestApp, email: &str) -> Vec<i64> {
    q("SELECT id FROM contacts WHERE email_key = $1 ORDER BY id")
        .bind(email.to_lowercase())
        .fetch_all::<(i64,)>(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.0)
        .collect()
}

#[tokio::test]
async fn a_submission_creates_or_completes_the_contact_with_its_consent_and_campaign() {
    let app = spawn_app().await;
    let cid = campaign(&app, "Webinar CX").await;
    let (s, k) = app
        .post(
            &format!("/api/v1/campaigns/{cid}/costs"),
            json!({"day": "2026-11-05", "amount": "1200.00", "label": "Platform"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    assert_eq!(k["amount"], 120_000);
    let f = form(
        &app,
        "white-paper",
        json!({
            "campaign_id": cid,
            "consent_text": "I agree to receive the white paper and related news.",
            "consent_required": true,
            "spec": {"fields": [
                {"key": "first_name", "required": true},
                {"key": "last_name", "required": true},
                {"key": "email", "required": true},
                {"key": "job_title"},
                {"key": "company"},
                {"key": "phone"},
                {"key": "city", "label": "Your town"}
            ]}
        }),
    )
    .await;
    assert_eq!(f["consent_version"], 1);
    let page = app.http.get(app.url("/f/white-paper")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Get the white paper") && page.contains("Your town") && page.contains("I agree to receive"));

    let fields = [
        ("first_name", "Camille"),
        ("last_name", "Martin"),
        ("email", "Camille.Martin@Client.example"),
        ("job_title", "Head of CX"),
        ("company", "Client Corp"),
        ("consent", "yes"),
        ("utm_source", "linkedin"),
    ];
    let (s, body) = fill(&app, "white-paper", &fields).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(body.contains("Thank you"), "{body}");
    let ids = contact_by_email(&app, "camille.martin@client.example").await;
    assert_eq!(ids.len(), 1);
    let contact = ids[0];
    let (_, c) = app.get(&format!("/api/v1/contacts/{contact}")).await;
    assert_eq!(c["job_title"], "Head of CX");
    assert_eq!(c["accounts"][0]["name"], "Client Corp", "{c}");
    let (_, consents) = app.get(&format!("/api/v1/contacts/{contact}/consents")).await;
    assert_eq!(consents["data"].as_array().unwrap().len(), 1);
    assert_eq!(consents["data"][0]["version"], 1);
    assert!(consents["data"][0]["confirmed_at"].is_i64(), "no double opt-in: counts at once");
    let (_, touches) = app.get(&format!("/api/v1/contacts/{contact}/touches")).await;
    assert_eq!(touches["data"][0]["campaign_id"], cid);

    // A new consent text is a new version; the same person again completes the record.
    let mut again = f.clone();
    for k in ["id", "created_at", "updated_at", "consent_version", "allowed_origins", "file"] {
        again.as_object_mut().unwrap().remove(k);
    }
    again["consent_text"] = json!("I agree to receive news from Acme (v2).");
    let (s, f2) = app.api(Method::PUT, &format!("/api/v1/forms/{}", f["id"]), Some(again)).await;
    assert_eq!(s, StatusCode::OK, "{f2}");
    assert_eq!(f2["consent_version"], 2);
    let (s, _) = fill(
        &app,
        "white-paper",
        &[
            ("first_name", "Camille"),
            ("last_name", "Martin"),
            ("email", "camille.martin@client.example"),
            ("job_title", "Buyer"),
            ("phone", "+33 6 12 34 56 78"),
            ("consent", "yes"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        contact_by_email(&app, "camille.martin@client.example").await,
        vec![contact],
        "matched by email"
    );
    let (_, c) = app.get(&format!("/api/v1/contacts/{contact}")).await;
    assert_eq!(c["job_title"], "Head of CX", "what was there stays");
    assert_eq!(c["phone"], "+33 6 12 34 56 78", "an empty field is filled");
    let (_, consents) = app.get(&format!("/api/v1/contacts/{contact}/consents")).await;
    assert_eq!(consents["data"][0]["version"], 2);
    assert_eq!(consents["data"][1]["version"], 1);
    let b = app.browser(ADMIN_EMAIL).await;
    let card = b.get(&format!("/contacts/{contact}")).await;
    assert!(card.body.contains("filled in “Get the white paper”"), "{}", card.body);
    assert!(
        card.body.contains("kept “Head of CX”, the form said “Buyer”"),
        "the difference is on the timeline"
    );

    // A deal for the contact's company takes the campaign.
    let account = c["accounts"][0]["id"].as_i64().unwrap();
    let (s, o) = app
        .post(
            "/api/v1/opportunities",
            json!({"name": "CX audit", "account": account, "contacts": [contact], "amount": "5000"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    let opp_campaign: Option<i64> = q("SELECT campaign_id FROM opportunities WHERE id = $1")
        .bind(o["id"].as_i64().unwrap())
        .scalar(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    assert_eq!(opp_campaign, Some(cid));
    let (_, r) = app.get(&format!("/api/v1/campaigns/{cid}/report")).await;
    assert_eq!(r["leads"], 1);
    assert_eq!(r["submissions"], 2);
    assert_eq!(r["opportunities"], 1);
    assert_eq!(r["costs"][0]["amount"], 120_000);
    assert_eq!(r["cost_per_lead"][0]["amount"], 120_000);
    // The campaign page shows the same figures.
    let page = b.get(&format!("/marketing/campaigns/{cid}")).await;
    assert!(page.body.contains("data-figure=\"leads\">1<"), "{}", page.body);
}

#[tokio::test]
async fn bad_posts_are_refused_or_dropped_and_keep_nothing() {
    let app = spawn_app().await;
    form(
        &app,
        "contact-us",
        json!({"consent_text": "I agree.", "consent_required": true, "allowed_origins": "https://www.acme.example", "locale": "fr"}),
    )
    .await;
    let before = app.count("contacts").await;
    // Missing and invalid fields, consent unticked: the form again, in French, with what was typed.
    let (s, body) = fill(
        &app,
        "contact-us",
        &[("first_name", "Léa"), ("last_name", ""), ("email", "lea-at-example")],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("Ce champ est obligatoire."), "{body}");
    assert!(body.contains("pas une adresse e-mail valide."), "{body}");
    assert!(body.contains("Cochez cette case"), "{body}");
    assert!(
        body.contains("value=\"Léa\"") && body.contains("value=\"lea-at-example\""),
        "what was typed stays"
    );
    // Bots: honeypot, too fast, forged stamp — answered like a success, nothing kept.
    let good = [
        ("first_name", "Bot"),
        ("last_name", "Bot"),
        ("email", "bot@spam.example"),
        ("consent", "yes"),
    ];
    let mut with_honeypot = good.to_vec();
    with_honeypot.push(("homepage", "http://spam.example"));
    let (s, _) = fill(&app, "contact-us", &with_honeypot).await;
    assert_eq!(s, StatusCode::OK);
    let t = stamp(&app, "contact-us").await;
    let mut fast = good.to_vec();
    fast.push(("_t", &t));
    let res = app.http.post(app.url("/f/contact-us")).form(&fast).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "too fast");
    let mut forged = good.to_vec();
    forged.push(("_t", "1.AAAAAAAAAAAAAAAAAAAAAA"));
    let res = app.http.post(app.url("/f/contact-us")).form(&forged).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "forged");
    assert_eq!(app.count("contacts").await, before);
    assert_eq!(app.count("form_submissions").await, 0);
    // Oversized: refused before it is read.
    let big = "x".repeat(40 * 1024);
    let res = app
        .http
        .post(app.url("/f/contact-us"))
        .form(&[("first_name", big.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Another site: refused; the allowed one gets JSON with CORS for it alone.
    let t = stamp(&app, "contact-us").await;
    let mut fields = good.to_vec();
    fields[2] = ("email", "real@person.example");
    fields.push(("_t", &t));
    let res = app
        .http
        .post(app.url("/f/contact-us"))
        .header("origin", "https://evil.example")
        .header("accept", "application/json")
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let frag = app
        .http
        .get(app.url("/f/contact-us?fragment=1&utm_source=news"))
        .header("origin", "https://www.acme.example")
        .send()
        .await
        .unwrap();
    assert_eq!(frag.headers()["access-control-allow-origin"], "https://www.acme.example");
    let html = frag.text().await.unwrap();
    assert!(
        !html.contains("<html") && html.contains("name=\"utm_source\" value=\"news\""),
        "{html}"
    );
    app.carnet.db.clock().pin(Some(app.carnet.db.now() + 20));
    let res = app
        .http
        .post(app.url("/f/contact-us"))
        .header("origin", "https://www.acme.example")
        .header("accept", "application/json")
        .form(&fields)
        .send()
        .await
        .unwrap();
    app.carnet.db.clock().pin(None);
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["access-control-allow-origin"], "https://www.acme.example");
    let a: Value = res.json().await.unwrap();
    assert_eq!(a["ok"], true, "{a}");
    assert_eq!(contact_by_email(&app, "real@person.example").await.len(), 1);
    // The same address again and again: five an hour, then refused.
    for n in 0..6 {
        let (s, _) = fill(&app, "contact-us", &good_person()).await;
        let want = if n < 4 { StatusCode::OK } else { StatusCode::TOO_MANY_REQUESTS };
        assert_eq!(s, want, "send {n}");
    }
    // An unknown form is a 404 page.
    let res = app.http.get(app.url("/f/nope")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

fn good_person() -> Vec<(&'static str, &'static str)> {
    vec![
        ("first_name", "Real"),
        ("last_name", "Person"),
        ("email", "real@person.example"),
        ("consent", "yes"),
    ]
}

#[tokio::test]
async fn double_opt_in_confirms_through_the_emailed_link_once() {
    let app = spawn_app().await;
    let sink = Sink::start().await;
    let carnet = app.carnet.clone().with_relay(Some(Relay::parse(&sink.url()).unwrap()));
    form(
        &app,
        "newsletter",
        json!({"consent_text": "Send me the monthly newsletter.", "consent_required": true, "double_opt_in": true}),
    )
    .await;
    let (s, body) = fill(
        &app,
        "newsletter",
        &[
            ("first_name", "Noé"),
            ("last_name", "Petit"),
            ("email", "noe@client.example"),
            ("consent", "yes"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("follow its link to confirm"), "{body}");
    let contact = contact_by_email(&app, "noe@client.example").await[0];
    let (_, consents) = app.get(&format!("/api/v1/contacts/{contact}/consents")).await;
    assert!(consents["data"][0]["confirmed_at"].is_null(), "pending until the link is followed");
    for _ in 0..50 {
        if jobs::run_batch(&carnet, "optin-test", 60, 32).await.unwrap() == 0 {
            break;
        }
    }
    let got = sink.wait_for(1, 10).await;
    assert_eq!(got[0].to, vec!["noe@client.example".to_string()]);
    let m = mailparse::parse_mail(&got[0].data).unwrap();
    let mut text = String::new();
    fn collect(m: &mailparse::ParsedMail, out: &mut String) {
        if m.subparts.is_empty() {
            out.push_str(&m.get_body().unwrap_or_default());
        }
        for p in &m.subparts {
            collect(p, out);
        }
    }
    collect(&m, &mut text);
    let at = text.find("/f/confirm/").expect("the confirmation link");
    let token: String = text[at + 11..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let link = app.url(&format!("/f/confirm/{token}"));
    // A scanner fetching the link confirms nothing.
    let res = app.http.get(&link).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (_, consents) = app.get(&format!("/api/v1/contacts/{contact}/consents")).await;
    assert!(consents["data"][0]["confirmed_at"].is_null());
    let res = app.http.post(&link).send().await.unwrap();
    assert!(res.text().await.unwrap().contains("your address is confirmed"));
    let (_, consents) = app.get(&format!("/api/v1/contacts/{contact}/consents")).await;
    assert!(consents["data"][0]["confirmed_at"].is_i64());
    let res = app.http.post(&link).send().await.unwrap();
    assert!(res.text().await.unwrap().contains("already confirmed"), "single use");
    let confirmed: i64 = q("SELECT COUNT(*) FROM events WHERE kind = 'opt_in_confirmed'")
        .scalar(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    assert_eq!(confirmed, 1);
    let res = app.http.post(app.url("/f/confirm/forged-token")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_questionnaire_scores_its_answers_into_a_band_and_emails_the_results() {
    let app = spawn_app().await;
    let f = form(
        &app,
        "cx-check",
        json!({
            "title": "Evaluate your customer experience",
            "results_email": true,
            "spec": {
                "fields": [{"key": "last_name", "required": true}, {"key": "email", "required": true}],
                "questions": [
                    {"label": "Do you measure satisfaction?", "required": true, "choices": [{"label": "No", "points": 0}, {"label": "Yearly", "points": 5}, {"label": "After every sale", "points": 10}]},
                    {"label": "Channels you answer on", "multiple": true, "choices": [{"label": "Phone", "points": 2}, {"label": "Chat", "points": 3}, {"label": "Social", "points": 4}]}
                ],
                "bands": [
                    {"min": 0, "label": "To rebuild", "text": "Start with a yearly survey."},
                    {"min": 8, "label": "Improvable", "text": "Measure after every sale."},
                    {"min": 15, "label": "Structured", "text": "Keep going."}
                ]
            }
        }),
    )
    .await;
    assert_eq!(f["spec"]["questions"].as_array().unwrap().len(), 2);
    // A single-choice question with two answers, an unknown choice: named errors.
    let (s, body) = fill(
        &app,
        "cx-check",
        &[
            ("last_name", "Roux"),
            ("email", "roux@client.example"),
            ("q.0", "1"),
            ("q.0", "2"),
            ("q.1", "7"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.contains("Choose only one answer.") && body.contains("Choose one of the answers offered."),
        "{body}"
    );
    let (s, body) = fill(
        &app,
        "cx-check",
        &[
            ("last_name", "Roux"),
            ("email", "roux@client.example"),
            ("q.0", "1"),
            ("q.1", "0"),
            ("q.1", "1"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(
        body.contains("<strong>10</strong>") && body.contains("Improvable") && body.contains("Measure after every sale."),
        "{body}"
    );
    let contact = contact_by_email(&app, "roux@client.example").await[0];
    let (score, band): (Option<i64>, Option<String>) = q("SELECT score, band FROM form_submissions WHERE contact_id = $1")
        .bind(contact)
        .fetch_one(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    assert_eq!((score, band.as_deref()), (Some(10), Some("Improvable")));
    let results: i64 = q("SELECT COUNT(*) FROM emails WHERE contact_id = $1 AND template_key = 'questionnaire_results'")
        .bind(contact)
        .scalar(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    assert_eq!(results, 1);
    let b = app.browser(ADMIN_EMAIL).await;
    let card = b.get(&format!("/contacts/{contact}")).await;
    assert!(
        card.body.contains("score 10 (Improvable)") && card.body.contains("Channels you answer on Phone, Chat"),
        "{}",
        card.body
    );
    // A form definition that cannot work is refused, field by field.
    for (body, field) in [
        (json!({"slug": "x y", "name": "A", "title": "A"}), "slug"),
        (
            json!({"slug": "ok-slug", "name": "A", "title": "A", "spec": {"fields": [{"key": "email", "required": true}]}}),
            "spec.fields",
        ),
        (
            json!({"slug": "ok-slug", "name": "A", "title": "A", "double_opt_in": true}),
            "consent_text",
        ),
        (
            json!({"slug": "ok-slug", "name": "A", "title": "A", "allowed_origins": "evil"}),
            "allowed_origins",
        ),
        (json!({"slug": "cx-check", "name": "A", "title": "A"}), "slug"),
        (
            json!({"slug": "ok-slug", "name": "A", "title": "A", "campaign_id": 99999}),
            "campaign_id",
        ),
    ] {
        let (s, e) = app.post("/api/v1/forms", body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e["error"]["fields"][field].is_string(), "{field}: {e}");
    }
}

#[tokio::test]
async fn campaign_costs_count_in_acquisition_cost_and_form_leads_in_leads_from_marketing() {
    let app = spawn_app().await;
    let cid = campaign(&app, "Trade show").await;
    let today = app.carnet.db.clock().today_utc().to_string();
    let (s, _) = app
        .post(
            &format!("/api/v1/campaigns/{cid}/costs"),
            json!({"day": today, "amount": "300", "label": "Stand"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    form(&app, "leads", json!({"campaign_id": cid})).await;
    for n in 0..3 {
        let email = format!("lead{n}@client.example");
        let (s, _) = fill(&app, "leads", &[("first_name", "L"), ("last_name", "Ead"), ("email", &email)]).await;
        assert_eq!(s, StatusCode::OK);
    }
    let (s, m) = app.get("/api/v1/metrics/leads_from_marketing/values?period=this_year").await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert_eq!(m["total"]["value"].as_f64(), Some(3.0), "{m}");
    let (s, m) = app.get("/api/v1/metrics/cost_per_lead/values?period=this_year").await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert_eq!(m["total"]["value"].as_f64(), Some(100.0), "300 € for three leads: {m}");
    let (s, m) = app.get("/api/v1/metrics/cost_per_lead/values?period=this_year&owner=1").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a filter it cannot apply is refused: {m}");
    let (_, a) = app.post("/api/v1/accounts", json!({"name": "Won Co"})).await;
    let (s, o) = app
        .post(
            "/api/v1/opportunities",
            json!({"name": "Deal", "account": a["id"], "amount": "1000"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    let (s, e) = app
        .post(&format!("/api/v1/opportunities/{}/move", o["id"]), json!({"stage": "Won"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    let (s, m) = app.get("/api/v1/metrics/customer_acquisition_cost/values?period=this_year").await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert_eq!(
        m["total"]["value"].as_f64(),
        Some(300.0),
        "one new customer, the stand's cost and no time spent: {m}"
    );
}

#[tokio::test]
async fn a_lead_magnet_is_downloaded_by_its_signed_link_and_each_download_is_an_event() {
    let app = spawn_app().await;
    let f = form(&app, "ebook", json!({"title": "The printing cost e-book"})).await;
    let id = f["id"].as_i64().unwrap();
    // Uploaded from the builder.
    let b = app.browser(ADMIN_EMAIL).await;
    let csrf = b.csrf().await;
    let pdf = b"%PDF-1.4 the e-book".to_vec();
    let part = reqwest::multipart::Part::bytes(pdf.clone())
        .file_name("Printing costs.pdf")
        .mime_str("application/pdf")
        .unwrap();
    let res = b
        .http
        .post(format!("{}/marketing/forms/{id}/file", b.base))
        .multipart(reqwest::multipart::Form::new().text("csrf", csrf).part("file", part))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.status());
    let (_, got) = app.get(&format!("/api/v1/forms/{id}")).await;
    assert_eq!(got["file"]["name"], "Printing costs.pdf", "{got}");
    // Sent: the page offers the link, an email carries it too.
    let (s, body) = fill(
        &app,
        "ebook",
        &[("first_name", "Jo"), ("last_name", "Reader"), ("email", "jo@client.example")],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let at = body.find("/f/file/").expect("a download link on the page");
    let token: String = body[at + 8..].chars().take_while(|c| *c != '"').collect();
    let contact = contact_by_email(&app, "jo@client.example").await[0];
    let sent: i64 = q("SELECT COUNT(*) FROM emails WHERE contact_id = $1 AND template_key = 'lead_magnet' AND html LIKE $2")
        .bind(contact)
        .bind(format!("%{token}%"))
        .scalar(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    assert_eq!(sent, 1, "the email carries the same link");
    for _ in 0..2 {
        let res = app.http.get(app.url(&format!("/f/file/{token}"))).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "application/pdf");
        assert!(res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("Printing costs.pdf"));
        assert_eq!(res.bytes().await.unwrap().to_vec(), pdf);
    }
    let downloads: i64 = q("SELECT COUNT(*) FROM events WHERE kind = 'file_downloaded' AND record_id = $1")
        .bind(contact)
        .scalar(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    assert_eq!(downloads, 2, "each download is an event");
    let card = b.get(&format!("/contacts/{contact}")).await;
    assert!(card.body.contains("downloaded “Printing costs.pdf”"), "{}", card.body);
    // A forged or altered link finds nothing; a link past its week says so.
    let mut forged = token.clone();
    forged.replace_range(0..1, if forged.starts_with('9') { "8" } else { "9" });
    let res = app.http.get(app.url(&format!("/f/file/{forged}"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    app.carnet.db.clock().pin(Some(app.carnet.db.now() + 8 * 86_400));
    let res = app.http.get(app.url(&format!("/f/file/{token}"))).send().await.unwrap();
    app.carnet.db.clock().pin(None);
    assert_eq!(res.status(), StatusCode::GONE);
    assert!(res.text().await.unwrap().contains("/f/ebook"), "back to the form");
    // With double opt-in the file waits for the confirmation.
    let mut input = got.clone();
    for k in [
        "id",
        "created_at",
        "updated_at",
        "consent_version",
        "allowed_origins",
        "file",
        "url",
        "embed",
        "submissions",
    ] {
        input.as_object_mut().unwrap().remove(k);
    }
    input["consent_text"] = json!("Send me the e-book.");
    input["double_opt_in"] = json!(true);
    let (s, e) = app.api(Method::PUT, &format!("/api/v1/forms/{id}"), Some(input)).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    let (s, body) = fill(
        &app,
        "ebook",
        &[
            ("first_name", "Al"),
            ("last_name", "Later"),
            ("email", "al@client.example"),
            ("consent", "yes"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(!body.contains("/f/file/"), "no link before the address is confirmed");
    let al = contact_by_email(&app, "al@client.example").await[0];
    let fresh = carnet_app::access::random_token();
    q("UPDATE contact_consents SET token_hash = $1 WHERE contact_id = $2")
        .bind(carnet_app::access::token_hash(&fresh))
        .bind(al)
        .execute(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    let res = app.http.post(app.url(&format!("/f/confirm/{fresh}"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let files: i64 = q("SELECT COUNT(*) FROM emails WHERE contact_id = $1 AND template_key = 'lead_magnet'")
        .bind(al)
        .scalar(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap();
    assert_eq!(files, 1, "the file follows the confirmation");
    // A form contacts consented on is deactivated, not deleted.
    let (s, _) = app.api(Method::DELETE, &format!("/api/v1/forms/{id}"), None).await;
    assert_eq!(s, StatusCode::CONFLICT, "contacts consented on it");
}

/// A lead sent through the form service directly (no page, no limiter): the
/// volume tests' way in.
async fn lead(app: &TestApp, slug: &str, email: &str, company: &str) -> i64 {
    let cat = carnet_app::settings::catalog(&app.carnet.db).await.unwrap();
    let f = carnet_app::marketing::forms::by_slug(&app.carnet.db, slug).await.unwrap().unwrap();
    let input = carnet_domain::records::RawInput::from_pairs(
        [
            ("first_name", "Lead"),
            ("last_name", "Person"),
            ("email", email),
            ("company", company),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    carnet_app::marketing::submit::submit(&app.carnet.db, &cat, &f, &input, None)
        .await
        .unwrap()
        .contact_id
}

async fn score_of(app: &TestApp, contact: i64) -> i64 {
    let (s, v) = app.get(&format!("/api/v1/contacts/{contact}/score")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["score"].as_i64().unwrap()
}

async fn scalar(app: &TestApp, sql: &str, id: i64) -> i64 {
    q(sql.to_string())
        .bind(id)
        .scalar(&mut app.carnet.db.conn().await.unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn scoring_awards_decays_rescoring_and_hands_a_lead_over_once() {
    let app = spawn_app().await;
    let (rep1, rep1_key) = app.user_with_key("rep1@test.example", "sales").await;
    let (rep2, _) = app.user_with_key("rep2@test.example", "sales").await;
    let f = form(&app, "score-me", json!({})).await;
    let (s, r) = app
        .post(
            "/api/v1/scoring/rules",
            json!({"name": "Form sent", "trigger_kind": "form_submitted", "target": f["id"].to_string(), "points": 10, "decay_days": 30}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let rule = r["id"].as_i64().unwrap();
    let (_, statuses) = app.get("/api/v1/statuses").await;
    let hot = statuses["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "Partner")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (s, t) = app
        .post(
            "/api/v1/scoring/thresholds",
            json!({"name": "Hot lead", "points": 20, "reps": [rep1.id, rep2.id], "status_id": hot}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    drain(&app).await;
    let contact = lead(&app, "score-me", "hot@client.example", "Hot Corp").await;
    drain(&app).await;
    assert_eq!(score_of(&app, contact).await, 10);
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM threshold_crossings WHERE contact_id = $1", contact).await,
        0
    );
    // The second form crosses 20: the lead goes to the first rep with a call task, the account turns "Partner", the rep is told.
    lead(&app, "score-me", "hot@client.example", "Hot Corp").await;
    drain(&app).await;
    assert_eq!(score_of(&app, contact).await, 20);
    let (_, c) = app.get(&format!("/api/v1/contacts/{contact}")).await;
    assert_eq!(c["owner"]["id"], rep1.id, "{c}");
    let (_, a) = app.get(&format!("/api/v1/accounts/{}", c["accounts"][0]["id"])).await;
    assert_eq!(a["status"]["id"], hot, "{a}");
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM actions WHERE contact_id = $1 AND subject LIKE 'Call %'",
            contact
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM emails WHERE template_key = 'lead_assigned' AND user_id = $1",
            rep1.id
        )
        .await,
        1
    );
    // Interested, but no phone yet: not a qualified lead until the rep adds it.
    let (_, calls) = app.api_with(&rep1_key, Method::GET, "/api/v1/leads/to-call", None).await;
    assert!(calls["data"].as_array().unwrap().is_empty(), "{calls}");
    let (s, e) = app
        .patch(&format!("/api/v1/contacts/{contact}"), json!({"phone": "+33 4 72 00 00 00"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    let (_, calls) = app.api_with(&rep1_key, Method::GET, "/api/v1/leads/to-call", None).await;
    assert_eq!(calls["data"][0]["contact_id"], contact, "{calls}");
    assert_eq!(calls["data"][0]["interest"], "score");
    let (s, _) = app.api_with(&rep1_key, Method::GET, "/api/v1/leads/to-call?all=true", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a rep sees their own");
    let rep_page = app.browser("rep1@test.example").await.get("/leads").await;
    assert!(
        rep_page.body.contains("Lead Person") && rep_page.body.contains("score reached"),
        "{}",
        rep_page.body
    );
    // Called: off the list.
    let (_, call) = app.get(&format!("/api/v1/actions?contact={contact}")).await;
    let call_id = call["data"][0]["id"].as_i64().unwrap();
    let (s, e) = app
        .post(&format!("/api/v1/actions/{call_id}/finish"), json!({"outcome": "done"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    let (_, calls) = app.api_with(&rep1_key, Method::GET, "/api/v1/leads/to-call", None).await;
    assert!(calls["data"].as_array().unwrap().is_empty(), "{calls}");

    // More events: no second hand-off.
    lead(&app, "score-me", "hot@client.example", "Hot Corp").await;
    drain(&app).await;
    assert_eq!(score_of(&app, contact).await, 30);
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM threshold_crossings WHERE contact_id = $1", contact).await,
        1
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM actions WHERE contact_id = $1 AND subject LIKE 'Call %'",
            contact
        )
        .await,
        1
    );
    // Every change is on the timeline with its rule and points.
    let b = app.browser(ADMIN_EMAIL).await;
    let card = b.get(&format!("/contacts/{contact}")).await;
    assert!(card.body.contains("score +10 (Form sent) → 30"), "{}", card.body);
    assert!(card.body.contains("handed to a rep: “Hot lead”"));

    // A month later the points have expired.
    app.carnet.db.clock().pin(Some(app.carnet.db.now() + 31 * 86_400));
    assert_eq!(carnet_app::marketing::scoring::expire(&app.carnet.db).await.unwrap(), 3);
    assert_eq!(score_of(&app, contact).await, 0);
    assert_eq!(carnet_app::marketing::scoring::expire(&app.carnet.db).await.unwrap(), 0, "once");
    app.carnet.db.clock().pin(None);
    assert!(b
        .get(&format!("/contacts/{contact}"))
        .await
        .body
        .contains("points expired -10 (Form sent) → 0"));

    // A lead deleted since its form has nothing to re-score.
    let gone = lead(&app, "score-me", "gone@client.example", "").await;
    let (s, _) = app.api(Method::DELETE, &format!("/api/v1/contacts/{gone}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    // A changed rule re-scores everyone from the recorded events, in the background.
    let (s, _) = app
        .api(
            Method::PUT,
            &format!("/api/v1/scoring/rules/{rule}"),
            Some(json!({"name": "Form sent", "trigger_kind": "form_submitted", "points": 4})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    drain(&app).await;
    assert_eq!(score_of(&app, contact).await, 12, "three forms × 4, no decay now");
    let (s, _) = app.api(Method::DELETE, &format!("/api/v1/scoring/rules/{rule}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(score_of(&app, contact).await, 0);

    // Bad rules and thresholds are refused, field by field.
    for (body, field) in [
        (json!({"name": "x", "trigger_kind": "page_view", "points": 1}), "trigger_kind"),
        (json!({"name": "x", "trigger_kind": "email_open", "points": 0}), "points"),
        (
            json!({"name": "x", "trigger_kind": "email_open", "points": 1, "target": "7"}),
            "target",
        ),
        (
            json!({"name": "x", "trigger_kind": "form_submitted", "points": 1, "target": "999"}),
            "target",
        ),
        (json!({"name": "x", "trigger_kind": "questionnaire_band", "points": 1}), "target"),
        (
            json!({"name": "x", "trigger_kind": "email_click", "points": 1, "decay_days": 0}),
            "decay_days",
        ),
    ] {
        let (s, e) = app.post("/api/v1/scoring/rules", body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e["error"]["fields"][field].is_string(), "{field}: {e}");
    }
    let (s, e) = app
        .post("/api/v1/scoring/thresholds", json!({"name": "x", "points": 5, "reps": [999]}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["fields"]["reps"].is_string(), "{e}");

    // The scoring page: a refused rule keeps what was typed; a good one is listed.
    let page = b
        .post_form(
            "/marketing/scoring",
            &[
                ("op", "rule"),
                ("name", "Clicks"),
                ("trigger_kind", "email_click"),
                ("points", "lots"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.body.contains("must be a whole number") && page.body.contains("value=\"Clicks\""),
        "{}",
        page.body
    );
    let page = b
        .post_form(
            "/marketing/scoring",
            &[("op", "rule"), ("name", "Clicks"), ("trigger_kind", "email_click"), ("points", "5")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(b
        .get("/marketing/scoring")
        .await
        .body
        .contains("A person clicks a link of an email"));
    // A rep does not manage marketing.
    let rep = app.browser("rep1@test.example").await;
    assert_eq!(rep.get("/marketing/scoring").await.status, StatusCode::FORBIDDEN);
    let card = b.get(&format!("/contacts/{contact}")).await;
    assert!(card.body.contains("Score: 0"), "{}", card.body);
}

#[tokio::test]
async fn a_hundred_leads_are_shared_fairly_and_two_workers_hand_a_lead_over_once() {
    let app = spawn_app().await;
    let mut reps = Vec::new();
    for n in 0..3 {
        reps.push(app.user_with_key(&format!("rr{n}@test.example"), "sales").await.0.id);
    }
    form(&app, "rr", json!({})).await;
    let (s, _) = app
        .post(
            "/api/v1/scoring/rules",
            json!({"name": "Any form", "trigger_kind": "form_submitted", "points": 10}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app
        .post(
            "/api/v1/scoring/thresholds",
            json!({"name": "Call them", "points": 10, "reps": reps, "notify": false}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    drain(&app).await;
    for n in 0..100 {
        lead(&app, "rr", &format!("lead{n}@client.example"), "").await;
    }
    drain(&app).await;
    let mut counts = Vec::new();
    for r in &reps {
        counts.push(scalar(&app, "SELECT COUNT(*) FROM threshold_crossings WHERE rep_id = $1", *r).await);
    }
    counts.sort();
    assert_eq!(counts, vec![33, 33, 34], "round robin over 100 leads");
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM actions WHERE subject LIKE 'Call %' AND $1 = $1", 0).await,
        100
    );

    // Two events of one lead, each crossing the threshold, handled at the same moment by two workers.
    let (s, _) = app
        .post(
            "/api/v1/scoring/thresholds",
            json!({"name": "Very hot", "points": 30, "reps": reps, "notify": false}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    drain(&app).await;
    let contact = lead(&app, "rr", "twice@client.example", "").await;
    drain(&app).await;
    lead(&app, "rr", "twice@client.example", "").await;
    lead(&app, "rr", "twice@client.example", "").await;
    let c1 = app.carnet.clone();
    let c2 = app.carnet.clone();
    let (a, b) = tokio::join!(
        carnet_app::platform::jobs::run_batch(&c1, "worker-a", 60, 1),
        carnet_app::platform::jobs::run_batch(&c2, "worker-b", 60, 1),
    );
    a.unwrap();
    b.unwrap();
    drain(&app).await;
    assert_eq!(score_of(&app, contact).await, 30);
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM threshold_crossings WHERE contact_id = $1", contact).await,
        2,
        "the first threshold at the first form, the second once"
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM actions WHERE contact_id = $1 AND subject LIKE 'Call %'",
            contact
        )
        .await,
        2
    );
}

#[tokio::test]
async fn asking_to_be_called_with_a_phone_makes_a_qualified_lead() {
    let app = spawn_app().await;
    form(
        &app,
        "call-me",
        json!({"spec": {"fields": [
            {"key": "last_name", "required": true}, {"key": "email", "required": true}, {"key": "phone"}, {"key": "call_me"}
        ]}}),
    )
    .await;
    let page = app.http.get(app.url("/f/call-me")).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("Please call me") && page.contains("type=\"checkbox\" name=\"call_me\""),
        "{page}"
    );
    let (s, _) = fill(
        &app,
        "call-me",
        &[
            ("last_name", "Quick"),
            ("email", "quick@client.example"),
            ("phone", "0601020304"),
            ("call_me", "yes"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = fill(
        &app,
        "call-me",
        &[("last_name", "Later"), ("email", "later@client.example"), ("phone", "0601020305")],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    drain(&app).await;
    let (s, calls) = app.get("/api/v1/leads/to-call?all=true").await;
    assert_eq!(s, StatusCode::OK, "{calls}");
    let list = calls["data"].as_array().unwrap();
    assert_eq!(list.len(), 1, "only the one who asked: {calls}");
    assert_eq!(list[0]["last_name"], "Quick");
    assert_eq!(list[0]["interest"], "call_me");
    let (s, m) = app
        .get("/api/v1/metrics/qualified_leads/values?period=this_year&breakdown=day")
        .await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert_eq!(m["total"]["value"].as_f64(), Some(1.0), "{m}");
}

#[tokio::test]
async fn behaviour_suggests_a_segment_change_that_a_manager_accepts_or_dismisses() {
    let app = spawn_app().await;
    let cat = carnet_app::settings::catalog(&app.carnet.db).await.unwrap();
    let bronze = cat.resolve_tag("Bronze").unwrap();
    let silver = cat.resolve_tag("Silver").unwrap();
    let mut accounts = Vec::new();
    for (name, email) in [
        ("Keen Co", "keen@client.example"),
        ("Quiet Co", "quiet@client.example"),
        ("Busy Co", "busy@client.example"),
    ] {
        let (_, a) = app.post("/api/v1/accounts", json!({"name": name, "tags": ["Bronze"]})).await;
        let (_, c) = app
            .post(
                "/api/v1/contacts",
                json!({"last_name": "Reader", "email": email, "account": a["id"]}),
            )
            .await;
        let (s, m) = app
            .post("/api/v1/emails", json!({"contact_id": c["id"], "subject": "News", "body": "Hello"}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{m}");
        accounts.push((a["id"].as_i64().unwrap(), m["id"].as_i64().unwrap()));
    }
    // What the tracking recorded: Keen and Busy opened twice and clicked; Quiet opened once.
    let now = app.carnet.db.now();
    for (i, (_, email)) in accounts.iter().enumerate() {
        let hits: &[&str] = if i == 1 { &["open"] } else { &["open", "open", "click"] };
        for kind in hits {
            q("INSERT INTO email_events (email_id, kind, human, created_at) VALUES ($1, $2, TRUE, $3)")
                .bind(*email)
                .bind(kind.to_string())
                .bind(now)
                .execute(&mut app.carnet.db.conn().await.unwrap())
                .await
                .unwrap();
        }
    }
    let (s, r) = app
        .post(
            "/api/v1/requalification/rules",
            json!({"name": "Engaged Bronze", "from_tag_id": bronze, "to_tag_id": silver, "min_opens": 2, "min_clicks": 1, "within_days": 30}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (_, ran) = app.post("/api/v1/requalification/run", json!({})).await;
    assert_eq!(ran["suggested"], 2, "{ran}");
    let (_, again) = app.post("/api/v1/requalification/run", json!({})).await;
    assert_eq!(again["suggested"], 0, "one open suggestion per account and rule");
    let (_, list) = app.get("/api/v1/requalification/suggestions?status=open").await;
    let list = list["data"].as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    let keen = list.iter().find(|x| x["account_id"] == accounts[0].0).unwrap();
    assert!(keen["evidence"].as_str().unwrap().contains("\"opens\":2"), "{keen}");
    // The page lists them with their evidence.
    let b = app.browser(ADMIN_EMAIL).await;
    let page = b.get("/marketing/requalification").await;
    assert!(
        page.body.contains("Keen Co") && page.body.contains("Bronze → Silver") && page.body.contains("2 opens"),
        "{}",
        page.body
    );
    // Accepted: the account moves to Silver, on its timeline. Dismissed: nothing changes, and no new suggestion in the window.
    let (s, d) = app
        .post(
            &format!("/api/v1/requalification/suggestions/{}/decision", keen["id"]),
            json!({"accept": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(d["status"], "accepted");
    let (_, a) = app.get(&format!("/api/v1/accounts/{}", accounts[0].0)).await;
    let tags: Vec<&str> = a["tags"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(tags.contains(&"Silver") && !tags.contains(&"Bronze"), "{a}");
    let busy = list.iter().find(|x| x["account_id"] == accounts[2].0).unwrap();
    let (s, d) = app
        .post(
            &format!("/api/v1/requalification/suggestions/{}/decision", busy["id"]),
            json!({"accept": false}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let (s, _) = app
        .post(
            &format!("/api/v1/requalification/suggestions/{}/decision", busy["id"]),
            json!({"accept": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "decided once");
    let (_, a) = app.get(&format!("/api/v1/accounts/{}", accounts[2].0)).await;
    assert!(a["tags"].as_array().unwrap().iter().any(|t| t["name"] == "Bronze"));
    let (_, ran) = app.post("/api/v1/requalification/run", json!({})).await;
    assert_eq!(ran["suggested"], 0, "not proposed again within the window");
    let (s, e) = app
        .post(
            "/api/v1/requalification/rules",
            json!({"name": "x", "from_tag_id": bronze, "to_tag_id": bronze, "within_days": 0}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    for f in ["to_tag_id", "within_days", "min_opens"] {
        assert!(e["error"]["fields"][f].is_string(), "{f}: {e}");
    }
}
