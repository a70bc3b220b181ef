//! Accounts seen as pages: list columns, card, form groups, CSV, related records.

use super::*;
use crate::pages::sales::opportunities_section;

pub(super) async fn account_related(db: &Db, cat: &Catalog, id: i64, fmt: &Fmt) -> Result<Vec<Related>, AppError> {
    let sales = carnet_app::sales::catalog(db).await?;
    let cat = Catalog { sales, ..cat.clone() };
    let opps = opportunities::for_account(db, id).await?;
    let list = orders::for_account(db, id).await?;
    let life = orders::lifetime(db, id).await?;
    let summary = (!life.is_empty()).then(|| {
        life.iter()
            .map(|l| {
                format!(
                    "{}: {} · {} {}",
                    fmt.t("orders.lifetime"),
                    fmt.money(l.revenue, &l.currency),
                    fmt.integer(l.orders),
                    fmt.t("orders.count")
                )
            })
            .collect::<Vec<_>>()
            .join(" — ")
    });
    let offers = cat
        .sales
        .offers
        .iter()
        .filter(|o| o.active)
        .map(|o| (o.id.to_string(), format!("{} ({})", o.name, o.code)))
        .collect();
    Ok(vec![
        opportunities_section(opps, &cat, fmt, Some(format!("/opportunities/new?account={id}")), false),
        Related {
            id: "orders",
            title: fmt.t("orders.title").into(),
            rows: list
                .iter()
                .map(|o| RelatedRow {
                    href: None,
                    name: o.number.clone(),
                    detail: chrono::NaiveDate::parse_from_str(&o.order_date, "%Y-%m-%d")
                        .map(|d| fmt.date(d))
                        .unwrap_or_default(),
                    badge: None,
                    amount: fmt.money(o.amount, &o.currency),
                })
                .collect(),
            empty: fmt.t("orders.empty").into(),
            summary,
            new_href: None,
            order_form: Some((format!("/accounts/{id}/orders"), offers)),
        },
    ])
}

impl PageKind for Accounts {
    const TITLE: &'static str = "accounts.title";
    const NEW: &'static str = "accounts.new";
    const EMPTY: &'static str = "accounts.empty";

