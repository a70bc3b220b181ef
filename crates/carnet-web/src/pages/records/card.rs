//! The card of a record: details, links, timeline, comments, attachments.

use super::*;
use crate::auth::Viewer;
use carnet_domain::fields::Entity;

pub struct AttachmentView {
    pub name: String,
    pub href: String,
    pub size: String,
    pub when: String,
    pub delete_action: String,
}

#[derive(Template)]
#[template(path = "card.html")]
pub(super) struct CardPage {
    l: Layout,
    path: &'static str,
    id: i64,
    name: String,
    parts: CardParts,
    roles: Vec<(String, String)>,
    timeline: Vec<EntryView>,
    attachments: Vec<AttachmentView>,
    related: Vec<Related>,
    can_edit: bool,
    can_delete: bool,
    can_link: bool,
    max_upload_mb: usize,
    /// The "write an email" form (contact and opportunity cards, for those who may write).
    email: Option<Compose>,
}

/// The email form of a contact or opportunity card, with what was typed when it was refused.
#[derive(Default)]
pub struct Compose {
    pub templates: Vec<(i64, String)>,
    pub template_id: Option<i64>,
    pub subject: String,
    pub body: String,
    pub error: Option<String>,
    /// Open when it holds a refused draft.
    pub open: bool,
}

pub(super) async fn card<K: PageKind>(State(s): State<AppState>, PageUser(v): PageUser, Path(id): Path<i64>) -> PageResult {
    card_page::<K>(&s, &v, id, None).await
}

async fn card_page<K: PageKind>(s: &AppState, v: &Viewer, id: i64, draft: Option<Compose>) -> PageResult {
    let v = v.clone();
    let db = &s.carnet.db;
    let cat = K::catalog(db).await.or_page(&v)?;
    let card = K::card(db, &cat, id).await.or_page(&v)?;
    let fmt = v.user.fmt();
    let entries = timeline::for_record(db, K::ENTITY, id, 200).await.or_page(&v)?;
    let files = attachments::for_record(db, K::ENTITY, id).await.or_page(&v)?;
    let related = K::related(db, &cat, id, &fmt).await.or_page(&v)?;
    let admin = v.can(Permission::ManageSettings);
    let name = K::card_name(&card);
    let email = if matches!(K::ENTITY, Entity::Contact | Entity::Opportunity) && v.can(Permission::Comment) {
        let locale = v.user.locale.as_str();
        let mut c = draft.unwrap_or_default();
        c.templates = carnet_app::mail::library::list(db)
            .await
            .or_page(&v)?
            .into_iter()
            .filter(|t| t.locale == locale)
            .map(|t| (t.id, t.name))
            .collect();
        Some(c)
    } else {
        None
    };
    let mut timeline: Vec<EntryView> = entries.iter().map(|e| entry_view(e, &fmt, v.user.id, admin)).collect();
    view::describe_emails(db, &entries, &mut timeline, &fmt).await.or_page(&v)?;
    let page = CardPage {
        path: K::PATH,
        id,
        parts: K::card_parts(&card, &cat, &fmt, s.carnet.db.now()),
        roles: view::role_options(&cat),
        timeline,
        attachments: files
            .iter()
            .map(|a| AttachmentView {
                name: a.file_name.clone(),
                href: format!("/attachments/{}", a.id),
                size: human_size(a.size_bytes, &fmt),
                when: fmt.datetime(a.created_at),
                delete_action: format!("/attachments/{}/delete", a.id),
            })
            .collect(),
        related,
        can_edit: v.can(K::WRITE),
        can_delete: v.can(Permission::DeleteRecords),
        can_link: v.can(Permission::WriteContacts),
        max_upload_mb: s.carnet.max_upload_bytes / (1024 * 1024),
        l: Layout::new(&v, name.clone(), K::PATH),
        name,
        email,
    };
    Ok(if page.email.as_ref().is_some_and(|c| c.error.is_some()) {
        render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
    } else {
        render(&page)
    })
}

