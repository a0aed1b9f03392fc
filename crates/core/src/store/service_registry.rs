//! The service registry: registered services, their methods, and the compiled
//! proto files gRPC methods are read from.
//!
//! Writes keep the registry's bounds themselves: they count and write in one
//! unit (the single writer on SQLite, a transaction holding the registry's lock on
//! PostgreSQL), so requests racing one another never take it past them.

use async_trait::async_trait;

use super::{StoreError, StoreResult};
use crate::model::{ProtoFile, RegisteredService, ServiceMethod};

fn encode<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|err| StoreError::Corrupt(err.to_string()))
}

/// A service's stored JSON: its own fields, without its methods (which have rows
/// of their own).
pub fn service_row(service: &RegisteredService) -> StoreResult<String> {
    encode(&RegisteredService {
        methods: Vec::new(),
        ..service.clone()
    })
}

/// A method's stored JSON, without what its row holds apart (id, proto).
pub fn method_row(method: &ServiceMethod) -> StoreResult<String> {
    encode(&ServiceMethod {
        id: None,
        proto: None,
        ..method.clone()
    })
}

/// The bounds a registry write keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryLimits {
    /// Services in the registry.
    pub services: usize,
    /// Methods of one service.
    pub methods_per_service: usize,
    /// Methods in the registry.
    pub methods: usize,
    /// Proto files of one service.
    pub protos_per_service: usize,
}

/// What a registry write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryWrite {
    Done,
    /// The service it names is not there.
    NoService,
    /// It would take the registry past a bound (which one, in words); nothing
    /// was written.
    Full(String),
}

/// A stored method's key, and the proto file that brought it (none when added by
/// hand).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MethodKey {
    pub operation: String,
    pub method: String,
    pub method_type: String,
    pub proto: Option<String>,
}

impl MethodKey {
    fn same(&self, method: &ServiceMethod) -> bool {
        self.operation == method.operation_name
            && self.method == method.method_name
            && self.method_type == method.method_type
    }
}

/// How many methods a service has after methods are written to it: `proto` names
/// the file they come from, whose earlier methods they replace (a proto's method
/// never takes the place of one added by hand); none when added by hand.
pub fn methods_after(
    existing: &[MethodKey],
    added: &[ServiceMethod],
    proto: Option<&str>,
) -> usize {
    let kept: Vec<&MethodKey> = existing
        .iter()
        .filter(|k| proto.is_none() || k.proto.as_deref() != proto)
        .collect();
    let mut new_keys: Vec<&ServiceMethod> = Vec::new();
    for method in added {
        let known = kept.iter().any(|k| k.same(method))
            || new_keys.iter().any(|m| {
                m.operation_name == method.operation_name
                    && m.method_name == method.method_name
                    && m.method_type == method.method_type
            });
        if !known {
            new_keys.push(method);
        }
    }
    kept.len() + new_keys.len()
}

/// Checks a write of methods against the bounds, given the service's methods now
/// and the registry's method count now; the reason when it would pass one.
pub fn check_methods(
    existing: &[MethodKey],
    added: &[ServiceMethod],
    proto: Option<&str>,
    total_now: usize,
    limits: &RegistryLimits,
) -> Option<String> {
    let after = methods_after(existing, added, proto);
    if after > limits.methods_per_service {
        return Some(format!(
            "A service has at most {} methods",
            limits.methods_per_service
        ));
    }
    let total_after = (total_now + after).saturating_sub(existing.len());
    if after > existing.len() && total_after > limits.methods {
        return Some(format!(
            "The registry holds at most {} methods",
            limits.methods
        ));
    }
    None
}

