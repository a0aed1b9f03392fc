//! The web console (ADR 0009): pages rendered by the server from templates compiled
//! into the binary, for people signed in with a browser session. Every page calls
//! the same core services as the API with the signed-in person's `Principal`, so it
//! shows what the API would show them; a service's refusal is the page's refusal.

pub mod form;
mod home;
mod layout;
mod menu;
pub mod viewer;

use axum::http::Method;
use podium_core::security::RouteAccess;

use crate::http::routes::Routes;

/// Adds the console's pages.
pub fn routes(routes: Routes) -> Routes {
    routes.add(Method::GET, "/", RouteAccess::Page, home::page)
}
