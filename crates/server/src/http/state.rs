//! What every handler can reach: the services, the authenticator and the metrics.

use std::sync::Arc;

use podium_core::security::Authenticator;
use podium_core::service::identity::IdentityService;
use podium_core::service::operations::OperationsService;
use podium_core::service::secrets::SecretService;
use podium_core::service::users::UserService;
use podium_core::service::{MetadataService, TaskService, WorkflowService};

use super::metrics::Metrics;

/// Shared state of the HTTP layer: one reference to [`Shared`], so the clone axum
/// makes for every request and layer is a single reference-count increment.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What the handlers reach through [`AppState`].
pub struct Shared {
    pub metadata: MetadataService,
    pub workflows: WorkflowService,
    pub tasks: TaskService,
    pub identity: IdentityService,
    pub users: UserService,
    pub secrets: SecretService,
    pub environment: SecretService,
    pub authenticator: Arc<Authenticator>,
    /// The reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: super::client_addr::TrustedProxies,
    /// Checks access tokens of the OpenID Connect provider, when one is configured.
    pub oidc: Option<Arc<crate::identity::oidc::OidcBearer>>,
    /// The browser sign-in through that provider, when a client is configured.
    pub oidc_login: Option<Arc<crate::identity::oidc_login::OidcLogin>>,
    /// Browser sessions.
    pub sessions: podium_core::service::sessions::SessionService,
    /// Where people reach Podium, when configured (`public_url`).
    pub public_origin: Option<super::session::Origin>,
    pub operations: OperationsService,
    /// Workflow schedules.
    pub schedules: podium_core::service::schedules::ScheduleService,
    /// Schemas.
    pub schemas: podium_core::service::schemas::SchemaService,
    pub roles: podium_core::service::roles::RoleService,
    pub events: podium_core::service::event_handlers::EventHandlerService,
    /// Events from outside, and records of events.
    pub event_records: podium_core::service::event_records::EventRecordService,
    /// The service registry.
    pub registry: podium_core::service::service_registry::ServiceRegistryService,
    /// Camunda Operate's REST API v1.
    pub operate: podium_core::service::operate::OperateService,
    pub metrics: Arc<Metrics>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
}
