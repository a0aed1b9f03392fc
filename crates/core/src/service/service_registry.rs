//! The service registry (Orkes' `/api/registry/service`): services that workflows
//! call, their methods, and the compiled proto files of gRPC services, whose
//! methods are read from them.
//!
//! A registered service is shared metadata: reading it takes a role that reads
//! definitions, changing it the METADATA_MANAGER role (or ADMIN). Podium does not
//! reach out to a service: it discovers no methods over the network (an HTTP
//! service's methods are added by hand, a gRPC service's come from its protos),
//! and no task calls a registered service yet, so no circuit breaker is ever
//! initialized (Orkes answers 404 for one not initialized).

use std::sync::Arc;

use super::Runtime;
use super::proto_files;
use super::schemas::check_plain_name;
use crate::error::{CoreError, CoreResult};
use crate::model::{ProtoFile, RegisteredService, RequestParam, ServiceMethod, ServiceType};
use crate::security::{Principal, Role};
use crate::store::{RegistryLimits, RegistryWrite};

/// The longest service name, and proto filename.
pub const MAX_NAME: usize = 255;
/// The longest service URI.
pub const MAX_URI: usize = 2048;
/// The longest operation, name or type of a method (together they are its key,
/// which PostgreSQL indexes).
pub const MAX_KEY_FIELD: usize = 512;
/// The longest text of a method's other fields.
pub const MAX_FIELD: usize = 1024;
/// The most request parameters a service or method has.
pub const MAX_PARAMS: usize = 100;
/// The largest method, and service without its methods, as stored (JSON).
pub const MAX_METHOD_BYTES: usize = 8 * 1024;
pub const MAX_SERVICE_BYTES: usize = 16 * 1024;
/// The largest proto file.
pub const MAX_PROTO_BYTES: usize = 1024 * 1024;
/// The registry's bounds: services, methods of a service, methods in all, proto
/// files of a service.
pub const LIMITS: RegistryLimits = RegistryLimits {
    services: 1000,
    methods_per_service: 1000,
    methods: 20_000,
    protos_per_service: 20,
};

/// Roles that read the registry.
const READERS: [Role; 5] = [
    Role::User,
    Role::MetadataApi,
    Role::MetadataManager,
    Role::WorkflowManager,
    Role::UserReadOnly,
];

/// The service registry.
#[derive(Clone)]
pub struct ServiceRegistryService {
    rt: Arc<Runtime>,
}

fn check_text(what: &str, text: &str, max: usize) -> CoreResult<()> {
    if text.len() > max || text.chars().any(char::is_control) {
        return Err(CoreError::invalid(format!(
            "{what} must be at most {max} bytes without control characters"
        )));
    }
    Ok(())
}

fn check_params(params: &[RequestParam]) -> CoreResult<()> {
    if params.len() > MAX_PARAMS {
        return Err(CoreError::invalid(format!(
            "At most {MAX_PARAMS} request parameters are allowed"
        )));
    }
    for param in params {
        check_text("A request parameter's name", &param.name, MAX_FIELD)?;
        check_text(
            "A request parameter's type",
            param.param_type.as_deref().unwrap_or(""),
            MAX_FIELD,
        )?;
    }
    Ok(())
}

fn check_method(method: &mut ServiceMethod) -> CoreResult<()> {
    for (what, text) in [
        ("operationName", &mut method.operation_name),
        ("methodName", &mut method.method_name),
        ("methodType", &mut method.method_type),
    ] {
        *text = text.trim().to_string();
        if text.is_empty() {
            return Err(CoreError::invalid(format!("A method needs its {what}")));
        }
        check_text(what, text, MAX_KEY_FIELD)?;
    }
    for (what, text) in [
        ("description", &method.description),
        ("inputType", &method.input_type),
        ("outputType", &method.output_type),
        ("accept", &method.accept),
        ("requestContentType", &method.request_content_type),
        ("responseContentType", &method.response_content_type),
    ] {
        check_text(what, text.as_deref().unwrap_or(""), MAX_FIELD)?;
    }
    check_params(&method.request_params)?;
    method.id = None;
    method.proto = None;
    check_size("A method", method, MAX_METHOD_BYTES)
}

