//! The applications pages: the list with a form to create one, and one
//! application with its name, roles, access keys (see `application_keys`) and
//! permissions (see `application_grants`), each change made through the identity
//! service as the API makes it.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use podium_core::error::{CoreError, CoreResult};
use podium_core::security::Role;
use podium_core::security::model::{Access, TargetType};
use podium_core::service::applications::{ApplicationAccess, ApplicationView};
use serde::Deserialize;

use super::form::PageForm;
use super::layout::{self, Chrome, when};
use super::viewer::Viewer;
use crate::http::state::AppState;

/// The menu entry's path.
pub const PATH: &str = "/applications";

/// An application as the pages show it.
pub struct AppRow {
    pub id: String,
    pub name: String,
    pub created_by: String,
    pub created: String,
}

impl From<ApplicationView> for AppRow {
    fn from(app: ApplicationView) -> AppRow {
        AppRow {
            id: app.id,
            name: app.name,
            created_by: app.created_by,
            created: when(app.create_time),
        }
    }
}

#[derive(Template)]
#[template(path = "console/applications.html")]
struct List {
    chrome: Chrome,
    may_create: bool,
    apps: Vec<AppRow>,
}

/// `GET /applications`.
pub async fn list(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    let chrome = Chrome::of(&state, &viewer, PATH);
    // As the menu decides (see `menu`): nothing to create, nothing to read.
    if !state.identity.may_use_applications(&viewer.principal) {
        let refused = CoreError::Forbidden(
            "You don't have permissions to use applications: you may neither create one nor read any"
                .into(),
        );
        return layout::refusal(Some(chrome), &refused);
    }
    match state.identity.list_applications(&viewer.principal).await {
        Ok(apps) => layout::render(
            StatusCode::OK,
            &List {
                chrome,
                may_create: state.identity.may_create_applications(&viewer.principal),
                apps: apps.into_iter().map(AppRow::from).collect(),
            },
        ),
        Err(err) => layout::refusal(Some(chrome), &err),
    }
}

#[derive(Deserialize)]
pub struct Named {
    name: String,
}

/// `POST /applications`: creates one, then shows it.
pub async fn create(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    PageForm(form): PageForm<Named>,
) -> Response {
    match state
        .identity
        .create_application(&viewer.principal, &form.name)
        .await
    {
        Ok(app) => layout::see_other(&format!("{PATH}/{}", layout::segment(&app.id))),
        Err(err) => layout::refusal(Some(Chrome::of(&state, &viewer, PATH)), &err),
    }
}

/// A role an application may hold, as the page offers it.
pub struct RoleRow {
    pub name: &'static str,
    pub label: &'static str,
    pub held: bool,
}

/// What people call a role an application may hold.
fn label(role: Role) -> &'static str {
    match role {
        Role::Admin => "Administrator",
        Role::MetadataManager => "Metadata manager",
        Role::WorkflowManager => "Workflow manager",
        Role::Worker => "Worker",
        Role::MetadataApi => "Metadata API",
        Role::ApplicationCreator => "Application API",
        Role::UnrestrictedWorker => "Unrestricted worker",
        Role::ApplicationManager => "Application manager",
        Role::User | Role::UserReadOnly | Role::Owner | Role::Operator => "Person's role",
    }
}

