//! Conductor's event handler API (`/api/event`), with Orkes's additions the SDKs'
//! event clients call: one handler by name, tags, and a list of handlers to add.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Method;
use podium_core::model::{EventExecution, EventHandler, EventMessage, Tag};
use podium_core::security::{Access, ResourceType, RouteAccess};
use serde_json::Value;

use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Auth, IgnoredBody, JsonBody, Params};
use crate::http::routes::Routes;
use crate::http::state::AppState;

/// Adds the event handler routes.
pub fn routes(routes: Routes) -> Routes {
    use ResourceType::EventHandler as E;
    let signed_in = RouteAccess::Authenticated;
    let read = RouteAccess::Resource(E, Access::Read);
    let update = RouteAccess::Resource(E, Access::Update);
    routes
        .add(Method::POST, "/api/event", signed_in, add)
        .add(Method::PUT, "/api/event", signed_in, update_handler)
        .add(Method::GET, "/api/event", signed_in, list)
        .add(Method::GET, "/api/event/handler/", signed_in, example)
        .add(
            Method::POST,
            "/api/event/handleIncomingEvent",
            signed_in,
            receive,
        )
        .add(
            Method::GET,
            "/api/event/execution",
            signed_in,
            handled_active,
        )
        .add(
            Method::GET,
            "/api/event/execution/{name}",
            signed_in,
            executions,
        )
        .add(Method::GET, "/api/event/message", signed_in, handled_all)
        .add(
            Method::GET,
            "/api/event/message/{name}",
            signed_in,
            messages,
        )
        .add(Method::GET, "/api/event/handler/{name}", read, get)
        // One parameter name at this place for the router: here it is an event.
        .add(Method::GET, "/api/event/{name}", signed_in, for_event)
        .add(
            Method::DELETE,
            "/api/event/{name}",
            RouteAccess::Resource(E, Access::Delete),
            remove,
        )
        .add(Method::GET, "/api/event/{name}/tags", read, tags_get)
        .add(Method::PUT, "/api/event/{name}/tags", update, tags_put)
        .add(
            Method::DELETE,
            "/api/event/{name}/tags",
            update,
            tags_delete,
        )
}

/// Most handlers one request may add.
const MAX_BATCH: usize = 100;

/// Adds a handler, or a list of them (as the Orkes SDK sends it). Needs CREATE on
/// each, and what a start of each workflow their actions start needs; `409` for a
/// name taken.
async fn add(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<()> {
    let items = match body {
        Value::Array(items) => items,
        one @ Value::Object(_) => vec![one],
        _ => {
            return Err(ApiError::bad_request(
                "The body must be an event handler or a list of them",
            ));
        }
    };
    if items.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "At most {MAX_BATCH} event handlers per request"
        )));
    }
    let handlers = items
        .into_iter()
        .map(serde_json::from_value::<EventHandler>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| ApiError::bad_request(format!("Error reading an event handler: {err}")))?;
    state.events.add(&principal, handlers).await?;
    Ok(())
}

/// Replaces a handler, which acts as the caller from now on. Needs UPDATE.
async fn update_handler(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(handler): JsonBody<EventHandler>,
) -> ApiResult<()> {
    state.events.update(&principal, handler).await?;
    Ok(())
}

/// The handlers the caller may read.
async fn list(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<Json<Vec<EventHandler>>> {
    Ok(Json(state.events.list(&principal).await?))
}

/// Orkes's test route: an example handler (nobody's).
async fn example(State(state): State<AppState>, Auth(_principal): Auth) -> Json<EventHandler> {
    Json(state.events.example())
}

/// One handler. Needs READ.
async fn get(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<EventHandler>> {
    Ok(Json(state.events.get(&principal, &name).await?))
}

/// The handlers of an event the caller may read; `activeOnly` (default true).
async fn for_event(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(event): Path<String>,
    params: Params,
) -> ApiResult<Json<Vec<EventHandler>>> {
    let active_only = params.flag("activeOnly", true)?;
    Ok(Json(
        state
            .events
            .for_event(&principal, &event, active_only)
            .await?,
    ))
}

/// Removes a handler. Needs DELETE.
async fn remove(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    _body: IgnoredBody,
) -> ApiResult<()> {
    state.events.remove(&principal, &name).await?;
    Ok(())
}

async fn tags_get(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<Tag>>> {
    Ok(Json(state.events.tags(&principal, &name).await?))
}

async fn tags_put(
    state: State<AppState>,
    auth: Auth,
    name: Path<String>,
    tags: JsonBody<Vec<Tag>>,
) -> ApiResult<()> {
    change_tags(state, auth, name, tags, false).await
}

async fn tags_delete(
    state: State<AppState>,
    auth: Auth,
    name: Path<String>,
    tags: JsonBody<Vec<Tag>>,
) -> ApiResult<()> {
    change_tags(state, auth, name, tags, true).await
}

/// Adds tags to a handler, or removes them. Needs UPDATE.
async fn change_tags(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    JsonBody(tags): JsonBody<Vec<Tag>>,
    remove: bool,
) -> ApiResult<()> {
    state
        .events
        .change_tags(&principal, &name, tags, remove)
        .await?;
    Ok(())
}

/// Receives an event from outside: the JSON object's `event` names it; its
/// handlers take it as they take an `EVENT` task's. Its sender must be allowed
/// what each action does.
async fn receive(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(payload): JsonBody<Value>,
) -> ApiResult<()> {
    let Value::Object(payload) = payload else {
        return Err(ApiError::bad_request(
            "The body must be a JSON object naming its event in the field 'event'",
        ));
    };
    state.event_records.receive(&principal, payload).await?;
    Ok(())
}

fn from_of(params: &Params) -> ApiResult<usize> {
    Ok(params
        .int("from")?
        .map_or(0, |n| usize::try_from(n.max(0)).unwrap_or(0)))
}

/// The handlers the caller may read, with what they handled (Orkes's
/// `SearchResultHandledEventResponse`).
async fn handled(
    state: &AppState,
    principal: &podium_core::security::Principal,
    active_only: bool,
    from: usize,
) -> ApiResult<Json<Value>> {
    let (total, results) = state
        .event_records
        .handled(principal, active_only, from)
        .await?;
    Ok(Json(
        serde_json::json!({"totalHits": total, "results": results}),
    ))
}

/// The active handlers the caller may read, with what they handled.
async fn handled_active(
    State(state): State<AppState>,
    Auth(principal): Auth,
    params: Params,
) -> ApiResult<Json<Value>> {
    handled(&state, &principal, true, from_of(&params)?).await
}

/// Every handler the caller may read, with what it handled.
async fn handled_all(
    State(state): State<AppState>,
    Auth(principal): Auth,
    params: Params,
) -> ApiResult<Json<Value>> {
    handled(&state, &principal, false, from_of(&params)?).await
}

/// The actions a handler took, the latest first. Needs READ on the handler.
async fn executions(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    params: Params,
) -> ApiResult<Json<Vec<EventExecution>>> {
    Ok(Json(
        state
            .event_records
            .executions(&principal, &name, from_of(&params)?)
            .await?,
    ))
}

/// The messages of an event, the latest first, with their payloads. Needs READ
/// on every execution.
async fn messages(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(event): Path<String>,
    params: Params,
) -> ApiResult<Json<Vec<EventMessage>>> {
    Ok(Json(
        state
            .event_records
            .messages(&principal, &event, from_of(&params)?)
            .await?,
    ))
}
