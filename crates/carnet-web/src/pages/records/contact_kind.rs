//! Contacts seen as pages: list columns, card, form groups, CSV, related records.

use super::*;
use crate::pages::sales::opportunities_section;

impl PageKind for Contacts {
    const TITLE: &'static str = "contacts.title";
    const NEW: &'static str = "contacts.new";
    const EMPTY: &'static str = "contacts.empty";

    fn form_groups(cat: &Catalog, input: &RawInput, e: &FieldErrors, fmt: &Fmt, creating: bool) -> Vec<Group> {
        let f = |n, k, kind| text_field(n, k, kind, input, e, fmt);
        let mut identity = vec![
            f("first_name", "field.first_name", "text"),
            f("last_name", "field.last_name", "text").required(true),
            f("job_title", "field.job_title", "text"),
            f("owner", "field.owner", "select").options(view::user_options(cat, fmt.t("list.no_owner"))),
        ];
        identity.extend(tag_fields(cat, input, e, "tags"));
        let mut groups = vec![
            Group {
                title: fmt.t("card.details").into(),
                fields: identity,
            },
            Group {
                title: fmt.t("field.email").into(),
                fields: vec![
                    f("email", "field.email", "email"),
                    f("phone", "field.phone", "tel"),
                    f("mobile", "field.mobile", "tel"),
                ],
            },
        ];
        if creating {
            groups.push(Group {
                title: fmt.t("field.account").into(),
                fields: vec![
                    f("account", "field.account", "text").hint(fmt.t("search.placeholder")),
                    f("role", "field.role", "select").options(view::role_options(cat)),
                ],
            });
        }
        groups.push(Group {
            title: fmt.t("field.address").into(),
            fields: vec![
                f("address", "field.address", "textarea"),
                f("postal_code", "field.postal_code", "text"),
                f("city", "field.city", "text"),
                f("country", "field.country", "text"),
                f("source", "field.source", "text"),
                f("description", "field.description", "textarea"),
            ],
        });
        finish_groups(groups, cat, Entity::Contact, input, e, fmt)
    }
    fn columns(fmt: &Fmt) -> Vec<String> {
        [
            "field.name",
            "field.email",
            "field.phone",
            "field.job_title",
            "field.owner",
            "field.tags",
        ]
        .iter()
        .map(|k| fmt.t(k).to_string())
        .collect()
    }
    fn cells(c: &Self::Row, ex: &Extras, cat: &Catalog, _fmt: &Fmt) -> Vec<Cell> {
        vec![
            Cell::text(c.name()),
            Cell::text(c.email.clone().unwrap_or_default()),
            Cell::text(c.phone.clone().or(c.mobile.clone()).unwrap_or_default()),
            Cell::text(c.job_title.clone().unwrap_or_default()),
            Cell::text(owner_name(cat, c.owner_id)),
            Cell {
                text: String::new(),
                badges: tag_badges(cat, &ex.tag_ids),
            },
        ]
    }
    fn card_parts(card: &ContactCard, cat: &Catalog, fmt: &Fmt, _now: i64) -> CardParts {
        let c = &card.contact;
        let details = [
            Some(Detail {
                label: fmt.t("field.owner").into(),
                value: owner_name(cat, c.owner_id),
                href: None,
            })
            .filter(|d| !d.value.is_empty()),
            detail(fmt, "field.email", &c.email, c.email.as_ref().map(|e| format!("mailto:{e}"))),
            detail(fmt, "field.phone", &c.phone, c.phone.as_ref().map(|p| format!("tel:{p}"))),
            detail(fmt, "field.mobile", &c.mobile, c.mobile.as_ref().map(|p| format!("tel:{p}"))),
            detail(fmt, "field.address", &c.address, None),
            detail(
                fmt,
                "field.city",
                &[c.postal_code.clone(), c.city.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .into(),
                None,
            ),
            detail(fmt, "field.country", &c.country, None),
            detail(fmt, "field.source", &c.source, None),
            detail(fmt, "field.description", &c.description, None),
            Some(Detail {
                label: fmt.t("field.created_at").into(),
                value: fmt.datetime(c.created_at),
                href: None,
            }),
        ]
        .into_iter()
        .flatten()
        .collect();
        CardParts {
            subtitle: c.job_title.clone().unwrap_or_default(),
            badges: tag_badges(cat, &card.extras.tag_ids),
            details,
            custom: custom_details(cat, Entity::Contact, &card.extras, fmt),
            links_title: fmt.t("contacts.accounts").into(),
            links_empty: fmt.t("card.no_accounts").into(),
            links: card
                .accounts
                .iter()
                .map(|a| LinkRow {
                    href: format!("/accounts/{}", a.account_id),
                    name: a.account_name.clone(),
                    role: a.role_name.clone(),
                    detail: None,
                    unlink_action: Some(format!("/contacts/{}/accounts/{}/delete", c.id, a.account_id)),
                })
                .collect(),
            link_form: Some(LinkForm {
                action: format!("/contacts/{}/accounts", c.id),
                field: "account".into(),
                placeholder: fmt.t("field.account").into(),
                kind: "account",
                new_href: None,
            }),
            history: vec![],
            move_form: None,
        }
    }
    async fn related(db: &Db, cat: &Catalog, id: i64, fmt: &Fmt) -> Result<Vec<Related>, AppError> {
        let sales = carnet_app::sales::catalog(db).await?;
        let cat = Catalog { sales, ..cat.clone() };
        let consents = carnet_app::marketing::submit::consents_of(db, id).await?;
        let touches = carnet_app::marketing::campaigns::touches_of(db, id).await?;
        let (score, awards) = carnet_app::marketing::scoring::awards(db, id).await?;
        let visits = carnet_app::marketing::tracking::visits(db, id, 10).await?;
        Ok(vec![
            opportunities_section(opportunities::for_contact(db, id).await?, &cat, fmt, None, true),
            Related {
                id: "consents",
                title: fmt.t("card.consents").to_string(),
                rows: consents
                    .into_iter()
                    .map(|c| RelatedRow {
                        href: c.form_id.map(|f| format!("/marketing/forms/{f}")),
                        name: c.form_name.unwrap_or_default(),
                        detail: format!(
                            "“{}” (v{}) · {} · {}",
                            c.text,
                            c.version,
                            fmt.datetime(c.given_at),
                            match c.confirmed_at {
                                Some(t) => format!("{} {}", fmt.t("card.consent_confirmed"), fmt.datetime(t)),
                                None => fmt.t("card.consent_pending").to_string(),
                            }
                        ),
                        badge: None,
                        amount: String::new(),
                    })
                    .collect(),
                empty: fmt.t("card.no_consents").to_string(),
                summary: None,
                new_href: None,
                order_form: None,
            },
            Related {
                id: "score",
                // French puts a space before the colon.
                title: match fmt.locale {
                    carnet_domain::i18n::Locale::Fr => format!("{} : {score}", fmt.t("card.score")),
                    carnet_domain::i18n::Locale::En => format!("{}: {score}", fmt.t("card.score")),
                },
                rows: awards
                    .into_iter()
                    .take(20)
                    .map(|a| RelatedRow {
                        href: None,
                        name: format!("{:+}", a.points),
                        detail: format!(
                            "{} · {}{}",
                            a.rule,
                            fmt.datetime(a.at),
                            if a.expired {
                                format!(" · {}", fmt.t("feed.score_expired"))
                            } else {
                                String::new()
                            }
                        ),
                        badge: None,
                        amount: String::new(),
                    })
                    .collect(),
                empty: fmt.t("card.no_score").to_string(),
                summary: None,
                new_href: None,
                order_form: None,
            },
            visits_section(visits, fmt),
            Related {
                id: "campaigns",
                title: fmt.t("mk.campaigns").to_string(),
                rows: touches
                    .into_iter()
                    .map(|(cid, name, via, at)| RelatedRow {
                        href: Some(format!("/marketing/campaigns/{cid}")),
                        name,
                        detail: format!("{} · {}", fmt.t(&format!("card.via_{via}")), fmt.datetime(at)),
                        badge: None,
                        amount: String::new(),
                    })
                    .collect(),
                empty: fmt.t("card.no_campaigns").to_string(),
                summary: None,
                new_href: None,
                order_form: None,
            },
        ])
    }
    fn csv_header() -> Vec<&'static str> {
        vec![
            "id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "mobile",
            "job_title",
            "owner",
            "address",
            "postal_code",
            "city",
            "country",
            "source",
            "tags",
            "created_at",
            "updated_at",
        ]
    }
    fn csv_row(c: &Self::Row, cat: &Catalog) -> Vec<String> {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        vec![
            c.id.to_string(),
            o(&c.first_name),
            c.last_name.clone(),
            o(&c.email),
            o(&c.phone),
            o(&c.mobile),
            o(&c.job_title),
            owner_name(cat, c.owner_id),
            o(&c.address),
            o(&c.postal_code),
            o(&c.city),
            o(&c.country),
            o(&c.source),
        ]
    }
}

