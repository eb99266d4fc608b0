//! Permissions, roles, tenants, assignments, effective permissions and settings.

use super::{Sql, where_in};

pub(crate) const PERMISSION: &str =
    "SELECT name, description, built_in FROM permissions WHERE name = $1";

pub(crate) const LIST_PERMISSIONS: &str = "
    SELECT name, description, built_in FROM permissions
    WHERE ($1 IS NULL OR name > $1) ORDER BY name LIMIT $2";

pub(crate) const INSERT_PERMISSION: &str = "
    INSERT INTO permissions (name, description, built_in) VALUES ($1, $2, false)
    RETURNING name, description, built_in";

/// Grants to users and roles and the default for new users go with it.
pub(crate) const DELETE_PERMISSION: &str = "DELETE FROM permissions WHERE name = $1";

pub(crate) const ROLE: &str = "
    SELECT id, name, description, built_in, create_time, update_time, version
    FROM roles WHERE id = $1";

pub(crate) const LIST_ROLES: &str = "
    SELECT id, name, description, built_in, create_time, update_time, version
    FROM roles WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2";

pub(crate) const ROLE_PERMISSIONS_OF: Sql = where_in!(
    "SELECT role_id, permission FROM role_permissions",
    "role_id",
    "ORDER BY role_id, permission"
);

/// Another role (not $2) whose name has the comparison key $1.
pub(crate) const ROLE_OWNER_OF_NAME: &str = "
    SELECT id FROM roles WHERE name_key = $1 AND ($2 IS NULL OR id <> $2)";

/// $1 id, $2 name, $3 its key, $4 description, $5 the time.
pub(crate) const INSERT_ROLE: &str = "
    INSERT INTO roles (id, name, name_key, description, built_in, create_time, update_time,
                       version)
    VALUES ($1, $2, $3, $4, false, $5, $5, 1)";

/// $2 name and $3 its key, $4 description: each NULL to keep it; $5 the time.
pub(crate) const UPDATE_ROLE: &str = "
    UPDATE roles
    SET name = COALESCE($2, name), name_key = COALESCE($3, name_key),
        description = COALESCE($4, description), version = version + 1, update_time = $5
    WHERE id = $1";

/// Its assignments go with it.
pub(crate) const DELETE_ROLE: &str = "DELETE FROM roles WHERE id = $1";

pub(crate) const CLEAR_ROLE_PERMISSIONS: &str = "DELETE FROM role_permissions WHERE role_id = $1";

pub(crate) const ADD_ROLE_PERMISSION: &str = "
    INSERT INTO role_permissions (role_id, permission) VALUES ($1, $2)";

/// The assignment of role $1 to user $2 or group $3, everywhere ($4 NULL) or in tenant $4.
pub(crate) const ASSIGNMENT: &str = "
    SELECT id, role_id, user_id, group_id, tenant_id, create_time FROM role_assignments
    WHERE role_id = $1
      AND (user_id = $2 OR (user_id IS NULL AND $2 IS NULL))
      AND (group_id = $3 OR (group_id IS NULL AND $3 IS NULL))
      AND (tenant_id = $4 OR (tenant_id IS NULL AND $4 IS NULL))";

pub(crate) const INSERT_ASSIGNMENT: &str = "
    INSERT INTO role_assignments (id, role_id, user_id, group_id, tenant_id, create_time)
    VALUES ($1, $2, $3, $4, $5, $6)
    RETURNING id, role_id, user_id, group_id, tenant_id, create_time";

pub(crate) const DELETE_ASSIGNMENT: &str = "DELETE FROM role_assignments WHERE id = $1";

pub(crate) const LIST_ASSIGNMENTS: &str = "
    SELECT id, role_id, user_id, group_id, tenant_id, create_time FROM role_assignments
    WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR group_id = $2)
      AND ($3 IS NULL OR role_id = $3) AND ($4 IS NULL OR tenant_id = $4)
      AND ($5 IS NULL OR id > $5)
    ORDER BY id LIMIT $6";

pub(crate) const TENANT_EXISTS: &str = "SELECT id FROM tenants WHERE id = $1";

/// Another tenant (not $2) whose name has the comparison key $1.
pub(crate) const TENANT_OWNER_OF_NAME: &str = "
    SELECT id FROM tenants WHERE name_key = $1 AND ($2 IS NULL OR id <> $2)";

/// $1 id, $2 name, $3 its key, $4 description, $5 the time.
pub(crate) const INSERT_TENANT: &str = "
    INSERT INTO tenants (id, name, name_key, description, create_time)
    VALUES ($1, $2, $3, $4, $5)
    RETURNING id, name, description, create_time";

pub(crate) const LIST_TENANTS: &str = "
    SELECT id, name, description, create_time FROM tenants
    WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2";

pub(crate) const DELETE_TENANT: &str = "DELETE FROM tenants WHERE id = $1";

pub(crate) const USER_DISABLED: &str = "SELECT disabled FROM users WHERE id = $1";

