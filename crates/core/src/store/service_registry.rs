//! The service registry: registered services, their methods, and the compiled
//! proto files gRPC methods are read from.

use async_trait::async_trait;

use super::StoreResult;
use crate::model::{ProtoFile, RegisteredService, ServiceMethod};

/// Where registered services are kept. A service's methods and proto files are
/// deleted with it; a method or proto file is only written while its service is.
#[async_trait]
pub trait ServiceRegistryStore: Send + Sync {
    /// Stores a service's own fields (not its methods), replacing the one of its name.
    async fn put_service(&self, service: &RegisteredService) -> StoreResult<()>;
    /// A service by name, with its methods in the order they were first added.
    async fn service(&self, name: &str) -> StoreResult<Option<RegisteredService>>;
    /// Every service, by name, with its methods. One that cannot be read is left
    /// out (and logged).
    async fn list_services(&self) -> StoreResult<Vec<RegisteredService>>;
    /// Deletes a service with its methods and proto files; whether there was one.
    async fn delete_service(&self, name: &str) -> StoreResult<bool>;
    /// Adds methods to a service or replaces those of the same operation, name and
    /// type (which keep their id); false when there is no such service.
    async fn put_methods(&self, service: &str, methods: &[ServiceMethod]) -> StoreResult<bool>;
    /// Deletes the method of an operation, name and type; whether there was one.
    async fn delete_method(
        &self,
        service: &str,
        operation: &str,
        method: &str,
        method_type: &str,
    ) -> StoreResult<bool>;
    /// Stores a proto file and, in the same unit, the methods read from it in place
    /// of those its earlier version brought; false when there is no such service.
    async fn put_proto(&self, proto: &ProtoFile, methods: &[ServiceMethod]) -> StoreResult<bool>;
    /// A proto file's bytes.
    async fn proto(&self, service: &str, filename: &str) -> StoreResult<Option<Vec<u8>>>;
    /// A service's proto files, by filename.
    async fn protos(&self, service: &str) -> StoreResult<Vec<ProtoFile>>;
    /// Deletes a proto file and the methods read from it; whether there was one.
    async fn delete_proto(&self, service: &str, filename: &str) -> StoreResult<bool>;
}
