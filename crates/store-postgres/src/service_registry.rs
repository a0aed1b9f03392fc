//! The service registry on PostgreSQL, shared by every node. Methods and protos
//! reference their service, so one deleted takes them along. Every write holds
//! the registry's transaction lock, so its checks (the service is there, the
//! bounds hold) and its writes are one unit that no other registry write
//! interleaves with.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use podium_core::model::{ProtoFile, RegisteredService, ServiceMethod};
use podium_core::store::{
    MethodKey, RegistryLimits, RegistryWrite, ServiceRegistryStore, StoreError, StoreResult,
    check_methods, method_row, service_row,
};
use tokio_postgres::Row;

use crate::rows::get;
use crate::{PostgresStore, map_err};

fn corrupt(what: &str, err: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("a stored {what} cannot be read: {err}"))
}

/// The transaction lock every registry write takes ("registry" in ASCII).
const REGISTRY_LOCK: i64 = 0x0072_6567_6973_7472;

/// Takes the registry's lock until the transaction ends.
async fn lock(client: &impl GenericClient) -> StoreResult<()> {
    client
        .execute("SELECT pg_advisory_xact_lock($1)", &[&REGISTRY_LOCK])
        .await
        .map_err(map_err)?;
    Ok(())
}

/// Whether the service is there.
async fn hold(client: &impl GenericClient, service: &str) -> StoreResult<bool> {
    let row = client
        .query_opt(
            "SELECT 1 FROM registry_service WHERE name = $1 FOR KEY SHARE",
            &[&service],
        )
        .await
        .map_err(map_err)?;
    Ok(row.is_some())
}

