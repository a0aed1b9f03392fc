//! `/api/metadata`: task definitions, workflow definitions and their tags.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Method;
use podium_core::model::{BulkResponse, Tag, TaskDef, WorkflowDef};
use podium_core::security::{Access, ResourceType, RouteAccess};
use podium_core::service::metadata::{TASK_DEF_TAGS, WORKFLOW_DEF_TAGS};

use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Auth, IgnoredBody, JsonBody, Params};
use crate::http::routes::Routes;
use crate::http::state::AppState;

/// Adds the metadata routes.
pub fn routes(routes: Routes) -> Routes {
    use ResourceType::{TaskDef as T, WorkflowDef as W};
    routes
        .add(
            Method::GET,
            "/api/metadata/taskdefs",
            RouteAccess::Authenticated,
            taskdefs_list,
        )
        .add(
            Method::POST,
            "/api/metadata/taskdefs",
            RouteAccess::Resource(T, Access::Create),
            taskdefs_create,
        )
        .add(
            Method::PUT,
            "/api/metadata/taskdefs",
            RouteAccess::Resource(T, Access::Update),
            taskdef_update,
        )
        .add(
            Method::GET,
            "/api/metadata/taskdefs/{name}",
            RouteAccess::Resource(T, Access::Read),
            taskdef_get,
        )
        .add(
            Method::DELETE,
            "/api/metadata/taskdefs/{name}",
            RouteAccess::Resource(T, Access::Delete),
            taskdef_delete,
        )
        .add(
            Method::GET,
            "/api/metadata/workflow",
            RouteAccess::Authenticated,
            workflowdefs_list,
        )
        .add(
            Method::POST,
            "/api/metadata/workflow",
            RouteAccess::Resource(W, Access::Create),
            workflowdef_create,
        )
        .add(
            Method::PUT,
            "/api/metadata/workflow",
            RouteAccess::Resource(W, Access::Update),
            workflowdefs_update,
        )
        .add(
            Method::GET,
            "/api/metadata/workflow/{name}",
            RouteAccess::Resource(W, Access::Read),
            workflowdef_get,
        )
        .add(
            Method::DELETE,
            "/api/metadata/workflow/{name}/{version}",
            RouteAccess::Resource(W, Access::Delete),
            workflowdef_delete,
        )
        .add(
            Method::GET,
            "/api/metadata/workflow/{name}/tags",
            RouteAccess::Resource(W, Access::Read),
            workflowdef_tags_get,
        )
        .add(
            Method::PUT,
            "/api/metadata/workflow/{name}/tags",
            RouteAccess::Resource(W, Access::Update),
            workflowdef_tags_set,
        )
        .add(
            Method::POST,
            "/api/metadata/workflow/{name}/tags",
            RouteAccess::Resource(W, Access::Update),
            workflowdef_tags_add,
        )
        .add(
            Method::DELETE,
            "/api/metadata/workflow/{name}/tags",
            RouteAccess::Resource(W, Access::Update),
            workflowdef_tags_delete,
        )
        .add(
            Method::GET,
            "/api/metadata/task/{name}/tags",
            RouteAccess::Resource(T, Access::Read),
            taskdef_tags_get,
        )
        .add(
            Method::PUT,
            "/api/metadata/task/{name}/tags",
            RouteAccess::Resource(T, Access::Update),
            taskdef_tags_set,
        )
        .add(
            Method::POST,
            "/api/metadata/task/{name}/tags",
            RouteAccess::Resource(T, Access::Update),
            taskdef_tags_add,
        )
        .add(
            Method::DELETE,
            "/api/metadata/task/{name}/tags",
            RouteAccess::Resource(T, Access::Update),
            taskdef_tags_delete,
        )
        .add(
            Method::GET,
            "/api/metadata/tags",
            RouteAccess::Authenticated,
            tags_list,
        )
}

