//! Health as the store's reachability, so orchestrators stop routing to a server that cannot work.

use std::{sync::Arc, time::Duration};

use tonic_health::ServingStatus;

use crate::store::Store;

/// How often health re-checks the store. With the store's ping timeout (1 s) health turns
/// NOT_SERVING within 1.5 s of the database going away, and SERVING within 0.5 s of its return.
const HEALTH_PROBE_INTERVAL: Duration = Duration::from_millis(500);

/// Reports NOT_SERVING for every service while the store cannot be reached.
pub(super) struct StoreHealth {
    pub(super) store: Arc<dyn Store>,
    pub(super) reporter: tonic_health::server::HealthReporter,
    pub(super) services: Vec<&'static str>,
    pub(super) last: Option<ServingStatus>,
}

impl StoreHealth {
    pub(super) async fn probe(&mut self) {
        let pinged = self.store.ping().await;
        let status = match pinged {
            Ok(()) => ServingStatus::Serving,
            Err(_) => ServingStatus::NotServing,
        };
        if self.last != Some(status) {
            // Only changes are logged: an outage would otherwise log twice a second.
            match &pinged {
                Err(error) => tracing::warn!(
                    error = %error.with_causes(),
                    "store unreachable; health is NOT_SERVING"
                ),
                Ok(()) if self.last.is_some() => {
                    tracing::info!("store reachable again; health is SERVING")
                }
                Ok(()) => {}
            }
            self.reporter.set_service_status("", status).await;
            for service in &self.services {
                self.reporter.set_service_status(*service, status).await;
            }
            self.last = Some(status);
        }
    }

    pub(super) async fn watch(mut self) {
        loop {
            tokio::time::sleep(HEALTH_PROBE_INTERVAL).await;
            self.probe().await;
        }
    }
}
