//! `/api/token` and `/api/applications`: tokens, applications and access keys.

use crate::http::client_addr::ClientAddr;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::IntoResponse;
use podium_core::model::Tag;
use podium_core::security::{Access, ResourceType, RouteAccess};
use podium_core::service::applications::{ApplicationView, CreatedKey, KeyView};
use podium_core::service::identity::TokenRequest;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::error::ApiResult;
use crate::http::extract::{Auth, IgnoredBody, JsonBody};
use crate::http::routes::Routes;
use crate::http::state::AppState;

/// Adds the token and application routes.
pub fn routes(routes: Routes) -> Routes {
    use ResourceType::Application as A;
    routes
        .add(Method::POST, "/api/token", RouteAccess::Public, token)
        .add(
            Method::GET,
            "/api/token/userInfo",
            RouteAccess::Authenticated,
            user_info,
        )
        .add(
            Method::GET,
            "/api/applications",
            RouteAccess::Authenticated,
            applications_list,
        )
        .add(
            Method::POST,
            "/api/applications",
            RouteAccess::Resource(A, Access::Create),
            application_create,
        )
        .add(
            Method::GET,
            "/api/applications/key/{key_id}",
            RouteAccess::Resource(A, Access::Read),
            application_of_key,
        )
        .add(
            Method::GET,
            "/api/applications/{id}",
            RouteAccess::Resource(A, Access::Read),
            application_get,
        )
        .add(
            Method::PUT,
            "/api/applications/{id}",
            RouteAccess::Resource(A, Access::Update),
            application_update,
        )
        .add(
            Method::DELETE,
            "/api/applications/{id}",
            RouteAccess::Resource(A, Access::Delete),
            application_delete,
        )
        .add(
            Method::GET,
            "/api/applications/{id}/accessKeys",
            RouteAccess::Resource(A, Access::Read),
            keys_list,
        )
        .add(
            Method::POST,
            "/api/applications/{id}/accessKeys",
            RouteAccess::Resource(A, Access::Update),
            key_create,
        )
        .add(
            Method::DELETE,
            "/api/applications/{id}/accessKeys/{key_id}",
            RouteAccess::Resource(A, Access::Update),
            key_delete,
        )
        .add(
            Method::POST,
            "/api/applications/{id}/accessKeys/{key_id}/status",
            RouteAccess::Resource(A, Access::Update),
            key_toggle,
        )
        .add(
            Method::POST,
            "/api/applications/{id}/roles/{role}",
            RouteAccess::Resource(A, Access::Update),
            role_add,
        )
        .add(
            Method::DELETE,
            "/api/applications/{id}/roles/{role}",
            RouteAccess::Resource(A, Access::Update),
            role_remove,
        )
        .add(
            Method::GET,
            "/api/applications/{id}/tags",
            RouteAccess::Resource(A, Access::Read),
            tags_get,
        )
        .add(
            Method::PUT,
            "/api/applications/{id}/tags",
            RouteAccess::Resource(A, Access::Update),
            tags_put,
        )
        .add(
            Method::DELETE,
            "/api/applications/{id}/tags",
            RouteAccess::Resource(A, Access::Update),
            tags_delete,
        )
}

/// Mints a token from an access key (or a built-in user's credentials). Public; any
/// token sent along is ignored. 404 when security is disabled, as the SDKs expect.
async fn token(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    JsonBody(request): JsonBody<TokenRequest>,
) -> ApiResult<Json<Value>> {
    let token = state.identity.mint(request, client).await?;
    Ok(Json(json!({ "token": token })))
}

/// The caller. Needs: authentication.
async fn user_info(State(state): State<AppState>, Auth(principal): Auth) -> Json<Value> {
    Json(state.identity.user_info(&principal))
}

/// `CreateOrUpdateApplicationRequest`.
#[derive(Deserialize)]
struct ApplicationRequest {
    #[serde(default)]
    name: String,
}

