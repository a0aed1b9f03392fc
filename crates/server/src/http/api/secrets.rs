//! `/api/secrets`, `/api/secrets-v2` and `/api/environment`: secrets and environment
//! variables, their tags, and who read which secret.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use podium_core::model::Tag;
use podium_core::security::model::Access;
use podium_core::security::{ResourceType, RouteAccess};
use podium_core::service::secrets::SecretService;
use serde_json::Value;

use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Auth, IgnoredBody, JsonBody, Params, StringBody};
use crate::http::routes::Routes;
use crate::http::state::AppState;

/// Adds the secret and environment variable routes.
pub fn routes(routes: Routes) -> Routes {
    use ResourceType::{EnvVariable, Secret};
    use RouteAccess::{Admin, Authenticated, Resource};
    routes
        .add(Method::GET, "/api/secrets", Authenticated, secret_names)
        .add(Method::POST, "/api/secrets", Admin, secret_all_names)
        .add(
            Method::GET,
            "/api/secrets-v2",
            Authenticated,
            secret_names_tags,
        )
        .add(
            Method::GET,
            "/api/secrets/{key}",
            Resource(Secret, Access::Read),
            secret_get,
        )
        .add(
            Method::PUT,
            "/api/secrets/{key}",
            Resource(Secret, Access::Create),
            secret_put,
        )
        .add(
            Method::DELETE,
            "/api/secrets/{key}",
            Resource(Secret, Access::Delete),
            secret_delete,
        )
        .add(
            Method::GET,
            "/api/secrets/{key}/exists",
            Resource(Secret, Access::Read),
            secret_exists,
        )
        .add(
            Method::GET,
            "/api/secrets/{key}/tags",
            Resource(Secret, Access::Read),
            secret_tags,
        )
        .add(
            Method::PUT,
            "/api/secrets/{key}/tags",
            Resource(Secret, Access::Update),
            secret_tags_add,
        )
        .add(
            Method::DELETE,
            "/api/secrets/{key}/tags",
            Resource(Secret, Access::Update),
            secret_tags_remove,
        )
        .add(Method::GET, "/api/secrets/{key}/reads", Admin, secret_reads)
        .add(Method::GET, "/api/environment", Authenticated, env_list)
        .add(
            Method::GET,
            "/api/environment/{key}",
            Resource(EnvVariable, Access::Read),
            env_get,
        )
        .add(
            Method::PUT,
            "/api/environment/{key}",
            Resource(EnvVariable, Access::Create),
            env_put,
        )
        .add(
            Method::DELETE,
            "/api/environment/{key}",
            Resource(EnvVariable, Access::Delete),
            env_delete,
        )
        .add(
            Method::GET,
            "/api/environment/{key}/tags",
            Resource(EnvVariable, Access::Read),
            env_tags,
        )
        .add(
            Method::PUT,
            "/api/environment/{key}/tags",
            Resource(EnvVariable, Access::Update),
            env_tags_add,
        )
        .add(
            Method::DELETE,
            "/api/environment/{key}/tags",
            Resource(EnvVariable, Access::Update),
            env_tags_remove,
        )
}

/// A value as `text/plain`, never cached by a browser or proxy.
fn value_text(value: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        value,
    )
        .into_response()
}

/// The accesses named by `?access=` (READ when none).
fn accesses(params: &Params) -> ApiResult<Vec<Access>> {
    params
        .list("access")
        .iter()
        .map(|a| {
            Access::parse(a).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "Unknown access '{a}'; known: CREATE, READ, UPDATE, EXECUTE, DELETE"
                ))
            })
        })
        .collect()
}

/// Names of the secrets the caller holds `?access=` on (READ by default).
async fn secret_names(
    State(state): State<AppState>,
    Auth(principal): Auth,
    params: Params,
) -> ApiResult<Json<Vec<String>>> {
    Ok(Json(state.secrets.names(&principal, &accesses(&params)?)))
}

