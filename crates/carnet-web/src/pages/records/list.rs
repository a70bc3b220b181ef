//! The list page of a record kind: filters, sort, saved views, CSV export.

use super::*;

pub struct ViewLink {
    pub name: String,
    pub href: String,
    pub delete_action: Option<String>,
    pub shared: bool,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "list.html")]
pub(super) struct ListPage {
    l: Layout,
    path: &'static str,
    new_label: String,
    can_create: bool,
    columns: Vec<String>,
    rows: Vec<(String, Vec<Cell>)>,
    filters: Vec<Field>,
    sort: Field,
    next_href: Option<String>,
    first_href: Option<String>,
    export_href: String,
    views: Vec<ViewLink>,
    query: String,
    error: Option<String>,
    empty: String,
}

pub(super) fn filter_fields<K: PageKind>(cat: &Catalog, input: &RawInput, fmt: &Fmt) -> Vec<Field> {
    let none = FieldErrors::new();
    let mut f = vec![Field::new("q", fmt.t("list.name_starts"), "text", input, &none)];
    if K::ENTITY == Entity::Account {
        let mut o = vec![(String::new(), fmt.t("list.any").to_string())];
        o.extend(view::status_options(cat));
        f.push(Field::new("status", fmt.t("field.status"), "select", input, &none).options(o));
    }
    let mut owners = vec![
        (String::new(), fmt.t("list.any").to_string()),
        ("none".into(), fmt.t("list.no_owner").to_string()),
    ];
    owners.extend(cat.users.iter().map(|u| (u.id.to_string(), u.name.clone())));
    f.push(Field::new("owner", fmt.t("field.owner"), "select", input, &none).options(owners));
    if K::ENTITY == Entity::Opportunity {
        let any = || (String::new(), fmt.t("list.any").to_string());
        let mut pipelines = vec![any()];
        pipelines.extend(cat.sales.pipelines.iter().map(|p| (p.id.to_string(), p.name.clone())));
        f.push(Field::new("pipeline", fmt.t("opp.pipeline"), "select", input, &none).options(pipelines));
        let mut stages = vec![any()];
        stages.extend(
            cat.sales
                .pipelines
                .iter()
                .flat_map(|p| p.stages.iter().map(move |s| (s.id.to_string(), format!("{} · {}", p.name, s.name)))),
        );
        f.push(Field::new("stage", fmt.t("opp.stage"), "select", input, &none).options(stages));
        let statuses = ["open", "won", "lost"]
            .iter()
            .map(|st| (st.to_string(), fmt.t(&format!("opp.status_{st}")).to_string()));
        f.push(Field::new("status", fmt.t("opp.status"), "select", input, &none).options(std::iter::once(any()).chain(statuses).collect()));
        f.push(Field::new("created_from", fmt.t("list.created_from"), "date", input, &none));
        f.push(Field::new("created_to", fmt.t("list.created_to"), "date", input, &none));
        return f;
    }
    for c in &cat.categories {
        let mut o = vec![(String::new(), fmt.t("list.any").to_string())];
        o.extend(c.tags.iter().map(|t| (t.id.to_string(), t.name.clone())));
        let mut field = Field::new("tag", &c.name, "select", input, &none).options(o);
        field.id = format!("f-tag-{}", c.id);
        // Several tag selects share the name `tag`: each shows the value among its own options.
        field.values = input
            .all("tag")
            .iter()
            .filter(|v| c.tags.iter().any(|t| t.id.to_string() == **v))
            .cloned()
            .collect();
        field.value = field.values.first().cloned().unwrap_or_default();
        f.push(field);
    }
    f.push(Field::new("city", fmt.t("field.city"), "text", input, &none));
    f.push(Field::new("created_from", fmt.t("list.created_from"), "date", input, &none));
    f.push(Field::new("created_to", fmt.t("list.created_to"), "date", input, &none));
    for def in cat.fields_for(K::ENTITY) {
        use carnet_domain::fields::FieldKind::*;
        let name = format!("cf.{}", def.key);
        let any = (String::new(), fmt.t("list.any").to_string());
        match def.kind {
            SingleChoice | MultipleChoice => {
                let mut o = vec![any];
                o.extend(def.choices.iter().map(|c| (c.clone(), c.clone())));
                f.push(Field::new(&name, &def.label, "select", input, &none).options(o));
            }
            Boolean => f.push(Field::new(&name, &def.label, "select", input, &none).options(vec![
                any,
                ("true".into(), fmt.t("yes").into()),
                ("false".into(), fmt.t("no").into()),
            ])),
            Number | Currency => {
                f.push(Field::new(
                    &format!("{name}.min"),
                    &format!("{} ≥", def.label),
                    "text",
                    input,
                    &none,
                ));
                f.push(Field::new(
                    &format!("{name}.max"),
                    &format!("{} ≤", def.label),
                    "text",
                    input,
                    &none,
                ));
            }
            _ => {}
        }
    }
    f
}