/// Every task definition the caller may read. Needs: authentication (filtered by READ).
async fn taskdefs_list(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<Json<Vec<TaskDef>>> {
    Ok(Json(state.metadata.list_task_defs(&principal).await?))
}

/// Creates or replaces task definitions. Needs: CREATE on each task definition.
async fn taskdefs_create(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(defs): JsonBody<Vec<TaskDef>>,
) -> ApiResult<Json<serde_json::Value>> {
    state.metadata.register_task_defs(&principal, defs).await?;
    Ok(Json(serde_json::json!({})))
}

/// Replaces an existing task definition. Needs: UPDATE on it.
async fn taskdef_update(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(def): JsonBody<TaskDef>,
) -> ApiResult<Json<serde_json::Value>> {
    state.metadata.update_task_def(&principal, def).await?;
    Ok(Json(serde_json::json!({})))
}

/// One task definition. Needs: READ on it.
async fn taskdef_get(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<TaskDef>> {
    Ok(Json(state.metadata.get_task_def(&principal, &name).await?))
}

/// Deletes a task definition. Needs: DELETE on it.
async fn taskdef_delete(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    _body: IgnoredBody,
) -> ApiResult<()> {
    state.metadata.delete_task_def(&principal, &name).await?;
    Ok(())
}

/// Every workflow definition version the caller may read. Needs: authentication.
async fn workflowdefs_list(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<Json<Vec<WorkflowDef>>> {
    Ok(Json(state.metadata.list_workflow_defs(&principal).await?))
}

/// Registers a workflow definition (409 when it exists and `overwrite` is false).
/// Needs: CREATE (or UPDATE when it exists) on the workflow definition.
async fn workflowdef_create(
    State(state): State<AppState>,
    Auth(principal): Auth,
    params: Params,
    JsonBody(def): JsonBody<WorkflowDef>,
) -> ApiResult<Json<serde_json::Value>> {
    let overwrite = params.flag("overwrite", false)?;
    state
        .metadata
        .register_workflow_def(&principal, def, overwrite)
        .await?;
    Ok(Json(serde_json::json!({})))
}

/// Creates or replaces workflow definitions. Needs: CREATE or UPDATE on each.
async fn workflowdefs_update(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(defs): JsonBody<Vec<WorkflowDef>>,
) -> ApiResult<Json<BulkResponse>> {
    Ok(Json(
        state
            .metadata
            .update_workflow_defs(&principal, defs)
            .await?,
    ))
}

fn version_param(params: &Params) -> ApiResult<Option<i32>> {
    params
        .int("version")?
        .map(|v| i32::try_from(v).map_err(|_| ApiError::bad_request("version is out of range")))
        .transpose()
}

/// A workflow definition version (latest without `version`). Needs: READ on it.
async fn workflowdef_get(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    params: Params,
) -> ApiResult<Json<WorkflowDef>> {
    let version = version_param(&params)?;
    Ok(Json(
        state
            .metadata
            .get_workflow_def(&principal, &name, version)
            .await?,
    ))
}

/// Deletes one version of a workflow definition. Needs: DELETE on it.
async fn workflowdef_delete(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((name, version)): Path<(String, String)>,
    _body: IgnoredBody,
) -> ApiResult<()> {
    let version: i32 = version.parse().map_err(|_| {
        ApiError::bad_request(format!("version must be an integer, not '{version}'"))
    })?;
    state
        .metadata
        .delete_workflow_def(&principal, &name, version)
        .await?;
    Ok(())
}

/// Tags of a workflow definition. Needs: READ on it.
async fn workflowdef_tags_get(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<Tag>>> {
    Ok(Json(
        state
            .metadata
            .get_tags(&principal, WORKFLOW_DEF_TAGS, &name)
            .await?,
    ))
}

/// Replaces the tags of a workflow definition. Needs: UPDATE on it.
async fn workflowdef_tags_set(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    JsonBody(tags): JsonBody<Vec<Tag>>,
) -> ApiResult<Json<serde_json::Value>> {
    state
        .metadata
        .set_tags(&principal, WORKFLOW_DEF_TAGS, &name, tags)
        .await?;
    Ok(Json(serde_json::json!({})))
}

/// Adds a tag to a workflow definition. Needs: UPDATE on it.
async fn workflowdef_tags_add(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    JsonBody(tag): JsonBody<Tag>,
) -> ApiResult<Json<serde_json::Value>> {
    state
        .metadata
        .add_tag(&principal, WORKFLOW_DEF_TAGS, &name, tag)
        .await?;
    Ok(Json(serde_json::json!({})))
}

/// Removes tags (one tag or a list) from a workflow definition. Needs: UPDATE on it.
async fn workflowdef_tags_delete(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    JsonBody(tags): JsonBody<OneOrMany<Tag>>,
) -> ApiResult<Json<serde_json::Value>> {
    state
        .metadata
        .remove_tags(&principal, WORKFLOW_DEF_TAGS, &name, tags.into_vec())
        .await?;
    Ok(Json(serde_json::json!({})))
}

/// Tags of a task definition. Needs: READ on it.
async fn taskdef_tags_get(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<Tag>>> {
    Ok(Json(
        state
            .metadata
            .get_tags(&principal, TASK_DEF_TAGS, &name)
            .await?,
    ))
}

/// Replaces the tags of a task definition. Needs: UPDATE on it.
async fn taskdef_tags_set(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    JsonBody(tags): JsonBody<Vec<Tag>>,
) -> ApiResult<Json<serde_json::Value>> {
    state
        .metadata
        .set_tags(&principal, TASK_DEF_TAGS, &name, tags)
        .await?;
    Ok(Json(serde_json::json!({})))
}

/// Adds a tag to a task definition. Needs: UPDATE on it.
async fn taskdef_tags_add(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    JsonBody(tag): JsonBody<Tag>,
) -> ApiResult<Json<serde_json::Value>> {
    state
        .metadata
        .add_tag(&principal, TASK_DEF_TAGS, &name, tag)
        .await?;
    Ok(Json(serde_json::json!({})))
}

/// Removes tags (one tag or a list) from a task definition. Needs: UPDATE on it.
async fn taskdef_tags_delete(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    JsonBody(tags): JsonBody<OneOrMany<Tag>>,
) -> ApiResult<Json<serde_json::Value>> {
    state
        .metadata
        .remove_tags(&principal, TASK_DEF_TAGS, &name, tags.into_vec())
        .await?;
    Ok(Json(serde_json::json!({})))
}

/// Every tag on a definition the caller may read. Needs: authentication.
async fn tags_list(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<Json<Vec<Tag>>> {
    Ok(Json(state.metadata.all_tags(&principal).await?))
}

/// A body that is one item or a list of them (tag deletes come in both forms).
#[derive(serde::Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// The items as a list.
    pub fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(item) => vec![item],
            OneOrMany::Many(items) => items,
        }
    }
}
