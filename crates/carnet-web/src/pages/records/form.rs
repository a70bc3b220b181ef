//! The create and edit form: the duplicate warning, the version check (a save
//! over someone else's change answers 409 and keeps what was typed).

use super::*;

pub struct DupView {
    pub href: String,
    pub name: String,
    pub reasons: String,
}

#[derive(Template)]
#[template(path = "form.html")]
pub(super) struct FormPage {
    l: Layout,
    heading: String,
    action: String,
    cancel_href: String,
    groups: Vec<Group>,
    has_errors: bool,
    duplicates: Vec<DupView>,
    /// The version the form was read at (opportunities), sent back with it.
    version: String,
    /// Someone else saved the record since the form was read.
    conflict: Option<String>,
}

pub(crate) fn form_page<K: PageKind>(
    v: &crate::auth::Viewer,
    cat: &Catalog,
    input: &RawInput,
    errors: &FieldErrors,
    id: Option<i64>,
    dups: &[Duplicate],
) -> Response {
    let fmt = v.user.fmt();
    let heading = match id {
        None => fmt.t(K::NEW).to_string(),
        Some(_) => format!(
            "{} — {}",
            fmt.t("action.edit"),
            input.one(if K::ENTITY == Entity::Account { "name" } else { "last_name" })
        ),
    };
    let page = FormPage {
        heading: heading.clone(),
        action: id.map(|i| format!("/{}/{i}", K::PATH)).unwrap_or(format!("/{}", K::PATH)),
        cancel_href: id.map(|i| format!("/{}/{i}", K::PATH)).unwrap_or(format!("/{}", K::PATH)),
        groups: K::form_groups(cat, input, errors, &fmt, id.is_none()),
        has_errors: !errors.is_empty() && errors.get("version").is_none(),
        duplicates: dups
            .iter()
            .map(|d| DupView {
                href: format!("/{}/{}", if d.entity == Entity::Account { "accounts" } else { "contacts" }, d.id),
                name: d.name.clone(),
                reasons: d.reasons.iter().map(|r| fmt.t(&format!("dup.{r}"))).collect::<Vec<_>>().join(", "),
            })
            .collect(),
        version: input.one("version").to_string(),
        conflict: errors.get("version").map(str::to_string),
        l: Layout::new(v, heading, K::PATH),
    };
    if errors.is_empty() && dups.is_empty() {
        render(&page)
    } else {
        render_status(
            if page.conflict.is_some() {
                StatusCode::CONFLICT
            } else if dups.is_empty() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            },
            &page,
        )
    }
}

pub(super) async fn new_form<K: PageKind>(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Query(pairs): Query<Vec<(String, String)>>,
) -> PageResult {
    v.require(K::WRITE).or_page(&v)?;
    let cat = K::catalog(&s.carnet.db).await.or_page(&v)?;
    let mut input = RawInput::default();
    input.set("owner", v.user.id.to_string());
    if let Some((_, a)) = pairs.iter().find(|(k, _)| k == "account") {
        if let Some(id) = parse_ref(a) {
            if let Ok(card) = Accounts::card(&s.carnet.db, &cat, id).await {
                input.set("account", format!("#{id} {}", card.account.name));
            }
        }
    }
    Ok(form_page::<K>(&v, &cat, &input, &FieldErrors::new(), None, &[]))
}

pub(super) async fn create<K: PageKind>(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    v.require(K::WRITE).or_page(&v)?;
    let input = checked_form(&v, pairs)?;
    let cat = K::catalog(&s.carnet.db).await.or_page(&v)?;
    let draft = match K::parse(&input, &cat) {
        Ok(d) => d,
        Err(e) => return Ok(form_page::<K>(&v, &cat, &input, &e, None, &[])),
    };
    if input.one("allow_duplicates").is_empty() {
        let dups = K::duplicates(&s.carnet.db, &draft).await.or_page(&v)?;
        if !dups.is_empty() {
            return Ok(form_page::<K>(&v, &cat, &input, &FieldErrors::new(), None, &dups));
        }
    }
    match K::create(&s.carnet, &cat, &v.user, &draft, &input).await {
        Ok(id) => Ok(see_other(&format!("/{}/{id}", K::PATH))),
        Err(AppError::Invalid(e)) => Ok(form_page::<K>(&v, &cat, &input, &e, None, &[])),
        Err(e) => Err(PageError::new(crate::pages::app_error_page(e, Some(&v)))),
    }
}

pub(super) async fn edit_form<K: PageKind>(State(s): State<AppState>, PageUser(v): PageUser, Path(id): Path<i64>) -> PageResult {
    v.require(K::WRITE).or_page(&v)?;
    let cat = K::catalog(&s.carnet.db).await.or_page(&v)?;
    let card = K::card(&s.carnet.db, &cat, id).await.or_page(&v)?;
    let mut input = K::to_raw(&card, &cat);
    // Saved with the form: a save over someone else's change is refused (409).
    if let Some(version) = K::version(&card) {
        input.set("version", version.to_string());
    }
    Ok(form_page::<K>(&v, &cat, &input, &FieldErrors::new(), Some(id), &[]))
}

pub(super) async fn update<K: PageKind>(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    v.require(K::WRITE).or_page(&v)?;
    let input = checked_form(&v, pairs)?;
    let cat = K::catalog(&s.carnet.db).await.or_page(&v)?;
    K::card(&s.carnet.db, &cat, id).await.or_page(&v)?;
    let mut fields = input.clone();
    let version = fields.0.remove("version").unwrap_or_default();
    let expected = crate::kinds::expected_version(None, version.first().map(String::as_str)).or_page(&v)?;
    let draft = match K::parse(&fields, &cat) {
        Ok(d) => d,
        Err(e) => return Ok(form_page::<K>(&v, &cat, &input, &e, Some(id), &[])),
    };
    match K::update(&s.carnet, &cat, &v.user, id, &draft, expected).await {
        Ok(()) => Ok(see_other(&format!("/{}/{id}", K::PATH))),
        Err(AppError::Invalid(e)) => Ok(form_page::<K>(&v, &cat, &input, &e, Some(id), &[])),
        // Someone else saved first: the form comes back with what was typed and
        // a notice; saving again (with the new version) overwrites knowingly.
        Err(AppError::Conflict(_)) => {
            let mut input = input;
            if let Some(card) = K::card(&s.carnet.db, &cat, id).await.ok().as_ref().and_then(K::version) {
                input.set("version", card.to_string());
            }
            let conflict = FieldErrors::single("version", v.user.fmt().t("form.conflict"));
            Ok(form_page::<K>(&v, &cat, &input, &conflict, Some(id), &[]))
        }
        Err(e) => Err(PageError::new(crate::pages::app_error_page(e, Some(&v)))),
    }
}

pub(super) async fn delete<K: PageKind>(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    checked_form(&v, pairs)?;
    v.require(Permission::DeleteRecords).or_page(&v)?;
    K::delete(&s.carnet, &v.user, id).await.or_page(&v)?;
    Ok(see_other(&format!("/{}", K::PATH)))
}
