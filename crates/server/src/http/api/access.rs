//! `/api/users`, `/api/groups` and `/api/auth`: users, groups, grants, and why a
//! principal may or may not do something.

use crate::http::client_addr::ClientAddr;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::IntoResponse;
use podium_core::security::RouteAccess;
use podium_core::service::grants::{AuthorizationRequest, Explanation, GrantedAccess};
use podium_core::service::passwords::PasswordChange;
use podium_core::service::users::{UpsertGroup, UpsertUser};
use podium_core::store::AuditQuery;
use serde_json::{Value, json};

use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Auth, IgnoredBody, JsonBody, OptionalJson, Params};
use crate::http::routes::Routes;
use crate::http::state::AppState;

/// Adds the user, group and authorization routes.
pub fn routes(routes: Routes) -> Routes {
    use RouteAccess::{Admin, Authenticated};
    routes
        .add(Method::GET, "/api/users", Admin, users_list)
        .add(Method::GET, "/api/users/{id}", Authenticated, user_get)
        .add(Method::PUT, "/api/users/{id}", Admin, user_upsert)
        .add(Method::DELETE, "/api/users/{id}", Admin, user_delete)
        .add(
            Method::POST,
            "/api/users/{id}/password",
            Authenticated,
            user_password,
        )
        .add(
            Method::GET,
            "/api/users/{id}/permissions",
            Authenticated,
            user_permissions,
        )
        .add(
            Method::GET,
            "/api/users/{id}/checkPermissions",
            Authenticated,
            user_check_permissions,
        )
        .add(Method::GET, "/api/groups", Admin, groups_list)
        .add(Method::GET, "/api/groups/{id}", Admin, group_get)
        .add(Method::PUT, "/api/groups/{id}", Admin, group_upsert)
        .add(Method::DELETE, "/api/groups/{id}", Admin, group_delete)
        .add(Method::GET, "/api/groups/{id}/users", Admin, group_users)
        .add(
            Method::POST,
            "/api/groups/{id}/users",
            Admin,
            group_users_add,
        )
        .add(
            Method::DELETE,
            "/api/groups/{id}/users",
            Admin,
            group_users_remove,
        )
        .add(
            Method::POST,
            "/api/groups/{id}/users/{user_id}",
            Admin,
            group_user_add,
        )
        .add(
            Method::DELETE,
            "/api/groups/{id}/users/{user_id}",
            Admin,
            group_user_remove,
        )
        .add(
            Method::GET,
            "/api/groups/{id}/permissions",
            Admin,
            group_permissions,
        )
        .add(
            Method::POST,
            "/api/auth/authorization",
            Authenticated,
            grant,
        )
        .add(
            Method::DELETE,
            "/api/auth/authorization",
            Authenticated,
            revoke,
        )
        .add(
            Method::GET,
            "/api/auth/authorization/{type}/{id}",
            Authenticated,
            grants_on,
        )
        .add(
            Method::GET,
            "/api/auth/subjects/{type}/{id}/grants",
            Authenticated,
            subject_grants,
        )
        .add(Method::GET, "/api/auth/explain", Authenticated, explain)
        .add(Method::GET, "/api/audit", Admin, audit_trail)
}

/// Users, and with `apps=true` applications as users. Needs: ADMIN.
async fn users_list(
    State(state): State<AppState>,
    Auth(principal): Auth,
    params: Params,
) -> ApiResult<Json<Vec<Value>>> {
    let apps = params.flag("apps", false)?;
    Ok(Json(state.users.list_users(&principal, apps)?))
}

/// One user (`app:<id>` for an application). Needs: ADMIN, or being that user.
async fn user_get(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(state.users.get_user(&principal, &id)?))
}

/// Creates or updates a user. Needs: ADMIN.
async fn user_upsert(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    OptionalJson(request): OptionalJson<UpsertUser>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        state.users.upsert_user(&principal, &id, request).await?,
    ))
}

/// Changes a user's password: their own with `oldPassword`, or (ADMIN) anyone's.
/// Needs: being that user, or ADMIN. Answers 204.
async fn user_password(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ClientAddr(client): ClientAddr,
    Path(id): Path<String>,
    JsonBody(change): JsonBody<PasswordChange>,
) -> ApiResult<impl IntoResponse> {
    state
        .identity
        .change_password(&principal, &id, change, client)
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// The audit trail, newest first: `principal`, `action`, `target`, `from` and `to`
/// (epoch milliseconds), `start`, `size` (default 100). Needs: ADMIN.
async fn audit_trail(
    State(state): State<AppState>,
    Auth(principal): Auth,
    params: Params,
) -> ApiResult<Json<Value>> {
    let query = AuditQuery {
        principal: params.text("principal"),
        action: params.text("action"),
        target: params.text("target"),
        from: params.int("from")?,
        to: params.int("to")?,
        start: params.int("start")?.unwrap_or(0),
        size: params.int("size")?.unwrap_or(100),
    };
    let (total, entries) = state.identity.audit_trail(&principal, query).await?;
    Ok(Json(json!({"totalHits": total, "results": entries})))
}

/// Deletes a user and their grants. Needs: ADMIN.
async fn user_delete(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    _body: IgnoredBody,
) -> ApiResult<impl IntoResponse> {
    state.users.delete_user(&principal, &id).await?;
    Ok(())
}

/// A user's grants. Needs: ADMIN, or being that user.
async fn user_permissions(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(state.users.user_permissions(&principal, &id)?))
}

