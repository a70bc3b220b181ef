//! The OpenAPI 3 document, built from [`ROUTES`]. An integration test calls
//! every listed operation on a running server, so the document cannot drift
//! from the router without failing the suite.

use axum::Json;
use serde_json::{json, Map, Value};

pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    /// Request body schema name, if the operation takes one.
    pub body: Option<&'static str>,
    /// Response schema name for 200/201.
    pub response: Option<&'static str>,
    /// Whether it is a list with filters and cursor pagination.
    pub list: bool,
}

const fn r(method: &'static str, path: &'static str, summary: &'static str, tag: &'static str) -> Route {
    Route {
        method,
        path,
        summary,
        tag,
        body: None,
        response: None,
        list: false,
    }
}

const fn with(mut route: Route, body: Option<&'static str>, response: Option<&'static str>, list: bool) -> Route {
    route.body = body;
    route.response = response;
    route.list = list;
    route
}

pub const ROUTES: &[Route] = &[
    with(r("get", "/api/v1/me", "The calling user", "users"), None, Some("User"), false),
    with(
        r(
            "get",
            "/api/v1/accounts",
            "List accounts with filters and cursor pagination",
            "accounts",
        ),
        None,
        Some("AccountPage"),
        true,
    ),
    with(
        r(
            "post",
            "/api/v1/accounts",
            "Create an account (likely duplicates come back as warnings)",
            "accounts",
        ),
        Some("AccountInput"),
        Some("Account"),
        false,
    ),
    with(
        r(
            "get",
            "/api/v1/accounts/{id}",
            "Read an account with its linked contacts",
            "accounts",
        ),
        None,
        Some("Account"),
        false,
    ),
    with(
        r(
            "patch",
            "/api/v1/accounts/{id}",
            "Change the given fields of an account",
            "accounts",
        ),
        Some("AccountInput"),
        Some("Account"),
        false,
    ),
    r("delete", "/api/v1/accounts/{id}", "Delete an account and its history", "accounts"),
    with(
        r(
            "get",
            "/api/v1/accounts/{id}/timeline",
            "An account's timeline, newest first",
            "accounts",
        ),
        None,
        Some("Timeline"),
        false,
    ),
    with(
        r("post", "/api/v1/accounts/{id}/comments", "Comment on an account", "accounts"),
        Some("Comment"),
        Some("Created"),
        false,
    ),
    with(
        r(
            "post",
            "/api/v1/accounts/{id}/contacts",
            "Link a contact to the account with a role",
            "accounts",
        ),
        Some("Link"),
        None,
        false,
    ),
    r(
        "delete",
        "/api/v1/accounts/{id}/contacts/{contact_id}",
        "Remove a contact from the account",
        "accounts",
    ),
    with(
        r(
            "get",
            "/api/v1/contacts",
            "List contacts with filters and cursor pagination",
            "contacts",
        ),
        None,
        Some("ContactPage"),
        true,
    ),
    with(
        r(
            "post",
            "/api/v1/contacts",
            "Create a contact, optionally linked to an account",
            "contacts",
        ),
        Some("ContactInput"),
        Some("Contact"),
        false,
    ),
    with(
        r("get", "/api/v1/contacts/{id}", "Read a contact with its accounts", "contacts"),
        None,
        Some("Contact"),
        false,
    ),
    with(
        r("patch", "/api/v1/contacts/{id}", "Change the given fields of a contact", "contacts"),
        Some("ContactInput"),
        Some("Contact"),
        false,
    ),
    r("delete", "/api/v1/contacts/{id}", "Delete a contact and its history", "contacts"),
    with(
        r(
            "get",
            "/api/v1/contacts/{id}/timeline",
            "A contact's timeline, newest first",
            "contacts",
        ),
        None,
        Some("Timeline"),
        false,
    ),
    with(
        r("post", "/api/v1/contacts/{id}/comments", "Comment on a contact", "contacts"),
        Some("Comment"),
        Some("Created"),
        false,
    ),
    r(
        "get",
        "/api/v1/search",
        "Search accounts and contacts by name, email, phone, identifier or tag prefix (?q=)",
        "search",
    ),
    r(
        "get",
        "/api/v1/saved-views",
        "Saved list views visible to the caller (?entity=account|contact)",
        "views",
    ),
    with(
        r("post", "/api/v1/saved-views", "Save a list view", "views"),
        Some("SavedViewInput"),
        Some("Created"),
        false,
    ),
    r("delete", "/api/v1/saved-views/{id}", "Delete a saved view", "views"),
    r("get", "/api/v1/statuses", "Account statuses", "settings"),
    with(
        r("post", "/api/v1/statuses", "Add a status", "settings"),
        Some("StatusInput"),
        Some("Created"),
        false,
    ),
    with(
        r(
            "patch",
            "/api/v1/statuses/{id}",
            "Rename, recolour, reorder or make default",
            "settings",
        ),
        Some("StatusInput"),
        None,
        false,
    ),
    r(
        "delete",
        "/api/v1/statuses/{id}",
        "Delete a status (?replacement= for accounts that have it)",
        "settings",
    ),
    r("get", "/api/v1/tag-categories", "Tag categories with their tags", "settings"),
    with(
        r("post", "/api/v1/tag-categories", "Add a tag category", "settings"),
        Some("CategoryInput"),
        Some("Created"),
        false,
    ),
    with(
        r("patch", "/api/v1/tag-categories/{id}", "Change a tag category", "settings"),
        Some("CategoryInput"),
        None,
        false,
    ),
    r(
        "delete",
        "/api/v1/tag-categories/{id}",
        "Delete a tag category and its tags",
        "settings",
    ),
    with(
        r("post", "/api/v1/tag-categories/{id}/tags", "Add a tag to a category", "settings"),
        Some("TagInput"),
        Some("Created"),
        false,
    ),
    with(
        r("patch", "/api/v1/tags/{id}", "Rename or recolour a tag", "settings"),
        Some("TagInput"),
        None,
        false,
    ),
    r("delete", "/api/v1/tags/{id}", "Delete a tag", "settings"),
    r("get", "/api/v1/custom-fields", "Custom fields of every record type", "settings"),
    with(
        r("post", "/api/v1/custom-fields", "Add a custom field", "settings"),
        Some("FieldInput"),
        Some("Created"),
        false,
    ),
    with(
        r(
            "patch",
            "/api/v1/custom-fields/{id}",
            "Change a field's label or choices",
            "settings",
        ),
        Some("FieldInput"),
        None,
        false,
    ),
    r(
        "delete",
        "/api/v1/custom-fields/{id}",
        "Delete a custom field and its values",
        "settings",
    ),
    r("get", "/api/v1/mandatory-rules", "Mandatory field rules", "settings"),
    with(
        r(
            "post",
            "/api/v1/mandatory-rules",
            "Make a field mandatory, always or from a status on",
            "settings",
        ),
        Some("RuleInput"),
        Some("Created"),
        false,
    ),
    r("delete", "/api/v1/mandatory-rules/{id}", "Remove a mandatory rule", "settings"),
    r("get", "/api/v1/contact-roles", "Contact roles", "settings"),
    with(
        r("post", "/api/v1/contact-roles", "Add a contact role", "settings"),
        Some("NameInput"),
        Some("Created"),
        false,
    ),
    with(
        r("patch", "/api/v1/contact-roles/{id}", "Rename a contact role", "settings"),
        Some("NameInput"),
        None,
        false,
    ),
    r("delete", "/api/v1/contact-roles/{id}", "Delete a contact role", "settings"),
    r("get", "/api/v1/users", "Users", "users"),
    with(
        r("post", "/api/v1/users", "Create a user (administrators)", "users"),
        Some("UserInput"),
        Some("User"),
        false,
    ),
    with(r("get", "/api/v1/users/{id}", "Read a user", "users"), None, Some("User"), false),
    with(
        r("patch", "/api/v1/users/{id}", "Change a user (administrators, or oneself)", "users"),
        Some("UserInput"),
        Some("User"),
        false,
    ),    r("get", "/api/v1/pipelines", "Pipelines with their stages, segments and offers", "sales"),
    with(r("post", "/api/v1/pipelines", "Create a pipeline with the default B2B stages", "sales"), Some("PipelineInput"), Some("Created"), false),
    with(r("patch", "/api/v1/pipelines/{id}", "Rename, re-target or archive a pipeline", "sales"), Some("PipelineInput"), None, false),
    with(r("post", "/api/v1/pipelines/{id}/stages", "Add a stage", "sales"), Some("StageInput"), Some("Created"), false),
    r("get", "/api/v1/pipelines/{id}/board", "The kanban board: per open stage count, total, weighted total and cards (?owner, segment, offer, source, sort=amount|close|age, per_column)", "sales"),
    with(r("patch", "/api/v1/stages/{id}", "Rename a stage, change its probability, stall limit or position", "sales"), Some("StageInput"), None, false),
    r("delete", "/api/v1/stages/{id}", "Delete (or archive, if it has history) a stage; ?move_to= for the opportunities in it", "sales"),
    with(r("get", "/api/v1/opportunities", "List opportunities (filters: pipeline, stage, status, account, owner, source, offer, dates, custom fields)", "sales"), None, Some("OpportunityPage"), true),
    with(r("post", "/api/v1/opportunities", "Create an opportunity", "sales"), Some("OpportunityInput"), Some("Opportunity"), false),
    with(r("get", "/api/v1/opportunities/{id}", "Read an opportunity", "sales"), None, Some("Opportunity"), false),
    with(r("patch", "/api/v1/opportunities/{id}", "Change the given fields (a stage change is recorded as a move)", "sales"), Some("OpportunityInput"), Some("Opportunity"), false),
    r("delete", "/api/v1/opportunities/{id}", "Delete an opportunity", "sales"),
    with(r("post", "/api/v1/opportunities/{id}/move", "Move to a stage of its pipeline, recording history (lost stages need lost_reason)", "sales"), Some("MoveInput"), Some("Opportunity"), false),
    r("get", "/api/v1/opportunities/{id}/history", "Stage history: from, to, who, when", "sales"),
    with(r("get", "/api/v1/opportunities/{id}/timeline", "An opportunity's timeline, newest first", "sales"), None, Some("Timeline"), false),
    with(r("post", "/api/v1/opportunities/{id}/comments", "Comment on an opportunity", "sales"), Some("Comment"), Some("Created"), false),
    r("get", "/api/v1/forecast", "Open and weighted pipeline by month of expected close (?from=YYYY-MM&months=N&by=owner|segment|pipeline), and won in the period", "sales"),
    r("get", "/api/v1/offers", "The offer catalogue", "sales"),
    with(r("post", "/api/v1/offers", "Add an offer", "sales"), Some("OfferInput"), Some("Created"), false),
    with(r("patch", "/api/v1/offers/{id}", "Change an offer", "sales"), Some("OfferInput"), None, false),
    r("get", "/api/v1/opportunity-sources", "Opportunity sources", "sales"),
    with(r("post", "/api/v1/opportunity-sources", "Add a source", "sales"), Some("NameInput"), Some("Created"), false),
    r("get", "/api/v1/lost-reasons", "Lost reasons", "sales"),
    with(r("post", "/api/v1/lost-reasons", "Add a lost reason", "sales"), Some("NameInput"), Some("Created"), false),
    r("get", "/api/v1/orders", "Orders of an account with lifetime totals (?account=)", "sales"),
    with(r("post", "/api/v1/orders", "Record an order or invoice", "sales"), Some("OrderInput"), Some("Order"), false),
    with(r("get", "/api/v1/orders/{id}", "Read an order", "sales"), None, Some("Order"), false),
    with(r("patch", "/api/v1/orders/{id}", "Change an order", "sales"), Some("OrderInput"), Some("Order"), false),
    r("delete", "/api/v1/orders/{id}", "Delete an order", "sales"),
    r("get", "/api/v1/action-types", "Action types", "agenda"),
    with(r("post", "/api/v1/action-types", "Add an action type (kind task or appointment)", "agenda"), Some("ActionTypeInput"), Some("Created"), false),
    r("get", "/api/v1/actions", "Actions (?assignee, from, to — dates or local times in the caller's zone — account, contact, opportunity, open)", "agenda"),
    with(r("post", "/api/v1/actions", "Plan an action: an appointment (starts_at + duration or ends_at) or a task (due_date)", "agenda"), Some("ActionInput"), Some("Action"), false),
    with(r("get", "/api/v1/actions/{id}", "Read an action", "agenda"), None, Some("Action"), false),
    with(r("patch", "/api/v1/actions/{id}", "Change an open action (SEQUENCE goes up)", "agenda"), Some("ActionInput"), Some("Action"), false),
    r("delete", "/api/v1/actions/{id}", "Delete an action", "agenda"),
    with(r("post", "/api/v1/actions/{id}/finish", "Close an action: done, no_show, cancelled or rescheduled, with the time spent", "agenda"), Some("FinishInput"), Some("Action"), false),
    r("get", "/api/v1/followup-rules", "Follow-up rules", "agenda"),
    with(r("post", "/api/v1/followup-rules", "When an action of a type is done, plan a follow-up", "agenda"), Some("FollowupInput"), Some("Created"), false),
    r("delete", "/api/v1/followup-rules/{id}", "Delete a follow-up rule", "agenda"),
    r("get", "/api/v1/recurring-rules", "Recurring action rules", "agenda"),
    with(r("post", "/api/v1/recurring-rules", "For every account of a segment (tag or saved view), plan an action every N months for its owner", "agenda"), Some("RecurringInput"), Some("Created"), false),
    r("get", "/api/v1/recurring-rules/{id}", "Read a recurring rule", "agenda"),
    with(r("patch", "/api/v1/recurring-rules/{id}", "Change a recurring rule (open occurrences are planned again)", "agenda"), Some("RecurringInput"), None, false),
    r("delete", "/api/v1/recurring-rules/{id}", "Delete a recurring rule and its open occurrences", "agenda"),
    r("post", "/api/v1/me/calendar-feed", "Make a new private iCalendar subscription URL (the previous one stops working)", "agenda"),
    r("delete", "/api/v1/me/calendar-feed", "Revoke the calendar subscription", "agenda"),
    r("get", "/api/v1/metrics", "The metric catalogue: each metric with its definition, unit, source and breakdowns", "analysis"),
    r("get", "/api/v1/metrics/{id}/values", "A metric's value (?period=this_month|… or from&to, compare=previous|last_year|none or compare_from&compare_to, breakdown (a name from the metric's breakdowns, tags:{category id or name}, field:{single-choice field id or key}), owner, segment, source, pipeline, stage, offer, type, tag (the account has one of these tags), field ({field id or key}:{choice}; several values of one field are any of them), currency)", "analysis"),
    r("get", "/api/v1/me/figures", "The metrics of the caller's home strip", "analysis"),
    with(r("put", "/api/v1/me/figures", "Choose the home strip's metrics (1 to 12)", "analysis"), Some("FiguresInput"), None, false),
    r("get", "/api/v1/dashboards", "Dashboards the caller can open (own and shared)", "analysis"),
    with(r("post", "/api/v1/dashboards", "Create a dashboard", "analysis"), Some("DashboardInput"), Some("Created"), false),
    r("get", "/api/v1/dashboards/{id}", "A dashboard with each widget's values (a broken widget carries its error)", "analysis"),
    with(r("patch", "/api/v1/dashboards/{id}", "Rename or share a dashboard", "analysis"), Some("DashboardInput"), None, false),
    r("delete", "/api/v1/dashboards/{id}", "Delete a dashboard", "analysis"),
    with(r("post", "/api/v1/dashboards/{id}/widgets", "Add a widget: a chart of a metric with a request (query string)", "analysis"), Some("WidgetInput"), Some("Created"), false),
    with(r("patch", "/api/v1/dashboards/{id}/widgets/{wid}", "Change a widget", "analysis"), Some("WidgetInput"), None, false),
    r("delete", "/api/v1/dashboards/{id}/widgets/{wid}", "Remove a widget", "analysis"),
    r("get", "/api/v1/booking-teams", "Team booking pages", "agenda"),
    with(r("post", "/api/v1/booking-teams", "Add a team booking page: members, round_robin or least_busy, and the slot rules", "agenda"), Some("TeamInput"), Some("Created"), false),
    with(r("patch", "/api/v1/booking-teams/{id}", "Change a team booking page", "agenda"), Some("TeamInput"), None, false),
    r("delete", "/api/v1/booking-teams/{id}", "Delete a team booking page", "agenda"),
    r("get", "/api/v1/me/reminders", "The caller's reminders that are due (open actions whose reminder time has come)", "agenda"),
    r("post", "/api/v1/me/reminders/{id}/dismiss", "Mark a reminder seen", "agenda"),
    r("put", "/api/v1/me/booking-page", "Set the caller's public booking page (slug, type, duration, buffers, notice, horizon) and working hours per day", "agenda"),
    r("get", "/api/v1/users/{id}/free-slots", "Free slots of a user (?from, to, duration in minutes)", "agenda"),
    r("get", "/api/v1/jobs/failed", "Background jobs that failed for good, with their error (administrators)", "platform"),
    r("post", "/api/v1/jobs/{id}/retry", "Queue a failed job again (administrators)", "platform"),
];