async fn count(
    client: &impl GenericClient,
    sql: &str,
    service: Option<&str>,
) -> StoreResult<usize> {
    let row = match service {
        Some(service) => client.query_one(sql, &[&service]).await,
        None => client.query_one(sql, &[]).await,
    }
    .map_err(map_err)?;
    let n: i64 = get(&row, 0)?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Whether methods may be written to a service: the reason when they would take
/// it past a bound.
async fn room_for(
    client: &impl GenericClient,
    service: &str,
    methods: &[ServiceMethod],
    proto: Option<&str>,
    limits: &RegistryLimits,
) -> StoreResult<Option<String>> {
    if methods.is_empty() && proto.is_none() {
        return Ok(None);
    }
    let rows = client
        .query(
            "SELECT operation, method, method_type, proto FROM registry_method WHERE service = $1",
            &[&service],
        )
        .await
        .map_err(map_err)?;
    let existing = rows
        .iter()
        .map(|row| {
            Ok(MethodKey {
                operation: get(row, 0)?,
                method: get(row, 1)?,
                method_type: get(row, 2)?,
                proto: get(row, 3)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let total = count(client, "SELECT COUNT(*) FROM registry_method", None).await?;
    Ok(check_methods(&existing, methods, proto, total, limits))
}

async fn upsert_methods(
    client: &impl GenericClient,
    service: &str,
    methods: &[ServiceMethod],
    proto: Option<&str>,
) -> StoreResult<()> {
    let statement = client
        .prepare(
            "INSERT INTO registry_method (service, operation, method, method_type, proto, json)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (service, operation, method, method_type)
             DO UPDATE SET proto = EXCLUDED.proto, json = EXCLUDED.json
             WHERE EXCLUDED.proto IS NULL OR registry_method.proto IS NOT NULL",
        )
        .await
        .map_err(map_err)?;
    for method in methods {
        client
            .execute(
                &statement,
                &[
                    &service,
                    &method.operation_name,
                    &method.method_name,
                    &method.method_type,
                    &proto,
                    &method_row(method)?,
                ],
            )
            .await
            .map_err(map_err)?;
    }
    Ok(())
}

fn decode_method(row: &Row) -> StoreResult<Option<ServiceMethod>> {
    let json: String = get(row, 2)?;
    match serde_json::from_str::<ServiceMethod>(&json) {
        Ok(method) => Ok(Some(ServiceMethod {
            id: Some(get(row, 0)?),
            proto: get(row, 1)?,
            ..method
        })),
        Err(err) => {
            tracing::error!(error = %corrupt("service method", err), "a stored service method is left out");
            Ok(None)
        }
    }
}

async fn methods_of(client: &impl GenericClient, service: &str) -> StoreResult<Vec<ServiceMethod>> {
    let rows = client
        .query(
            "SELECT id, proto, json FROM registry_method WHERE service = $1 ORDER BY id",
            &[&service],
        )
        .await
        .map_err(map_err)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.extend(decode_method(row)?);
    }
    Ok(out)
}

async fn with_methods(client: &impl GenericClient, json: &str) -> StoreResult<RegisteredService> {
    let service: RegisteredService =
        serde_json::from_str(json).map_err(|err| corrupt("registered service", err))?;
    let methods = methods_of(client, &service.name).await?;
    Ok(RegisteredService { methods, ..service })
}

#[async_trait]
impl ServiceRegistryStore for PostgresStore {
    async fn save_service(
        &self,
        service: &RegisteredService,
        limits: &RegistryLimits,
    ) -> StoreResult<RegistryWrite> {
        let json = service_row(service)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        lock(&tx).await?;
        if !hold(&tx, &service.name).await?
            && count(&tx, "SELECT COUNT(*) FROM registry_service", None).await? >= limits.services
        {
            return Ok(RegistryWrite::Full(format!(
                "The registry holds at most {} services",
                limits.services
            )));
        }
        if let Some(full) = room_for(&tx, &service.name, &service.methods, None, limits).await? {
            return Ok(RegistryWrite::Full(full));
        }
        tx.execute(
            "INSERT INTO registry_service (name, json) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET json = EXCLUDED.json",
            &[&service.name, &json],
        )
        .await
        .map_err(map_err)?;
        upsert_methods(&tx, &service.name, &service.methods, None).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(RegistryWrite::Done)
    }

    async fn service(&self, name: &str) -> StoreResult<Option<RegisteredService>> {
        let mut client = self.client().await?;
        // One snapshot for the service and its methods.
        let tx = client
            .build_transaction()
            .read_only(true)
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .start()
            .await
            .map_err(map_err)?;
        let row = tx
            .query_opt(
                "SELECT json FROM registry_service WHERE name = $1",
                &[&name],
            )
            .await
            .map_err(map_err)?;
        let service = match row {
            Some(row) => Some(with_methods(&tx, &get::<String>(&row, 0)?).await?),
            None => None,
        };
        tx.commit().await.map_err(map_err)?;
        Ok(service)
    }

    async fn list_services(&self) -> StoreResult<Vec<RegisteredService>> {
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .read_only(true)
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .start()
            .await
            .map_err(map_err)?;
        let rows = tx
            .query("SELECT json FROM registry_service ORDER BY name", &[])
            .await
            .map_err(map_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            match with_methods(&tx, &get::<String>(row, 0)?).await {
                Ok(service) => out.push(service),
                Err(StoreError::Corrupt(err)) => {
                    tracing::error!(error = %err, "a stored registered service is left out");
                }
                Err(other) => return Err(other),
            }
        }
        tx.commit().await.map_err(map_err)?;
        Ok(out)
    }

    async fn delete_service(&self, name: &str) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        lock(&tx).await?;
        let deleted = tx
            .execute("DELETE FROM registry_service WHERE name = $1", &[&name])
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(deleted > 0)
    }

    async fn put_methods(
        &self,
        service: &str,
        methods: &[ServiceMethod],
        limits: &RegistryLimits,
    ) -> StoreResult<RegistryWrite> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        lock(&tx).await?;
        if !hold(&tx, service).await? {
            return Ok(RegistryWrite::NoService);
        }
        if let Some(full) = room_for(&tx, service, methods, None, limits).await? {
            return Ok(RegistryWrite::Full(full));
        }
        upsert_methods(&tx, service, methods, None).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(RegistryWrite::Done)
    }

    async fn delete_method(
        &self,
        service: &str,
        operation: &str,
        method: &str,
        method_type: &str,
    ) -> StoreResult<bool> {
        let client = self.client().await?;
        let deleted = client
            .execute(
                "DELETE FROM registry_method
                 WHERE service = $1 AND operation = $2 AND method = $3 AND method_type = $4",
                &[&service, &operation, &method, &method_type],
            )
            .await
            .map_err(map_err)?;
        Ok(deleted > 0)
    }

    async fn put_proto(
        &self,
        proto: &ProtoFile,
        methods: &[ServiceMethod],
        limits: &RegistryLimits,
    ) -> StoreResult<RegistryWrite> {
        let service = proto.service_name.as_str();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        lock(&tx).await?;
        if !hold(&tx, service).await? {
            return Ok(RegistryWrite::NoService);
        }
        let known = tx
            .query_opt(
                "SELECT 1 FROM registry_proto WHERE service = $1 AND filename = $2",
                &[&service, &proto.filename],
            )
            .await
            .map_err(map_err)?
            .is_some();
        let files = count(
            &tx,
            "SELECT COUNT(*) FROM registry_proto WHERE service = $1",
            Some(service),
        )
        .await?;
        if !known && files >= limits.protos_per_service {
            return Ok(RegistryWrite::Full(format!(
                "A service has at most {} proto files",
                limits.protos_per_service
            )));
        }
        if let Some(full) = room_for(&tx, service, methods, Some(&proto.filename), limits).await? {
            return Ok(RegistryWrite::Full(full));
        }
        tx.execute(
            "INSERT INTO registry_proto (service, filename, data) VALUES ($1, $2, $3)
             ON CONFLICT (service, filename) DO UPDATE SET data = EXCLUDED.data",
            &[&service, &proto.filename, &proto.data],
        )
        .await
        .map_err(map_err)?;
        tx.execute(
            "DELETE FROM registry_method WHERE service = $1 AND proto = $2",
            &[&service, &proto.filename],
        )
        .await
        .map_err(map_err)?;
        upsert_methods(&tx, service, methods, Some(&proto.filename)).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(RegistryWrite::Done)
    }

    async fn proto(&self, service: &str, filename: &str) -> StoreResult<Option<Vec<u8>>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT data FROM registry_proto WHERE service = $1 AND filename = $2",
                &[&service, &filename],
            )
            .await
            .map_err(map_err)?;
        row.map(|row| get::<Vec<u8>>(&row, 0)).transpose()
    }

    async fn protos(&self, service: &str) -> StoreResult<Vec<ProtoFile>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT filename, data FROM registry_proto WHERE service = $1 ORDER BY filename",
                &[&service],
            )
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok(ProtoFile {
                    service_name: service.to_string(),
                    filename: get(row, 0)?,
                    data: get(row, 1)?,
                })
            })
            .collect()
    }

    async fn delete_proto(&self, service: &str, filename: &str) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let deleted = tx
            .execute(
                "DELETE FROM registry_proto WHERE service = $1 AND filename = $2",
                &[&service, &filename],
            )
            .await
            .map_err(map_err)?;
        tx.execute(
            "DELETE FROM registry_method WHERE service = $1 AND proto = $2",
            &[&service, &filename],
        )
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(deleted > 0)
    }
}