/// A rep's email from a contact card: sent (queued), or the card again with
/// the form as typed and the reasons.
pub(super) async fn send_email<K: PageKind>(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let input = checked_form(&v, pairs)?;
    v.require(Permission::Comment).or_page(&v)?;
    let (contact_id, opportunity_id) = match K::ENTITY {
        Entity::Contact => (Some(id), None),
        // To the opportunity's contact, logged on the opportunity too.
        Entity::Opportunity => (None, Some(id)),
        _ => return Err(PageError::new(crate::pages::app_error_page(AppError::NotFound, Some(&v)))),
    };
    let template_id = input.one("template_id").trim().parse::<i64>().ok();
    let one = carnet_app::mail::oneoff::OneOff {
        contact_id,
        opportunity_id,
        template_id,
        subject: input.one("subject").to_string(),
        body: input.one("body").to_string(),
        tracking: Some(input.one("no_tracking").is_empty()),
        ..Default::default()
    };
    match carnet_app::mail::oneoff::send(&s.carnet.db, v.user.id, &one).await {
        Ok(_) => Ok(see_other(&format!("/{}/{id}?sent=1#timeline", K::PATH))),
        Err(AppError::Invalid(e)) => {
            let draft = Compose {
                template_id,
                subject: one.subject,
                body: one.body,
                error: Some(e.summary()),
                open: true,
                ..Default::default()
            };
            card_page::<K>(&s, &v, id, Some(draft)).await
        }
        Err(e) => Err(PageError::new(crate::pages::app_error_page(e, Some(&v)))),
    }
}

pub(super) async fn comment<K: PageKind>(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let input = checked_form(&v, pairs)?;
    v.require(Permission::Comment).or_page(&v)?;
    let cat = K::catalog(&s.carnet.db).await.or_page(&v)?;
    let card = K::card(&s.carnet.db, &cat, id).await.or_page(&v)?;
    timeline::comment(&s.carnet.db, K::ENTITY, id, v.user.id, &K::card_name(&card), input.one("body"))
        .await
        .or_page(&v)?;
    Ok(see_other(&format!("/{}/{id}#timeline", K::PATH)))
}

pub(super) async fn delete_comment<K: PageKind>(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path((id, entry)): Path<(i64, i64)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    checked_form(&v, pairs)?;
    timeline::delete_comment(&s.carnet.db, entry, v.user.id, v.can(Permission::ManageSettings))
        .await
        .or_page(&v)?;
    Ok(see_other(&format!("/{}/{id}#timeline", K::PATH)))
}

pub async fn upload<K: PageKind>(State(s): State<AppState>, PageUser(v): PageUser, Path(id): Path<i64>, mp: Multipart) -> PageResult {
    let (csrf, file) = crate::pages::read_upload(&s, mp).await.or_page(&v)?;
    checked_form(&v, vec![("csrf".into(), csrf)])?;
    v.require(Permission::Comment).or_page(&v)?;
    let cat = K::catalog(&s.carnet.db).await.or_page(&v)?;
    let card = K::card(&s.carnet.db, &cat, id).await.or_page(&v)?;
    let (name, ctype, bytes) = file.ok_or_else(|| AppError::field("file", "is required")).or_page(&v)?;
    attachments::save(
        &s.carnet,
        K::ENTITY,
        id,
        &K::card_name(&card),
        v.user.id,
        attachments::Upload {
            file_name: &name,
            content_type: &ctype,
            bytes: &bytes,
        },
    )
    .await
    .or_page(&v)?;
    Ok(see_other(&format!("/{}/{id}#attachments", K::PATH)))
}

pub async fn download(State(s): State<AppState>, PageUser(v): PageUser, Path(id): Path<i64>) -> PageResult {
    v.require(Permission::ReadRecords).or_page(&v)?;
    let a = attachments::get(&s.carnet.db, id).await.or_page(&v)?;
    let bytes = attachments::read(&s.carnet, &a).await.or_page(&v)?;
    Ok(crate::pages::file_response(&a.file_name, &a.content_type, bytes))
}

pub async fn delete_attachment(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    checked_form(&v, pairs)?;
    let a = attachments::get(&s.carnet.db, id).await.or_page(&v)?;
    if a.uploaded_by != Some(v.user.id) && !v.can(Permission::DeleteRecords) {
        return Err(PageError::new(crate::pages::app_error_page(AppError::Forbidden, Some(&v))));
    }
    attachments::delete(&s.carnet, id).await.or_page(&v)?;
    let path = if a.entity == "account" { "accounts" } else { "contacts" };
    Ok(see_other(&format!("/{path}/{}#attachments", a.record_id)))
}