pub(super) fn sort_field<K: PageKind>(cat: &Catalog, input: &RawInput, fmt: &Fmt) -> Field {
    let mut o = vec![
        ("name".to_string(), fmt.t("sort.name").to_string()),
        ("-created".into(), fmt.t("sort.created_desc").into()),
        ("-updated".into(), fmt.t("sort.updated_desc").into()),
    ];
    for def in cat.fields_for(K::ENTITY).filter(|d| {
        !matches!(
            d.kind,
            carnet_domain::fields::FieldKind::MultipleChoice | carnet_domain::fields::FieldKind::LongText
        )
    }) {
        o.push((format!("cf.{}", def.key), format!("{} ↑", def.label)));
        o.push((format!("-cf.{}", def.key), format!("{} ↓", def.label)));
    }
    Field::new("sort", fmt.t("list.sort"), "select", input, &FieldErrors::new()).options(o)
}

/// Drops empty parameters and the ones that do not describe the list itself.
pub(super) fn list_pairs(pairs: &[(String, String)], drop: &[&str]) -> Vec<(String, String)> {
    pairs
        .iter()
        .filter(|(k, v)| !v.trim().is_empty() && !drop.contains(&k.as_str()))
        .cloned()
        .collect()
}

pub(super) fn qs(pairs: &[(String, String)]) -> String {
    to_query_string(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

pub(super) async fn list_page<K: PageKind>(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Query(mut pairs): Query<Vec<(String, String)>>,
) -> PageResult {
    let db = &s.carnet.db;
    let cat = K::catalog(db).await.or_page(&v)?;
    let fmt = v.user.fmt();
    // A saved view's filters apply when the view is opened on its own.
    let view_id = pairs.iter().find(|(k, _)| k == "view").and_then(|(_, v)| v.parse::<i64>().ok());
    if let Some(id) = view_id {
        if pairs.iter().all(|(k, _)| k == "view") {
            let saved = views::get(db, id, v.user.id).await.or_page(&v)?;
            pairs = carnet_domain::values::parse_query_string(&saved.query);
            pairs.push(("view".into(), id.to_string()));
        }
    }
    let pairs = list_pairs(&pairs, &[]);
    let input = RawInput::from_pairs(pairs.clone());
    let mut error = None;
    let mut rows = Vec::new();
    let mut next_href = None;
    match ListQuery::parse(K::ENTITY, &input, &cat, v.user.tz) {
        Ok(lq) => {
            let page: lists::Page<K::Row> = lists::run(db, &lq, K::COLS).await.or_page(&v)?;
            let ids: Vec<i64> = page.rows.iter().map(|r| r.id()).collect();
            let extras = load_extras(&mut db.conn().await.map_err(AppError::from).or_page(&v)?, &cat, K::ENTITY, &ids)
                .await
                .or_page(&v)?;
            rows = page
                .rows
                .iter()
                .map(|r| (format!("/{}/{}", K::PATH, r.id()), K::cells(r, &extras[&r.id()], &cat, &fmt)))
                .collect();
            if let Some(next) = page.next {
                let mut np = list_pairs(&pairs, &["after"]);
                np.push(("after".into(), next));
                next_href = Some(format!("/{}?{}", K::PATH, qs(&np)));
            }
        }
        Err(e) => error = Some(e.summary()),
    }
    let base_pairs = list_pairs(&pairs, &["after", "view"]);
    let visible = views::visible(db, v.user.id, K::ENTITY).await.or_page(&v)?;
    let admin = v.can(Permission::ManageSettings);
    let views = visible
        .into_iter()
        .map(|sv| ViewLink {
            href: format!("/{}?view={}", K::PATH, sv.id),
            delete_action: (sv.user_id == v.user.id || admin).then(|| format!("/{}/views/{}/delete", K::PATH, sv.id)),
            active: view_id == Some(sv.id),
            name: sv.name,
            shared: sv.shared,
        })
        .collect();
    // Filters that cannot be read answer 422, with the list's form as typed.
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(render_status(
        status,
        &ListPage {
            path: K::PATH,
            new_label: fmt.t(K::NEW).into(),
            can_create: v.can(K::WRITE),
            columns: K::columns(&fmt),
            rows,
            filters: filter_fields::<K>(&cat, &input, &fmt),
            sort: sort_field::<K>(&cat, &input, &fmt),
            first_href: pairs
                .iter()
                .any(|(k, _)| k == "after")
                .then(|| format!("/{}?{}", K::PATH, qs(&list_pairs(&pairs, &["after"])))),
            next_href,
            export_href: format!("/{}/export.csv?{}", K::PATH, qs(&list_pairs(&base_pairs, &["limit"]))),
            views,
            query: qs(&list_pairs(&base_pairs, &["limit"])),
            error,
            empty: fmt.t(K::EMPTY).into(),
            l: Layout::new(&v, fmt.t(K::TITLE), K::PATH),
        },
    ))
}

/// Spreadsheets run cells that start with these as formulas: neutralise them.
pub(super) fn csv_safe(s: String) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s
    }
}

