//! The one table of what every RPC requires. An RPC missing here is refused; a test walks the
//! file descriptor set and fails if any RPC lacks an entry or an entry names no RPC.

use std::sync::LazyLock;

use hashbrown::HashMap;

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

/// One RPC the server serves: its path, and what a caller needs to make it.
#[derive(Debug)]
pub struct Rpc {
    /// `/package.Service/Method`.
    pub path: String,
    pub access: Access,
    /// Its position in the catalogue, so that state kept per RPC is an index away.
    pub index: usize,
}

/// Every RPC the server serves.
static CATALOGUE: LazyLock<Vec<Rpc>> = LazyLock::new(|| {
    let public = PUBLIC_PATHS.map(|path| (path.to_owned(), Access::Public));
    let personae = TABLE.iter().flat_map(|(service, methods, access)| {
        methods
            .iter()
            .map(move |method| (format!("/personae.v1.{service}/{method}"), *access))
    });
    public
        .into_iter()
        .chain(personae)
        .enumerate()
        .map(|(index, (path, access))| Rpc {
            path,
            access,
            index,
        })
        .collect()
});

/// The path index, built after the catalogue so that its keys can borrow the catalogue's paths.
/// A fixed table that callers only read, so hashbrown's fast default hasher is safe here.
static BY_PATH: LazyLock<HashMap<&'static str, &'static Rpc>> = LazyLock::new(|| {
    CATALOGUE
        .iter()
        .map(|rpc| (rpc.path.as_str(), rpc))
        .collect()
});

/// The public RPCs that are not personae's own.
const PUBLIC_PATHS: [&str; 4] = [
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

/// The RPC at `path`, or `None` if the server serves none there.
pub fn rpc(path: &str) -> Option<&'static Rpc> {
    BY_PATH.get(path).copied()
}

/// How many RPCs the catalogue holds; every [`Rpc::index`] is below it.
pub fn rpc_count() -> usize {
    CATALOGUE.len()
}

/// The access rule of a gRPC path (`/package.Service/Method`), or `None` if it has none.
pub fn access_for(path: &str) -> Option<Access> {
    rpc(path).map(|rpc| rpc.access)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use prost::Message;

    use super::*;

    #[test]
    fn every_rpc_has_exactly_one_access_rule() {
        let served = [
            crate::proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ];
        let files = served
            .into_iter()
            .flat_map(|fds| prost_types::FileDescriptorSet::decode(fds).unwrap().file);
        let mut rpcs = BTreeSet::new();
        for file in files {
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
            rpcs.len() > 64,
            "expected the whole API, found {} RPCs",
            rpcs.len()
        );
        let missing: Vec<_> = rpcs.iter().filter(|p| access_for(p).is_none()).collect();
        assert!(
            missing.is_empty(),
            "RPCs without an access rule: {missing:?}"
        );
        let stale: Vec<_> = BY_PATH.keys().filter(|p| !rpcs.contains(**p)).collect();
        assert!(stale.is_empty(), "access rules naming no RPC: {stale:?}");
        assert_eq!(rpc_count(), BY_PATH.len(), "an RPC is listed twice");
        for (index, rpc) in CATALOGUE.iter().enumerate() {
            assert_eq!(rpc.index, index);
        }
        assert_eq!(access_for("/personae.v1.Users/NoSuchRpc"), None);
        assert_eq!(
            access_for("/grpc.health.v1.Health/Check"),
            Some(Access::Public)
        );
    }
}
