//! The web console (ADR 0009): pages rendered by the server from templates compiled
//! into the binary, for people signed in with a browser session. Every page calls
//! the same core services as the API with the signed-in person's `Principal`, so it
//! shows what the API would show them; a service's refusal is the page's refusal.

mod application_grants;
mod application_keys;
mod applications;
mod audit;
mod definitions;
mod diagram;
mod execution;
mod execution_actions;
mod executions;
mod explain;
pub mod form;
mod groups;
mod home;
mod layout;
mod menu;
mod people;
mod secrets;
pub mod viewer;

use axum::http::Method;
use podium_core::security::RouteAccess;

use crate::http::routes::Routes;

/// Adds the console's pages.
pub fn routes(routes: Routes) -> Routes {
    use Method as M;
    use RouteAccess::Page;
    let routes = routes
        .add(M::GET, "/", Page, home::page)
        .add(M::GET, "/applications", Page, applications::list)
        .add(M::POST, "/applications", Page, applications::create)
        .add(M::GET, "/applications/{id}", Page, applications::one)
        .add(
            M::POST,
            "/applications/{id}/name",
            Page,
            applications::rename,
        )
        .add(
            M::POST,
            "/applications/{id}/roles",
            Page,
            applications::change_role,
        )
        .add(
            M::GET,
            "/applications/{id}/delete",
            Page,
            applications::confirm_delete,
        )
        .add(
            M::POST,
            "/applications/{id}/delete",
            Page,
            applications::delete,
        )
        .add(
            M::POST,
            "/applications/{id}/keys",
            Page,
            application_keys::create,
        )
        .add(
            M::POST,
            "/applications/{id}/keys/{key}/status",
            Page,
            application_keys::set_status,
        )
        .add(
            M::GET,
            "/applications/{id}/keys/{key}/delete",
            Page,
            application_keys::confirm_delete,
        )
        .add(
            M::POST,
            "/applications/{id}/keys/{key}/delete",
            Page,
            application_keys::delete,
        )
        .add(
            M::POST,
            "/applications/{id}/permissions",
            Page,
            application_grants::add,
        )
        .add(
            M::POST,
            "/applications/{id}/permissions/set",
            Page,
            application_grants::set,
        )
        .add(
            M::POST,
            "/applications/{id}/permissions/remove",
            Page,
            application_grants::remove,
        );
    let routes = routes
        .add(M::GET, "/executions", Page, executions::list)
        .add(M::POST, "/executions", Page, executions::start)
        .add(M::GET, "/executions/{id}", Page, execution::page)
        .add(
            M::POST,
            "/executions/{id}/pause",
            Page,
            execution_actions::pause,
        )
        .add(
            M::POST,
            "/executions/{id}/resume",
            Page,
            execution_actions::resume,
        )
        .add(
            M::POST,
            "/executions/{id}/terminate",
            Page,
            execution_actions::terminate,
        )
        .add(
            M::POST,
            "/executions/{id}/retry",
            Page,
            execution_actions::retry,
        )
        .add(
            M::POST,
            "/executions/{id}/restart",
            Page,
            execution_actions::restart,
        )
        .add(
            M::POST,
            "/executions/{id}/rerun",
            Page,
            execution_actions::rerun,
        )
        .add(
            M::POST,
            "/executions/{id}/skip",
            Page,
            execution_actions::skip,
        )
        .add(
            M::GET,
            "/executions/{id}/remove",
            Page,
            execution_actions::confirm_remove,
        )
        .add(
            M::POST,
            "/executions/{id}/remove",
            Page,
            execution_actions::remove,
        )
        .add(
            M::GET,
            "/executions/{id}/tasks/{task}/logs",
            Page,
            execution_actions::logs,
        );
    let routes = routes
        .add(M::GET, "/users", Page, people::list)
        .add(M::POST, "/users", Page, people::create)
        .add(M::GET, "/users/{id}", Page, people::one)
        .add(M::POST, "/users/{id}", Page, people::update)
        .add(M::POST, "/users/{id}/disabled", Page, people::set_disabled)
        .add(
            M::POST,
            "/users/{id}/password",
            Page,
            people::reset_password,
        )
        .add(M::GET, "/users/{id}/delete", Page, people::confirm_delete)
        .add(M::POST, "/users/{id}/delete", Page, people::delete)
        .add(M::GET, "/groups", Page, groups::list)
        .add(M::POST, "/groups", Page, groups::create)
        .add(M::GET, "/groups/{id}", Page, groups::one)
        .add(M::POST, "/groups/{id}", Page, groups::update)
        .add(M::POST, "/groups/{id}/members", Page, groups::members)
        .add(M::GET, "/groups/{id}/delete", Page, groups::confirm_delete)
        .add(M::POST, "/groups/{id}/delete", Page, groups::delete)
        .add(M::GET, "/access/explain", Page, explain::page)
        .add(M::GET, "/definitions", Page, definitions::list)
        .add(
            M::GET,
            "/definitions/workflows/{name}/{version}",
            Page,
            definitions::workflow,
        )
        .add(M::GET, "/definitions/tasks/{name}", Page, definitions::task)
        .add(M::GET, "/audit", Page, audit::page)
        .add(M::POST, "/audit/verify", Page, audit::verify);
    let routes = secrets::routes(routes, secrets::Kind::Secret);
    secrets::routes(routes, secrets::Kind::Env)
}
