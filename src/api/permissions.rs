//! The Permissions service: permissions, grants, roles, tenants, assignments and checks.

use serde_json::json;
use tonic::{Request, Response, Status};

use super::{
    Context, UpdateMask, audit, committed, consistency, convert, page_of, principal, update_etag,
};
use crate::domain::{
    Id,
    impersonation::{Decision, platform_username},
    name::{Description, Name},
    permission::{FETCH_POLICY_INFO, PermissionName},
    policy,
    role::{AssignmentFilter, AssignmentKey, Grantee, NewRole, NewTenant, RoleChanges},
};
use crate::error::{Error, Result};
use crate::proto::{self, permissions_server::Permissions};

/// The most questions one BatchCheck takes.
const MAX_BATCH_ITEMS: usize = 100;

pub struct PermissionsApi {
    context: Context,
}

impl PermissionsApi {
    pub fn new(context: Context) -> Self {
        Self { context }
    }
}

fn assignment_key(
    grantee: Result<Grantee>,
    role_id: &str,
    tenant_id: &str,
) -> Result<AssignmentKey> {
    Ok(AssignmentKey {
        grantee: grantee?,
        role_id: Id::parse("role_id", role_id)?,
        tenant_id: Id::parse_optional("tenant_id", tenant_id)?,
    })
}

/// One BatchCheck item's answer.
enum Answer {
    Permission(bool),
    Impersonation(Decision),
}

#[tonic::async_trait]
impl Permissions for PermissionsApi {
    async fn list_permissions(
        &self,
        request: Request<proto::ListPermissionsRequest>,
    ) -> Result<Response<proto::ListPermissionsResponse>, Status> {
        let request = request.into_inner();
        let (permissions, next_page_token) = page_of(
            request.page_size,
            &request.page_token,
            100,
            "",
            async |page| self.context.store.list_permissions(page).await,
            |permission| permission.name.clone(),
        )
        .await?;
        Ok(Response::new(proto::ListPermissionsResponse {
            permissions: permissions.into_iter().map(convert::permission).collect(),
            next_page_token,
        }))
    }

