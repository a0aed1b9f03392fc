//! `/api/secrets`, `/api/secrets-v2` and `/api/environment`: secrets and environment
//! variables, their tags, and who read which secret. The routes of both kinds share
//! their handlers, which pick the service by kind.

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

/// Which kind of value a route serves.
trait Kind: Send + Sync + 'static {
    fn service(state: &AppState) -> &SecretService;
}

/// `/api/secrets`.
struct Secrets;

/// `/api/environment`.
struct Env;

impl Kind for Secrets {
    fn service(state: &AppState) -> &SecretService {
        &state.secrets
    }
}

impl Kind for Env {
    fn service(state: &AppState) -> &SecretService {
        &state.environment
    }
}

/// Adds the secret and environment variable routes.
pub fn routes(routes: Routes) -> Routes {
    use RouteAccess::{Admin, Authenticated, Resource};
    let routes = routes
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
            "/api/secrets/{key}/exists",
            Resource(ResourceType::Secret, Access::Read),
            secret_exists,
        )
        .add(Method::GET, "/api/secrets/{key}/reads", Admin, secret_reads)
        .add(Method::GET, "/api/environment", Authenticated, env_list);
    let routes = per_kind::<Secrets>(
        routes,
        "/api/secrets/{key}",
        "/api/secrets/{key}/tags",
        ResourceType::Secret,
    );
    per_kind::<Env>(
        routes,
        "/api/environment/{key}",
        "/api/environment/{key}/tags",
        ResourceType::EnvVariable,
    )
}

/// The routes both kinds have: a value at `value` (`.../{key}`) and its tags at `tags`.
fn per_kind<K: Kind>(
    routes: Routes,
    value: &'static str,
    tags: &'static str,
    kind: ResourceType,
) -> Routes {
    use RouteAccess::Resource;
    routes
        .add(
            Method::GET,
            value,
            Resource(kind, Access::Read),
            value_get::<K>,
        )
        .add(
            Method::PUT,
            value,
            Resource(kind, Access::Create),
            value_put::<K>,
        )
        .add(
            Method::DELETE,
            value,
            Resource(kind, Access::Delete),
            value_delete::<K>,
        )
        .add(
            Method::GET,
            tags,
            Resource(kind, Access::Read),
            tags_get::<K>,
        )
        .add(
            Method::PUT,
            tags,
            Resource(kind, Access::Update),
            tags_add::<K>,
        )
        .add(
            Method::DELETE,
            tags,
            Resource(kind, Access::Update),
            tags_remove::<K>,
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

/// Whether a secret exists.
async fn secret_exists(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(key): Path<String>,
) -> ApiResult<Json<bool>> {
    Ok(Json(state.secrets.exists(&principal, &key)?))
}

/// Who read a secret's value, newest first. Needs: ADMIN.
async fn secret_reads(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(key): Path<String>,
) -> ApiResult<Json<Vec<Value>>> {
    Ok(Json(state.secrets.reads(&principal, &key).await?))
}

/// Readable environment variables: `[{name, value, tags}]`.
async fn env_list(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<Json<Vec<Value>>> {
    Ok(Json(state.environment.variables(&principal).await?))
}

/// A value as text. Needs: READ on it. Reads of secrets are recorded.
async fn value_get<K: Kind>(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    Ok(value_text(K::service(&state).get(&principal, &key).await?))
}

/// Creates (needs the create permission) or replaces (needs UPDATE) a value.
async fn value_put<K: Kind>(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(key): Path<String>,
    StringBody(value): StringBody,
) -> ApiResult<impl IntoResponse> {
    K::service(&state).put(&principal, &key, &value).await?;
    Ok(())
}

/// Deletes a value (needs DELETE); a variable's last value is answered as text.
async fn value_delete<K: Kind>(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(key): Path<String>,
    _body: IgnoredBody,
) -> ApiResult<Response> {
    Ok(match K::service(&state).delete(&principal, &key).await? {
        Some(previous) => value_text(previous),
        None => ().into_response(),
    })
}

async fn tags_get<K: Kind>(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(key): Path<String>,
) -> ApiResult<Json<Vec<Tag>>> {
    Ok(Json(K::service(&state).tags(&principal, &key).await?))
}

async fn tags_add<K: Kind>(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(key): Path<String>,
    JsonBody(tags): JsonBody<Vec<Tag>>,
) -> ApiResult<impl IntoResponse> {
    K::service(&state)
        .change_tags(&principal, &key, tags, false)
        .await?;
    Ok(())
}

async fn tags_remove<K: Kind>(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(key): Path<String>,
    JsonBody(tags): JsonBody<Vec<Tag>>,
) -> ApiResult<impl IntoResponse> {
    K::service(&state)
        .change_tags(&principal, &key, tags, true)
        .await?;
    Ok(())
}