/// Refuses what would be stored larger than `max` bytes of JSON (an
/// `exampleInput` or a parameter's schema is free-form).
fn check_size<T: serde::Serialize>(what: &str, value: &T, max: usize) -> CoreResult<()> {
    let size = serde_json::to_vec(value)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > max {
        return Err(CoreError::invalid(format!(
            "{what} is at most {max} bytes as JSON"
        )));
    }
    Ok(())
}

/// The answer to a registry write.
fn written(service: &str, write: RegistryWrite) -> CoreResult<()> {
    match write {
        RegistryWrite::Done => Ok(()),
        RegistryWrite::NoService => Err(not_found(service)),
        RegistryWrite::Full(reason) => Err(CoreError::invalid(reason)),
    }
}

fn not_found(name: &str) -> CoreError {
    CoreError::NotFound(format!("Service '{name}' not found"))
}

impl ServiceRegistryService {
    /// The service over a runtime.
    pub fn new(rt: Arc<Runtime>) -> ServiceRegistryService {
        ServiceRegistryService { rt }
    }

    fn require_read(&self, principal: &Principal) -> CoreResult<()> {
        let authorizer = &self.rt.authorizer;
        if READERS.iter().any(|r| authorizer.has_role(principal, *r)) {
            Ok(())
        } else {
            Err(CoreError::Forbidden(
                "You don't have permissions to read the service registry".into(),
            ))
        }
    }

    fn require_manage(&self, principal: &Principal, what: &str) -> CoreResult<()> {
        if self
            .rt
            .authorizer
            .has_role(principal, Role::MetadataManager)
        {
            Ok(())
        } else {
            Err(CoreError::Forbidden(format!(
                "You don't have permissions to {what}: it takes the METADATA_MANAGER or ADMIN role"
            )))
        }
    }

    async fn existing(&self, name: &str) -> CoreResult<RegisteredService> {
        self.rt
            .stores
            .registry
            .service(name)
            .await?
            .ok_or_else(|| not_found(name))
    }

    /// Registers a service or replaces its fields; methods it lists are added (or
    /// replace those of the same key), the others are kept.
    pub async fn save(
        &self,
        principal: &Principal,
        mut service: RegisteredService,
    ) -> CoreResult<()> {
        service.name = service.name.trim().to_string();
        self.require_manage(principal, &format!("register service: {}", service.name))?;
        check_plain_name("Service name", &service.name, MAX_NAME)?;
        service.service_uri = service.service_uri.trim().to_string();
        if service.service_uri.is_empty() {
            return Err(CoreError::invalid("A service needs its serviceURI"));
        }
        check_text("serviceURI", &service.service_uri, MAX_URI)?;
        check_params(&service.request_params)?;
        for method in &mut service.methods {
            check_method(method)?;
        }
        let own = RegisteredService {
            methods: Vec::new(),
            ..service.clone()
        };
        check_size("A service (without its methods)", &own, MAX_SERVICE_BYTES)?;
        let name = service.name.clone();
        let write = self
            .rt
            .stores
            .registry
            .save_service(&service, &LIMITS)
            .await?;
        written(&name, write)
    }

    /// A service, or none.
    pub async fn get(
        &self,
        principal: &Principal,
        name: &str,
    ) -> CoreResult<Option<RegisteredService>> {
        self.require_read(principal)?;
        Ok(self.rt.stores.registry.service(name).await?)
    }

    /// Every service.
    pub async fn list(&self, principal: &Principal) -> CoreResult<Vec<RegisteredService>> {
        self.require_read(principal)?;
        Ok(self.rt.stores.registry.list_services().await?)
    }

    /// Deletes a service with its methods and protos.
    pub async fn delete(&self, principal: &Principal, name: &str) -> CoreResult<()> {
        self.require_manage(principal, &format!("delete service: {name}"))?;
        if self.rt.stores.registry.delete_service(name).await? {
            Ok(())
        } else {
            Err(not_found(name))
        }
    }

    /// Adds a method to a service, or replaces the one of its operation, name and type.
    pub async fn put_method(
        &self,
        principal: &Principal,
        service: &str,
        mut method: ServiceMethod,
    ) -> CoreResult<()> {
        self.require_manage(principal, &format!("change service: {service}"))?;
        check_method(&mut method)?;
        let write = self
            .rt
            .stores
            .registry
            .put_methods(service, &[method], &LIMITS)
            .await?;
        written(service, write)
    }