/// Every secret name. Needs: ADMIN.
async fn secret_all_names(
    State(state): State<AppState>,
    Auth(principal): Auth,
    _body: IgnoredBody,
) -> ApiResult<Json<Vec<String>>> {
    Ok(Json(state.secrets.all_names(&principal)?))
}

/// Readable secrets with their tags: `[{name, tags}]`.
async fn secret_names_tags(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<Json<Vec<Value>>> {
    Ok(Json(state.secrets.names_with_tags(&principal).await?))
}

/// A secret's value as text. Needs: READ on it. The read is recorded.
async fn secret_get(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    Ok(value_text(state.secrets.get(&principal, &key).await?))
}

/// Creates (needs CREATE_SECRET) or replaces (needs UPDATE) a secret.
async fn secret_put(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(key): Path<String>,
    StringBody(value): StringBody,
) -> ApiResult<impl IntoResponse> {
    put(&state.secrets, &principal, &key, &value).await
}

/// Deletes a secret. Needs: DELETE on it.
async fn secret_delete(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(key): Path<String>,
    _body: IgnoredBody,
) -> ApiResult<impl IntoResponse> {
    state.secrets.delete(&principal, &key).await?;
    Ok(())
}

/// Whether a secret exists.
async fn secret_exists(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(key): Path<String>,
) -> ApiResult<Json<bool>> {
    Ok(Json(state.secrets.exists(&principal, &key)?))
}

async fn secret_tags(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(key): Path<String>,
) -> ApiResult<Json<Vec<Tag>>> {
    Ok(Json(state.secrets.tags(&principal, &key).await?))
}

async fn secret_tags_add(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(key): Path<String>,
    JsonBody(tags): JsonBody<Vec<Tag>>,
) -> ApiResult<impl IntoResponse> {
    state
        .secrets
        .change_tags(&principal, &key, tags, false)
        .await?;
    Ok(())
}

async fn secret_tags_remove(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(key): Path<String>,
    JsonBody(tags): JsonBody<Vec<Tag>>,
) -> ApiResult<impl IntoResponse> {
    state
        .secrets
        .change_tags(&principal, &key, tags, true)
        .await?;
    Ok(())
}

/// Who read a secret's value, newest first. Needs: ADMIN.
async fn secret_reads(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(key): Path<String>,
) -> ApiResult<Json<Vec<Value>>> {
    Ok(Json(state.secrets.reads(&principal, &key).await?))
}

async fn put(
    service: &SecretService,
    principal: &podium_core::security::Principal,
    key: &str,
    value: &str,
) -> ApiResult<()> {
    service.put(principal, key, value).await?;
    Ok(())
}

/// Readable environment variables: `[{name, value, tags}]`.
async fn env_list(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<Json<Vec<Value>>> {
    Ok(Json(state.environment.variables(&principal).await?))
}

async fn env_get(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    Ok(value_text(state.environment.get(&principal, &key).await?))
}

async fn env_put(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(key): Path<String>,
    StringBody(value): StringBody,
) -> ApiResult<impl IntoResponse> {
    put(&state.environment, &principal, &key, &value).await
}

/// Deletes a variable and answers its last value.
async fn env_delete(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(key): Path<String>,
    _body: IgnoredBody,
) -> ApiResult<Response> {
    let previous = state.environment.delete(&principal, &key).await?;
    Ok(value_text(previous.unwrap_or_default()))
}

async fn env_tags(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(key): Path<String>,
) -> ApiResult<Json<Vec<Tag>>> {
    Ok(Json(state.environment.tags(&principal, &key).await?))
}

async fn env_tags_add(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(key): Path<String>,
    JsonBody(tags): JsonBody<Vec<Tag>>,
) -> ApiResult<impl IntoResponse> {
    state
        .environment
        .change_tags(&principal, &key, tags, false)
        .await?;
    Ok(())
}

async fn env_tags_remove(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(key): Path<String>,
    JsonBody(tags): JsonBody<Vec<Tag>>,
) -> ApiResult<impl IntoResponse> {
    state
        .environment
        .change_tags(&principal, &key, tags, true)
        .await?;
    Ok(())
}
