-- Group attributes are sets of values, like user attributes.
CREATE TABLE group_attributes (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (group_id, name, value)
);

CREATE TABLE roles (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    built_in    INTEGER NOT NULL DEFAULT 0,
    create_time INTEGER NOT NULL,
    update_time INTEGER NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX roles_name_key ON roles (lower(name));

CREATE TABLE role_permissions (
    role_id    TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission TEXT NOT NULL REFERENCES permissions (name) ON DELETE CASCADE,
    PRIMARY KEY (role_id, permission)
);
CREATE INDEX role_permissions_permission_idx ON role_permissions (permission, role_id);

-- The personas' roles; their ids are fixed so that deployments agree on them.
INSERT INTO roles (id, name, description, built_in, create_time, update_time) VALUES
    ('00000000-0000-7000-8000-000000000101', 'Application admin', 'Configures IAMs, integrations and settings', 1, 0, 0),
    ('00000000-0000-7000-8000-000000000102', 'Governor', 'Governs data access policies', 1, 0, 0),
    ('00000000-0000-7000-8000-000000000103', 'User admin', 'Manages users, groups, permissions and roles', 1, 0, 0),
    ('00000000-0000-7000-8000-000000000104', 'Data owner', 'Creates data sources', 1, 0, 0),
    ('00000000-0000-7000-8000-000000000105', 'Project manager', 'Manages projects', 1, 0, 0),
    ('00000000-0000-7000-8000-000000000106', 'Data user', 'Uses data; no administrative permission', 1, 0, 0);
UPDATE roles SET create_time = CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER),
                 update_time = CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER);
INSERT INTO role_permissions (role_id, permission) VALUES
    ('00000000-0000-7000-8000-000000000101', 'APPLICATION_ADMIN'),
    ('00000000-0000-7000-8000-000000000102', 'GOVERNANCE'),
    ('00000000-0000-7000-8000-000000000103', 'USER_ADMIN'),
    ('00000000-0000-7000-8000-000000000104', 'CREATE_DATA_SOURCE'),
    ('00000000-0000-7000-8000-000000000105', 'PROJECT_MANAGEMENT');

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    create_time INTEGER NOT NULL
);
CREATE UNIQUE INDEX tenants_name_key ON tenants (lower(name));

-- A role bound to a user or a group, everywhere (tenant_id NULL) or within one tenant.
CREATE TABLE role_assignments (
    id          TEXT PRIMARY KEY,
    role_id     TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    user_id     TEXT REFERENCES users (id) ON DELETE CASCADE,
    group_id    TEXT REFERENCES groups (id) ON DELETE CASCADE,
    tenant_id   TEXT REFERENCES tenants (id) ON DELETE CASCADE,
    create_time INTEGER NOT NULL,
    CHECK ((user_id IS NULL) <> (group_id IS NULL))
);
-- SQLite treats NULLs as distinct in unique indexes, so the key folds them to ''.
CREATE UNIQUE INDEX role_assignments_key
    ON role_assignments (role_id, COALESCE(user_id, ''), COALESCE(group_id, ''), COALESCE(tenant_id, ''));
CREATE INDEX role_assignments_user_idx ON role_assignments (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX role_assignments_group_idx ON role_assignments (group_id) WHERE group_id IS NOT NULL;
CREATE INDEX role_assignments_tenant_idx ON role_assignments (tenant_id) WHERE tenant_id IS NOT NULL;

-- Application settings: one row.
CREATE TABLE settings (
    singleton                               INTEGER PRIMARY KEY CHECK (singleton = 1),
    admins_and_governors_mutually_exclusive INTEGER NOT NULL DEFAULT 0,
    version                                 INTEGER NOT NULL DEFAULT 1
);
INSERT INTO settings (singleton) VALUES (1);

CREATE TABLE default_permissions (
    permission TEXT PRIMARY KEY REFERENCES permissions (name) ON DELETE CASCADE
);
INSERT INTO default_permissions (permission) VALUES ('CREATE_PROJECT'), ('CREATE_DATA_SOURCE_IN_PROJECT');
