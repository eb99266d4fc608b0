//! The IamConfig service: application settings so far; IAMs answer UNIMPLEMENTED until their
//! issue lands.

use serde_json::json;
use tonic::{Request, Response, Status};

use super::{Context, committed, convert, principal};
use crate::domain::{Version, audit::AuditRecord, permission, role::SettingsChanges};
use crate::error::{Error, Result};
use crate::proto::{self, iam_config_server::IamConfig};

pub struct IamConfigApi {
    context: Context,
}

impl IamConfigApi {
    pub fn new(context: Context) -> Self {
        Self { context }
    }
}

#[tonic::async_trait]
impl IamConfig for IamConfigApi {
    async fn get_settings(
        &self,
        _request: Request<proto::GetSettingsRequest>,
    ) -> Result<Response<proto::Settings>, Status> {
        Ok(Response::new(convert::settings(
            self.context.store.get_settings().await?,
        )))
    }

    async fn update_settings(
        &self,
        request: Request<proto::UpdateSettingsRequest>,
    ) -> Result<Response<proto::Settings>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let settings = request
            .settings
            .ok_or_else(|| Error::invalid("settings", "is required"))?;
        let paths = request.update_mask.map(|m| m.paths).unwrap_or_default();
        if paths.is_empty() {
            return Err(Error::invalid(
                "update_mask",
                "must name at least one field: default_permissions, admins_and_governors_mutually_exclusive",
            )
            .into());
        }
        let mut changes = SettingsChanges::default();
        for path in &paths {
            match path.as_str() {
                "default_permissions" => {
                    let mut names = settings
                        .default_permissions
                        .iter()
                        .map(|n| permission::name("settings.default_permissions", n))
                        .collect::<Result<Vec<_>>>()?;
                    names.sort();
                    names.dedup();
                    changes.default_permissions = Some(names);
                }
                "admins_and_governors_mutually_exclusive" => {
                    changes.admins_and_governors_mutually_exclusive =
                        Some(settings.admins_and_governors_mutually_exclusive);
                }
                other => {
                    return Err(Error::invalid(
                        "update_mask",
                        format!(
                            "{other:?} cannot be updated; the updatable fields are default_permissions and \
                             admins_and_governors_mutually_exclusive"
                        ),
                    )
                    .into());
                }
            }
        }
        let etag = if request.etag.is_empty() {
            &settings.etag
        } else {
            &request.etag
        };
        let etag = Version::parse_etag("etag", etag)?;
        let record = AuditRecord::new(Some(actor.user_id), "UpdateSettings", "settings", "settings").with_details(json!({
            "update_mask": paths,
            "default_permissions": changes.default_permissions,
            "admins_and_governors_mutually_exclusive": changes.admins_and_governors_mutually_exclusive,
        }));
        let updated = self
            .context
            .store
            .update_settings(etag, changes, record)
            .await?;
        Ok(committed(updated, convert::settings))
    }
}
