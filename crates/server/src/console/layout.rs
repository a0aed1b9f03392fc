//! What every console page shares: the chrome around it (who is signed in, the
//! menu, Copy Token, sign-out), rendering a template into a response with the
//! security headers of every page, and the pages that say no.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use podium_core::error::{CoreError, CoreResult};

use super::menu::{self, MenuItem};
use super::viewer::Viewer;
use crate::http::pages;
use crate::http::state::AppState;

/// The frame of a page.
pub struct Chrome {
    /// The signed-in person's display name and id (empty when nobody is).
    pub name: String,
    pub id: String,
    /// Whether there is a session to copy a token of and to end.
    pub signed_in: bool,
    /// The pages this person may use.
    pub menu: Vec<MenuItem>,
    /// The token each of the page's forms carries.
    pub form_token: String,
}

impl Chrome {
    /// The frame of a page at `current` (a menu entry's path) for `viewer`.
    pub fn of(state: &AppState, viewer: &Viewer, current: &str) -> Chrome {
        Chrome {
            name: viewer.principal.name().to_string(),
            id: viewer.principal.id().to_string(),
            signed_in: viewer.signed_in(),
            menu: menu::for_viewer(state, viewer, current),
            form_token: viewer.form_token(),
        }
    }

    /// No frame: for pages shown to someone not (or no longer) signed in, and as a
    /// placeholder until a page's frame is set.
    pub fn blank() -> Chrome {
        Chrome {
            name: String::new(),
            id: String::new(),
            signed_in: false,
            menu: Vec::new(),
            form_token: String::new(),
        }
    }
}

/// A template rendered as a page. A template that cannot be rendered (a value whose
/// display fails) is a 500 that says nothing of the page's data.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => html_response(status, html),
        Err(err) => {
            tracing::error!(error = %err, "a console page could not be rendered");
            html_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><title>Podium</title><p>This page could not be shown.</p>"
                    .to_string(),
            )
        }
    }
}

fn html_response(status: StatusCode, html: String) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    pages::secure_headers(&mut response);
    response
}

/// A time in milliseconds since the epoch, as people read it (UTC).
pub fn when(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// `text` as one segment of a path, percent-encoded (an id may hold `/`, `?`...).
pub fn segment(text: &str) -> String {
    let mut url = match url::Url::parse("http://podium.invalid/") {
        Ok(url) => url,
        Err(_) => return String::new(),
    };
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.push(text);
    }
    url.path().trim_start_matches('/').to_string()
}

/// What a form's post answers: the page at `to` once the change `done` is made
/// (303), or the change's refusal in the frame of the menu entry `menu`.
pub fn after<T>(
    state: &AppState,
    viewer: &Viewer,
    menu: &str,
    to: &str,
    done: CoreResult<T>,
) -> Response {
    match done {
        Ok(_) => see_other(to),
        Err(err) => refusal(Some(Chrome::of(state, viewer, menu)), &err),
    }
}

/// Sends the browser to `to` (303: the next request is a GET).
pub fn see_other(to: &str) -> Response {
    let mut response = Redirect::to(to).into_response();
    pages::secure_headers(&mut response);
    response
}

#[derive(Template)]
#[template(path = "console/message.html")]
struct Message<'a> {
    chrome: Chrome,
    title: &'a str,
    text: &'a str,
}

/// A page that says what went wrong, in the frame when someone is signed in.
pub fn message_for(
    chrome: Option<Chrome>,
    status: StatusCode,
    title: &str,
    text: &str,
) -> Response {
    let page = Message {
        chrome: chrome.unwrap_or_else(Chrome::blank),
        title,
        text,
    };
    render(status, &page)
}

#[derive(Template)]
#[template(path = "console/confirm.html")]
struct Confirm<'a> {
    chrome: Chrome,
    title: &'a str,
    text: &'a str,
    action: &'a str,
    button: &'a str,
    back: &'a str,
}

/// A page that asks before something that cannot be undone: its button posts to
/// `action`, its Cancel link goes `back`.
pub fn confirm(
    chrome: Chrome,
    title: &str,
    text: &str,
    action: &str,
    button: &str,
    back: &str,
) -> Response {
    render(
        StatusCode::OK,
        &Confirm {
            chrome,
            title,
            text,
            action,
            button,
            back,
        },
    )
}

/// A page that says what went wrong, to someone not signed in.
pub fn message(status: StatusCode, title: &str, text: &str) -> Response {
    message_for(None, status, title, text)
}

/// A service's refusal as a page, with the status the API would answer. What went
/// wrong inside the server is not described.
pub fn refusal(chrome: Option<Chrome>, err: &CoreError) -> Response {
    let (status, title) = match err {
        CoreError::Forbidden(_) => (StatusCode::FORBIDDEN, "Not allowed"),
        CoreError::NotFound(_) => (StatusCode::NOT_FOUND, "Not found"),
        CoreError::Conflict(_) => (StatusCode::CONFLICT, "Conflict"),
        CoreError::InvalidInput { .. } => (StatusCode::BAD_REQUEST, "Not accepted"),
        CoreError::Unauthenticated { .. } => (StatusCode::UNAUTHORIZED, "Signed out"),
        CoreError::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "Too many requests"),
        CoreError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "Unavailable"),
        CoreError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong"),
    };
    let text = match err {
        CoreError::Internal(_) => {
            tracing::error!(error = %err, "a console page failed");
            "The server could not complete this. It has been logged; try again later.".to_string()
        }
        other => other.to_string(),
    };
    message_for(chrome, status, title, &text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_become_one_path_segment() {
        assert_eq!(super::segment("ada"), "ada");
        assert_eq!(super::segment("a/b c?d#e"), "a%2Fb%20c%3Fd%23e");
    }
}
