//! The groups pages (administrators): the list with a form to create one; one
//! group with its description and roles, its members (add, remove), its grants,
//! and deletion after asking, through the user service as `/api/groups` does.

use std::collections::BTreeMap;

use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use podium_core::error::{CoreError, CoreResult};
use podium_core::service::users::UpsertGroup;
use serde_json::Value;

use super::applications::Empty;
use super::form::PageForm;
use super::layout::{self, Chrome, segment};
use super::people::{GrantLine, PEOPLE_ROLES, RoleBox, field, grant_lines, role_names, roles_of};
use super::viewer::Viewer;
use crate::http::state::AppState;

/// The pages' path (under the Users menu entry).
const PATH: &str = "/groups";
const MENU: &str = super::people::PATH;

/// A group as the list shows it.
pub struct GroupRow {
    pub id: String,
    pub description: String,
    pub roles: String,
}

#[derive(Template)]
#[template(path = "console/groups.html")]
struct List {
    chrome: Chrome,
    groups: Vec<GroupRow>,
    roles: [&'static str; 7],
}

fn text(value: &Value, key: &str) -> String {
    value[key].as_str().unwrap_or_default().to_string()
}

/// `GET /groups`.
pub async fn list(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    let chrome = Chrome::of(&state, &viewer, MENU);
    match state.users.list_groups(&viewer.principal) {
        Ok(groups) => layout::render(
            StatusCode::OK,
            &List {
                chrome,
                groups: groups
                    .iter()
                    .map(|g| GroupRow {
                        id: text(g, "id"),
                        description: text(g, "description"),
                        roles: role_names(g).join(", "),
                    })
                    .collect(),
                roles: PEOPLE_ROLES,
            },
        ),
        Err(err) => layout::refusal(Some(chrome), &err),
    }
}

fn back(state: &AppState, viewer: &Viewer, id: &str, done: CoreResult<()>) -> Response {
    layout::after(
        state,
        viewer,
        MENU,
        &format!("{PATH}/{}", segment(id)),
        done,
    )
}

/// `POST /groups`: creates a group.
pub async fn create(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    PageForm(fields): PageForm<Vec<(String, String)>>,
) -> Response {
    let id = field(&fields, "id");
    let done = async {
        if id.is_empty() {
            return Err(CoreError::invalid("A group needs an id"));
        }
        if state.users.get_group(&viewer.principal, &id).is_ok() {
            return Err(CoreError::Conflict(format!("Group '{id}' exists already")));
        }
        save(&state, &viewer, &id, &fields, false).await
    }
    .await;
    back(&state, &viewer, &id, done)
}

/// The definition types a group's default access is given on, with the form
/// field that ticks each's accesses.
const DEFAULT_ACCESS: [(&str, &str); 2] =
    [("WORKFLOW_DEF", "wf_access"), ("TASK_DEF", "task_access")];

/// The default access a group page's form ticks.
fn default_access_of(fields: &[(String, String)]) -> BTreeMap<String, Vec<String>> {
    DEFAULT_ACCESS
        .iter()
        .map(|(kind, name)| {
            let ticked = fields
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .collect();
            (kind.to_string(), ticked)
        })
        .collect()
}

async fn save(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    fields: &[(String, String)],
    with_default_access: bool,
) -> CoreResult<()> {
    let request = UpsertGroup {
        description: Some(field(fields, "description")),
        roles: Some(roles_of(fields)),
        default_access: with_default_access.then(|| default_access_of(fields)),
    };
    state
        .users
        .upsert_group(&viewer.principal, id, request)
        .await
        .map(|_| ())
}

/// One definition type's default access on the page: its label, the form field,
/// and each access, ticked or not.
type DefaultAccess = (&'static str, &'static str, Vec<(&'static str, bool)>);

#[derive(Template)]
#[template(path = "console/group.html")]
struct One {
    chrome: Chrome,
    id: String,
    description: String,
    roles: Vec<RoleBox>,
    custom: String,
    members: Vec<(String, String)>,
    grants: Vec<GrantLine>,
    default_access: Vec<DefaultAccess>,
}

/// `GET /groups/{id}`.
pub async fn one(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
) -> Response {
    let chrome = Chrome::of(&state, &viewer, MENU);
    let who = &viewer.principal;
    let found = state.users.get_group(who, &id).and_then(|group| {
        Ok((
            group,
            state.users.group_users(who, &id)?,
            state.users.group_permissions(who, &id)?,
        ))
    });
    match found {
        Ok((group, members, granted)) => {
            let held = role_names(&group);
            layout::render(
                StatusCode::OK,
                &One {
                    chrome,
                    id: id.clone(),
                    description: text(&group, "description"),
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
                    members: members
                        .iter()
                        .map(|m| (text(m, "id"), text(m, "name")))
                        .collect(),
                    grants: grant_lines(&granted),
                    default_access: DEFAULT_ACCESS
                        .iter()
                        .map(|(kind, name)| {
                            let held = &group["defaultAccess"][*kind];
                            let ticked = |a: &str| {
                                held.as_array()
                                    .is_some_and(|l| l.iter().any(|v| v.as_str() == Some(a)))
                            };
                            let label = if *kind == "WORKFLOW_DEF" {
                                "workflow definitions"
                            } else {
                                "task definitions"
                            };
                            let accesses = ["READ", "UPDATE", "EXECUTE", "DELETE"]
                                .into_iter()
                                .map(|a| (a, ticked(a)))
                                .collect();
                            (label, *name, accesses)
                        })
                        .collect(),
                },
            )
        }
        Err(err) => layout::refusal(Some(chrome), &err),
    }
}

/// `POST /groups/{id}`: the description and roles as the form has them.
pub async fn update(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    PageForm(fields): PageForm<Vec<(String, String)>>,
) -> Response {
    let done = async {
        state.users.get_group(&viewer.principal, &id)?;
        save(&state, &viewer, &id, &fields, true).await
    }
    .await;
    back(&state, &viewer, &id, done)
}

/// `POST /groups/{id}/members`: adds (`change=add`) or removes a user.
pub async fn members(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    PageForm(fields): PageForm<Vec<(String, String)>>,
) -> Response {
    let add = field(&fields, "change") == "add";
    let user = field(&fields, "user");
    let done = state
        .users
        .change_members(&viewer.principal, &id, vec![user], add)
        .await;
    back(&state, &viewer, &id, done)
}

/// `GET /groups/{id}/delete`: asks first.
pub async fn confirm_delete(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
) -> Response {
    let chrome = Chrome::of(&state, &viewer, MENU);
    match state.users.get_group(&viewer.principal, &id) {
        Ok(_) => layout::confirm(
            chrome,
            &format!("Delete group {id}?"),
            "Its members lose what it gave them at once, and its grants go with it. This cannot be undone.",
            &format!("{PATH}/{}/delete", segment(&id)),
            "Delete group",
            &format!("{PATH}/{}", segment(&id)),
        ),
        Err(err) => layout::refusal(Some(chrome), &err),
    }
}

/// `POST /groups/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    PageForm(_): PageForm<Empty>,
) -> Response {
    match state.users.delete_group(&viewer.principal, &id).await {
        Ok(()) => layout::see_other(PATH),
        Err(err) => layout::refusal(Some(Chrome::of(&state, &viewer, MENU)), &err),
    }
}
