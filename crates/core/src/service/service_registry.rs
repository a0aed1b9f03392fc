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

use base64::Engine;
use prost::Message;

use super::Runtime;
use crate::error::{CoreError, CoreResult};
use crate::model::{ProtoFile, RegisteredService, RequestParam, ServiceMethod, ServiceType};
use crate::security::{Principal, Role};

/// The longest service name, and proto filename.
pub const MAX_NAME: usize = 255;
/// The longest service URI.
pub const MAX_URI: usize = 2048;
/// The longest text of a method's fields.
pub const MAX_FIELD: usize = 1024;
/// The most methods a service has.
pub const MAX_METHODS: usize = 1000;
/// The most request parameters a service or method has.
pub const MAX_PARAMS: usize = 100;
/// The most proto files a service has.
pub const MAX_PROTOS: usize = 100;
/// The largest proto file.
pub const MAX_PROTO_BYTES: usize = 4 * 1024 * 1024;

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

fn check_name(what: &str, name: &str) -> CoreResult<()> {
    let fine = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && name.chars().any(|c| c.is_ascii_alphanumeric());
    if fine {
        Ok(())
    } else {
        Err(CoreError::invalid(format!(
            "{what} '{name}' is not valid: 1 to {MAX_NAME} letters, digits, '_', '-' and '.'"
        )))
    }
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
        check_text(what, text, MAX_FIELD)?;
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
    Ok(())
}

fn not_found(name: &str) -> CoreError {
    CoreError::NotFound(format!("Service '{name}' not found"))
}

/// The gRPC kind of a method, from whether each side streams.
fn grpc_kind(client_streaming: bool, server_streaming: bool) -> &'static str {
    match (client_streaming, server_streaming) {
        (false, false) => "UNARY",
        (false, true) => "SERVER_STREAMING",
        (true, false) => "CLIENT_STREAMING",
        (true, true) => "BIDI_STREAMING",
    }
}

/// The methods of every service in a compiled proto file (a `FileDescriptorSet`,
/// as `protoc --descriptor_set_out` writes it): the operation is the service's
/// full name, the method its name, the type its gRPC kind.
fn methods_of(set: &prost_types::FileDescriptorSet) -> CoreResult<Vec<ServiceMethod>> {
    let mut methods = Vec::new();
    for file in &set.file {
        let package = file.package.as_deref().unwrap_or("");
        for service in &file.service {
            let name = service.name.as_deref().unwrap_or("");
            let operation = if package.is_empty() {
                name.to_string()
            } else {
                format!("{package}.{name}")
            };
            for method in &service.method {
                let message = |t: &Option<String>| {
                    t.as_deref().map(|t| t.trim_start_matches('.').to_string())
                };
                let mut found = ServiceMethod {
                    operation_name: operation.clone(),
                    method_name: method.name.clone().unwrap_or_default(),
                    method_type: grpc_kind(method.client_streaming(), method.server_streaming())
                        .to_string(),
                    input_type: message(&method.input_type),
                    output_type: message(&method.output_type),
                    ..ServiceMethod::default()
                };
                check_method(&mut found)?;
                methods.push(found);
                if methods.len() > MAX_METHODS {
                    return Err(CoreError::invalid(format!(
                        "The file declares more than {MAX_METHODS} methods"
                    )));
                }
            }
        }
    }
    Ok(methods)
}

