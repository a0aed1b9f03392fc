//! The users pages (administrators): the list with a form to create a built-in
//! user; one user with their name, roles and groups, enabling and disabling, a
//! password reset, their grants, and deletion after asking. Every change goes
//! through the user and identity services as `/api/users` does.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use podium_core::error::{CoreError, CoreResult};
use podium_core::service::passwords::PasswordChange;
use podium_core::service::users::UpsertUser;
use serde_json::Value;

use super::applications::Empty;
use super::form::PageForm;
use super::layout::{self, Chrome};
use super::viewer::Viewer;
use crate::http::client_addr::ClientAddr;
use crate::http::state::AppState;

/// The menu entry's path.
pub const PATH: &str = "/users";
/// The built-in roles a person holds.
pub const PEOPLE_ROLES: [&str; 7] = [
    "ADMIN",
    "USER",
    "USER_READ_ONLY",
    "METADATA_MANAGER",
    "WORKFLOW_MANAGER",
    "OWNER",
    "OPERATOR",
];

/// The names in a view's `roles` (`[{name, ...}]`).
pub fn role_names(view: &Value) -> Vec<String> {
    view["roles"]
        .as_array()
        .map(|roles| {
            roles
                .iter()
                .filter_map(|r| r["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A grant as the pages list it.
pub struct GrantLine {
    pub kind: String,
    pub id: String,
    pub access: String,
}

/// The lines of `{grantedAccess: [{target: {type, id}, access: [...]}]}`.
pub fn grant_lines(granted: &Value) -> Vec<GrantLine> {
    granted["grantedAccess"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|g| GrantLine {
                    kind: g["target"]["type"].as_str().unwrap_or_default().to_string(),
                    id: g["target"]["id"].as_str().unwrap_or_default().to_string(),
                    access: g["access"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The roles ticked in a form (`role` fields), and custom roles typed
/// (comma-separated `custom`).
pub fn roles_of(fields: &[(String, String)]) -> Vec<String> {
    let mut roles: Vec<String> = fields
        .iter()
        .filter(|(n, _)| n == "role")
        .map(|(_, v)| v.clone())
        .collect();
    roles.extend(
        field(fields, "custom")
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string),
    );
    roles
}

/// A form field's value, trimmed (empty when absent).
pub fn field(fields: &[(String, String)], name: &str) -> String {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

/// A form field's value as typed (a password is never trimmed).
pub fn raw(fields: &[(String, String)], name: &str) -> String {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// A user as the list shows them.
pub struct UserRow {
    pub id: String,
    pub name: String,
    pub roles: String,
    pub groups: String,
    pub disabled: bool,
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct List {
    chrome: Chrome,
    users: Vec<UserRow>,
    roles: [&'static str; 7],
}

/// `GET /users`.
pub async fn list(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    let chrome = Chrome::of(&state, &viewer, PATH);
    match state.users.list_users(&viewer.principal, false) {
        Ok(users) => {
            let users = users
                .iter()
                .map(|u| UserRow {
                    id: u["id"].as_str().unwrap_or_default().to_string(),
                    name: u["name"].as_str().unwrap_or_default().to_string(),
                    roles: role_names(u).join(", "),
                    groups: u["groups"]
                        .as_array()
                        .map(|g| {
                            g.iter()
                                .filter_map(|g| g["id"].as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_default(),
                    disabled: u["disabled"].as_bool().unwrap_or(false),
                })
                .collect();
            layout::render(
                StatusCode::OK,
                &List {
                    chrome,
                    users,
                    roles: PEOPLE_ROLES,
                },
            )
        }
        Err(err) => layout::refusal(Some(chrome), &err),
    }
}

/// `POST /users`: creates a built-in user.
pub async fn create(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    PageForm(fields): PageForm<Vec<(String, String)>>,
) -> Response {
    let id = field(&fields, "id");
    let done = async {
        if id.is_empty() {
            return Err(CoreError::invalid("A user needs an id"));
        }
        if state.users.get_user(&viewer.principal, &id).is_ok() {
            return Err(CoreError::Conflict(format!("User '{id}' exists already")));
        }
        let password = Some(raw(&fields, "password")).filter(|p| !p.is_empty());
        let request = UpsertUser {
            name: Some(field(&fields, "name")).filter(|n| !n.is_empty()),
            roles: Some(roles_of(&fields)),
            password,
            ..UpsertUser::default()
        };
        state
            .users
            .upsert_user(&viewer.principal, &id, request)
            .await
            .map(|_| ())
    }
    .await;
    back(&state, &viewer, &id, done)
}

fn back(state: &AppState, viewer: &Viewer, id: &str, done: CoreResult<()>) -> Response {
    let page = format!("{PATH}/{}", layout::segment(id));
    layout::after(state, viewer, PATH, &page, done)
}

/// Changes an existing user (creating one is the list's form, which never
/// overwrites).
async fn change_existing(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    request: UpsertUser,
) -> CoreResult<()> {
    state.users.get_user(&viewer.principal, id)?;
    state
        .users
        .upsert_user(&viewer.principal, id, request)
        .await
        .map(|_| ())
}

/// A role offered on a user's page.
pub struct RoleBox {
    pub name: &'static str,
    pub held: bool,
}

#[derive(Template)]
#[template(path = "console/user.html")]
struct One {
    chrome: Chrome,
    id: String,
    name: String,
    roles: Vec<RoleBox>,
    custom: String,
    groups: String,
    disabled: bool,
    source: String,
    grants: Vec<GrantLine>,
    /// Whether it is the person's own page (a password change needs the current one).
    own: bool,
}

/// `GET /users/{id}`.
pub async fn one(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
) -> Response {
    let chrome = Chrome::of(&state, &viewer, PATH);
    let who = &viewer.principal;
    let found = state
        .users
        .get_user(who, &id)
        .and_then(|user| Ok((user, state.users.user_permissions(who, &id)?)));
    match found {
        Ok((user, granted)) => {
            let held = role_names(&user);
            let page = One {
                chrome,
                id: id.clone(),
                name: user["name"].as_str().unwrap_or_default().to_string(),
                roles: PEOPLE_ROLES
                    .into_iter()
                    .map(|name| RoleBox {
                        name,
                        held: held.iter().any(|h| h == name),
                    })
                    .collect(),
                custom: held
                    .iter()
                    .filter(|h| !PEOPLE_ROLES.contains(&h.as_str()))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                groups: user["groups"]
                    .as_array()
                    .map(|g| {
                        g.iter()
                            .filter_map(|g| g["id"].as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default(),
                disabled: user["disabled"].as_bool().unwrap_or(false),
                source: user["identitySource"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                grants: grant_lines(&granted),
                own: viewer.principal.id() == id,
            };
            layout::render(StatusCode::OK, &page)
        }
        Err(err) => layout::refusal(Some(chrome), &err),
    }
}

/// `POST /users/{id}`: the name, roles and groups as the form has them.
pub async fn update(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    PageForm(fields): PageForm<Vec<(String, String)>>,
) -> Response {
    let groups: Vec<String> = field(&fields, "groups")
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_string)
        .collect();
    let request = UpsertUser {
        name: Some(field(&fields, "name")).filter(|n| !n.is_empty()),
        roles: Some(roles_of(&fields)),
        groups: Some(groups),
        ..UpsertUser::default()
    };
    let done = change_existing(&state, &viewer, &id, request).await;
    back(&state, &viewer, &id, done)
}

/// `POST /users/{id}/disabled`: disables or enables (`disabled` = `true`/`false`).
pub async fn set_disabled(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    PageForm(fields): PageForm<Vec<(String, String)>>,
) -> Response {
    let disabled = match field(&fields, "disabled").as_str() {
        "true" => true,
        "false" => false,
        _ => {
            let err = CoreError::invalid("disabled is true or false");
            return back(&state, &viewer, &id, Err(err));
        }
    };
    let request = UpsertUser {
        disabled: Some(disabled),
        ..UpsertUser::default()
    };
    let done = change_existing(&state, &viewer, &id, request).await;
    back(&state, &viewer, &id, done)
}

/// `POST /users/{id}/password`: an administrator sets a user's password (their own
/// with the current one).
pub async fn reset_password(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    ClientAddr(client): ClientAddr,
    Path(id): Path<String>,
    PageForm(fields): PageForm<Vec<(String, String)>>,
) -> Response {
    // One's own password needs the current one, as the API asks.
    let change = PasswordChange {
        old_password: Some(raw(&fields, "old_password")).filter(|p| !p.is_empty()),
        new_password: Some(raw(&fields, "password")),
    };
    let done = state
        .identity
        .change_password(&viewer.principal, &id, change, client)
        .await;
    back(&state, &viewer, &id, done)
}

/// `GET /users/{id}/delete`: asks first.
pub async fn confirm_delete(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
) -> Response {
    let chrome = Chrome::of(&state, &viewer, PATH);
    match state.users.get_user(&viewer.principal, &id) {
        Ok(_) => layout::confirm(
            chrome,
            &format!("Delete user {id}?"),
            "Their sessions and tokens stop at once, and their grants go with them. This cannot be undone.",
            &format!("{PATH}/{}/delete", layout::segment(&id)),
            "Delete user",
            &format!("{PATH}/{}", layout::segment(&id)),
        ),
        Err(err) => layout::refusal(Some(chrome), &err),
    }
}

/// `POST /users/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    PageForm(_): PageForm<Empty>,
) -> Response {
    match state.users.delete_user(&viewer.principal, &id).await {
        Ok(()) => layout::see_other(PATH),
        Err(err) => layout::refusal(Some(Chrome::of(&state, &viewer, PATH)), &err),
    }
}
