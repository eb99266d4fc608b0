//! The Permissions service: direct grants so far; roles, tenants and checks answer
//! UNIMPLEMENTED until their issue lands.

use serde_json::json;
use tonic::{Request, Response, Status};

use super::{Context, committed, convert, principal};
use crate::domain::{Id, audit::AuditRecord, permission};
use crate::proto::{self, permissions_server::Permissions};

pub struct PermissionsApi {
    context: Context,
}

impl PermissionsApi {
    pub fn new(context: Context) -> Self {
        Self { context }
    }
}

#[tonic::async_trait]
impl Permissions for PermissionsApi {
    async fn grant_permission(
        &self,
        request: Request<proto::GrantPermissionRequest>,
    ) -> Result<Response<proto::User>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let id = Id::parse("user_id", &request.user_id)?;
        let name = permission::name("permission", &request.permission)?;
        let record = AuditRecord::new(Some(actor.user_id), "GrantPermission", "user", id)
            .with_details(json!({ "permission": name }));
        let changed = self
            .context
            .store
            .grant_permission(id, &name, record)
            .await?;
        Ok(committed(changed, convert::user))
    }

    async fn revoke_permission(
        &self,
        request: Request<proto::RevokePermissionRequest>,
    ) -> Result<Response<proto::User>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let id = Id::parse("user_id", &request.user_id)?;
        let name = permission::name("permission", &request.permission)?;
        let record = AuditRecord::new(Some(actor.user_id), "RevokePermission", "user", id)
            .with_details(json!({ "permission": name }));
        let changed = self
            .context
            .store
            .revoke_permission(id, &name, record)
            .await?;
        Ok(committed(changed, convert::user))
    }
}
