//! The one table of what every RPC requires. An RPC missing here is refused; a test walks the
//! file descriptor set and fails if any RPC lacks an entry or an entry names no RPC.

use std::{collections::HashMap, sync::LazyLock};

use crate::domain::permission::{APPLICATION_ADMIN, AUDIT, FETCH_POLICY_INFO, USER_ADMIN};

/// What a caller needs to make a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No credentials: health checks and reflection.
    Public,
    /// The caller must hold this permission.
    Permission(&'static str),
    /// Any authenticated caller for their own user; this permission for anyone else's. The
    /// handler, which knows the target, applies the second half.
    SelfOr(&'static str),
}

use Access::{Permission, SelfOr};

/// (service, RPCs, access) of every personae RPC.
const TABLE: &[(&str, &[&str], Access)] = &[
    (
        "Users",
        &["GetUser", "CreateApiKey", "ListApiKeys", "RevokeApiKey"],
        SelfOr(USER_ADMIN),
    ),
    ("Users", &["GetUsageMetrics"], Permission(AUDIT)),
    (
        "Users",
        &[
            "CreateUser",
            "ListUsers",
            "UpdateUser",
            "DisableUser",
            "EnableUser",
            "DeleteUser",
            "MigrateUser",
            "SetExternalUsername",
            "ClearExternalUsername",
            "AddUserAttribute",
            "RemoveUserAttributeValue",
        ],
        Permission(USER_ADMIN),
    ),
    (
        "Groups",
        &[
            "CreateGroup",
            "GetGroup",
            "ListGroups",
            "UpdateGroup",
            "DeleteGroup",
            "AddMembers",
            "RemoveMember",
            "ListMembers",
            "AddGroupAttribute",
            "RemoveGroupAttributeValue",
        ],
        Permission(USER_ADMIN),
    ),
    (
        "Permissions",
        &["GetEffectivePermissions", "CheckPermission"],
        SelfOr(FETCH_POLICY_INFO),
    ),
    (
        "Permissions",
        &["BatchCheck"],
        Permission(FETCH_POLICY_INFO),
    ),
    (
        "Permissions",
        &[
            "ListPermissions",
            "CreatePermission",
            "DeletePermission",
            "GrantPermission",
            "RevokePermission",
            "CreateRole",
            "UpdateRole",
            "DeleteRole",
            "ListRoles",
            "AssignRole",
            "UnassignRole",
            "ListRoleAssignments",
            "CreateTenant",
            "ListTenants",
            "DeleteTenant",
        ],
        Permission(USER_ADMIN),
    ),
    (
        "IamConfig",
        &[
            "ListIams",
            "GetIam",
            "CreateIam",
            "UpdateIam",
            "DeleteIam",
            "GetSettings",
            "UpdateSettings",
            "TestConnection",
            "TestUserLogin",
            "SyncUser",
            "SyncAll",
        ],
        Permission(APPLICATION_ADMIN),
    ),
    (
        "Impersonation",
        &["ListIntegrations", "GetIntegration", "ConfigureIntegration"],
        Permission(APPLICATION_ADMIN),
    ),
    (
        "Impersonation",
        &[
            "CheckImpersonation",
            "BeginImpersonation",
            "EndImpersonation",
            "ListImpersonationSessions",
        ],
        Permission(FETCH_POLICY_INFO),
    ),
    (
        "Audit",
        &["ListAuditEvents", "VerifyAuditChain"],
        Permission(AUDIT),
    ),
];

static BY_PATH: LazyLock<HashMap<String, Access>> = LazyLock::new(|| {
    TABLE
        .iter()
        .flat_map(|(service, methods, access)| {
            methods
                .iter()
                .map(move |method| (format!("/personae.v1.{service}/{method}"), *access))
        })
        .collect()
});

/// The public RPCs that are not personae's own.
const PUBLIC_PATHS: [&str; 4] = [
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

/// `path` as a `'static` string when it names an RPC the server serves, so that metric labels
/// and span names need no copy of it; `None` otherwise.
pub fn known_path(path: &str) -> Option<&'static str> {
    PUBLIC_PATHS
        .into_iter()
        .find(|known| *known == path)
        .or_else(|| BY_PATH.get_key_value(path).map(|(known, _)| known.as_str()))
}

/// The access rule of a gRPC path (`/package.Service/Method`), or `None` if it has none.
pub fn access_for(path: &str) -> Option<Access> {
    if path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.") {
        return Some(Access::Public);
    }
    BY_PATH.get(path).copied()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use prost::Message;

    use super::*;

    #[test]
    fn every_rpc_has_exactly_one_access_rule() {
        let fds =
            prost_types::FileDescriptorSet::decode(crate::proto::FILE_DESCRIPTOR_SET).unwrap();
        let mut rpcs = BTreeSet::new();
        for file in &fds.file {
            for service in &file.service {
                for method in &service.method {
                    rpcs.insert(format!(
                        "/{}.{}/{}",
                        file.package(),
                        service.name(),
                        method.name()
                    ));
                }
            }
        }
        assert!(
            rpcs.len() > 60,
            "expected the whole API, found {} RPCs",
            rpcs.len()
        );
        let missing: Vec<_> = rpcs.iter().filter(|p| access_for(p).is_none()).collect();
        assert!(
            missing.is_empty(),
            "RPCs without an access rule: {missing:?}"
        );
        let stale: Vec<_> = BY_PATH.keys().filter(|p| !rpcs.contains(*p)).collect();
        assert!(stale.is_empty(), "access rules naming no RPC: {stale:?}");
        let entries: usize = TABLE.iter().map(|(_, methods, _)| methods.len()).sum();
        assert_eq!(entries, BY_PATH.len(), "an RPC is listed twice");
        assert_eq!(access_for("/personae.v1.Users/NoSuchRpc"), None);
        assert_eq!(
            access_for("/grpc.health.v1.Health/Check"),
            Some(Access::Public)
        );
    }
}