/// What a user may do on one resource. Needs: ADMIN, or being that user.
async fn user_check_permissions(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let kind = params
        .text("type")
        .ok_or_else(|| ApiError::bad_request("Query parameter type is required"))?;
    let target = params
        .text("id")
        .ok_or_else(|| ApiError::bad_request("Query parameter id is required"))?;
    Ok(Json(
        state
            .users
            .check_permissions(&principal, &id, &kind, &target)?,
    ))
}

/// Every group. Needs: ADMIN.
async fn groups_list(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<Json<Vec<Value>>> {
    Ok(Json(state.users.list_groups(&principal)?))
}

/// One group. Needs: ADMIN.
async fn group_get(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(state.users.get_group(&principal, &id)?))
}

/// Creates or updates a group. Needs: ADMIN.
async fn group_upsert(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<UpsertGroup>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        state.users.upsert_group(&principal, &id, request).await?,
    ))
}

/// Deletes a group. Needs: ADMIN.
async fn group_delete(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    _body: IgnoredBody,
) -> ApiResult<impl IntoResponse> {
    state.users.delete_group(&principal, &id).await?;
    Ok(())
}

/// The members of a group. Needs: ADMIN.
async fn group_users(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Value>>> {
    Ok(Json(state.users.group_users(&principal, &id)?))
}

/// Adds users (a list of ids) to a group. Needs: ADMIN.
async fn group_users_add(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    JsonBody(users): JsonBody<Vec<String>>,
) -> ApiResult<impl IntoResponse> {
    state
        .users
        .change_members(&principal, &id, users, true)
        .await?;
    Ok(())
}

/// Takes users (a list of ids) out of a group. Needs: ADMIN.
async fn group_users_remove(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    JsonBody(users): JsonBody<Vec<String>>,
) -> ApiResult<impl IntoResponse> {
    state
        .users
        .change_members(&principal, &id, users, false)
        .await?;
    Ok(())
}

/// Adds one user to a group. Needs: ADMIN.
async fn group_user_add(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((id, user_id)): Path<(String, String)>,
    _body: IgnoredBody,
) -> ApiResult<impl IntoResponse> {
    state
        .users
        .change_members(&principal, &id, vec![user_id], true)
        .await?;
    Ok(())
}

/// Takes one user out of a group. Needs: ADMIN.
async fn group_user_remove(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((id, user_id)): Path<(String, String)>,
    _body: IgnoredBody,
) -> ApiResult<impl IntoResponse> {
    state
        .users
        .change_members(&principal, &id, vec![user_id], false)
        .await?;
    Ok(())
}

/// A group's grants. Needs: ADMIN.
async fn group_permissions(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(state.users.group_permissions(&principal, &id)?))
}

/// Grants accesses on a resource. Needs: ADMIN, or owning the resource.
async fn grant(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<AuthorizationRequest>,
) -> ApiResult<Json<Value>> {
    state.users.grant(&principal, request).await?;
    Ok(Json(json!({"message": "Granted permission"})))
}

/// Takes accesses away. Needs: ADMIN, or owning the resource.
async fn revoke(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<AuthorizationRequest>,
) -> ApiResult<Json<Value>> {
    state.users.revoke(&principal, request).await?;
    Ok(Json(json!({"message": "Removed permission"})))
}

/// Who holds what on one resource. Needs: ADMIN, or owning the resource.
async fn grants_on(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((kind, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(state.users.grants_on(&principal, &kind, &id)?))
}

/// Whether a principal (`subject`, the caller when absent) may do `access` on the
/// resource `type`/`id`, and by which role, grant, group, tag or ownership. Needs:
/// ADMIN to ask about someone else.
async fn explain(
    State(state): State<AppState>,
    Auth(principal): Auth,
    params: Params,
) -> ApiResult<Json<Explanation>> {
    let required = |name: &str| {
        params
            .text(name)
            .ok_or_else(|| ApiError::bad_request(format!("Query parameter {name} is required")))
    };
    let access = required("access")?;
    let kind = required("type")?;
    let id = required("id")?;
    let subject = params.text("subject");
    Ok(Json(state.users.explain(
        &principal,
        subject.as_deref(),
        &access,
        &kind,
        &id,
    )?))
}

/// A subject's grants, optionally of one `resourceType`. Needs: ADMIN, or being that
/// user.
async fn subject_grants(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((kind, id)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<Vec<GrantedAccess>>> {
    let resource_type = params.text("resourceType");
    Ok(Json(state.users.subject_grants(
        &principal,
        &kind,
        &id,
        resource_type.as_deref(),
    )?))
}