    fn form_groups(cat: &Catalog, input: &RawInput, e: &FieldErrors, fmt: &Fmt, _creating: bool) -> Vec<Group> {
        let f = |n, k, kind| text_field(n, k, kind, input, e, fmt);
        let mut identity = vec![
            f("name", "field.name", "text").required(true),
            f("status", "field.status", "select").options(view::status_options(cat)),
            f("owner", "field.owner", "select").options(view::user_options(cat, fmt.t("list.no_owner"))),
        ];
        identity.extend(tag_fields(cat, input, e, "tags"));
        let groups = vec![
            Group {
                title: fmt.t("card.details").into(),
                fields: identity,
            },
            Group {
                title: fmt.t("field.email").into(),
                fields: vec![
                    f("email", "field.email", "email"),
                    f("phone", "field.phone", "tel"),
                    f("website", "field.website", "url"),
                ],
            },
            Group {
                title: fmt.t("field.address").into(),
                fields: vec![
                    f("address", "field.address", "textarea"),
                    f("postal_code", "field.postal_code", "text"),
                    f("city", "field.city", "text"),
                    f("country", "field.country", "text"),
                ],
            },
            Group {
                title: fmt.t("field.company_id").into(),
                fields: vec![
                    f("company_id", "field.company_id", "text"),
                    f("vat_number", "field.vat_number", "text"),
                    f("source", "field.source", "text"),
                    f("description", "field.description", "textarea"),
                ],
            },
        ];
        finish_groups(groups, cat, Entity::Account, input, e, fmt)
    }
    fn columns(fmt: &Fmt) -> Vec<String> {
        [
            "field.name",
            "field.status",
            "field.owner",
            "field.city",
            "field.tags",
            "field.updated_at",
        ]
        .iter()
        .map(|k| fmt.t(k).to_string())
        .collect()
    }
    fn cells(a: &Self::Row, ex: &Extras, cat: &Catalog, fmt: &Fmt) -> Vec<Cell> {
        let status = cat.status(a.status_id);
        vec![
            Cell::text(a.name.clone()),
            Cell {
                text: String::new(),
                badges: status
                    .map(|s| {
                        vec![Badge {
                            text: s.name.clone(),
                            color: s.color.clone(),
                        }]
                    })
                    .unwrap_or_default(),
            },
            Cell::text(owner_name(cat, a.owner_id)),
            Cell::text(a.city.clone().unwrap_or_default()),
            Cell {
                text: String::new(),
                badges: tag_badges(cat, &ex.tag_ids),
            },
            Cell::text(fmt.date_of(a.updated_at)),
        ]
    }
    fn card_parts(card: &AccountCard, cat: &Catalog, fmt: &Fmt, _now: i64) -> CardParts {
        let a = &card.account;
        let mut badges: Vec<Badge> = cat
            .status(a.status_id)
            .map(|s| Badge {
                text: s.name.clone(),
                color: s.color.clone(),
            })
            .into_iter()
            .collect();
        badges.extend(tag_badges(cat, &card.extras.tag_ids));
        let address = [
            a.address.clone(),
            [a.postal_code.clone(), a.city.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
                .into(),
            a.country.clone(),
        ]
        .into_iter()
        .flatten()
        .filter(|s| !s.trim().is_empty())
        .collect::<Vec<_>>()
        .join(", ");
        let details = [
            Some(Detail {
                label: fmt.t("field.owner").into(),
                value: owner_name(cat, a.owner_id),
                href: None,
            })
            .filter(|d| !d.value.is_empty()),
            detail(fmt, "field.email", &a.email, a.email.as_ref().map(|e| format!("mailto:{e}"))),
            detail(fmt, "field.phone", &a.phone, a.phone.as_ref().map(|p| format!("tel:{p}"))),
            detail(fmt, "field.website", &a.website, a.website.clone()),
            detail(fmt, "field.address", &Some(address), None),
            detail(fmt, "field.company_id", &a.company_id, None),
            detail(fmt, "field.vat_number", &a.vat_number, None),
            detail(fmt, "field.source", &a.source, None),
            detail(fmt, "field.description", &a.description, None),
            Some(Detail {
                label: fmt.t("field.created_at").into(),
                value: fmt.datetime(a.created_at),
                href: None,
            }),
        ]
        .into_iter()
        .flatten()
        .collect();
        CardParts {
            subtitle: [a.city.clone(), a.country.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", "),
            badges,
            details,
            custom: custom_details(cat, Entity::Account, &card.extras, fmt),
            links_title: fmt.t("contacts.on_account").into(),
            links_empty: fmt.t("card.no_contacts").into(),
            links: card
                .contacts
                .iter()
                .map(|c| LinkRow {
                    href: format!("/contacts/{}", c.contact_id),
                    name: c.name(),
                    role: c.role_name.clone(),
                    detail: c.job_title.clone().or(c.email.clone()),
                    unlink_action: Some(format!("/accounts/{}/contacts/{}/delete", a.id, c.contact_id)),
                })
                .collect(),
            link_form: Some(LinkForm {
                action: format!("/accounts/{}/contacts", a.id),
                field: "contact".into(),
                placeholder: fmt.t("card.add_contact").into(),
                kind: "contact",
                new_href: Some(format!("/contacts/new?account={}", a.id)),
            }),
            history: vec![],
            move_form: None,
        }
    }
    fn related(db: &Db, cat: &Catalog, id: i64, fmt: &Fmt) -> impl Future<Output = Result<Vec<Related>, AppError>> + Send {
        account_related(db, cat, id, fmt)
    }
    fn csv_header() -> Vec<&'static str> {
        vec![
            "id",
            "name",
            "status",
            "owner",
            "email",
            "phone",
            "website",
            "address",
            "postal_code",
            "city",
            "country",
            "company_id",
            "vat_number",
            "source",
            "tags",
            "created_at",
            "updated_at",
        ]
    }
    fn csv_row(a: &Self::Row, cat: &Catalog) -> Vec<String> {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        vec![
            a.id.to_string(),
            a.name.clone(),
            cat.status(a.status_id).map(|s| s.name.clone()).unwrap_or_default(),
            owner_name(cat, a.owner_id),
            o(&a.email),
            o(&a.phone),
            o(&a.website),
            o(&a.address),
            o(&a.postal_code),
            o(&a.city),
            o(&a.country),
            o(&a.company_id),
            o(&a.vat_number),
            o(&a.source),
        ]
    }
}
