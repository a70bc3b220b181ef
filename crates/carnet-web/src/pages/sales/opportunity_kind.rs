//! Opportunities seen as record pages (the generic list, card and form of
//! `pages::records`): their columns, card with stage history and move form,
//! form groups, CSV; and how an account's or contact's card lists them.

use crate::kinds::Opportunities;
use crate::pages::records::*;
use crate::pages::view::{self, Badge, Field, Group};
use carnet_app::records::Extras;
use carnet_app::sales::opportunities::{Opportunity, OpportunityCard};
use carnet_app::{AppError, Db};
use carnet_domain::fields::Entity;
use carnet_domain::i18n::Fmt;
use carnet_domain::records::{Catalog, RawInput};
use carnet_domain::FieldErrors;

pub(crate) fn status_badge(status: &str, fmt: &Fmt) -> Badge {
    let color = match status {
        "won" => "#2e8b57",
        "lost" => "#c0504d",
        _ => "#2456a6",
    };
    Badge {
        text: fmt.t(&format!("opp.status_{status}")).to_string(),
        color: color.into(),
    }
}

pub(crate) fn opportunity_rows(list: &[Opportunity], cat: &Catalog, fmt: &Fmt, with_account: bool) -> Vec<RelatedRow> {
    list.iter()
        .map(|o| {
            let stage = cat.sales.stage(o.stage_id).map(|(_, s)| s.name.clone()).unwrap_or_default();
            RelatedRow {
                href: Some(format!("/opportunities/{}", o.id)),
                name: o.name.clone(),
                detail: if with_account {
                    format!("{} · {stage}", o.account_name)
                } else {
                    stage
                },
                badge: (o.status != "open").then(|| status_badge(&o.status, fmt)),
                amount: fmt.money(o.amount, &o.currency),
            }
        })
        .collect()
}

pub(crate) fn opportunities_section(
    list: Vec<Opportunity>,
    cat: &Catalog,
    fmt: &Fmt,
    new_href: Option<String>,
    with_account: bool,
) -> Related {
    let open: Vec<&Opportunity> = list.iter().filter(|o| o.status == "open").collect();
    let summary = (!open.is_empty()).then(|| {
        let currency = open[0].currency.clone();
        let total: i64 = open.iter().filter(|o| o.currency == currency).map(|o| o.amount).sum();
        format!("{} {} · {}", open.len(), fmt.t("opp.open_count"), fmt.money(total, &currency))
    });
    Related {
        id: "opportunities",
        title: fmt.t("opportunities.title").into(),
        rows: opportunity_rows(&list, cat, fmt, with_account),
        empty: fmt.t("opportunities.none").into(),
        summary,
        new_href: new_href.map(|h| (h, fmt.t("opportunities.new").to_string())),
        order_form: None,
    }
}

impl PageKind for Opportunities {
    const TITLE: &'static str = "opportunities.title";
    const NEW: &'static str = "opportunities.new";
    const EMPTY: &'static str = "opportunities.empty";