/// What CheckPermission reads of user $1, in one statement and so from one snapshot, a row per
/// fact (`kind`): the user and whether it is disabled; tenant $2, when it exists; and every
/// grant it has, everywhere or in tenant $2: direct (no role), through a role assigned to it
/// (no group), through a role assigned to one of its groups.
pub(crate) const PERMISSION_FACTS: &str = "
    SELECT 'user' AS kind, disabled, CAST(NULL AS TEXT) AS permission,
           CAST(NULL AS UUID) AS role_id, CAST(NULL AS UUID) AS tenant_id,
           CAST(NULL AS UUID) AS group_id
    FROM users WHERE id = $1
    UNION ALL
    SELECT 'tenant', NULL, NULL, NULL, id, NULL FROM tenants WHERE id = $2
    UNION ALL
    SELECT 'grant', NULL, permission, NULL, NULL, NULL FROM user_permissions WHERE user_id = $1
    UNION ALL
    SELECT 'grant', NULL, rp.permission, ra.role_id, ra.tenant_id, ra.group_id
    FROM role_assignments ra JOIN role_permissions rp ON rp.role_id = ra.role_id
    WHERE ra.user_id = $1 AND (ra.tenant_id IS NULL OR ra.tenant_id = $2)
    UNION ALL
    SELECT 'grant', NULL, rp.permission, ra.role_id, ra.tenant_id, ra.group_id
    FROM group_members gm
    JOIN role_assignments ra ON ra.group_id = gm.group_id
    JOIN role_permissions rp ON rp.role_id = ra.role_id
    WHERE gm.user_id = $1 AND (ra.tenant_id IS NULL OR ra.tenant_id = $2)";

pub(crate) const DIRECT_GRANTS_OF: &str = "
    SELECT user_id, permission FROM user_permissions WHERE user_id = $1";

/// Grants through roles assigned to user $1 directly, everywhere or in tenant $2.
pub(crate) const ROLE_GRANTS_OF: &str = "
    SELECT ra.user_id AS user_id, rp.permission, ra.role_id, ra.tenant_id, ra.group_id
    FROM role_assignments ra JOIN role_permissions rp ON rp.role_id = ra.role_id
    WHERE ra.user_id = $1 AND (ra.tenant_id IS NULL OR ra.tenant_id = $2)";

/// Grants through roles assigned to the groups of user $1, everywhere or in tenant $2. Driven
/// by the user's memberships, so it costs what the user belongs to, not what the groups hold.
pub(crate) const GROUP_GRANTS_OF: &str = "
    SELECT gm.user_id AS user_id, rp.permission, ra.role_id, ra.tenant_id, ra.group_id
    FROM group_members gm
    JOIN role_assignments ra ON ra.group_id = gm.group_id
    JOIN role_permissions rp ON rp.role_id = ra.role_id
    WHERE gm.user_id = $1 AND (ra.tenant_id IS NULL OR ra.tenant_id = $2)";

/// Direct grants of APPLICATION_ADMIN ($1) or GOVERNANCE ($2), to anyone.
pub(crate) const DIRECT_ADMIN_GRANTS: &str = "
    SELECT user_id, permission FROM user_permissions WHERE permission = $1 OR permission = $2";

/// Grants of APPLICATION_ADMIN ($1) or GOVERNANCE ($2) through roles, in every scope, to users
/// directly or through their groups.
pub(crate) const ROLE_ADMIN_GRANTS: &str = "
    SELECT ra.user_id AS user_id, rp.permission, ra.role_id, ra.tenant_id, ra.group_id
    FROM role_assignments ra JOIN role_permissions rp ON rp.role_id = ra.role_id
    WHERE ra.user_id IS NOT NULL AND (rp.permission = $1 OR rp.permission = $2)
    UNION ALL
    SELECT gm.user_id AS user_id, rp.permission, ra.role_id, ra.tenant_id, ra.group_id
    FROM role_permissions rp
    JOIN role_assignments ra ON ra.role_id = rp.role_id
    JOIN group_members gm ON gm.group_id = ra.group_id
    WHERE rp.permission = $1 OR rp.permission = $2";

/// Up to $2 enabled users holding the permission $1 everywhere, by any path. Every write runs
/// it twice, so it starts from the holders (a few) and looks their users up, never walking the
/// users table in id order until it meets them (22 ms a write at 100,000 users).
pub(crate) const ENABLED_HOLDERS: &str = "
    SELECT u.id, u.username FROM (
        SELECT user_id FROM user_permissions WHERE permission = $1
        UNION SELECT ra.user_id FROM role_permissions rp
          JOIN role_assignments ra ON ra.role_id = rp.role_id
          WHERE rp.permission = $1 AND ra.tenant_id IS NULL AND ra.user_id IS NOT NULL
        UNION SELECT gm.user_id FROM role_permissions rp
          JOIN role_assignments ra ON ra.role_id = rp.role_id
          JOIN group_members gm ON gm.group_id = ra.group_id
          WHERE rp.permission = $1 AND ra.tenant_id IS NULL
    ) holders JOIN users u ON u.id = holders.user_id
    WHERE NOT u.disabled
    ORDER BY u.id LIMIT $2";

pub(crate) const SETTINGS: &str = "
    SELECT admins_and_governors_mutually_exclusive, version FROM settings";

pub(crate) const MUTUALLY_EXCLUSIVE: &str = "
    SELECT admins_and_governors_mutually_exclusive FROM settings";

pub(crate) const DEFAULT_PERMISSIONS: &str = "
    SELECT permission FROM default_permissions ORDER BY permission";

pub(crate) const CLEAR_DEFAULT_PERMISSIONS: &str = "DELETE FROM default_permissions";

pub(crate) const ADD_DEFAULT_PERMISSION: &str =
    "INSERT INTO default_permissions (permission) VALUES ($1)";

/// $1 the new flag, NULL to keep it.
pub(crate) const UPDATE_SETTINGS: &str = "
    UPDATE settings
    SET admins_and_governors_mutually_exclusive =
            COALESCE($1, admins_and_governors_mutually_exclusive),
        version = version + 1";