/// Reads an uploaded proto file: its bytes and the methods it declares.
///
/// The JavaScript SDK sends the file as it is. The Python SDK sends it as text:
/// the bytes read as UTF-8 and JSON-escaped (without the quotes), or base64 when
/// they are not UTF-8. The first reading that is a descriptor set of at least one
/// file is taken (bytes that are no descriptor set may still decode as an empty
/// one, since unknown fields are skipped).
pub fn read_proto_upload(body: &[u8]) -> CoreResult<(Vec<u8>, Vec<ServiceMethod>)> {
    let decode = |bytes: &[u8]| prost_types::FileDescriptorSet::decode(bytes);
    let first = decode(body);
    if let Ok(set) = &first
        && !set.file.is_empty()
    {
        return Ok((body.to_vec(), methods_of(set)?));
    }
    if let Ok(text) = std::str::from_utf8(body) {
        let unescaped = serde_json::from_str::<String>(&format!("\"{text}\""))
            .ok()
            .map(String::into_bytes);
        let unencoded = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok();
        for bytes in [unescaped, unencoded].into_iter().flatten() {
            if let Ok(set) = decode(&bytes)
                && !set.file.is_empty()
            {
                let methods = methods_of(&set)?;
                return Ok((bytes, methods));
            }
        }
    }
    let why = match first {
        Err(err) => err.to_string(),
        Ok(_) => "it declares no file".to_string(),
    };
    Err(CoreError::invalid(format!(
        "The file is not a compiled proto file (a FileDescriptorSet, as written by \
         protoc --descriptor_set_out): {why}"
    )))
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
        check_name("Service name", &service.name)?;
        service.service_uri = service.service_uri.trim().to_string();
        if service.service_uri.is_empty() {
            return Err(CoreError::invalid("A service needs its serviceURI"));
        }
        check_text("serviceURI", &service.service_uri, MAX_URI)?;
        check_params(&service.request_params)?;
        let mut methods = std::mem::take(&mut service.methods);
        for method in &mut methods {
            check_method(method)?;
        }
        let store = &self.rt.stores.registry;
        let known = store.service(&service.name).await?;
        self.check_room(known.as_ref(), &methods)?;
        store.put_service(&service).await?;
        if !methods.is_empty() && !store.put_methods(&service.name, &methods).await? {
            return Err(not_found(&service.name));
        }
        Ok(())
    }

    /// Refuses methods that would take a service past its limit.
    fn check_room(
        &self,
        known: Option<&RegisteredService>,
        added: &[ServiceMethod],
    ) -> CoreResult<()> {
        let key = |m: &ServiceMethod| {
            (
                m.operation_name.clone(),
                m.method_name.clone(),
                m.method_type.clone(),
            )
        };
        let mut keys: std::collections::HashSet<_> = known
            .map(|s| s.methods.iter().map(key).collect())
            .unwrap_or_default();
        keys.extend(added.iter().map(key));
        if keys.len() > MAX_METHODS {
            return Err(CoreError::invalid(format!(
                "A service has at most {MAX_METHODS} methods"
            )));
        }
        Ok(())
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
        let known = self.existing(service).await?;
        self.check_room(Some(&known), std::slice::from_ref(&method))?;
        if self
            .rt
            .stores
            .registry
            .put_methods(service, &[method])
            .await?
        {
            Ok(())
        } else {
            Err(not_found(service))
        }
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
        check_name("Proto filename", filename)?;
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
        let (data, methods) = read_proto_upload(&data)?;
        let store = &self.rt.stores.registry;
        let protos = store.protos(service).await?;
        if protos.len() >= MAX_PROTOS && !protos.iter().any(|p| p.filename == filename) {
            return Err(CoreError::invalid(format!(
                "A service has at most {MAX_PROTOS} proto files"
            )));
        }
        let kept: Vec<ServiceMethod> = known
            .methods
            .iter()
            .filter(|m| m.proto.as_deref() != Some(filename))
            .cloned()
            .collect();
        let others = RegisteredService {
            methods: kept,
            ..known
        };
        self.check_room(Some(&others), &methods)?;
        let proto = ProtoFile {
            service_name: service.to_string(),
            filename: filename.to_string(),
            data,
        };
        if store.put_proto(&proto, &methods).await? {
            Ok(())
        } else {
            Err(not_found(service))
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor_set(streams: bool) -> Vec<u8> {
        use prost_types::{
            FileDescriptorProto, FileDescriptorSet, MethodDescriptorProto, ServiceDescriptorProto,
        };
        FileDescriptorSet {
            file: vec![FileDescriptorProto {
                name: Some("a.proto".into()),
                package: Some("pkg".into()),
                service: vec![ServiceDescriptorProto {
                    name: Some("Svc".into()),
                    method: vec![MethodDescriptorProto {
                        name: Some("Call".into()),
                        input_type: Some(".pkg.In".into()),
                        output_type: Some(".pkg.Out".into()),
                        client_streaming: Some(streams),
                        server_streaming: None,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    }

    #[test]
    fn an_upload_is_read_in_each_sdks_encoding() {
        let raw = descriptor_set(true);
        let python_text = {
            let text = String::from_utf8(raw.clone()).expect("this file is UTF-8");
            let json = serde_json::to_string(&text).expect("json");
            json[1..json.len() - 1].to_string()
        };
        let base64 = base64::engine::general_purpose::STANDARD.encode(&raw);
        for body in [raw.clone(), python_text.into_bytes(), base64.into_bytes()] {
            let (bytes, methods) = read_proto_upload(&body).expect("read");
            assert_eq!(bytes, raw);
            assert_eq!(methods.len(), 1);
            let m = &methods[0];
            assert_eq!(
                (
                    m.operation_name.as_str(),
                    m.method_name.as_str(),
                    m.method_type.as_str()
                ),
                ("pkg.Svc", "Call", "CLIENT_STREAMING")
            );
            assert_eq!(m.input_type.as_deref(), Some("pkg.In"));
        }
        assert_eq!(
            read_proto_upload(&descriptor_set(false)).expect("read").1[0].method_type,
            "UNARY"
        );
    }

    #[test]
    fn what_is_no_descriptor_set_is_refused() {
        for body in [
            &b"\x08\x96\x01\x12\x04\x08\x02\x10\x03"[..],
            b"",
            b"hello",
            b"\xff\xff\xff",
        ] {
            let err = read_proto_upload(body).expect_err("refused");
            assert!(
                err.to_string().contains("FileDescriptorSet"),
                "{body:?}: {err}"
            );
        }
    }
}
