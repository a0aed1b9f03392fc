//! The console's menu: a page is in a person's menu only when the service behind it
//! would let them use it. Each entry's rule asks the authorizer the question the
//! page's service asks, so the menu never offers more than the page gives.

use super::viewer::Viewer;
use crate::http::state::AppState;

/// One entry of the menu.
pub struct MenuItem {
    pub href: &'static str,
    pub label: &'static str,
    /// Whether it is the page shown.
    pub current: bool,
}

/// Who may use a page.
enum Rule {
    /// Anyone signed in: the page's lists are filtered to what they may read.
    Everyone,
    /// Who may create an application or read one.
    Applications,
    /// Who may create a secret or variable, or read one.
    Secrets,
    /// Administrators.
    Admin,
}

/// The console's pages, in menu order.
const PAGES: &[(&str, &str, Rule)] = &[
    ("/", "Home", Rule::Everyone),
    ("/executions", "Executions", Rule::Everyone),
    ("/definitions", "Definitions", Rule::Everyone),
    ("/applications", "Applications", Rule::Applications),
    ("/secrets", "Secrets", Rule::Secrets),
    ("/users", "Users and groups", Rule::Admin),
    ("/audit", "Audit", Rule::Admin),
    ("/access/explain", "Why allowed?", Rule::Everyone),
];

/// The entries `viewer` may use, `current` marked.
pub fn for_viewer(state: &AppState, viewer: &Viewer, current: &str) -> Vec<MenuItem> {
    let who = &viewer.principal;
    PAGES
        .iter()
        .filter(|(_, _, rule)| match rule {
            Rule::Everyone => true,
            Rule::Applications => state.identity.may_use_applications(who),
            Rule::Secrets => super::secrets::may_use(state, viewer),
            Rule::Admin => state.users.may_manage(who),
        })
        .map(|(href, label, _)| MenuItem {
            href,
            label,
            current: *href == current,
        })
        .collect()
}
