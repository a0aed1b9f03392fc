//! Forms posted from console pages. Each carries the person's form token (see
//! `Viewer::form_token`), checked before anything in it is read: a post forged by
//! another site, or made from a page of an earlier session, changes nothing.

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::Response;
use serde::de::DeserializeOwned;

use super::layout;
use super::viewer::Viewer;
use crate::http::state::AppState;

/// Largest form read (a workflow's input, typed as JSON, is the largest field).
pub const MAX_FORM_BYTES: usize = 256 * 1024;
/// The field that holds the form token.
pub const TOKEN_FIELD: &str = "csrf";

/// A form's fields, read as `T`, after its token was checked.
pub struct PageForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for PageForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, _state: &AppState) -> Result<Self, Response> {
        let Some(viewer) = req.extensions().get::<Viewer>().cloned() else {
            return Err(layout::message(
                StatusCode::FORBIDDEN,
                "Signed out",
                "Sign in to use this page.",
            ));
        };
        let bytes = axum::body::to_bytes(req.into_body(), MAX_FORM_BYTES)
            .await
            .map_err(|_| {
                layout::message(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Too large",
                    &format!("A form sent here is at most {MAX_FORM_BYTES} bytes."),
                )
            })?;
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| not_a_form("The form could not be read."))?;
        let token = fields
            .iter()
            .find(|(name, _)| name == TOKEN_FIELD)
            .map(|(_, value)| value.as_str())
            .unwrap_or_default();
        if !viewer.accepts(token) {
            return Err(layout::message(
                StatusCode::FORBIDDEN,
                "Form refused",
                "This form was not sent from your current Podium page, so nothing was changed. Reload the page and try again.",
            ));
        }
        serde_urlencoded::from_bytes(&bytes)
            .map(PageForm)
            .map_err(|err| not_a_form(&format!("The form is not complete: {err}")))
    }
}

fn not_a_form(text: &str) -> Response {
    layout::message(StatusCode::BAD_REQUEST, "Not accepted", text)
}
