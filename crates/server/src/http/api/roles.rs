//! Orkes' role API (`/api/roles`), as the Python SDK's authorization client calls
//! it: the built-in roles, the permission atoms, and custom roles made of them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Method;
use podium_core::security::RouteAccess;
use podium_core::service::roles::RoleRequest;
use serde_json::Value;

use crate::http::error::ApiResult;
use crate::http::extract::{Auth, IgnoredBody, JsonBody};
use crate::http::routes::Routes;
use crate::http::state::AppState;

/// Adds the role routes. Reading is for anyone signed in (custom roles only for
/// administrators and their holders); changing is for administrators.
pub fn routes(routes: Routes) -> Routes {
    use RouteAccess::{Admin, Authenticated};
    routes
        .add(Method::GET, "/api/roles", Authenticated, all)
        .add(Method::GET, "/api/roles/system", Authenticated, system)
        .add(Method::GET, "/api/roles/custom", Authenticated, custom)
        .add(
            Method::GET,
            "/api/roles/permissions",
            Authenticated,
            permissions,
        )
        .add(Method::POST, "/api/roles", Admin, create)
        .add(Method::GET, "/api/roles/{name}", Authenticated, get)
        .add(Method::PUT, "/api/roles/{name}", Admin, update)
        .add(Method::DELETE, "/api/roles/{name}", Admin, delete)
}

/// The built-in roles, then the custom roles the caller may read.
async fn all(State(state): State<AppState>, Auth(principal): Auth) -> Json<Vec<Value>> {
    Json(state.roles.all_roles(&principal))
}

/// The built-in roles by name.
async fn system(State(state): State<AppState>, Auth(_principal): Auth) -> Json<Value> {
    Json(state.roles.system_roles())
}

/// The custom roles the caller may read.
async fn custom(State(state): State<AppState>, Auth(principal): Auth) -> Json<Vec<Value>> {
    Json(state.roles.custom_roles(&principal))
}

/// The permission atoms a custom role can hold, by resource type.
async fn permissions(State(state): State<AppState>, Auth(_principal): Auth) -> Json<Value> {
    Json(state.roles.permissions())
}

/// Creates a custom role.
async fn create(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<RoleRequest>,
) -> ApiResult<Json<Value>> {
    Ok(Json(state.roles.create_role(&principal, request).await?))
}

/// A built-in role, or a custom role the caller may read.
async fn get(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(state.roles.get_role(&principal, &name)?))
}

/// Replaces a custom role's permissions.
async fn update(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<RoleRequest>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        state.roles.update_role(&principal, &name, request).await?,
    ))
}

/// Deletes a custom role nobody holds.
async fn delete(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    _body: IgnoredBody,
) -> ApiResult<()> {
    state.roles.delete_role(&principal, &name).await?;
    Ok(())
}
