//! `/v1/...`: Camunda Operate's REST API v1 (see `core::service::operate`), with
//! Operate's error body (`application/problem+json`: `status`, `message`, `instance`,
//! `type`). Every route takes a Podium token, an identity provider's token (as the
//! Operate document's example sends it) or a browser session.

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use podium_core::error::CoreError;
use podium_core::security::RouteAccess;
use podium_core::service::operate::query::SearchRequest;
use serde_json::{Value, json};

use crate::http::extract::{Auth, parse_json};
use crate::http::routes::Routes;
use crate::http::state::AppState;

/// Adds the Operate routes.
pub fn routes(routes: Routes) -> Routes {
    use RouteAccess::Authenticated as A;
    routes
        .add(
            Method::POST,
            "/v1/process-definitions/search",
            A,
            definitions_search,
        )
        .add(
            Method::GET,
            "/v1/process-definitions/{key}",
            A,
            definition_get,
        )
        .add(
            Method::POST,
            "/v1/process-instances/search",
            A,
            instances_search,
        )
        .add(Method::GET, "/v1/process-instances/{key}", A, instance_get)
        .add(
            Method::DELETE,
            "/v1/process-instances/{key}",
            A,
            instance_delete,
        )
        .add(
            Method::POST,
            "/v1/flownode-instances/search",
            A,
            flow_nodes_search,
        )
        .add(
            Method::GET,
            "/v1/flownode-instances/{key}",
            A,
            flow_node_get,
        )
        .add(Method::POST, "/v1/variables/search", A, variables_search)
        .add(Method::GET, "/v1/variables/{key}", A, variable_get)
        .add(Method::POST, "/v1/incidents/search", A, incidents_search)
        .add(Method::GET, "/v1/incidents/{key}", A, incident_get)
}

/// An error in Operate's shape.
pub struct Problem(CoreError);

impl From<CoreError> for Problem {
    fn from(err: CoreError) -> Self {
        Problem(err)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let (status, kind, message) = match self.0 {
            CoreError::InvalidInput { message, .. } => {
                (StatusCode::BAD_REQUEST, "Invalid request", message)
            }
            CoreError::NotFound(message) => (
                StatusCode::NOT_FOUND,
                "Requested resource not found",
                message,
            ),
            CoreError::Forbidden(message) => (StatusCode::FORBIDDEN, "Access denied", message),
            CoreError::Conflict(message) => (StatusCode::CONFLICT, "Invalid request", message),
            CoreError::TooManyRequests(message) => {
                (StatusCode::TOO_MANY_REQUESTS, "Too many requests", message)
            }
            CoreError::Unavailable(message) => {
                tracing::warn!(cause = %message, "Operate request refused: service unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service unavailable",
                    "The service is unavailable; try again".to_string(),
                )
            }
            other => {
                tracing::error!(error = %other, "an Operate request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "API application error",
                    "The request failed on the server".to_string(),
                )
            }
        };
        let body = json!({
            "status": status.as_u16(),
            "message": message,
            "instance": uuid::Uuid::new_v4().to_string(),
            "type": kind,
        });
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response()
    }
}

type Answer = Result<Json<Value>, Problem>;

/// A search body, read within the server's limit (an empty one is the default
/// search).
pub struct Search(SearchRequest);

impl FromRequest<AppState> for Search {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::to_bytes(req.into_body(), state.max_body_bytes)
            .await
            .map_err(|_| {
                Problem(CoreError::invalid(
                    "The request body could not be read or is too large",
                ))
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Search(SearchRequest::default()));
        }
        parse_json(&bytes).map(Search).map_err(|_| {
            Problem(CoreError::invalid(
                "The search must be JSON: {\"filter\": {...}, \"size\": n, \"sort\": [...], \"searchAfter\": [...]}",
            ))
        })
    }
}

/// The key in the path.
pub struct Key(i64);

impl FromRequestParts<AppState> for Key {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Path(text) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| Problem(CoreError::invalid("The path names no key")))?;
        text.trim().parse().map(Key).map_err(|_| {
            Problem(CoreError::invalid(format!(
                "'{}' is not a key: keys are numbers",
                podium_core::store::audit::bounded(&text)
            )))
        })
    }
}

async fn definitions_search(
    State(state): State<AppState>,
    Auth(p): Auth,
    Search(r): Search,
) -> Answer {
    Ok(Json(state.operate.search_definitions(&p, r)?.to_json()))
}

async fn definition_get(State(state): State<AppState>, Auth(p): Auth, Key(k): Key) -> Answer {
    Ok(Json(state.operate.definition(&p, k)?))
}

async fn instances_search(
    State(state): State<AppState>,
    Auth(p): Auth,
    Search(r): Search,
) -> Answer {
    Ok(Json(state.operate.search_instances(&p, r).await?.to_json()))
}

async fn instance_get(State(state): State<AppState>, Auth(p): Auth, Key(k): Key) -> Answer {
    Ok(Json(state.operate.instance(&p, k).await?))
}

async fn instance_delete(State(state): State<AppState>, Auth(p): Auth, Key(k): Key) -> Answer {
    Ok(Json(state.operate.delete_instance(&p, k).await?))
}

async fn flow_nodes_search(
    State(state): State<AppState>,
    Auth(p): Auth,
    Search(r): Search,
) -> Answer {
    Ok(Json(
        state.operate.search_flow_nodes(&p, r).await?.to_json(),
    ))
}

async fn flow_node_get(State(state): State<AppState>, Auth(p): Auth, Key(k): Key) -> Answer {
    Ok(Json(state.operate.flow_node(&p, k, false).await?))
}

async fn variables_search(
    State(state): State<AppState>,
    Auth(p): Auth,
    Search(r): Search,
) -> Answer {
    Ok(Json(state.operate.search_variables(&p, r).await?.to_json()))
}

async fn variable_get(State(state): State<AppState>, Auth(p): Auth, Key(k): Key) -> Answer {
    Ok(Json(state.operate.variable(&p, k).await?))
}

async fn incidents_search(
    State(state): State<AppState>,
    Auth(p): Auth,
    Search(r): Search,
) -> Answer {
    Ok(Json(state.operate.search_incidents(&p, r).await?.to_json()))
}

async fn incident_get(State(state): State<AppState>, Auth(p): Auth, Key(k): Key) -> Answer {
    Ok(Json(state.operate.flow_node(&p, k, true).await?))
}
