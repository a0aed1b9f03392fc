//! The secrets and environment variables pages: names with tags, add, replace a
//! value, tag, delete after asking, and (secrets, for administrators) who read the
//! value. A secret's value never leaves the server through these pages: no page
//! is given it, and its fields are write-only.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::http::StatusCode;
use axum::response::Response;
use podium_core::error::{CoreError, CoreResult};
use podium_core::model::Tag;
use podium_core::service::secrets::SecretService;
use serde::Deserialize;

use super::applications::Empty;
use super::form::PageForm;
use super::layout::{self, Chrome, when};
use super::viewer::Viewer;
use crate::http::routes::Routes;
use crate::http::state::AppState;
use podium_core::security::RouteAccess;

/// The menu entry's path.
pub const PATH: &str = "/secrets";

/// Secrets, or environment variables.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Secret,
    Env,
}

impl Kind {
    /// The path the kind's pages are under (without its slash).
    pub fn base(self) -> &'static str {
        match self {
            Kind::Secret => "secrets",
            Kind::Env => "environment",
        }
    }

    fn service(self, state: &AppState) -> &SecretService {
        match self {
            Kind::Secret => &state.secrets,
            Kind::Env => &state.environment,
        }
    }

    fn words(self) -> KindWords {
        match self {
            Kind::Secret => KindWords {
                base: "secrets",
                plural: "Secrets",
                singular: "secret",
                singular_title: "Secret",
                secret: true,
                about: "Values workflows use as ${workflow.secrets.NAME}. Their values are never shown.",
            },
            Kind::Env => KindWords {
                base: "environment",
                plural: "Environment variables",
                singular: "variable",
                singular_title: "Environment variable",
                secret: false,
                about: "Values workflows use as ${workflow.env.NAME}; whoever may read one sees its value.",
            },
        }
    }
}

/// What the templates call a kind.
pub struct KindWords {
    pub base: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub singular_title: &'static str,
    pub secret: bool,
    pub about: &'static str,
}

/// Whether `viewer` has secrets or variables to look at (the menu's rule).
pub fn may_use(state: &AppState, viewer: &Viewer) -> bool {
    state.secrets.may_use(&viewer.principal) || state.environment.may_use(&viewer.principal)
}

/// A name in a list, with its tags as text.
pub struct Row {
    pub name: String,
    pub tags: String,
}

/// One kind's section of the list.
pub struct Section {
    pub base: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub about: &'static str,
    pub may_create: bool,
    pub rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "console/values.html")]
struct List {
    chrome: Chrome,
    kinds: Vec<Section>,
}

/// `GET /secrets`: both kinds.
pub async fn list(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    let chrome = Chrome::of(&state, &viewer, PATH);
    if !may_use(&state, &viewer) {
        let refused = CoreError::Forbidden(
            "You don't have permissions to use secrets or environment variables: you may neither create one nor read any"
                .into(),
        );
        return layout::refusal(Some(chrome), &refused);
    }
    let mut kinds = Vec::new();
    for kind in [Kind::Secret, Kind::Env] {
        match section(&state, &viewer, kind).await {
            Ok(section) => kinds.push(section),
            Err(err) => return layout::refusal(Some(chrome), &err),
        }
    }
    layout::render(StatusCode::OK, &List { chrome, kinds })
}

async fn section(state: &AppState, viewer: &Viewer, kind: Kind) -> CoreResult<Section> {
    let service = kind.service(state);
    let rows = service
        .names_with_tags(&viewer.principal)
        .await?
        .into_iter()
        .map(|entry| {
            let tags: Vec<Tag> = serde_json::from_value(entry["tags"].clone()).unwrap_or_default();
            Row {
                name: entry["name"].as_str().unwrap_or_default().to_string(),
                tags: tag_text(&tags),
            }
        })
        .collect();
    let words = kind.words();
    Ok(Section {
        base: words.base,
        plural: words.plural,
        singular: words.singular,
        about: words.about,
        may_create: service.may_create(&viewer.principal),
        rows,
    })
}

fn tag_text(tags: &[Tag]) -> String {
    tags.iter()
        .map(|t| format!("{}:{}", t.key, t.value))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Deserialize)]
pub struct NewValue {
    name: String,
    value: String,
}