/// The contact's visits to the company's websites: the counts, then the
/// latest visits with the pages seen.
fn visits_section(v: carnet_app::marketing::tracking::Visits, fmt: &Fmt) -> Related {
    use carnet_domain::tracking::path_of;
    let title = if v.visits == 0 {
        fmt.t("card.visits").to_string()
    } else {
        format!(
            "{} · {} {} · {} {}",
            fmt.t("card.visits"),
            fmt.number(v.visits as f64, 0),
            fmt.t("card.visits_n"),
            fmt.number(v.views as f64, 0),
            fmt.t("card.pages_n")
        )
    };
    Related {
        id: "visits",
        title,
        rows: v
            .latest
            .into_iter()
            .map(|visit| {
                let mut pages: Vec<&str> = visit.pages.iter().take(6).map(|p| path_of(&p.url)).collect();
                if visit.pages.len() > 6 {
                    pages.push("…");
                }
                let from = visit
                    .referrer
                    .as_deref()
                    .map(|r| format!(" · {} {}", fmt.t("card.visit_from"), r))
                    .unwrap_or_default();
                RelatedRow {
                    href: None,
                    name: fmt.datetime(visit.started_at),
                    detail: format!("{}{from}", pages.join(" → ")),
                    badge: visit.return_visit.then(|| super::super::view::Badge {
                        text: fmt.t("card.return_visit").to_string(),
                        color: "#1d4ed8".into(),
                    }),
                    amount: String::new(),
                }
            })
            .collect(),
        empty: fmt.t("card.no_visits").to_string(),
        summary: None,
        new_href: None,
        order_form: None,
    }
}
