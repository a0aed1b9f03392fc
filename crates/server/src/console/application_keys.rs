//! An application's access keys on its page: create one (its secret is shown on
//! the answer to that post and never again), pause and resume, delete after asking.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use podium_core::error::CoreError;
use podium_core::security::model::KeyStatus;
use podium_core::service::applications::KeyView;
use serde::Deserialize;

use super::applications::{Empty, PATH, back_to};
use super::form::PageForm;
use super::layout::{self, Chrome, segment, when};
use super::viewer::Viewer;
use crate::http::state::AppState;

/// A key as the application's page lists it.
pub struct KeyRow {
    pub id: String,
    pub created: String,
    pub status: &'static str,
    pub active: bool,
    pub last_used: String,
}

impl From<KeyView> for KeyRow {
    fn from(key: KeyView) -> KeyRow {
        let active = key.status == KeyStatus::Active;
        KeyRow {
            id: key.id,
            created: when(key.created_at),
            status: if active { "Active" } else { "Paused" },
            active,
            last_used: key.last_used_at.map(when).unwrap_or_else(|| "never".into()),
        }
    }
}

#[derive(Template)]
#[template(path = "console/key_created.html")]
struct Created {
    chrome: Chrome,
    app_id: String,
    app_name: String,
    key_id: String,
    secret: String,
}

/// `POST /applications/{id}/keys`: creates a key and shows its secret, once.
pub async fn create(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    PageForm(_): PageForm<Empty>,
) -> Response {
    let chrome = Chrome::of(&state, &viewer, PATH);
    let who = &viewer.principal;
    let app = match state.identity.get_application(who, &id).await {
        Ok(app) => app,
        Err(err) => return layout::refusal(Some(chrome), &err),
    };
    match state.identity.create_key(who, &id).await {
        Ok(key) => layout::render(
            StatusCode::OK,
            &Created {
                chrome,
                app_id: app.id,
                app_name: app.name,
                key_id: key.id,
                secret: key.secret,
            },
        ),
        Err(err) => layout::refusal(Some(chrome), &err),
    }
}

#[derive(Deserialize)]
pub struct StatusChange {
    status: String,
}

/// `POST /applications/{id}/keys/{key}/status`: pauses or resumes a key. The form
/// names the status wanted, so a form sent twice does not undo itself.
pub async fn set_status(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path((id, key)): Path<(String, String)>,
    PageForm(form): PageForm<StatusChange>,
) -> Response {
    let wanted = match form.status.as_str() {
        "ACTIVE" => KeyStatus::Active,
        "INACTIVE" => KeyStatus::Inactive,
        _ => {
            let err = CoreError::invalid("A key's status is ACTIVE or INACTIVE");
            return back_to(&state, &viewer, &id, Err::<(), _>(err));
        }
    };
    let who = &viewer.principal;
    // Even a status that would not change is set only by who manages the keys.
    if let Err(err) = state.identity.application_access(who, &id) {
        return back_to(&state, &viewer, &id, Err::<(), _>(err));
    }
    let current = match state.identity.list_keys(who, &id).await {
        Ok(keys) => keys.into_iter().find(|k| k.id == key).map(|k| k.status),
        Err(err) => return back_to(&state, &viewer, &id, Err::<(), _>(err)),
    };
    let done = match current {
        Some(status) if status == wanted => Ok(()),
        _ => state.identity.toggle_key(who, &id, &key).await.map(|_| ()),
    };
    back_to(&state, &viewer, &id, done)
}

/// `GET /applications/{id}/keys/{key}/delete`: asks first.
pub async fn confirm_delete(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path((id, key)): Path<(String, String)>,
) -> Response {
    let chrome = Chrome::of(&state, &viewer, PATH);
    let who = &viewer.principal;
    let keys = match state.identity.application_access(who, &id) {
        Ok(_) => state.identity.list_keys(who, &id).await,
        Err(err) => Err(err),
    };
    match keys.map(|keys| keys.iter().any(|k| k.id == key)) {
        Ok(true) => layout::confirm(
            chrome,
            &format!("Delete access key {key}?"),
            "Tokens minted from it are refused from the next request on. This cannot be undone.",
            &format!("{PATH}/{}/keys/{}/delete", segment(&id), segment(&key)),
            "Delete key",
            &format!("{PATH}/{}", segment(&id)),
        ),
        Ok(false) => layout::refusal(
            Some(chrome),
            &CoreError::NotFound(format!("Access key '{key}' not found")),
        ),
        Err(err) => layout::refusal(Some(chrome), &err),
    }
}

/// `POST /applications/{id}/keys/{key}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path((id, key)): Path<(String, String)>,
    PageForm(_): PageForm<Empty>,
) -> Response {
    let done = state
        .identity
        .delete_key(&viewer.principal, &id, &key)
        .await;
    back_to(&state, &viewer, &id, done)
}
