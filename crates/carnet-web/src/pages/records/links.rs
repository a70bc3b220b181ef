//! Links between accounts and contacts (with a role), from either card.

use super::*;

pub(super) async fn link(
    s: &AppState,
    v: &crate::auth::Viewer,
    account_id: i64,
    contact_id: Option<i64>,
    field: &str,
    role: &str,
) -> Result<(), PageError> {
    v.require(Permission::WriteContacts).or_page(v)?;
    let cat = settings::catalog(&s.carnet.db).await.or_page(v)?;
    let contact_id = contact_id
        .ok_or_else(|| AppError::field(field, "pick a record from the suggestions, or type its number"))
        .or_page(v)?;
    let role = match role.trim() {
        "" => None,
        r => Some(cat.resolve_role(r).map_err(|e| AppError::field("role", e)).or_page(v)?),
    };
    contacts::link(&s.carnet, &cat, &v.user, account_id, contact_id, role)
        .await
        .or_page(v)
}

pub async fn link_contact_to_account(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let input = checked_form(&v, pairs)?;
    link(&s, &v, id, parse_ref(input.one("contact")), "contact", input.one("role")).await?;
    Ok(see_other(&format!("/accounts/{id}")))
}

pub async fn link_account_to_contact(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let input = checked_form(&v, pairs)?;
    let account = parse_ref(input.one("account"))
        .ok_or_else(|| AppError::field("account", "pick an account from the suggestions, or type its number"))
        .or_page(&v)?;
    link(&s, &v, account, Some(id), "account", input.one("role")).await?;
    Ok(see_other(&format!("/contacts/{id}")))
}

pub async fn unlink_from_account(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path((id, other)): Path<(i64, i64)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    checked_form(&v, pairs)?;
    v.require(Permission::WriteContacts).or_page(&v)?;
    contacts::unlink(&s.carnet, id, other).await.or_page(&v)?;
    Ok(see_other(&format!("/accounts/{id}")))
}

pub async fn unlink_from_contact(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path((id, other)): Path<(i64, i64)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    checked_form(&v, pairs)?;
    v.require(Permission::WriteContacts).or_page(&v)?;
    contacts::unlink(&s.carnet, other, id).await.or_page(&v)?;
    Ok(see_other(&format!("/contacts/{id}")))
}
