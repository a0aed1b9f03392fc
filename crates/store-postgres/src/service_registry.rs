//! The service registry on PostgreSQL, shared by every node. Methods and protos
//! reference their service, so one deleted takes them along and none is written
//! for a service that is gone (the write holds a key-share lock on it).

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use podium_core::model::{ProtoFile, RegisteredService, ServiceMethod};
use podium_core::store::{ServiceRegistryStore, StoreError, StoreResult};
use tokio_postgres::Row;

use crate::rows::get;
use crate::{PostgresStore, map_err};

fn corrupt(what: &str, err: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("a stored {what} cannot be read: {err}"))
}

fn encode<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|err| StoreError::Corrupt(err.to_string()))
}

fn service_json(service: &RegisteredService) -> StoreResult<String> {
    encode(&RegisteredService {
        methods: Vec::new(),
        ..service.clone()
    })
}

fn method_json(method: &ServiceMethod) -> StoreResult<String> {
    encode(&ServiceMethod {
        id: None,
        proto: None,
        ..method.clone()
    })
}

/// Whether the service is there, locking it against deletion until the
/// transaction ends.
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
             DO UPDATE SET proto = EXCLUDED.proto, json = EXCLUDED.json",
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
                    &method_json(method)?,
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
    async fn put_service(&self, service: &RegisteredService) -> StoreResult<()> {
        let json = service_json(service)?;
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO registry_service (name, json) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET json = EXCLUDED.json",
                &[&service.name, &json],
            )
            .await
            .map_err(map_err)?;
        Ok(())
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
        let client = self.client().await?;
        let deleted = client
            .execute("DELETE FROM registry_service WHERE name = $1", &[&name])
            .await
            .map_err(map_err)?;
        Ok(deleted > 0)
    }

    async fn put_methods(&self, service: &str, methods: &[ServiceMethod]) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        if !hold(&tx, service).await? {
            return Ok(false);
        }
        upsert_methods(&tx, service, methods, None).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
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

    async fn put_proto(&self, proto: &ProtoFile, methods: &[ServiceMethod]) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        if !hold(&tx, &proto.service_name).await? {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO registry_proto (service, filename, data) VALUES ($1, $2, $3)
             ON CONFLICT (service, filename) DO UPDATE SET data = EXCLUDED.data",
            &[&proto.service_name, &proto.filename, &proto.data],
        )
        .await
        .map_err(map_err)?;
        tx.execute(
            "DELETE FROM registry_method WHERE service = $1 AND proto = $2",
            &[&proto.service_name, &proto.filename],
        )
        .await
        .map_err(map_err)?;
        upsert_methods(&tx, &proto.service_name, methods, Some(&proto.filename)).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
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