fn list_parameters() -> Vec<Value> {
    let p =
        |name: &str, desc: &str| json!({"name": name, "in": "query", "required": false, "schema": {"type": "string"}, "description": desc});
    vec![
        p("q", "Name starts with (accents and case ignored)"),
        p("status", "Status id or name (accounts; repeat for several)"),
        p("owner", "Owner id or email, or `none` (repeat for several)"),
        p("tag", "Tag id, name or Category/Name (repeat: all must match)"),
        p("created_from", "YYYY-MM-DD, in the caller's time zone"),
        p("created_to", "YYYY-MM-DD, inclusive"),
        p("updated_from", "YYYY-MM-DD"),
        p("updated_to", "YYYY-MM-DD, inclusive"),
        p(
            "city",
            "Equals (case ignored); also country, postal_code, source, email, company_id (accounts), job_title (contacts)",
        ),
        p(
            "cf.{key}",
            "Custom field equals; cf.{key}.min / cf.{key}.max for numbers, amounts and dates",
        ),
        p("sort", "name (default), created, updated or cf.{key}; prefix - for descending"),
        p("after", "The next_cursor of the previous page"),
        p("limit", "1–1000, default 50"),
    ]
}

fn schemas() -> Value {
    let s = |t: &str| json!({"type": t});
    let ns = || json!({"type": "string", "nullable": true});
    let tag =
        json!({"type": "object", "properties": {"id": s("integer"), "name": s("string"), "category": s("string"), "color": s("string")}});
    let custom = json!({"type": "object", "description": "Custom field values by key", "additionalProperties": true});
    let refd = json!({"type": "object", "nullable": true, "properties": {"id": s("integer"), "name": s("string")}});
    let account_fields = [
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
        "description",
    ];
    let contact_fields = [
        "first_name",
        "email",
        "phone",
        "mobile",
        "job_title",
        "source",
        "address",
        "postal_code",
        "city",
        "country",
        "description",
    ];
    let props = |fields: &[&str]| -> Map<String, Value> { fields.iter().map(|f| (f.to_string(), ns())).collect() };
    let mut account = props(&account_fields);
    account.insert("id".into(), s("integer"));
    account.insert("name".into(), s("string"));
    account.insert("status".into(), refd.clone());
    account.insert("owner".into(), refd.clone());
    account.insert("tags".into(), json!({"type": "array", "items": tag}));
    account.insert("custom".into(), custom.clone());
    account.insert("contacts".into(), json!({"type": "array", "items": {"type": "object", "properties": {"id": s("integer"), "name": s("string"), "email": ns(), "role": ns()}}}));
    account.insert("created_at".into(), json!({"type": "string", "format": "date-time"}));
    account.insert("updated_at".into(), json!({"type": "string", "format": "date-time"}));
    let mut account_in = props(&account_fields);
    account_in.insert("name".into(), s("string"));
    account_in.insert(
        "status".into(),
        json!({"description": "Status id or name; default status if absent"}),
    );
    account_in.insert("owner".into(), json!({"description": "User id or email"}));
    account_in.insert(
        "tags".into(),
        json!({"type": "array", "items": {"description": "Tag id, name or Category/Name"}}),
    );
    account_in.insert("custom".into(), custom.clone());
    let mut contact = props(&contact_fields);
    contact.insert("id".into(), s("integer"));
    contact.insert("last_name".into(), s("string"));
    contact.insert("name".into(), s("string"));
    contact.insert("owner".into(), refd);
    contact.insert("tags".into(), json!({"type": "array", "items": tag}));
    contact.insert("custom".into(), custom.clone());
    contact.insert(
        "accounts".into(),
        json!({"type": "array", "items": {"type": "object", "properties": {"id": s("integer"), "name": s("string"), "role": ns()}}}),
    );
    let mut contact_in = props(&contact_fields);
    contact_in.insert("last_name".into(), s("string"));
    contact_in.insert("owner".into(), json!({"description": "User id or email"}));
    contact_in.insert(
        "tags".into(),
        json!({"type": "array", "items": {"description": "Tag id, name or Category/Name"}}),
    );
    contact_in.insert("custom".into(), custom);
    contact_in.insert(
        "account".into(),
        json!({"type": "integer", "description": "On create: link to this account"}),
    );
    contact_in.insert(
        "role".into(),
        json!({"type": "string", "description": "On create: role on that account"}),
    );
    let page = |item: &str| json!({"type": "object", "properties": {"data": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}}, "next_cursor": ns()}});
    json!({
        "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
            "code": s("string"), "message": s("string"),
            "fields": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Reason per field name"}}}}},
        "Account": {"type": "object", "properties": account},
        "AccountInput": {"type": "object", "required": ["name"], "properties": account_in},
        "AccountPage": page("Account"),
        "Contact": {"type": "object", "properties": contact},
        "ContactInput": {"type": "object", "required": ["last_name"], "properties": contact_in},
        "ContactPage": page("Contact"),
        "Timeline": {"type": "object", "properties": {"data": {"type": "array", "items": {"type": "object"}}}},
        "Comment": {"type": "object", "required": ["body"], "properties": {"body": s("string")}},
        "Link": {"type": "object", "required": ["contact_id"], "properties": {"contact_id": s("integer"), "role": ns()}},
        "Created": {"type": "object", "properties": {"id": s("integer")}},
        "SavedViewInput": {"type": "object", "required": ["entity", "name", "query"], "properties": {"entity": {"type": "string", "enum": ["account", "contact"]}, "name": s("string"), "query": {"type": "string", "description": "The list's query string, e.g. tag=Gold&sort=-created"}, "shared": s("boolean")}},
        "StatusInput": {"type": "object", "properties": {"name": s("string"), "color": s("string"), "is_default": s("boolean"), "position": s("integer")}},
        "CategoryInput": {"type": "object", "properties": {"name": s("string"), "multi": s("boolean"), "is_segment": s("boolean")}},
        "TagInput": {"type": "object", "properties": {"name": s("string"), "color": s("string")}},
        "FieldInput": {"type": "object", "properties": {"entity": {"type": "string", "enum": ["account", "contact", "opportunity"]}, "key": s("string"), "label": s("string"),
            "kind": {"type": "string", "enum": ["text", "long_text", "number", "currency", "date", "boolean", "single_choice", "multiple_choice", "url", "email", "phone"]},
            "choices": {"type": "array", "items": s("string")}}},
        "RuleInput": {"type": "object", "properties": {"entity": s("string"), "field": {"type": "string", "description": "A standard field name or cf.{key}"}, "from_status": {"description": "Status id or name; absent = always"}}},
        "NameInput": {"type": "object", "properties": {"name": s("string"), "kind": {"type": "string", "enum": ["marketing", "sales", "other"], "description": "sources only"}}},
        "PipelineInput": {"type": "object", "properties": {"name": s("string"), "currency": s("string"), "segments": {"type": "array", "items": s("integer")}, "offers": {"type": "array", "items": s("integer")}, "archived": s("boolean")}},
        "StageInput": {"type": "object", "properties": {"name": s("string"), "probability": s("integer"), "stall_days": s("integer"), "outcome": {"type": "string", "enum": ["open", "won", "lost"]}, "position": {"type": "integer", "description": "PATCH: places to move, negative = earlier"}}},
        "Opportunity": {"type": "object", "properties": {"id": s("integer"), "name": s("string"), "account": {"type": "object"}, "owner": {"type": "object", "nullable": true},
            "pipeline": {"type": "object"}, "stage": {"type": "object"}, "status": {"type": "string", "enum": ["open", "won", "lost"]}, "amount": s("string"), "currency": s("string"),
            "weighted_amount": s("string"), "margin": ns(), "offer": {"type": "object", "nullable": true}, "source": {"type": "object", "nullable": true},
            "lost_reason": {"type": "object", "nullable": true}, "expected_close": ns(), "days_in_stage": s("integer"), "stalled": s("boolean"), "custom": {"type": "object"},
            "contacts": {"type": "array", "items": {"type": "object"}}}},
        "OpportunityPage": page("Opportunity"),
        "OpportunityInput": {"type": "object", "required": ["name", "account"], "properties": {"name": s("string"), "account": s("integer"), "contacts": {"type": "array", "items": s("integer")},
            "owner": {"description": "User id or email"}, "pipeline": {"description": "Pipeline id or name; the first if absent"}, "stage": {"description": "Stage id or name in that pipeline"},
            "amount": {"description": "Decimal amount, e.g. 1234.50"}, "currency": s("string"), "margin": {"description": "Decimal amount"}, "offer": {"description": "Offer id, code or name"},
            "source": {"description": "Source id or name"}, "expected_close": {"type": "string", "format": "date"}, "lost_reason": {"description": "Lost reason id or name"},
            "description": s("string"), "custom": {"type": "object"}}},
        "ActionTypeInput": {"type": "object", "properties": {"name": s("string"), "color": s("string"), "icon": s("string"), "kind": {"type": "string", "enum": ["task", "appointment"]}}},
        "Action": {"type": "object", "properties": {"id": s("integer"), "type": {"type": "object"}, "subject": s("string"), "notes": ns(), "account_id": {"type": "integer", "nullable": true},
            "contact_id": {"type": "integer", "nullable": true}, "opportunity_id": {"type": "integer", "nullable": true}, "assignee_id": {"type": "integer", "nullable": true},
            "starts_at": {"type": "string", "format": "date-time", "nullable": true}, "duration_min": {"type": "integer", "nullable": true}, "due_date": {"type": "string", "format": "date", "nullable": true},
            "done_at": {"type": "string", "format": "date-time", "nullable": true}, "spent_min": {"type": "integer", "nullable": true}, "outcome": ns(), "sequence": s("integer"),
            "recurring_rule_id": {"type": "integer", "nullable": true}, "remind_min": {"type": "integer", "nullable": true}}},
        "ActionInput": {"type": "object", "properties": {"type": {"description": "Action type id or name"}, "subject": s("string"), "notes": s("string"), "account": s("integer"), "contact": s("integer"),
            "opportunity": s("integer"), "assignee": {"description": "User id or email; the caller if absent"}, "starts_at": {"type": "string", "description": "YYYY-MM-DDTHH:MM in time_zone (the caller's by default) or RFC 3339"},
            "duration": {"type": "integer", "description": "Minutes"}, "ends_at": s("string"), "due_date": {"type": "string", "format": "date"}, "time_zone": s("string"),
            "remind": {"type": "integer", "description": "Reminder, minutes before the start (tasks: before 09:00 on the due day)"}}},
        "FinishInput": {"type": "object", "required": ["outcome"], "properties": {"outcome": {"type": "string", "enum": ["done", "no_show", "cancelled", "rescheduled"]}, "spent_min": s("integer")}},
        "FollowupInput": {"type": "object", "properties": {"when_type": {"description": "Action type id or name"}, "segment": {"description": "Tag id or name (optional)"}, "then_type": {"description": "Action type id or name"},
            "subject": s("string"), "due_days": s("integer"), "business_days": s("boolean")}},
        "FiguresInput": {"type": "object", "required": ["figures"], "properties": {"figures": {"type": "array", "items": {"type": "string", "description": "Metric id"}}}},
        "DashboardInput": {"type": "object", "properties": {"name": s("string"), "shared": s("boolean")}},
        "WidgetInput": {"type": "object", "properties": {"title": s("string"), "chart": {"type": "string", "enum": ["number", "pie", "line", "bar", "table", "funnel"]},
            "metric": {"type": "string", "description": "Metric id"}, "query": {"type": "string", "description": "period=this_year&breakdown=owner&compare=previous …"}}},
        "TeamInput": {"type": "object", "required": ["slug", "name", "members"], "properties": {"slug": s("string"), "name": s("string"), "type": {"description": "Appointment type id or name"},
            "duration": s("integer"), "buffer_before": s("integer"), "buffer_after": s("integer"), "min_notice": {"type": "integer", "description": "Minutes"}, "horizon_days": s("integer"),
            "strategy": {"type": "string", "enum": ["round_robin", "least_busy"]}, "time_zone": s("string"), "members": {"type": "array", "items": {"description": "User id or email"}}, "active": s("boolean")}},
        "RecurringInput": {"type": "object", "required": ["name", "type", "every_months"], "properties": {"name": s("string"), "type": {"description": "Action type id or name"},
            "segment": {"description": "Segment tag id or name (or give view)"}, "view": {"description": "Saved view of accounts, by id"}, "every_months": s("integer"),
            "horizon_months": {"type": "integer", "description": "How far ahead occurrences are planned (default: 3 to 12 months)"}, "start_time": {"type": "string", "description": "HH:MM in the owner's zone (appointments)"},
            "duration": {"type": "integer", "description": "Minutes (appointments)"}, "active": s("boolean")}},
        "MoveInput": {"type": "object", "required": ["stage"], "properties": {"stage": {"description": "Stage id or name"}, "lost_reason": {"description": "Required for a lost stage"}}},
        "OfferInput": {"type": "object", "properties": {"name": s("string"), "code": s("string"), "list_price": s("string"), "currency": s("string"), "active": s("boolean")}},
        "Order": {"type": "object", "properties": {"id": s("integer"), "account_id": s("integer"), "number": s("string"), "order_date": {"type": "string", "format": "date"}, "amount": s("string"), "margin": ns(), "currency": s("string"), "offer_id": {"type": "integer", "nullable": true}}},
        "OrderInput": {"type": "object", "required": ["account", "number", "order_date", "amount"], "properties": {"account": s("integer"), "number": s("string"), "order_date": {"type": "string", "format": "date"}, "amount": s("string"), "margin": s("string"), "currency": s("string"), "offer": {"description": "Offer id or code"}}},
        "User": {"type": "object", "properties": {"id": s("integer"), "email": s("string"), "name": s("string"), "role": s("string"), "locale": s("string"), "time_zone": s("string"), "active": s("boolean")}},
        "UserInput": {"type": "object", "properties": {"email": s("string"), "name": s("string"), "role": {"type": "string", "enum": ["admin", "manager", "sales", "marketing"]}, "password": s("string"), "locale": {"type": "string", "enum": ["en", "fr"]}, "time_zone": s("string"), "active": s("boolean"),
            "hourly_cost": {"type": "string", "description": "What an hour of this user costs (opportunity cost), e.g. \"45.00\""}}},
    })
}

