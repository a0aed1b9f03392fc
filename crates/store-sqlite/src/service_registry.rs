//! The service registry on SQLite. The single writer makes every check (the
//! service is there, the bounds hold) part of the same unit as the write, made
//! before anything is written.

use podium_core::model::{ProtoFile, RegisteredService, ServiceMethod};
use podium_core::store::{
    MethodKey, RegistryLimits, RegistryWrite, ServiceRegistryStore, StoreError, StoreResult,
    check_methods, method_row, service_row,
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::{SqliteStore, map_err};

fn corrupt(what: &str, err: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("a stored {what} cannot be read: {err}"))
}

fn exists(conn: &Connection, service: &str) -> StoreResult<bool> {
    conn.prepare_cached("SELECT 1 FROM registry_service WHERE name = ?1")
        .and_then(|mut s| s.query_row(params![service], |_| Ok(())).optional())
        .map(|row| row.is_some())
        .map_err(map_err)
}

/// The keys of a service's methods, with the proto each came from.
fn keys_of(conn: &Connection, service: &str) -> StoreResult<Vec<MethodKey>> {
    conn.prepare_cached(
        "SELECT operation, method, method_type, proto FROM registry_method WHERE service = ?1",
    )
    .and_then(|mut s| {
        s.query_map(params![service], |row| {
            Ok(MethodKey {
                operation: row.get(0)?,
                method: row.get(1)?,
                method_type: row.get(2)?,
                proto: row.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()
    })
    .map_err(map_err)
}

fn count(conn: &Connection, sql: &str, service: Option<&str>) -> StoreResult<usize> {
    let n: i64 = match service {
        Some(service) => conn
            .prepare_cached(sql)
            .and_then(|mut s| s.query_row(params![service], |row| row.get(0))),
        None => conn
            .prepare_cached(sql)
            .and_then(|mut s| s.query_row([], |row| row.get(0))),
    }
    .map_err(map_err)?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Whether methods may be written to a service: the reason when they would take
/// it past a bound.
fn room_for(
    conn: &Connection,
    service: &str,
    methods: &[ServiceMethod],
    proto: Option<&str>,
    limits: &RegistryLimits,
) -> StoreResult<Option<String>> {
    if methods.is_empty() && proto.is_none() {
        return Ok(None);
    }
    let existing = keys_of(conn, service)?;
    let total = count(conn, "SELECT COUNT(*) FROM registry_method", None)?;
    Ok(check_methods(&existing, methods, proto, total, limits))
}

fn upsert_methods(
    conn: &Connection,
    service: &str,
    methods: &[ServiceMethod],
    proto: Option<&str>,
) -> StoreResult<()> {
    let mut statement = conn
        .prepare_cached(
            "INSERT INTO registry_method (service, operation, method, method_type, proto, json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (service, operation, method, method_type)
             DO UPDATE SET proto = excluded.proto, json = excluded.json
             WHERE excluded.proto IS NULL OR registry_method.proto IS NOT NULL",
        )
        .map_err(map_err)?;
    for method in methods {
        statement
            .execute(params![
                service,
                method.operation_name,
                method.method_name,
                method.method_type,
                proto,
                method_row(method)?
            ])
            .map_err(map_err)?;
    }
    Ok(())
}

/// The methods of a service, in the order they were first added. One that cannot
/// be read is left out (and logged).
fn methods_of(conn: &Connection, service: &str) -> StoreResult<Vec<ServiceMethod>> {
    let rows: Vec<(i64, Option<String>, String)> = conn
        .prepare_cached(
            "SELECT id, proto, json FROM registry_method WHERE service = ?1 ORDER BY id",
        )
        .and_then(|mut s| {
            s.query_map(params![service], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?
            .collect::<Result<_, _>>()
        })
        .map_err(map_err)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, proto, json)| {
            match serde_json::from_str::<ServiceMethod>(&json) {
                Ok(method) => Some(ServiceMethod {
                    id: Some(id),
                    proto,
                    ..method
                }),
                Err(err) => {
                    tracing::error!(error = %corrupt("service method", err), "a stored service method is left out");
                    None
                }
            }
        })
        .collect())
}

fn with_methods(conn: &Connection, json: &str) -> StoreResult<RegisteredService> {
    let service: RegisteredService =
        serde_json::from_str(json).map_err(|err| corrupt("registered service", err))?;
    let methods = methods_of(conn, &service.name)?;
    Ok(RegisteredService { methods, ..service })
}

#[async_trait::async_trait]
impl ServiceRegistryStore for SqliteStore {
    async fn save_service(
        &self,
        service: &RegisteredService,
        limits: &RegistryLimits,
    ) -> StoreResult<RegistryWrite> {
        let (name, json) = (service.name.clone(), service_row(service)?);
        let (methods, limits) = (service.methods.clone(), *limits);
        self.write_value(move |conn| {
            if !exists(conn, &name)?
                && count(conn, "SELECT COUNT(*) FROM registry_service", None)? >= limits.services
            {
                return Ok(RegistryWrite::Full(format!(
                    "The registry holds at most {} services",
                    limits.services
                )));
            }
            if let Some(full) = room_for(conn, &name, &methods, None, &limits)? {
                return Ok(RegistryWrite::Full(full));
            }
            conn.prepare_cached(
                "INSERT INTO registry_service (name, json) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET json = excluded.json",
            )
            .and_then(|mut s| s.execute(params![name, json]))
            .map_err(map_err)?;
            upsert_methods(conn, &name, &methods, None)?;
            Ok(RegistryWrite::Done)
        })
        .await
    }

    async fn service(&self, name: &str) -> StoreResult<Option<RegisteredService>> {
        let name = name.to_string();
        self.read(move |conn, _| {
            let json: Option<String> = conn
                .prepare_cached("SELECT json FROM registry_service WHERE name = ?1")
                .and_then(|mut s| s.query_row(params![name], |row| row.get(0)).optional())
                .map_err(map_err)?;
            json.map(|json| with_methods(conn, &json)).transpose()
        })
        .await
    }

    async fn list_services(&self) -> StoreResult<Vec<RegisteredService>> {
        self.read(move |conn, _| {
            let rows: Vec<String> = conn
                .prepare_cached("SELECT json FROM registry_service ORDER BY name")
                .and_then(|mut s| s.query_map([], |row| row.get(0))?.collect::<Result<_, _>>())
                .map_err(map_err)?;
            let mut out = Vec::with_capacity(rows.len());
            for json in rows {
                match with_methods(conn, &json) {
                    Ok(service) => out.push(service),
                    Err(StoreError::Corrupt(err)) => {
                        tracing::error!(error = %err, "a stored registered service is left out");
                    }
                    Err(other) => return Err(other),
                }
            }
            Ok(out)
        })
        .await
    }

    async fn delete_service(&self, name: &str) -> StoreResult<bool> {
        let name = name.to_string();
        self.write_value(move |conn| {
            let deleted = conn
                .prepare_cached("DELETE FROM registry_service WHERE name = ?1")
                .and_then(|mut s| s.execute(params![name]))
                .map_err(map_err)?;
            for sql in [
                "DELETE FROM registry_method WHERE service = ?1",
                "DELETE FROM registry_proto WHERE service = ?1",
            ] {
                conn.prepare_cached(sql)
                    .and_then(|mut s| s.execute(params![name]))
                    .map_err(map_err)?;
            }
            Ok(deleted > 0)
        })
        .await
    }

    async fn put_methods(
        &self,
        service: &str,
        methods: &[ServiceMethod],
        limits: &RegistryLimits,
    ) -> StoreResult<RegistryWrite> {
        let (service, methods, limits) = (service.to_string(), methods.to_vec(), *limits);
        self.write_value(move |conn| {
            if !exists(conn, &service)? {
                return Ok(RegistryWrite::NoService);
            }
            if let Some(full) = room_for(conn, &service, &methods, None, &limits)? {
                return Ok(RegistryWrite::Full(full));
            }
            upsert_methods(conn, &service, &methods, None)?;
            Ok(RegistryWrite::Done)
        })
        .await
    }

    async fn delete_method(
        &self,
        service: &str,
        operation: &str,
        method: &str,
        method_type: &str,
    ) -> StoreResult<bool> {
        let key = [service, operation, method, method_type].map(str::to_string);
        self.write_value(move |conn| {
            conn.prepare_cached(
                "DELETE FROM registry_method
                 WHERE service = ?1 AND operation = ?2 AND method = ?3 AND method_type = ?4",
            )
            .and_then(|mut s| s.execute(params![key[0], key[1], key[2], key[3]]))
            .map(|n| n > 0)
            .map_err(map_err)
        })
        .await
    }

    async fn put_proto(
        &self,
        proto: &ProtoFile,
        methods: &[ServiceMethod],
        limits: &RegistryLimits,
    ) -> StoreResult<RegistryWrite> {
        let (proto, methods, limits) = (proto.clone(), methods.to_vec(), *limits);
        self.write_value(move |conn| {
            let service = proto.service_name.as_str();
            if !exists(conn, service)? {
                return Ok(RegistryWrite::NoService);
            }
            let known: bool = conn
                .prepare_cached("SELECT 1 FROM registry_proto WHERE service = ?1 AND filename = ?2")
                .and_then(|mut s| {
                    s.query_row(params![service, proto.filename], |_| Ok(()))
                        .optional()
                })
                .map_err(map_err)?
                .is_some();
            let files = count(
                conn,
                "SELECT COUNT(*) FROM registry_proto WHERE service = ?1",
                Some(service),
            )?;
            if !known && files >= limits.protos_per_service {
                return Ok(RegistryWrite::Full(format!(
                    "A service has at most {} proto files",
                    limits.protos_per_service
                )));
            }
            if let Some(full) = room_for(conn, service, &methods, Some(&proto.filename), &limits)? {
                return Ok(RegistryWrite::Full(full));
            }
            conn.prepare_cached(
                "INSERT INTO registry_proto (service, filename, data) VALUES (?1, ?2, ?3)
                 ON CONFLICT (service, filename) DO UPDATE SET data = excluded.data",
            )
            .and_then(|mut s| s.execute(params![service, proto.filename, proto.data]))
            .map_err(map_err)?;
            conn.prepare_cached("DELETE FROM registry_method WHERE service = ?1 AND proto = ?2")
                .and_then(|mut s| s.execute(params![service, proto.filename]))
                .map_err(map_err)?;
            upsert_methods(conn, service, &methods, Some(&proto.filename))?;
            Ok(RegistryWrite::Done)
        })
        .await
    }

    async fn proto(&self, service: &str, filename: &str) -> StoreResult<Option<Vec<u8>>> {
        let (service, filename) = (service.to_string(), filename.to_string());
        self.read(move |conn, _| {
            conn.prepare_cached(
                "SELECT data FROM registry_proto WHERE service = ?1 AND filename = ?2",
            )
            .and_then(|mut s| {
                s.query_row(params![service, filename], |row| row.get(0))
                    .optional()
            })
            .map_err(map_err)
        })
        .await
    }

    async fn protos(&self, service: &str) -> StoreResult<Vec<ProtoFile>> {
        let service = service.to_string();
        self.read(move |conn, _| {
            conn.prepare_cached(
                "SELECT filename, data FROM registry_proto WHERE service = ?1 ORDER BY filename",
            )
            .and_then(|mut s| {
                s.query_map(params![service], |row| {
                    Ok(ProtoFile {
                        service_name: service.clone(),
                        filename: row.get(0)?,
                        data: row.get(1)?,
                    })
                })?
                .collect::<Result<_, _>>()
            })
            .map_err(map_err)
        })
        .await
    }

    async fn delete_proto(&self, service: &str, filename: &str) -> StoreResult<bool> {
        let (service, filename) = (service.to_string(), filename.to_string());
        self.write_value(move |conn| {
            let deleted = conn
                .prepare_cached("DELETE FROM registry_proto WHERE service = ?1 AND filename = ?2")
                .and_then(|mut s| s.execute(params![service, filename]))
                .map_err(map_err)?;
            conn.prepare_cached("DELETE FROM registry_method WHERE service = ?1 AND proto = ?2")
                .and_then(|mut s| s.execute(params![service, filename]))
                .map_err(map_err)?;
            Ok(deleted > 0)
        })
        .await
    }
}
