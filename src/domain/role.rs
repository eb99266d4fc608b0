//! Roles (named bundles of permissions), tenants, and role assignments.

use super::{
    Id, Timestamp, Version,
    name::{Description, Name},
    permission::PermissionName,
};

#[derive(Clone, Debug, PartialEq)]
pub struct Role {
    pub id: Id,
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
    pub built_in: bool,
    pub create_time: Timestamp,
    pub update_time: Timestamp,
    pub version: Version,
}

#[derive(Clone, Debug)]
pub struct NewRole {
    pub name: Name,
    pub description: Description,
    /// Sorted, without duplicates.
    pub permissions: Vec<PermissionName>,
}

#[derive(Clone, Debug, Default)]
pub struct RoleChanges {
    pub name: Option<Name>,
    pub description: Option<Description>,
    pub permissions: Option<Vec<PermissionName>>,
}

#[derive(Clone, Debug)]
pub struct NewTenant {
    pub name: Name,
    pub description: Description,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tenant {
    pub id: Id,
    pub name: String,
    pub description: String,
    pub create_time: Timestamp,
}

/// Who a role is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grantee {
    User(Id),
    Group(Id),
}

/// What identifies an assignment: a role, bound to a grantee, everywhere or in one tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AssignmentKey {
    pub grantee: Grantee,
    pub role_id: Id,
    pub tenant_id: Option<Id>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RoleAssignment {
    pub id: Id,
    pub key: AssignmentKey,
    pub create_time: Timestamp,
}

/// ListRoleAssignments' filters.
#[derive(Clone, Debug, Default)]
pub struct AssignmentFilter {
    pub grantee: Option<Grantee>,
    pub role_id: Option<Id>,
    pub tenant_id: Option<Id>,
}

/// A custom or built-in permission.
#[derive(Clone, Debug, PartialEq)]
pub struct PermissionInfo {
    pub name: String,
    pub description: String,
    pub built_in: bool,
}

/// Application settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub default_permissions: Vec<String>,
    pub admins_and_governors_mutually_exclusive: bool,
    pub version: Version,
}

#[derive(Clone, Debug, Default)]
pub struct SettingsChanges {
    pub default_permissions: Option<Vec<PermissionName>>,
    pub admins_and_governors_mutually_exclusive: Option<bool>,
}
