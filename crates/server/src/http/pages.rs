//! The HTML pages of the browser sign-in: the login page and messages (the
//! console's pages are in `console`). Every text that comes from a person or a
//! provider is escaped; every page is sent with headers that keep it from being
//! framed, sniffed, cached or made to run script that is not Podium's own.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The Content-Security-Policy of every page: Podium's own script and style only,
/// forms only to Podium, never in a frame.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// `text` with the characters HTML gives meaning to written as entities.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// The headers every page and asset is sent with.
pub fn secure_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// A page: `body` is HTML already escaped where it must be.
pub fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Podium</title><link rel=\"stylesheet\" href=\"/static/podium.css\">\
         <script src=\"/static/session.js\" defer></script></head>\
         <body><main>{body}</main></body></html>\n",
        escape(title)
    );
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    secure_headers(&mut response);
    response
}

/// The login page: the password form, and the provider's button when there is one.
pub fn login(
    status: StatusCode,
    error: Option<&str>,
    typed: &str,
    provider: Option<&str>,
) -> Response {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let provider = provider
        .map(|name| {
            format!(
                "<p class=\"or\">or</p><a class=\"button\" href=\"/login/oidc\">Sign in with {}</a>",
                escape(name)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>Sign in to Podium</h1>{error}\
         <form method=\"post\" action=\"/login\">\
         <label for=\"username\">User name</label>\
         <input id=\"username\" name=\"username\" autocomplete=\"username\" required value=\"{}\">\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Sign in</button></form>{provider}",
        escape(typed)
    );
    page(status, "Sign in", &body)
}

/// A page that says what went wrong, with a way back to the login page.
pub fn message(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<h1>{}</h1><p class=\"error\" role=\"alert\">{}</p><p><a href=\"/login\">Back to sign-in</a></p>",
        escape(title),
        escape(text)
    );
    page(status, title, &body)
}

/// A static asset compiled into the binary.
pub fn asset(content_type: &'static str, text: &'static str) -> Response {
    let mut response = ([(header::CONTENT_TYPE, content_type)], text).into_response();
    secure_headers(&mut response);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_text_is_shown_as_text() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
