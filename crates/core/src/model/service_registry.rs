//! The service registry (Orkes' `/api/registry/service`): HTTP, gRPC and MCP
//! services that workflows call, with their methods and, for gRPC, the compiled
//! proto files the methods come from.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::serde_util::null_default;

/// What kind of service a registered service is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceType {
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "gRPC")]
    Grpc,
    #[serde(rename = "MCP_REMOTE")]
    McpRemote,
}

impl ServiceType {
    /// The name Orkes gives it.
    pub fn name(self) -> &'static str {
        match self {
            ServiceType::Http => "HTTP",
            ServiceType::Grpc => "gRPC",
            ServiceType::McpRemote => "MCP_REMOTE",
        }
    }

    /// Parses a type, as written by Orkes or in any case.
    pub fn parse(text: &str) -> Option<ServiceType> {
        match text.trim().to_ascii_uppercase().as_str() {
            "HTTP" => Some(ServiceType::Http),
            "GRPC" => Some(ServiceType::Grpc),
            "MCP_REMOTE" => Some(ServiceType::McpRemote),
            _ => None,
        }
    }
}

/// A circuit breaker's settings (Orkes' `OrkesCircuitBreakerConfig`); what is not
/// given takes Orkes' default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CircuitBreakerConfig {
    #[serde(deserialize_with = "null_default")]
    pub failure_rate_threshold: f32,
    #[serde(deserialize_with = "null_default")]
    pub sliding_window_size: i32,
    #[serde(deserialize_with = "null_default")]
    pub minimum_number_of_calls: i32,
    #[serde(deserialize_with = "null_default")]
    pub wait_duration_in_open_state: i64,
    #[serde(deserialize_with = "null_default")]
    pub permitted_number_of_calls_in_half_open_state: i32,
    #[serde(deserialize_with = "null_default")]
    pub slow_call_rate_threshold: f32,
    #[serde(deserialize_with = "null_default")]
    pub slow_call_duration_threshold: i64,
    #[serde(deserialize_with = "null_default")]
    pub automatic_transition_from_open_to_half_open_enabled: bool,
    #[serde(deserialize_with = "null_default")]
    pub max_wait_duration_in_half_open_state: i64,
}

impl Default for CircuitBreakerConfig {
    fn default() -> CircuitBreakerConfig {
        CircuitBreakerConfig {
            failure_rate_threshold: 50.0,
            sliding_window_size: 100,
            minimum_number_of_calls: 100,
            wait_duration_in_open_state: 1000,
            permitted_number_of_calls_in_half_open_state: 100,
            slow_call_rate_threshold: 50.0,
            slow_call_duration_threshold: 100,
            automatic_transition_from_open_to_half_open_enabled: true,
            max_wait_duration_in_half_open_state: 1,
        }
    }
}

/// A service's settings (Orkes' `Config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceConfig {
    #[serde(deserialize_with = "null_default")]
    pub circuit_breaker_config: CircuitBreakerConfig,
}

/// A parameter a service or method takes (Orkes' `RequestParam`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestParam {
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub param_type: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub required: bool,
    /// `type`, `format` and `defaultValue`, as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
}

/// One method of a service (Orkes' `ServiceMethod`): known by its operation, its
/// name (an HTTP path, a gRPC method) and its type (an HTTP verb, a gRPC kind).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceMethod {
    /// Given by the store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(deserialize_with = "null_default")]
    pub operation_name: String,
    #[serde(deserialize_with = "null_default")]
    pub method_name: String,
    #[serde(deserialize_with = "null_default")]
    pub method_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deprecated: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example_input: Option<Value>,
    #[serde(deserialize_with = "null_default")]
    pub request_params: Vec<RequestParam>,
    /// The proto file this method was read from; none for one added by hand.
    #[serde(skip)]
    pub proto: Option<String>,
}

/// A registered service (Orkes' `ServiceRegistry`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredService {
    pub name: String,
    #[serde(rename = "type")]
    pub service_type: ServiceType,
    #[serde(rename = "serviceURI")]
    pub service_uri: String,
    #[serde(default, deserialize_with = "null_default")]
    pub circuit_breaker_enabled: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub config: ServiceConfig,
    #[serde(default, deserialize_with = "null_default")]
    pub request_params: Vec<RequestParam>,
    /// Kept by the store beside the service; answered with it.
    #[serde(default, deserialize_with = "null_default")]
    pub methods: Vec<ServiceMethod>,
}

/// A compiled proto file of a gRPC service (Orkes' `ProtoRegistryEntry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoFile {
    pub service_name: String,
    pub filename: String,
    pub data: Vec<u8>,
}
