//! Orkes' schema API (`/api/schema`), as both SDKs' schema clients call it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Method;
use podium_core::model::SchemaDef;
use podium_core::security::{Access, ResourceType, RouteAccess};
use serde_json::Value;

use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Auth, IgnoredBody, JsonBody, Params};
use crate::http::routes::Routes;
use crate::http::state::AppState;

/// Adds the schema routes.
pub fn routes(routes: Routes) -> Routes {
    use ResourceType::Schema as S;
    let read = RouteAccess::Resource(S, Access::Read);
    let delete = RouteAccess::Resource(S, Access::Delete);
    routes
        .add(
            Method::POST,
            "/api/schema",
            RouteAccess::Authenticated,
            save,
        )
        .add(Method::GET, "/api/schema", RouteAccess::Authenticated, list)
        .add(Method::GET, "/api/schema/{name}", read, get_latest)
        .add(
            Method::GET,
            "/api/schema/{name}/{version}",
            read,
            get_version,
        )
        .add(Method::DELETE, "/api/schema/{name}", delete, delete_all)
        .add(
            Method::DELETE,
            "/api/schema/{name}/{version}",
            delete,
            delete_version,
        )
}

fn version_of(text: &str) -> ApiResult<i32> {
    text.trim()
        .parse::<i32>()
        .map_err(|_| ApiError::bad_request(format!("version must be a number, not '{text}'")))
}

/// Registers schema versions: a list (or one, as the Python SDK sends it);
/// `newVersion=true` stores each at the version after its latest. Needs CREATE or
/// UPDATE on each schema.
async fn save(
    State(state): State<AppState>,
    Auth(principal): Auth,
    params: Params,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<()> {
    let items = match body {
        Value::Array(items) => items,
        one @ Value::Object(_) => vec![one],
        _ => {
            return Err(ApiError::bad_request(
                "The body must be a schema or a list of schemas",
            ));
        }
    };
    let schemas = items
        .into_iter()
        .map(serde_json::from_value::<SchemaDef>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| ApiError::bad_request(format!("Error reading a schema: {err}")))?;
    let new_version = params.flag("newVersion", false)?;
    state.schemas.save(&principal, schemas, new_version).await?;
    Ok(())
}

/// Every version of the schemas the caller may read.
async fn list(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<Json<Vec<SchemaDef>>> {
    Ok(Json(state.schemas.list(&principal).await?))
}

/// A schema's latest version. Needs READ.
async fn get_latest(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<SchemaDef>> {
    Ok(Json(state.schemas.get(&principal, &name, None).await?))
}

/// One version of a schema. Needs READ.
async fn get_version(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<Json<SchemaDef>> {
    let version = version_of(&version)?;
    Ok(Json(
        state.schemas.get(&principal, &name, Some(version)).await?,
    ))
}

/// Deletes every version of a schema. Needs DELETE.
async fn delete_all(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    _body: IgnoredBody,
) -> ApiResult<()> {
    state.schemas.delete(&principal, &name, None).await?;
    Ok(())
}

/// Deletes one version of a schema. Needs DELETE.
async fn delete_version(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((name, version)): Path<(String, String)>,
    _body: IgnoredBody,
) -> ApiResult<()> {
    let version = version_of(&version)?;
    state
        .schemas
        .delete(&principal, &name, Some(version))
        .await?;
    Ok(())
}