/// Applications the caller may read. Needs: authentication.
async fn applications_list(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<Json<Vec<ApplicationView>>> {
    Ok(Json(state.identity.list_applications(&principal).await?))
}

/// Creates an application. Needs: CREATE_APPLICATION.
async fn application_create(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<ApplicationRequest>,
) -> ApiResult<Json<ApplicationView>> {
    Ok(Json(
        state
            .identity
            .create_application(&principal, &request.name)
            .await?,
    ))
}

/// The application of an access key. Needs: READ on the application.
async fn application_of_key(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(key_id): Path<String>,
) -> ApiResult<Json<ApplicationView>> {
    Ok(Json(
        state
            .identity
            .application_of_key(&principal, &key_id)
            .await?,
    ))
}

/// One application. Needs: READ.
async fn application_get(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ApplicationView>> {
    Ok(Json(state.identity.get_application(&principal, &id).await?))
}

/// Renames an application. Needs: UPDATE.
async fn application_update(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<ApplicationRequest>,
) -> ApiResult<Json<ApplicationView>> {
    Ok(Json(
        state
            .identity
            .update_application(&principal, &id, &request.name)
            .await?,
    ))
}

/// Deletes an application with its keys and grants. Needs: DELETE.
async fn application_delete(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    _body: IgnoredBody,
) -> ApiResult<impl IntoResponse> {
    state.identity.delete_application(&principal, &id).await?;
    Ok(())
}

/// The access keys of an application (never their secrets). Needs: READ.
async fn keys_list(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<KeyView>>> {
    Ok(Json(state.identity.list_keys(&principal, &id).await?))
}

/// Creates an access key; the answer holds its secret, shown this once. Needs:
/// UPDATE on the application.
async fn key_create(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    _body: IgnoredBody,
) -> ApiResult<Json<CreatedKey>> {
    Ok(Json(state.identity.create_key(&principal, &id).await?))
}

/// Deletes an access key. Needs: UPDATE on the application.
async fn key_delete(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((id, key_id)): Path<(String, String)>,
    _body: IgnoredBody,
) -> ApiResult<impl IntoResponse> {
    state.identity.delete_key(&principal, &id, &key_id).await?;
    Ok(())
}

/// Flips an access key between ACTIVE and INACTIVE. Needs: UPDATE on the application.
async fn key_toggle(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((id, key_id)): Path<(String, String)>,
    _body: IgnoredBody,
) -> ApiResult<Json<KeyView>> {
    Ok(Json(
        state.identity.toggle_key(&principal, &id, &key_id).await?,
    ))
}

/// Gives an application a role. Needs: UPDATE (and ADMIN for the unrestricted roles).
async fn role_add(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((id, role)): Path<(String, String)>,
    _body: IgnoredBody,
) -> ApiResult<Json<ApplicationView>> {
    Ok(Json(
        state
            .identity
            .change_role(&principal, &id, &role, true)
            .await?,
    ))
}

/// Takes a role from an application. Needs: UPDATE (and ADMIN for the unrestricted
/// roles).
async fn role_remove(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((id, role)): Path<(String, String)>,
    _body: IgnoredBody,
) -> ApiResult<Json<ApplicationView>> {
    Ok(Json(
        state
            .identity
            .change_role(&principal, &id, &role, false)
            .await?,
    ))
}

/// The tags of an application. Needs: READ.
async fn tags_get(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Tag>>> {
    Ok(Json(
        state.identity.application_tags(&principal, &id).await?,
    ))
}

/// Adds tags to an application. Needs: UPDATE.
async fn tags_put(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    JsonBody(tags): JsonBody<Vec<Tag>>,
) -> ApiResult<impl IntoResponse> {
    state
        .identity
        .change_application_tags(&principal, &id, tags, false)
        .await?;
    Ok(())
}

/// Removes tags from an application. Needs: UPDATE.
async fn tags_delete(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    JsonBody(tags): JsonBody<Vec<Tag>>,
) -> ApiResult<impl IntoResponse> {
    state
        .identity
        .change_application_tags(&principal, &id, tags, true)
        .await?;
    Ok(())
}