/// `POST /secrets`, `POST /environment`: adds a value (or replaces one of that
/// name, as the API's `PUT` does, which needs UPDATE on it).
async fn create(kind: Kind, state: AppState, viewer: Viewer, form: NewValue) -> Response {
    let name = form.name.trim();
    match kind
        .service(&state)
        .put(&viewer.principal, name, &form.value)
        .await
    {
        Ok(()) => layout::see_other(&format!("/{}/{name}", kind.base())),
        Err(err) => layout::refusal(Some(Chrome::of(&state, &viewer, PATH)), &err),
    }
}

#[derive(Template)]
#[template(path = "console/value.html")]
struct One {
    chrome: Chrome,
    kind: KindWords,
    name: String,
    /// An environment variable's value (never a secret's).
    value: String,
    tags: Vec<Tag>,
    /// Who read a secret and when, to administrators.
    reads: Option<Vec<(String, String)>>,
}

/// `GET /secrets/{name}`, `GET /environment/{name}`.
async fn one(kind: Kind, state: AppState, viewer: Viewer, name: String) -> Response {
    let chrome = Chrome::of(&state, &viewer, PATH);
    match one_page(kind, &state, &viewer, &name).await {
        Ok(mut page) => {
            page.chrome = chrome;
            layout::render(StatusCode::OK, &page)
        }
        Err(err) => layout::refusal(Some(chrome), &err),
    }
}

async fn one_page(kind: Kind, state: &AppState, viewer: &Viewer, name: &str) -> CoreResult<One> {
    let service = kind.service(state);
    let who = &viewer.principal;
    // Needs READ, and tells a missing name from a refused one as the API does.
    let tags = service.tags(who, name).await?;
    let value = match kind {
        Kind::Env => service.get(who, name).await?,
        Kind::Secret => String::new(),
    };
    let reads = match kind {
        Kind::Secret => match service.reads(who, name).await {
            Ok(reads) => Some(
                reads
                    .iter()
                    .map(|r| {
                        (
                            r["principal"].as_str().unwrap_or_default().to_string(),
                            when(r["readAt"].as_i64().unwrap_or_default()),
                        )
                    })
                    .collect(),
            ),
            Err(CoreError::Forbidden(_)) => None,
            Err(err) => return Err(err),
        },
        Kind::Env => None,
    };
    Ok(One {
        chrome: Chrome::blank(),
        kind: kind.words(),
        name: name.to_string(),
        value,
        tags,
        reads,
    })
}

fn back_to(
    kind: Kind,
    state: &AppState,
    viewer: &Viewer,
    name: &str,
    done: CoreResult<()>,
) -> Response {
    layout::after(
        state,
        viewer,
        PATH,
        &format!("/{}/{name}", kind.base()),
        done,
    )
}

#[derive(Deserialize)]
pub struct Value {
    value: String,
}

/// `POST /{kind}/{name}/value`: replaces the value (needs UPDATE).
async fn replace(
    kind: Kind,
    state: AppState,
    viewer: Viewer,
    name: String,
    form: Value,
) -> Response {
    let service = kind.service(&state);
    // Only an existing value is replaced here; adding one is the list's form.
    let done = match service.exists(&viewer.principal, &name) {
        Ok(_) => service.put(&viewer.principal, &name, &form.value).await,
        Err(err) => Err(err),
    };
    back_to(kind, &state, &viewer, &name, done)
}

#[derive(Deserialize)]
pub struct TagForm {
    key: String,
    #[serde(default)]
    value: String,
}

/// `POST /{kind}/{name}/tags` and `.../tags/remove`.
async fn tag(
    kind: Kind,
    state: AppState,
    viewer: Viewer,
    name: String,
    form: TagForm,
    remove: bool,
) -> Response {
    let tag = Tag {
        key: form.key.trim().to_string(),
        tag_type: None,
        value: form.value.trim().to_string(),
    };
    let done = kind
        .service(&state)
        .change_tags(&viewer.principal, &name, vec![tag], remove)
        .await;
    back_to(kind, &state, &viewer, &name, done)
}