    /// Removes a method.
    pub async fn remove_method(
        &self,
        principal: &Principal,
        service: &str,
        operation: &str,
        method: &str,
        method_type: &str,
    ) -> CoreResult<()> {
        self.require_manage(principal, &format!("change service: {service}"))?;
        let removed = self
            .rt
            .stores
            .registry
            .delete_method(service, operation, method, method_type)
            .await?;
        if removed {
            Ok(())
        } else {
            Err(CoreError::NotFound(format!(
                "Service '{service}' has no method {method_type} '{method}' of operation '{operation}'"
            )))
        }
    }

    /// Stores a compiled proto file of a gRPC service; the methods it declares
    /// replace those its earlier version brought.
    pub async fn put_proto(
        &self,
        principal: &Principal,
        service: &str,
        filename: &str,
        data: Vec<u8>,
    ) -> CoreResult<()> {
        self.require_manage(principal, &format!("change service: {service}"))?;
        check_plain_name("Proto filename", filename, MAX_NAME)?;
        if data.len() > MAX_PROTO_BYTES {
            return Err(CoreError::invalid(format!(
                "A proto file is at most {MAX_PROTO_BYTES} bytes"
            )));
        }
        let known = self.existing(service).await?;
        if known.service_type != ServiceType::Grpc {
            return Err(CoreError::invalid(format!(
                "Service '{service}' is of type {}: proto files belong to gRPC services",
                known.service_type.name()
            )));
        }
        let (data, mut methods) =
            tokio::task::spawn_blocking(move || proto_files::read_upload(&data))
                .await
                .map_err(|err| {
                    CoreError::Internal(format!("reading a proto file failed: {err}"))
                })??;
        for method in &mut methods {
            check_method(method)?;
        }
        let proto = ProtoFile {
            service_name: service.to_string(),
            filename: filename.to_string(),
            data,
        };
        let write = self
            .rt
            .stores
            .registry
            .put_proto(&proto, &methods, &LIMITS)
            .await?;
        written(service, write)
    }

    /// A proto file's bytes.
    pub async fn proto(
        &self,
        principal: &Principal,
        service: &str,
        filename: &str,
    ) -> CoreResult<Vec<u8>> {
        self.require_read(principal)?;
        self.rt
            .stores
            .registry
            .proto(service, filename)
            .await?
            .ok_or_else(|| {
                CoreError::NotFound(format!(
                    "Service '{service}' has no proto file '{filename}'"
                ))
            })
    }

    /// A service's proto files.
    pub async fn protos(&self, principal: &Principal, service: &str) -> CoreResult<Vec<ProtoFile>> {
        self.require_read(principal)?;
        self.existing(service).await?;
        Ok(self.rt.stores.registry.protos(service).await?)
    }

    /// Deletes a proto file and the methods it brought.
    pub async fn delete_proto(
        &self,
        principal: &Principal,
        service: &str,
        filename: &str,
    ) -> CoreResult<()> {
        self.require_manage(principal, &format!("change service: {service}"))?;
        if self
            .rt
            .stores
            .registry
            .delete_proto(service, filename)
            .await?
        {
            Ok(())
        } else {
            Err(CoreError::NotFound(format!(
                "Service '{service}' has no proto file '{filename}'"
            )))
        }
    }

    /// The methods of a service as far as Podium knows them without reaching out:
    /// a gRPC service's (from its protos and those added by hand). HTTP and MCP
    /// services are not discovered over the network.
    pub async fn discover(
        &self,
        principal: &Principal,
        name: &str,
    ) -> CoreResult<Vec<ServiceMethod>> {
        self.require_read(principal)?;
        let service = self.existing(name).await?;
        match service.service_type {
            ServiceType::Grpc => Ok(service.methods),
            other => Err(CoreError::invalid(format!(
                "Podium does not discover the methods of {} services over the network: add them \
                 with POST /api/registry/service/{name}/methods",
                other.name()
            ))),
        }
    }

    /// The circuit breaker of a service: never initialized, since no task calls a
    /// registered service yet (Orkes answers 404 for one not initialized).
    pub async fn circuit_breaker(
        &self,
        principal: &Principal,
        name: &str,
        change: bool,
    ) -> CoreResult<()> {
        if change {
            self.require_manage(principal, &format!("change service: {name}"))?;
        } else {
            self.require_read(principal)?;
        }
        self.existing(name).await?;
        Err(CoreError::NotFound(format!(
            "The circuit breaker of service '{name}' is not initialized: no task has called the \
             service (Podium's tasks do not call registered services)"
        )))
    }
}
