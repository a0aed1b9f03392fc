//! Orkes' service registry (`/api/registry/service`), as both SDKs' service
//! registry clients call it. The service decides who may read or change it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use podium_core::model::{RegisteredService, ServiceMethod};
use podium_core::security::RouteAccess;
use serde::Serialize;

use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Auth, IgnoredBody, JsonBody, Params, RawBody};
use crate::http::routes::Routes;
use crate::http::state::AppState;

/// Adds the service registry routes. One parameter name at each place, for the
/// router: `{name}` is the service everywhere.
pub fn routes(routes: Routes) -> Routes {
    let signed_in = RouteAccess::Authenticated;
    routes
        .add(Method::GET, "/api/registry/service", signed_in, list)
        .add(Method::POST, "/api/registry/service", signed_in, save)
        .add(Method::GET, "/api/registry/service/{name}", signed_in, get)
        .add(
            Method::DELETE,
            "/api/registry/service/{name}",
            signed_in,
            remove,
        )
        .add(
            Method::POST,
            "/api/registry/service/{name}/methods",
            signed_in,
            put_method,
        )
        .add(
            Method::DELETE,
            "/api/registry/service/{name}/methods",
            signed_in,
            remove_method,
        )
        .add(
            Method::GET,
            "/api/registry/service/{name}/discover",
            signed_in,
            discover,
        )
        .add(
            Method::GET,
            "/api/registry/service/{name}/circuit-breaker/status",
            signed_in,
            breaker_status,
        )
        .add(
            Method::POST,
            "/api/registry/service/{name}/circuit-breaker/open",
            signed_in,
            breaker_change,
        )
        .add(
            Method::POST,
            "/api/registry/service/{name}/circuit-breaker/close",
            signed_in,
            breaker_change,
        )
        .add(
            Method::GET,
            "/api/registry/service/protos/{name}",
            signed_in,
            protos,
        )
        .add(
            Method::GET,
            "/api/registry/service/protos/{name}/{filename}",
            signed_in,
            proto,
        )
        .add(
            Method::POST,
            "/api/registry/service/protos/{name}/{filename}",
            signed_in,
            put_proto,
        )
        .add(
            Method::DELETE,
            "/api/registry/service/protos/{name}/{filename}",
            signed_in,
            delete_proto,
        )
}

/// Every registered service, with its methods.
async fn list(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<Json<Vec<RegisteredService>>> {
    Ok(Json(state.registry.list(&principal).await?))
}

/// Registers a service or replaces its fields (methods it lists are added).
/// Needs METADATA_MANAGER.
async fn save(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(service): JsonBody<RegisteredService>,
) -> ApiResult<()> {
    state.registry.save(&principal, service).await?;
    Ok(())
}

/// A service; as Orkes does, an empty `200` when there is none (the SDKs read
/// that as "no such service").
async fn get(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    Ok(match state.registry.get(&principal, &name).await? {
        Some(service) => Json(service).into_response(),
        None => StatusCode::OK.into_response(),
    })
}

/// Deletes a service with its methods and protos.
async fn remove(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    _body: IgnoredBody,
) -> ApiResult<()> {
    state.registry.delete(&principal, &name).await?;
    Ok(())
}

/// Adds a method, or replaces the one of its operation, name and type.
async fn put_method(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    JsonBody(method): JsonBody<ServiceMethod>,
) -> ApiResult<()> {
    state.registry.put_method(&principal, &name, method).await?;
    Ok(())
}

/// Removes a method: `serviceName` (its operation), `method` and `methodType`.
async fn remove_method(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    params: Params,
    _body: IgnoredBody,
) -> ApiResult<()> {
    let required = |key: &str| {
        params
            .text(key)
            .ok_or_else(|| ApiError::bad_request(format!("Query parameter {key} is required")))
    };
    let (operation, method, method_type) = (
        required("serviceName")?,
        required("method")?,
        required("methodType")?,
    );
    state
        .registry
        .remove_method(&principal, &name, &operation, &method, &method_type)
        .await?;
    Ok(())
}

/// A service's methods as Podium knows them without reaching out (gRPC: from
/// its protos). `create` is accepted and changes nothing: they are stored already.
async fn discover(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    params: Params,
) -> ApiResult<Json<Vec<ServiceMethod>>> {
    params.flag("create", false)?;
    Ok(Json(state.registry.discover(&principal, &name).await?))
}

/// A circuit breaker's state: 404, since none is ever initialized.
async fn breaker_status(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
) -> ApiResult<()> {
    state
        .registry
        .circuit_breaker(&principal, &name, false)
        .await?;
    Ok(())
}

/// Opens or closes a circuit breaker: 404, since none is ever initialized.
async fn breaker_change(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    _body: IgnoredBody,
) -> ApiResult<()> {
    state
        .registry
        .circuit_breaker(&principal, &name, true)
        .await?;
    Ok(())
}

/// A proto file as Orkes lists it: its bytes in base64.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProtoEntry {
    service_name: String,
    filename: String,
    data: String,
}

/// A service's proto files.
async fn protos(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<ProtoEntry>>> {
    let files = state.registry.protos(&principal, &name).await?;
    Ok(Json(
        files
            .into_iter()
            .map(|f| ProtoEntry {
                service_name: f.service_name,
                filename: f.filename,
                data: base64::engine::general_purpose::STANDARD.encode(f.data),
            })
            .collect(),
    ))
}

/// A proto file's bytes.
async fn proto(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((name, filename)): Path<(String, String)>,
) -> ApiResult<Response> {
    let data = state.registry.proto(&principal, &name, &filename).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], data).into_response())
}

/// Uploads a compiled proto file (the body, as it is) of a gRPC service.
async fn put_proto(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((name, filename)): Path<(String, String)>,
    RawBody(data): RawBody,
) -> ApiResult<()> {
    state
        .registry
        .put_proto(&principal, &name, &filename, data.to_vec())
        .await?;
    Ok(())
}

/// Deletes a proto file and the methods it brought.
async fn delete_proto(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((name, filename)): Path<(String, String)>,
    _body: IgnoredBody,
) -> ApiResult<()> {
    state
        .registry
        .delete_proto(&principal, &name, &filename)
        .await?;
    Ok(())
}