pub(super) async fn export<K: PageKind>(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Query(pairs): Query<Vec<(String, String)>>,
) -> PageResult {
    let cat = K::catalog(&s.carnet.db).await.or_page(&v)?;
    let pairs = list_pairs(&pairs, &["after", "limit", "view"]);
    let lq = ListQuery::parse(K::ENTITY, &RawInput::from_pairs(pairs), &cat, v.user.tz)
        .map_err(AppError::Invalid)
        .or_page(&v)?
        .with_limit(1000);
    let name = format!("{}-{}.csv", K::PATH, s.carnet.db.clock().today_in(v.user.tz).format("%Y%m%d"));
    // Pages of 1,000 rows are fetched and written as the client reads.
    let state = Some((s.carnet.clone(), cat, lq, None::<String>, true));
    // Any failure (the database, a cursor, the CSV writer) ends the download
    // with an error — the client sees an incomplete transfer — rather than a
    // file missing tags or custom values without a word.
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "export failed: {what}");
        Some((Err(std::io::Error::other(format!("export failed: {what}"))), None))
    };
    let stream = futures_util::stream::unfold(state, move |st| async move {
        let (carnet, cat, lq, after, first): (Carnet, Catalog, ListQuery, Option<String>, bool) = st?;
        let mut out = csv::WriterBuilder::new().from_writer(Vec::new());
        if first {
            let mut header: Vec<String> = K::csv_header().into_iter().map(String::from).collect();
            header.extend(cat.fields_for(K::ENTITY).map(|f| format!("cf.{}", f.key)));
            if let Err(e) = out.write_record(&header) {
                return failed("header", &e);
            }
        }
        let page_q = match &after {
            Some(a) => match lq.clone().with_after(a) {
                Ok(q) => q,
                Err(e) => return failed("cursor", &e),
            },
            None => lq.clone(),
        };
        let page: lists::Page<K::Row> = match lists::run(&carnet.db, &page_q, K::COLS).await {
            Ok(p) => p,
            Err(e) => return failed("rows", &e),
        };
        let ids: Vec<i64> = page.rows.iter().map(|r| r.id()).collect();
        let extras = match carnet.db.conn().await {
            Ok(mut c) => match load_extras(&mut c, &cat, K::ENTITY, &ids).await {
                Ok(x) => x,
                Err(e) => return failed("tags and custom values", &e),
            },
            Err(e) => return failed("connection", &e),
        };
        for r in &page.rows {
            let ex = extras.get(&r.id()).cloned().unwrap_or_default();
            let mut rec = K::csv_row(r, &cat);
            rec.push(csv_tags(&cat, &ex));
            rec.push(crate::kinds::iso(r.created_at()));
            rec.push(crate::kinds::iso(r.updated_at()));
            for f in cat.fields_for(K::ENTITY) {
                rec.push(
                    ex.custom
                        .iter()
                        .find(|(id, _)| *id == f.id)
                        .map(|(_, v)| lists::plain(v))
                        .unwrap_or_default(),
                );
            }
            if let Err(e) = out.write_record(rec.into_iter().map(csv_safe)) {
                return failed("row", &e);
            }
        }
        let bytes = match out.into_inner() {
            Ok(b) => b,
            Err(e) => return failed("writer", &e),
        };
        let next = page.next.map(|n| (carnet, cat, lq, Some(n), false));
        Some((Ok::<_, std::io::Error>(bytes), next))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

pub(super) async fn save_view<K: PageKind>(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let input = checked_form(&v, pairs)?;
    let cat = K::catalog(&s.carnet.db).await.or_page(&v)?;
    let query = input.one("query").to_string();
    lists::parse_query_string(K::ENTITY, &query, &cat, v.user.tz.name()).or_page(&v)?;
    let id = views::create(
        &s.carnet.db,
        v.user.id,
        K::ENTITY,
        input.one("name"),
        &query,
        !input.one("shared").is_empty(),
    )
    .await
    .or_page(&v)?;
    Ok(see_other(&format!("/{}?view={id}", K::PATH)))
}

pub(super) async fn delete_view<K: PageKind>(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    checked_form(&v, pairs)?;
    views::delete(&s.carnet.db, id, v.user.id, v.can(Permission::ManageSettings))
        .await
        .or_page(&v)?;
    Ok(see_other(&format!("/{}", K::PATH)))
}