    async fn create_permission(
        &self,
        request: Request<proto::CreatePermissionRequest>,
    ) -> Result<Response<proto::Permission>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let name = PermissionName::parse("name", &request.name)?;
        let description = Description::parse("description", &request.description)?;
        let record = audit(&actor, "CreatePermission", "permission", &name)
            .with_details(json!({ "description": description }));
        let created = self
            .context
            .store
            .create_permission(&name, &description, record)
            .await?;
        Ok(committed(created, convert::permission))
    }

    async fn delete_permission(
        &self,
        request: Request<proto::DeletePermissionRequest>,
    ) -> Result<Response<()>, Status> {
        let actor = principal(&request)?;
        let name = PermissionName::parse("name", &request.get_ref().name)?;
        let record = audit(&actor, "DeletePermission", "permission", &name);
        let deleted = self.context.store.delete_permission(&name, record).await?;
        Ok(committed(deleted, |()| ()))
    }

    async fn grant_permission(
        &self,
        request: Request<proto::GrantPermissionRequest>,
    ) -> Result<Response<proto::User>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let id = Id::parse("user_id", &request.user_id)?;
        let name = PermissionName::parse("permission", &request.permission)?;
        let record = audit(&actor, "GrantPermission", "user", id)
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
        let name = PermissionName::parse("permission", &request.permission)?;
        let record = audit(&actor, "RevokePermission", "user", id)
            .with_details(json!({ "permission": name }));
        let changed = self
            .context
            .store
            .revoke_permission(id, &name, record)
            .await?;
        Ok(committed(changed, convert::user))
    }

    async fn create_role(
        &self,
        request: Request<proto::CreateRoleRequest>,
    ) -> Result<Response<proto::Role>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let role = NewRole {
            name: Name::parse("name", &request.name)?,
            description: Description::parse("description", &request.description)?,
            permissions: PermissionName::parse_all("permissions", &request.permissions)?,
        };
        let id = Id::new();
        let record = audit(&actor, "CreateRole", "role", id).with_details(json!({
            "name": role.name,
            "description": role.description,
            "permissions": role.permissions,
        }));
        let created = self.context.store.create_role(id, role, record).await?;
        Ok(committed(created, convert::role))
    }

    async fn update_role(
        &self,
        request: Request<proto::UpdateRoleRequest>,
    ) -> Result<Response<proto::Role>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let role = request
            .role
            .ok_or_else(|| Error::invalid("role", "is required"))?;
        let id = Id::parse("role.id", &role.id)?;
        let mask = UpdateMask::parse(request.update_mask, &["name", "description", "permissions"])?;
        let changes = RoleChanges {
            name: mask.field("name", || Name::parse("role.name", &role.name))?,
            description: mask.field("description", || {
                Description::parse("role.description", &role.description)
            })?,
            permissions: mask.field("permissions", || {
                PermissionName::parse_all("role.permissions", &role.permissions)
            })?,
        };
        let etag = update_etag(&request.etag, &role.etag)?;
        let record = audit(&actor, "UpdateRole", "role", id).with_details(json!({
            "update_mask": mask.paths(),
            "name": changes.name,
            "description": changes.description,
            "permissions": changes.permissions,
        }));
        let updated = self
            .context
            .store
            .update_role(id, etag, changes, record)
            .await?;
        Ok(committed(updated, convert::role))
    }

    async fn delete_role(
        &self,
        request: Request<proto::DeleteRoleRequest>,
    ) -> Result<Response<()>, Status> {
        let actor = principal(&request)?;
        let id = Id::parse("id", &request.get_ref().id)?;
        let role = self.context.store.get_role(id).await?;
        let record = audit(&actor, "DeleteRole", "role", id)
            .with_details(json!({ "name": role.name, "permissions": role.permissions }));
        let deleted = self.context.store.delete_role(id, record).await?;
        Ok(committed(deleted, |()| ()))
    }

    async fn list_roles(
        &self,
        request: Request<proto::ListRolesRequest>,
    ) -> Result<Response<proto::ListRolesResponse>, Status> {
        let request = request.into_inner();
        let (roles, next_page_token) = page_of(
            request.page_size,
            &request.page_token,
            50,
            "",
            async |page| self.context.store.list_roles(page).await,
            |role| role.id.to_string(),
        )
        .await?;
        Ok(Response::new(proto::ListRolesResponse {
            roles: roles.into_iter().map(convert::role).collect(),
            next_page_token,
        }))
    }

    async fn assign_role(
        &self,
        request: Request<proto::AssignRoleRequest>,
    ) -> Result<Response<proto::RoleAssignment>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let grantee = convert::grantee(request.principal.as_ref());
        let key = assignment_key(grantee, &request.role_id, &request.tenant_id)?;
        let id = Id::new();
        let record =
            audit(&actor, "AssignRole", "role", key.role_id).with_details(assignment_details(&key));
        let assigned = self.context.store.assign_role(id, key, record).await?;
        Ok(committed(assigned, convert::role_assignment))
    }

    async fn unassign_role(
        &self,
        request: Request<proto::UnassignRoleRequest>,
    ) -> Result<Response<proto::RoleAssignment>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let grantee = convert::grantee(request.principal.as_ref());
        let key = assignment_key(grantee, &request.role_id, &request.tenant_id)?;
        let record = audit(&actor, "UnassignRole", "role", key.role_id)
            .with_details(assignment_details(&key));
        let removed = self.context.store.unassign_role(key, record).await?;
        Ok(committed(removed, convert::role_assignment))
    }

    async fn list_role_assignments(
        &self,
        request: Request<proto::ListRoleAssignmentsRequest>,
    ) -> Result<Response<proto::ListRoleAssignmentsResponse>, Status> {
        let request = request.into_inner();
        let filter = AssignmentFilter {
            grantee: request
                .principal
                .is_some()
                .then(|| convert::grantee(request.principal.as_ref()))
                .transpose()?,
            role_id: Id::parse_optional("role_id", &request.role_id)?,
            tenant_id: Id::parse_optional("tenant_id", &request.tenant_id)?,
        };
        let (assignments, next_page_token) = page_of(
            request.page_size,
            &request.page_token,
            50,
            &format!("{filter:?}"),
            async |page| {
                self.context
                    .store
                    .list_role_assignments(&filter, page)
                    .await
            },
            |assignment| assignment.id.to_string(),
        )
        .await?;
        Ok(Response::new(proto::ListRoleAssignmentsResponse {
            role_assignments: assignments
                .into_iter()
                .map(convert::role_assignment)
                .collect(),
            next_page_token,
        }))
    }

    async fn create_tenant(
        &self,
        request: Request<proto::CreateTenantRequest>,
    ) -> Result<Response<proto::Tenant>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let tenant = NewTenant {
            name: Name::parse("name", &request.name)?,
            description: Description::parse("description", &request.description)?,
        };
        let id = Id::new();
        let record = audit(&actor, "CreateTenant", "tenant", id)
            .with_details(json!({ "name": tenant.name, "description": tenant.description }));
        let created = self.context.store.create_tenant(id, tenant, record).await?;
        Ok(committed(created, convert::tenant))
    }

    async fn list_tenants(
        &self,
        request: Request<proto::ListTenantsRequest>,
    ) -> Result<Response<proto::ListTenantsResponse>, Status> {
        let request = request.into_inner();
        let (tenants, next_page_token) = page_of(
            request.page_size,
            &request.page_token,
            50,
            "",
            async |page| self.context.store.list_tenants(page).await,
            |tenant| tenant.id.to_string(),
        )
        .await?;
        Ok(Response::new(proto::ListTenantsResponse {
            tenants: tenants.into_iter().map(convert::tenant).collect(),
            next_page_token,
        }))
    }

    async fn delete_tenant(
        &self,
        request: Request<proto::DeleteTenantRequest>,
    ) -> Result<Response<()>, Status> {
        let actor = principal(&request)?;
        let id = Id::parse("id", &request.get_ref().id)?;
        let record = audit(&actor, "DeleteTenant", "tenant", id);
        let deleted = self.context.store.delete_tenant(id, record).await?;
        Ok(committed(deleted, |()| ()))
    }

    async fn get_effective_permissions(
        &self,
        request: Request<proto::GetEffectivePermissionsRequest>,
    ) -> Result<Response<proto::GetEffectivePermissionsResponse>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let user = Id::parse_optional("user_id", &request.user_id)?.unwrap_or(actor.user_id);
        actor.require_self_or(user, FETCH_POLICY_INFO)?;
        let tenant = Id::parse_optional("tenant_id", &request.tenant_id)?;
        let consistency = consistency(request.consistency.as_ref())?;
        let grants = self
            .context
            .decisions
            .effective_permissions(user, tenant, consistency)
            .await?;
        Ok(Response::new(proto::GetEffectivePermissionsResponse {
            user_id: user.to_string(),
            permissions: policy::by_permission(grants.to_vec())
                .into_iter()
                .map(|(permission, sources)| proto::EffectivePermission {
                    permission,
                    sources: sources
                        .into_iter()
                        .map(convert::permission_source)
                        .collect(),
                })
                .collect(),
        }))
    }

    async fn check_permission(
        &self,
        request: Request<proto::CheckPermissionRequest>,
    ) -> Result<Response<proto::CheckPermissionResponse>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let user = Id::parse_optional("user_id", &request.user_id)?.unwrap_or(actor.user_id);
        actor.require_self_or(user, FETCH_POLICY_INFO)?;
        let tenant = Id::parse_optional("tenant_id", &request.tenant_id)?;
        let consistency = consistency(request.consistency.as_ref())?;
        let permission = PermissionName::parse("permission", &request.permission)?;
        let allowed = self
            .context
            .decisions
            .holds(user, &permission, tenant, consistency)
            .await?;
        Ok(Response::new(proto::CheckPermissionResponse { allowed }))
    }

    async fn batch_check(
        &self,
        request: Request<proto::BatchCheckRequest>,
    ) -> Result<Response<proto::BatchCheckResponse>, Status> {
        use proto::batch_check_item::Check;
        let caller = principal(&request)?;
        let request = request.into_inner();
        if request.items.is_empty() || request.items.len() > MAX_BATCH_ITEMS {
            return Err(Error::invalid(
                "items",
                format!(
                    "takes 1 to {MAX_BATCH_ITEMS} questions, not {}",
                    request.items.len()
                ),
            )
            .into());
        }
        let consistency = consistency(request.consistency.as_ref())?;
        let mut results = Vec::with_capacity(request.items.len());
        for (index, item) in request.items.into_iter().enumerate() {
            let answer = match item.check {
                Some(Check::Permission(question)) => {
                    async {
                        let user = Id::parse("user_id", &question.user_id)?;
                        let tenant = Id::parse_optional("tenant_id", &question.tenant_id)?;
                        let permission = PermissionName::parse("permission", &question.permission)?;
                        self.context
                            .decisions
                            .holds(user, &permission, tenant, consistency)
                            .await
                            .map(Answer::Permission)
                    }
                    .await
                }
                Some(Check::Impersonation(question)) => {
                    async {
                        let platform = convert::platform(question.platform)?;
                        let actor = platform_username("actor", &question.actor)?;
                        let subject = convert::subject(question.subject.as_ref())?;
                        self.context
                            .decisions
                            .check_impersonation(
                                caller.user_id,
                                platform,
                                &actor,
                                &subject,
                                consistency,
                            )
                            .await
                            .map(Answer::Impersonation)
                    }
                    .await
                }
                None => Err(Error::invalid(
                    "check",
                    "each item needs a permission or an impersonation question",
                )),
            };
            results.push(match answer {
                Ok(Answer::Permission(allowed)) => proto::BatchCheckResult {
                    allowed,
                    ..Default::default()
                },
                Ok(Answer::Impersonation(decision)) => {
                    let answer = convert::decision(decision);
                    proto::BatchCheckResult {
                        allowed: answer.allowed,
                        explanation: answer.explanation,
                        reason: answer.reason,
                        error: None,
                    }
                }
                Err(error) => {
                    let status = Status::from(error);
                    proto::BatchCheckResult {
                        error: Some(proto::BatchCheckError {
                            code: status.code() as i32,
                            message: format!("items[{index}].{}", status.message()),
                        }),
                        ..Default::default()
                    }
                }
            });
        }
        Ok(Response::new(proto::BatchCheckResponse { results }))
    }
}

fn assignment_details(key: &AssignmentKey) -> serde_json::Value {
    let (kind, id) = match key.grantee {
        Grantee::User(id) => ("user_id", id),
        Grantee::Group(id) => ("group_id", id),
    };
    json!({
        kind: id.to_string(),
        "role_id": key.role_id.to_string(),
        "tenant_id": key.tenant_id.map(|t| t.to_string()),
    })
}
