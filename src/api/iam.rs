//! The IamConfig service: application settings so far; IAMs answer UNIMPLEMENTED until their
//! issue lands.

use serde_json::json;
use tonic::{Request, Response, Status};

use super::{Context, UpdateMask, audit, committed, convert, principal, update_etag};
use crate::domain::{permission::PermissionName, role::SettingsChanges};
use crate::error::Error;
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
        let mask = UpdateMask::parse(
            request.update_mask,
            &[
                "default_permissions",
                "admins_and_governors_mutually_exclusive",
            ],
        )?;
        let changes = SettingsChanges {
            default_permissions: mask.field("default_permissions", || {
                PermissionName::parse_all(
                    "settings.default_permissions",
                    &settings.default_permissions,
                )
            })?,
            admins_and_governors_mutually_exclusive: mask
                .field("admins_and_governors_mutually_exclusive", || {
                    Ok(settings.admins_and_governors_mutually_exclusive)
                })?,
        };
        let etag = update_etag(&request.etag, &settings.etag)?;
        let record = audit(&actor, "UpdateSettings", "settings", "settings").with_details(json!({
            "update_mask": mask.paths(),
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