pub fn build() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for route in ROUTES {
        let mut params: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "integer"}}))
            .collect();
        if route.list {
            params.extend(list_parameters());
        }
        let write = route.method != "get";
        if write {
            params.push(json!({"name": "Idempotency-Key", "in": "header", "required": false,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
                "description": "Any unique value (a UUID): the same request sent again with it within a day gets the first answer again (header Idempotent-Replayed: true) instead of writing twice. The same key with another method, path or body is refused (422); while the first request runs, 409."}));
        }
        let ok = match (route.method, route.response) {
            ("post", Some(_)) => "201",
            ("get", _) => "200",
            (_, None) => "204",
            _ => "200",
        };
        let mut responses = Map::new();
        let content = route
            .response
            .map(|r| json!({"application/json": {"schema": {"$ref": format!("#/components/schemas/{r}")}}}))
            .unwrap_or(json!({"application/json": {"schema": {"type": "object"}}}));
        responses.insert(
            ok.into(),
            if ok == "204" {
                json!({"description": "Done"})
            } else {
                json!({"description": "Success", "content": content})
            },
        );
        let errors = [
            ("401", "No valid session or API key"),
            ("403", "The role does not allow it"),
            ("404", "Not found"),
            ("422", "Invalid input: see error.fields"),
            ("429", "Too many requests from this key or address: wait the Retry-After seconds"),
        ];
        let conflict = ("409", "A conflicting change, or a request with this Idempotency-Key still running");
        for (code, what) in errors.into_iter().chain(write.then_some(conflict)) {
            let mut r = json!({"description": what, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
            if code == "429" {
                r["headers"] = json!({"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer", "minimum": 1}}});
            }
            responses.insert(code.into(), r);
        }
        let mut op = json!({
            "summary": route.summary,
            "tags": [route.tag],
            "operationId": format!("{}_{}", route.method, route.path.trim_start_matches("/api/v1/").replace(['/', '{', '}', '-'], "_")),
            "parameters": params,
            "responses": responses,
        });
        if let Some(b) = route.body {
            op["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{b}")}}}});
        }
        paths.entry(route.path.to_string()).or_insert_with(|| json!({}))[route.method] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Carnet API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Accounts, contacts and settings of a Carnet CRM. Authenticate with `Authorization: Bearer <API key>` (create one with `carnet api-key create` or on your profile page). Lists are paged by cursor: pass `next_cursor` as `after`. Each API key (or session) may send 600 requests a minute and each address 1,200 (the server's `--api-rate-limit` sets it); beyond, 429 with `Retry-After`. Writes accept an `Idempotency-Key` header to be retried safely."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas(),
        },
        "security": [{"bearer": []}],
    })
}

pub async fn document() -> Json<Value> {
    Json(build())
}