/// Where registered services are kept. A service's methods and proto files are
/// deleted with it; a method or proto file is only written while its service is.
#[async_trait]
pub trait ServiceRegistryStore: Send + Sync {
    /// Stores a service's own fields, replacing those of the one of its name, and
    /// adds the methods it lists (by hand) or replaces those of the same key.
    async fn save_service(
        &self,
        service: &RegisteredService,
        limits: &RegistryLimits,
    ) -> StoreResult<RegistryWrite>;
    /// A service by name, with its methods in the order they were first added.
    async fn service(&self, name: &str) -> StoreResult<Option<RegisteredService>>;
    /// Every service, by name, with its methods. One that cannot be read is left
    /// out (and logged).
    async fn list_services(&self) -> StoreResult<Vec<RegisteredService>>;
    /// Deletes a service with its methods and proto files; whether there was one.
    async fn delete_service(&self, name: &str) -> StoreResult<bool>;
    /// Adds methods to a service by hand, or replaces those of the same operation,
    /// name and type (which keep their id).
    async fn put_methods(
        &self,
        service: &str,
        methods: &[ServiceMethod],
        limits: &RegistryLimits,
    ) -> StoreResult<RegistryWrite>;
    /// Deletes the method of an operation, name and type; whether there was one.
    async fn delete_method(
        &self,
        service: &str,
        operation: &str,
        method: &str,
        method_type: &str,
    ) -> StoreResult<bool>;
    /// Stores a proto file and, in the same unit, the methods read from it in place
    /// of those its earlier version brought (leaving those added by hand as they are).
    async fn put_proto(
        &self,
        proto: &ProtoFile,
        methods: &[ServiceMethod],
        limits: &RegistryLimits,
    ) -> StoreResult<RegistryWrite>;
    /// A proto file's bytes.
    async fn proto(&self, service: &str, filename: &str) -> StoreResult<Option<Vec<u8>>>;
    /// A service's proto files, by filename.
    async fn protos(&self, service: &str) -> StoreResult<Vec<ProtoFile>>;
    /// Deletes a proto file and the methods read from it; whether there was one.
    async fn delete_proto(&self, service: &str, filename: &str) -> StoreResult<bool>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(method: &str, proto: Option<&str>) -> MethodKey {
        MethodKey {
            operation: "op".into(),
            method: method.into(),
            method_type: "GET".into(),
            proto: proto.map(str::to_string),
        }
    }

    fn method(name: &str) -> ServiceMethod {
        ServiceMethod {
            operation_name: "op".into(),
            method_name: name.into(),
            method_type: "GET".into(),
            ..ServiceMethod::default()
        }
    }

    #[test]
    fn methods_are_counted_as_they_will_be_stored() {
        let existing = [
            key("a", None),
            key("b", Some("x.bin")),
            key("c", Some("y.bin")),
        ];
        // By hand: known keys are replaced, new ones (once each) added.
        assert_eq!(
            methods_after(&existing, &[method("a"), method("d"), method("d")], None),
            4
        );
        // A new version of x.bin replaces what x.bin brought.
        assert_eq!(
            methods_after(&existing, &[method("e"), method("f")], Some("x.bin")),
            4
        );
        assert_eq!(methods_after(&existing, &[], Some("x.bin")), 2);
        // Its method with a hand-added one's key does not add one.
        assert_eq!(methods_after(&existing, &[method("a")], Some("x.bin")), 2);
        let limits = RegistryLimits {
            services: 10,
            methods_per_service: 3,
            methods: 5,
            protos_per_service: 2,
        };
        assert!(check_methods(&existing, &[method("d")], None, 3, &limits).is_some());
        assert!(check_methods(&existing, &[method("a")], None, 3, &limits).is_none());
        assert!(check_methods(&existing, &[method("e")], Some("x.bin"), 5, &limits).is_none());
        // Within the service's bound, but past the registry's.
        let roomy = RegistryLimits {
            methods_per_service: 10,
            ..limits
        };
        assert!(check_methods(&existing, &[method("d"), method("e")], None, 4, &roomy).is_some());
        assert!(check_methods(&existing, &[method("d")], None, 4, &roomy).is_none());
    }
}