/// A grant to the application, as the page shows it.
pub struct GrantRow {
    pub kind: &'static str,
    pub id: String,
    /// Every access, and whether the grant holds it.
    pub held: Vec<(&'static str, bool)>,
}

#[derive(Template)]
#[template(path = "console/application.html")]
struct One {
    chrome: Chrome,
    /// Whether the person may manage it (roles, keys, permissions, name).
    manages: bool,
    app: AppRow,
    roles: Vec<RoleRow>,
    custom_roles: Vec<String>,
    keys: Vec<super::application_keys::KeyRow>,
    grants: Vec<GrantRow>,
    target_types: Vec<&'static str>,
    accesses: Vec<&'static str>,
}

/// `GET /applications/{id}`.
pub async fn one(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
) -> Response {
    let chrome = Chrome::of(&state, &viewer, PATH);
    match one_page(&state, &viewer, &id).await {
        Ok(mut page) => {
            page.chrome = chrome;
            layout::render(StatusCode::OK, &page)
        }
        Err(err) => layout::refusal(Some(chrome), &err),
    }
}

async fn one_page(state: &AppState, viewer: &Viewer, id: &str) -> CoreResult<One> {
    let who = &viewer.principal;
    let app = state.identity.get_application(who, id).await?;
    // Its roles, grants and keys, to who may manage it; a reader sees the rest.
    let access = match state.identity.application_access(who, id) {
        Ok(access) => Some(access),
        Err(CoreError::Forbidden(_)) => None,
        Err(err) => return Err(err),
    };
    let manages = access.is_some();
    let access = access.unwrap_or(ApplicationAccess {
        roles: Vec::new(),
        grants: Vec::new(),
    });
    let keys = if manages {
        state.identity.list_keys(who, id).await?
    } else {
        Vec::new()
    };
    let held = |name: &str| access.roles.iter().any(|r| r == name);
    let roles = Role::ALL
        .into_iter()
        .filter(|r| r.for_applications())
        .map(|r| RoleRow {
            name: r.name(),
            label: label(r),
            held: held(r.name()),
        })
        .collect();
    let custom_roles = access
        .roles
        .iter()
        .filter(|r| Role::parse(r).is_none())
        .cloned()
        .collect();
    let grants = access
        .grants
        .iter()
        .map(|g| GrantRow {
            kind: g.target.kind.name(),
            id: g.target.id.clone(),
            held: Access::ALL
                .into_iter()
                .map(|a| (a.name(), g.access.contains(a)))
                .collect(),
        })
        .collect();
    Ok(One {
        chrome: Chrome::blank(),
        manages,
        app: AppRow::from(app),
        roles,
        custom_roles,
        keys: keys
            .into_iter()
            .map(super::application_keys::KeyRow::from)
            .collect(),
        grants,
        target_types: TargetType::ALL.into_iter().map(TargetType::name).collect(),
        accesses: Access::ALL.into_iter().map(Access::name).collect(),
    })
}

/// The page of an application, after a change to it (or the refusal).
pub fn back_to(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    done: CoreResult<impl Sized>,
) -> Response {
    let page = format!("{PATH}/{}", layout::segment(id));
    layout::after(state, viewer, PATH, &page, done)
}

/// `POST /applications/{id}/name`.
pub async fn rename(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    PageForm(form): PageForm<Named>,
) -> Response {
    let done = state
        .identity
        .update_application(&viewer.principal, &id, &form.name)
        .await;
    back_to(&state, &viewer, &id, done)
}

#[derive(Deserialize)]
pub struct RoleChange {
    role: String,
    change: String,
}

/// `POST /applications/{id}/roles`: gives a role or takes it away.
pub async fn change_role(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    PageForm(form): PageForm<RoleChange>,
) -> Response {
    let add = match form.change.as_str() {
        "add" => true,
        "remove" => false,
        _ => {
            let err = CoreError::invalid("A role is either given (add) or taken away (remove)");
            return back_to(&state, &viewer, &id, Err::<(), _>(err));
        }
    };
    let done = state
        .identity
        .change_role(&viewer.principal, &id, &form.role, add)
        .await;
    back_to(&state, &viewer, &id, done)
}

/// `GET /applications/{id}/delete`: asks first.
pub async fn confirm_delete(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
) -> Response {
    let chrome = Chrome::of(&state, &viewer, PATH);
    match state.identity.get_application(&viewer.principal, &id).await {
        Ok(app) => layout::confirm(
            chrome,
            &format!("Delete application {}?", app.name),
            "Its access keys are deleted and their tokens stop working at once; its permissions go with it. This cannot be undone.",
            &format!("{PATH}/{}/delete", layout::segment(&id)),
            "Delete application",
            &format!("{PATH}/{}", layout::segment(&id)),
        ),
        Err(err) => layout::refusal(Some(chrome), &err),
    }
}

/// `POST /applications/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    PageForm(_): PageForm<Empty>,
) -> Response {
    match state
        .identity
        .delete_application(&viewer.principal, &id)
        .await
    {
        Ok(()) => layout::see_other(PATH),
        Err(err) => layout::refusal(Some(Chrome::of(&state, &viewer, PATH)), &err),
    }
}

/// A form with nothing but its token.
#[derive(Deserialize)]
pub struct Empty {}