    fn form_groups(cat: &Catalog, input: &RawInput, e: &FieldErrors, fmt: &Fmt, creating: bool) -> Vec<Group> {
        let f = |n, k, kind| text_field(n, k, kind, input, e, fmt);
        let sales = &cat.sales;
        let pipeline_id: Option<i64> = input.one("pipeline").parse().ok();
        // A new opportunity picks its stage among every pipeline's (the stage
        // implies the pipeline); an existing one moves within its pipeline.
        let stages: Vec<(String, String)> = sales
            .pipelines
            .iter()
            .filter(|p| !p.archived && (creating || Some(p.id) == pipeline_id))
            .flat_map(|p| {
                let many = sales.pipelines.len() > 1 && creating;
                p.stages.iter().filter(|s| !s.archived).map(move |s| {
                    let label = if many {
                        format!("{} · {} ({} %)", p.name, s.name, s.probability)
                    } else {
                        format!("{} ({} %)", s.name, s.probability)
                    };
                    (s.id.to_string(), label)
                })
            })
            .collect();
        let none = || (String::new(), "—".to_string());
        let offers = std::iter::once(none())
            .chain(
                sales
                    .offers
                    .iter()
                    .filter(|o| o.active)
                    .map(|o| (o.id.to_string(), format!("{} ({})", o.name, o.code))),
            )
            .collect();
        let sources = std::iter::once(none())
            .chain(sales.sources.iter().map(|x| (x.id.to_string(), x.name.clone())))
            .collect();
        let reasons = std::iter::once(none())
            .chain(sales.lost_reasons.iter().map(|x| (x.id.to_string(), x.name.clone())))
            .collect();
        let mut deal = vec![
            f("name", "field.name", "text").required(true),
            f("account", "field.account", "text")
                .required(true)
                .hint(fmt.t("search.placeholder")),
            f("contacts", "opp.contact", "text"),
            f("owner", "field.owner", "select").options(view::user_options(cat, fmt.t("list.no_owner"))),
        ];
        if !creating {
            deal.push(f("pipeline", "opp.pipeline", "hidden"));
            deal.push(f("currency", "opp.currency", "hidden"));
        }
        // One input per contact already on the deal, and one more to add.
        let template = deal.remove(2);
        let mut contacts: Vec<Field> = input
            .all("contacts")
            .iter()
            .filter(|v| !v.trim().is_empty())
            .enumerate()
            .map(|(i, v)| Field {
                value: v.clone(),
                id: format!("f-contacts-{i}"),
                ..template.clone()
            })
            .collect();
        contacts.push(Field {
            value: String::new(),
            id: "f-contacts-new".into(),
            ..template
        });
        for (i, c) in contacts.into_iter().enumerate() {
            deal.insert(2 + i, c);
        }
        let groups = vec![
            Group {
                title: fmt.t("card.details").into(),
                fields: deal,
            },
            Group {
                title: fmt.t("opp.stage").into(),
                fields: vec![
                    f("stage", "opp.stage", "select").options(stages),
                    f("amount", "opp.amount", "text").hint("12500.00"),
                    f("margin", "opp.margin", "text"),
                    f("expected_close", "opp.expected_close", "date"),
                    f("lost_reason", "opp.lost_reason", "select").options(reasons),
                ],
            },
            Group {
                title: fmt.t("opp.offer").into(),
                fields: vec![
                    f("offer", "opp.offer", "select").options(offers),
                    f("source", "field.source", "select").options(sources),
                    f("description", "field.description", "textarea"),
                ],
            },
        ];
        finish_groups(groups, cat, Entity::Opportunity, input, e, fmt)
    }
    fn columns(fmt: &Fmt) -> Vec<String> {
        [
            "field.name",
            "field.account",
            "opp.stage",
            "opp.amount",
            "field.owner",
            "opp.expected_close",
        ]
        .iter()
        .map(|k| fmt.t(k).to_string())
        .collect()
    }
    fn cells(o: &Opportunity, _ex: &Extras, cat: &Catalog, fmt: &Fmt) -> Vec<Cell> {
        let stage = cat.sales.stage(o.stage_id).map(|(_, s)| s.name.clone()).unwrap_or_default();
        let mut stage_cell = Cell::text(stage);
        if o.status != "open" {
            stage_cell.badges.push(status_badge(&o.status, fmt));
        }
        vec![
            Cell::text(o.name.clone()),
            Cell::text(o.account_name.clone()),
            stage_cell,
            Cell::text(fmt.money(o.amount, &o.currency)),
            Cell::text(owner_name(cat, o.owner_id)),
            Cell::text(
                o.expected_close
                    .as_deref()
                    .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                    .map(|d| fmt.date(d))
                    .unwrap_or_default(),
            ),
        ]
    }
    fn card_parts(card: &OpportunityCard, cat: &Catalog, fmt: &Fmt, now: i64) -> CardParts {
        let o = &card.opportunity;
        let sales = &cat.sales;
        let (pipeline, stage) = sales.stage(o.stage_id).map(|(p, s)| (Some(p), Some(s))).unwrap_or((None, None));
        let mut badges = vec![status_badge(&o.status, fmt)];
        if o.is_stalled(sales, now) {
            badges.push(Badge {
                text: fmt.t("opp.stalled").into(),
                color: "#d9480f".into(),
            });
        }
        let name_of = |id: Option<i64>, list: Vec<(i64, String)>| id.and_then(|i| list.into_iter().find(|x| x.0 == i)).map(|x| x.1);
        let d = |k: &str, v: Option<String>| {
            v.filter(|s| !s.is_empty()).map(|value| Detail {
                label: fmt.t(k).into(),
                value,
                href: None,
            })
        };
        let details = [
            Some(Detail {
                label: fmt.t("field.account").into(),
                value: o.account_name.clone(),
                href: Some(format!("/accounts/{}", o.account_id)),
            }),
            d("field.owner", Some(owner_name(cat, o.owner_id))),
            d("opp.pipeline", pipeline.map(|p| p.name.clone())),
            d("opp.stage", stage.map(|s| format!("{} ({} %)", s.name, s.probability))),
            d("opp.amount", Some(fmt.money(o.amount, &o.currency))),
            d(
                "opp.weighted",
                stage.map(|s| fmt.money(o.amount * s.probability / 100, &o.currency)),
            ),
            d("opp.margin", o.margin.map(|m| fmt.money(m, &o.currency))),
            d(
                "opp.offer",
                name_of(o.offer_id, sales.offers.iter().map(|x| (x.id, x.name.clone())).collect()),
            ),
            d(
                "field.source",
                name_of(o.source_id, sales.sources.iter().map(|x| (x.id, x.name.clone())).collect()),
            ),
            d(
                "opp.expected_close",
                o.expected_close
                    .as_deref()
                    .and_then(|x| chrono::NaiveDate::parse_from_str(x, "%Y-%m-%d").ok())
                    .map(|x| fmt.date(x)),
            ),
            d("opp.days_in_stage", (o.status == "open").then(|| fmt.integer(o.days_in_stage(now)))),
            d(
                "opp.lost_reason",
                name_of(
                    o.lost_reason_id,
                    sales.lost_reasons.iter().map(|x| (x.id, x.name.clone())).collect(),
                ),
            ),
            d("opp.closed_at", o.closed_at.map(|t| fmt.datetime(t))),
            d("field.description", o.description.clone()),
            d("field.created_at", Some(fmt.datetime(o.created_at))),
        ]
        .into_iter()
        .flatten()
        .collect();
        let stage_name = |id: Option<i64>| id.and_then(|i| sales.stage(i)).map(|(_, s)| s.name.clone()).unwrap_or_default();
        CardParts {
            subtitle: format!("{} · {}", o.account_name, stage.map(|s| s.name.as_str()).unwrap_or("")),
            badges,
            details,
            custom: custom_details(cat, Entity::Opportunity, &card.extras, fmt),
            links_title: fmt.t("contacts.title").into(),
            links_empty: fmt.t("card.no_contacts").into(),
            links: card
                .contacts
                .iter()
                .map(|(id, name)| LinkRow {
                    href: format!("/contacts/{id}"),
                    name: name.clone(),
                    role: None,
                    detail: None,
                    unlink_action: None,
                })
                .collect(),
            link_form: None,
            history: card
                .history
                .iter()
                .rev()
                .map(|m| HistoryRow {
                    from: stage_name(m.from_stage_id),
                    to: stage_name(Some(m.to_stage_id)),
                    who: m.moved_by_name.clone().unwrap_or_default(),
                    when: fmt.datetime(m.moved_at),
                })
                .collect(),
            move_form: pipeline.map(|p| MoveForm {
                action: format!("/opportunities/{}/move", o.id),
                stages: p
                    .stages
                    .iter()
                    .filter(|s| !s.archived)
                    .map(|s| (s.id.to_string(), format!("{} ({} %)", s.name, s.probability), s.id == o.stage_id))
                    .collect(),
                lost_reasons: sales.lost_reasons.iter().map(|r| (r.id.to_string(), r.name.clone())).collect(),
            }),
        }
    }
    async fn related(db: &Db, _cat: &Catalog, id: i64, fmt: &Fmt) -> Result<Vec<Related>, AppError> {
        let f = carnet_app::agenda::actions::ActionFilter {
            assignee: None,
            from: None,
            to: None,
            record: Some((Entity::Opportunity, id)),
            open_only: false,
            after: None,
            limit: 100,
        };
        let mut list = carnet_app::agenda::actions::list(db, &f).await?;
        // Planned actions first (soonest first), then the ones done.
        list.sort_by_key(|a| (a.outcome.is_some(), a.planned_at));
        let types = carnet_app::agenda::types(db).await?;
        let next = list
            .iter()
            .find(|a| a.outcome.is_none())
            .map(|a| crate::pages::sales::describe_action(a, &types, fmt));
        Ok(vec![Related {
            id: "actions",
            title: fmt.t("agenda.actions").into(),
            rows: list
                .iter()
                .map(|a| RelatedRow {
                    href: None,
                    name: crate::pages::sales::describe_action(a, &types, fmt),
                    detail: String::new(),
                    badge: a.outcome.as_ref().map(|o| Badge {
                        text: fmt.t(&format!("agenda.outcome_{o}")).into(),
                        color: "#6b7785".into(),
                    }),
                    amount: String::new(),
                })
                .collect(),
            empty: fmt.t("agenda.none").into(),
            summary: next.map(|n| format!("{}: {n}", fmt.t("opp.next_action"))),
            new_href: None,
            order_form: None,
        }])
    }
    fn csv_header() -> Vec<&'static str> {
        vec![
            "id",
            "name",
            "account",
            "pipeline",
            "stage",
            "status",
            "amount",
            "currency",
            "margin",
            "owner",
            "expected_close",
            "tags",
            "created_at",
            "updated_at",
        ]
    }
    fn csv_row(o: &Opportunity, cat: &Catalog) -> Vec<String> {
        let (p, s) = cat
            .sales
            .stage(o.stage_id)
            .map(|(p, s)| (p.name.clone(), s.name.clone()))
            .unwrap_or_default();
        vec![
            o.id.to_string(),
            o.name.clone(),
            o.account_name.clone(),
            p,
            s,
            o.status.clone(),
            carnet_domain::values::Money(o.amount).to_plain(),
            o.currency.clone(),
            o.margin.map(|m| carnet_domain::values::Money(m).to_plain()).unwrap_or_default(),
            owner_name(cat, o.owner_id),
            o.expected_close.clone().unwrap_or_default(),
        ]
    }
}