/// `GET /{kind}/{name}/delete`: asks first.
async fn confirm_delete(kind: Kind, state: AppState, viewer: Viewer, name: String) -> Response {
    let chrome = Chrome::of(&state, &viewer, PATH);
    let words = kind.words();
    match kind.service(&state).tags(&viewer.principal, &name).await {
        Ok(_) => layout::confirm(
            chrome,
            &format!("Delete {} {name}?", words.singular),
            "Workflows that name it will no longer find it, and its grants and tags go with it. This cannot be undone.",
            &format!("/{}/{name}/delete", words.base),
            &format!("Delete {}", words.singular),
            &format!("/{}/{name}", words.base),
        ),
        Err(err) => layout::refusal(Some(chrome), &err),
    }
}

/// `POST /{kind}/{name}/delete`.
async fn delete(kind: Kind, state: AppState, viewer: Viewer, name: String) -> Response {
    match kind.service(&state).delete(&viewer.principal, &name).await {
        Ok(_) => layout::see_other(PATH),
        Err(err) => layout::refusal(Some(Chrome::of(&state, &viewer, PATH)), &err),
    }
}

/// The addresses of one kind's pages.
struct Paths {
    list: &'static str,
    one: &'static str,
    value: &'static str,
    tags: &'static str,
    tags_remove: &'static str,
    delete: &'static str,
}

impl Kind {
    fn paths(self) -> Paths {
        match self {
            Kind::Secret => Paths {
                list: "/secrets",
                one: "/secrets/{name}",
                value: "/secrets/{name}/value",
                tags: "/secrets/{name}/tags",
                tags_remove: "/secrets/{name}/tags/remove",
                delete: "/secrets/{name}/delete",
            },
            Kind::Env => Paths {
                list: "/environment",
                one: "/environment/{name}",
                value: "/environment/{name}/value",
                tags: "/environment/{name}/tags",
                tags_remove: "/environment/{name}/tags/remove",
                delete: "/environment/{name}/delete",
            },
        }
    }
}

/// Adds the pages of one kind (the list of both is `GET /secrets`).
pub fn routes(routes: Routes, kind: Kind) -> Routes {
    use Method as M;
    use RouteAccess::Page;
    let paths = kind.paths();
    let routes = match kind {
        Kind::Secret => routes.add(M::GET, paths.list, Page, list),
        Kind::Env => routes.add(M::GET, paths.list, Page, |_: Extension<Viewer>| async {
            layout::see_other(PATH)
        }),
    };
    routes
        .add(
            M::POST,
            paths.list,
            Page,
            move |State(state): State<AppState>,
                  Extension(viewer): Extension<Viewer>,
                  PageForm(form): PageForm<NewValue>| async move {
                create(kind, state, viewer, form).await
            },
        )
        .add(
            M::GET,
            paths.one,
            Page,
            move |State(state): State<AppState>,
                  Extension(viewer): Extension<Viewer>,
                  Path(name): Path<String>| async move {
                one(kind, state, viewer, name).await
            },
        )
        .add(
            M::POST,
            paths.value,
            Page,
            move |State(state): State<AppState>,
                  Extension(viewer): Extension<Viewer>,
                  Path(name): Path<String>,
                  PageForm(form): PageForm<Value>| async move {
                replace(kind, state, viewer, name, form).await
            },
        )
        .add(
            M::POST,
            paths.tags,
            Page,
            move |State(state): State<AppState>,
                  Extension(viewer): Extension<Viewer>,
                  Path(name): Path<String>,
                  PageForm(form): PageForm<TagForm>| async move {
                tag(kind, state, viewer, name, form, false).await
            },
        )
        .add(
            M::POST,
            paths.tags_remove,
            Page,
            move |State(state): State<AppState>,
                  Extension(viewer): Extension<Viewer>,
                  Path(name): Path<String>,
                  PageForm(form): PageForm<TagForm>| async move {
                tag(kind, state, viewer, name, form, true).await
            },
        )
        .add(
            M::GET,
            paths.delete,
            Page,
            move |State(state): State<AppState>,
                  Extension(viewer): Extension<Viewer>,
                  Path(name): Path<String>| async move {
                confirm_delete(kind, state, viewer, name).await
            },
        )
        .add(
            M::POST,
            paths.delete,
            Page,
            move |State(state): State<AppState>,
                  Extension(viewer): Extension<Viewer>,
                  Path(name): Path<String>,
                  PageForm(_): PageForm<Empty>| async move {
                delete(kind, state, viewer, name).await
            },
        )
}
