//! Reading the compiled proto files of gRPC services in the registry: a
//! `FileDescriptorSet`, as `protoc --descriptor_set_out` writes it, gives the
//! methods of the services it declares.
//!
//! Only what the registry needs is decoded (a file's package, its services, their
//! methods' names, types and streaming), with messages of our own: every other
//! field is skipped, never held. Before decoding, the wire format is walked once
//! to count the files, services and methods, so a small upload that declares
//! millions of empty entries is refused before any is built.

use base64::Engine;
use prost::Message;

use crate::error::{CoreError, CoreResult};
use crate::model::ServiceMethod;

/// The most files, services and methods (together) a proto file may declare.
pub const MAX_ENTRIES: usize = 10_000;

#[derive(Clone, PartialEq, prost::Message)]
struct DescriptorSet {
    #[prost(message, repeated, tag = "1")]
    file: Vec<FileDescriptor>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct FileDescriptor {
    #[prost(string, optional, tag = "2")]
    package: Option<String>,
    #[prost(message, repeated, tag = "6")]
    service: Vec<ServiceDescriptor>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ServiceDescriptor {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(message, repeated, tag = "2")]
    method: Vec<MethodDescriptor>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct MethodDescriptor {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(string, optional, tag = "2")]
    input_type: Option<String>,
    #[prost(string, optional, tag = "3")]
    output_type: Option<String>,
    #[prost(bool, optional, tag = "5")]
    client_streaming: Option<bool>,
    #[prost(bool, optional, tag = "6")]
    server_streaming: Option<bool>,
}

/// Reads a varint at `at`; the value and where the next field starts.
fn varint(data: &[u8], at: usize) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, byte) in data.get(at..)?.iter().take(10).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, at + i + 1));
        }
    }
    None
}

/// The nested messages counted at each level: a set's files (field 1), a file's
/// services (field 6), a service's methods (field 2).
const COUNTED: [u64; 3] = [1, 6, 2];

/// Counts the entries a message declares at `level` and below, adding to `seen`;
/// None when it is not a well-formed message, or declares more than the bound.
fn count(data: &[u8], level: usize, seen: &mut usize) -> Option<()> {
    let mut at = 0;
    while at < data.len() {
        let (key, next) = varint(data, at)?;
        let (field, wire) = (key >> 3, key & 7);
        at = match wire {
            0 => varint(data, next)?.1,
            1 => next.checked_add(8)?,
            5 => next.checked_add(4)?,
            2 => {
                let (len, start) = varint(data, next)?;
                let end = start.checked_add(usize::try_from(len).ok()?)?;
                let inner = data.get(start..end)?;
                if COUNTED.get(level) == Some(&field) {
                    *seen += 1;
                    if *seen > MAX_ENTRIES {
                        return None;
                    }
                    if level + 1 < COUNTED.len() {
                        count(inner, level + 1, seen)?;
                    }
                }
                end
            }
            _ => return None,
        };
        if at > data.len() {
            return None;
        }
    }
    Some(())
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

/// The set a file holds, when it is one of at least one file within the bounds.
fn decode(data: &[u8]) -> Result<DescriptorSet, String> {
    let mut seen = 0;
    if count(data, 0, &mut seen).is_none() {
        return Err(format!(
            "it is not a well-formed protobuf message, or declares more than {MAX_ENTRIES} files, services and methods"
        ));
    }
    let set = DescriptorSet::decode(data).map_err(|err| err.to_string())?;
    if set.file.is_empty() {
        return Err("it declares no file".into());
    }
    Ok(set)
}

/// The methods of every service in a set: the operation is the service's full
/// name, the method its name, the type its gRPC kind.
fn methods_of(set: &DescriptorSet) -> Vec<ServiceMethod> {
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
                methods.push(ServiceMethod {
                    operation_name: operation.clone(),
                    method_name: method.name.clone().unwrap_or_default(),
                    method_type: grpc_kind(
                        method.client_streaming.unwrap_or(false),
                        method.server_streaming.unwrap_or(false),
                    )
                    .to_string(),
                    input_type: message(&method.input_type),
                    output_type: message(&method.output_type),
                    ..ServiceMethod::default()
                });
            }
        }
    }
    methods
}

/// Reads an uploaded proto file: its bytes and the methods it declares.
///
/// The JavaScript SDK sends the file as it is. The Python SDK sends it as text:
/// the bytes read as UTF-8 and JSON-escaped (without the quotes), or base64 when
/// they are not UTF-8. The first reading that is a descriptor set of at least one
/// file is taken. CPU-bound: call it off the async threads.
pub fn read_upload(body: &[u8]) -> CoreResult<(Vec<u8>, Vec<ServiceMethod>)> {
    let first = decode(body);
    if let Ok(set) = &first {
        return Ok((body.to_vec(), methods_of(set)));
    }
    if let Ok(text) = std::str::from_utf8(body) {
        let unescaped = serde_json::from_str::<String>(&format!("\"{text}\""))
            .ok()
            .map(String::into_bytes);
        let unencoded = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok();
        for bytes in [unescaped, unencoded].into_iter().flatten() {
            if let Ok(set) = decode(&bytes) {
                let methods = methods_of(&set);
                return Ok((bytes, methods));
            }
        }
    }
    let why = first.err().unwrap_or_default();
    Err(CoreError::invalid(format!(
        "The file is not a compiled proto file (a FileDescriptorSet, as written by \
         protoc --descriptor_set_out): {why}"
    )))
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
                        options: Some(Default::default()),
                    }],
                    ..Default::default()
                }],
                options: Some(prost_types::FileOptions {
                    java_package: Some("com.example".into()),
                    ..Default::default()
                }),
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
            let (bytes, methods) = read_upload(&body).expect("read");
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
            read_upload(&descriptor_set(false)).expect("read").1[0].method_type,
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
            let err = read_upload(body).expect_err("refused");
            assert!(
                err.to_string().contains("FileDescriptorSet"),
                "{body:?}: {err}"
            );
        }
    }

    #[test]
    fn a_flood_of_empty_entries_is_refused_before_it_is_built() {
        // Two bytes per empty file: a small upload declaring many files.
        let files = [0x0a_u8, 0x00].repeat(MAX_ENTRIES + 1);
        let err = read_upload(&files).expect_err("refused");
        assert!(err.to_string().contains("10000"), "{err}");
        // The same with methods, nested in one file and one service.
        let field = |key: u8, payload: Vec<u8>| {
            let mut out = vec![key];
            prost::encoding::encode_varint(payload.len() as u64, &mut out);
            out.extend(payload);
            out
        };
        let mut service = field(0x0a, b"S".to_vec());
        service.extend([0x12_u8, 0x00].repeat(MAX_ENTRIES));
        let set = field(0x0a, field(0x32, service));
        assert!(read_upload(&set).is_err());
        // At the bound, it is read.
        let fine = [0x0a_u8, 0x00].repeat(MAX_ENTRIES);
        assert_eq!(read_upload(&fine).expect("read").1.len(), 0);
    }
}
