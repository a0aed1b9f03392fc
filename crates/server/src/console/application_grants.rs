//! An application's workflow and task permissions on its page: add one (type,
//! name, accesses) and remove a row, through the grants service as
//! `/api/auth/authorization` makes them, so who may grant what is decided there.

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::Response;
use podium_core::error::CoreError;
use podium_core::security::model::Access;
use podium_core::service::grants::{AuthorizationRequest, RefRequest};

use super::applications::back_to;
use super::form::PageForm;
use super::viewer::Viewer;
use crate::http::state::AppState;

/// Most fields a permission form holds (its token, a type, a name, the accesses).
const MAX_FIELDS: usize = 16;

/// The request for the application's grant on the target the form names, with the
/// accesses it names (or `all`).
fn request(
    id: &str,
    fields: &[(String, String)],
    all: bool,
) -> Result<AuthorizationRequest, CoreError> {
    if fields.len() > MAX_FIELDS {
        return Err(CoreError::invalid("The form has too many fields"));
    }
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let access = if all {
        Access::ALL
            .into_iter()
            .map(|a| a.name().to_string())
            .collect()
    } else {
        fields
            .iter()
            .filter(|(n, _)| n == "access")
            .map(|(_, v)| v.clone())
            .collect()
    };
    Ok(AuthorizationRequest {
        subject: Some(RefRequest {
            kind: "USER".into(),
            id: format!("app:{id}"),
        }),
        target: Some(RefRequest {
            kind: field("type"),
            id: field("name"),
        }),
        access,
    })
}

/// `POST /applications/{id}/permissions`: grants the accesses ticked.
pub async fn add(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    PageForm(fields): PageForm<Vec<(String, String)>>,
) -> Response {
    let done = match request(&id, &fields, false) {
        Ok(request) => {
            // The application must be one the person may read, as its page is.
            match state.identity.get_application(&viewer.principal, &id).await {
                Ok(_) => state.users.grant(&viewer.principal, request).await,
                Err(err) => Err(err),
            }
        }
        Err(err) => Err(err),
    };
    back_to(&state, &viewer, &id, done)
}

/// `POST /applications/{id}/permissions/set`: the accesses on the target become
/// exactly those ticked (none: the grant goes).
pub async fn set(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    PageForm(fields): PageForm<Vec<(String, String)>>,
) -> Response {
    let who = &viewer.principal;
    let done = async {
        let wanted = request(&id, &fields, false)?;
        state.identity.get_application(who, &id).await?;
        state.users.set_grant(who, wanted).await
    }
    .await;
    back_to(&state, &viewer, &id, done)
}

/// `POST /applications/{id}/permissions/remove`: takes every access on the target
/// away.
pub async fn remove(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    PageForm(fields): PageForm<Vec<(String, String)>>,
) -> Response {
    let done = match request(&id, &fields, true) {
        Ok(request) => match state.identity.get_application(&viewer.principal, &id).await {
            Ok(_) => state.users.revoke(&viewer.principal, request).await,
            Err(err) => Err(err),
        },
        Err(err) => Err(err),
    };
    back_to(&state, &viewer, &id, done)
}
