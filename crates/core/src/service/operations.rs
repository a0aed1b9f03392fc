//! What operators ask of a running server: whether it can reach its store (for a
//! load balancer's health check) and the gauges the metrics show (queue depths,
//! workflows by status).

use std::collections::HashMap;
use std::sync::Arc;

use super::Runtime;
use crate::error::CoreResult;
use crate::model::WorkflowStatus;
use crate::security::Principal;

/// The numbers the metrics report from the store.
#[derive(Debug, Default)]
pub struct Gauges {
    /// Pending messages per queue name (`type` or `domain:type`).
    pub queues: HashMap<String, i64>,
    /// Workflows per status.
    pub workflows: HashMap<WorkflowStatus, i64>,
    /// The store's connection pool and call timings.
    pub store: crate::store::StoreFigures,
}

/// Health and gauges.
#[derive(Clone)]
pub struct OperationsService {
    rt: Arc<Runtime>,
}

impl OperationsService {
    /// The service over a runtime.
    pub fn new(rt: Arc<Runtime>) -> OperationsService {
        OperationsService { rt }
    }

    /// Succeeds when the store answers a read.
    pub async fn health(&self) -> CoreResult<()> {
        self.rt.stores.control.ping().await?;
        Ok(())
    }

    /// The gauges, for an API caller: administrators only (they name every queue,
    /// that is every task type and domain).
    pub async fn gauges_for(&self, principal: &Principal) -> CoreResult<Gauges> {
        self.rt
            .authorizer
            .require_admin(principal, "read the metrics")?;
        self.gauges().await
    }

    /// The gauges, unchecked: only for the separate metrics listener, which the
    /// operator exposes to a scraper by configuration and which serves nothing else.
    pub async fn gauges_for_metrics_listener(&self) -> CoreResult<Gauges> {
        self.gauges().await
    }

    async fn gauges(&self) -> CoreResult<Gauges> {
        Ok(Gauges {
            queues: self.rt.stores.execution.queue_sizes(&[]).await?,
            workflows: self.rt.stores.execution.workflow_counts().await?,
            store: self.rt.stores.control.figures(),
        })
    }
}
