-- Group attributes are sets of values, like user attributes.
CREATE TABLE group_attributes (
    group_id uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    name     text NOT NULL,
    value    text NOT NULL,
    PRIMARY KEY (group_id, name, value)
);

CREATE TABLE roles (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    built_in    boolean NOT NULL DEFAULT false,
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    version     bigint NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX roles_name_key ON roles (lower(name));

CREATE TABLE role_permissions (
    role_id    uuid NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission text NOT NULL REFERENCES permissions (name) ON DELETE CASCADE,
    PRIMARY KEY (role_id, permission)
);
CREATE INDEX role_permissions_permission_idx ON role_permissions (permission, role_id);

-- The personas' roles; their ids are fixed so that deployments agree on them.
INSERT INTO roles (id, name, description, built_in, create_time, update_time) VALUES
    ('00000000-0000-7000-8000-000000000101', 'Application admin', 'Configures IAMs, integrations and settings', true, now(), now()),
    ('00000000-0000-7000-8000-000000000102', 'Governor', 'Governs data access policies', true, now(), now()),
    ('00000000-0000-7000-8000-000000000103', 'User admin', 'Manages users, groups, permissions and roles', true, now(), now()),
    ('00000000-0000-7000-8000-000000000104', 'Data owner', 'Creates data sources', true, now(), now()),
    ('00000000-0000-7000-8000-000000000105', 'Project manager', 'Manages projects', true, now(), now()),
    ('00000000-0000-7000-8000-000000000106', 'Data user', 'Uses data; no administrative permission', true, now(), now());
INSERT INTO role_permissions (role_id, permission) VALUES
    ('00000000-0000-7000-8000-000000000101', 'APPLICATION_ADMIN'),
    ('00000000-0000-7000-8000-000000000102', 'GOVERNANCE'),
    ('00000000-0000-7000-8000-000000000103', 'USER_ADMIN'),
    ('00000000-0000-7000-8000-000000000104', 'CREATE_DATA_SOURCE'),
    ('00000000-0000-7000-8000-000000000105', 'PROJECT_MANAGEMENT');

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    create_time timestamptz NOT NULL
);
CREATE UNIQUE INDEX tenants_name_key ON tenants (lower(name));

-- A role bound to a user or a group, everywhere (tenant_id NULL) or within one tenant.
CREATE TABLE role_assignments (
    id          uuid PRIMARY KEY,
    role_id     uuid NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    user_id     uuid REFERENCES users (id) ON DELETE CASCADE,
    group_id    uuid REFERENCES groups (id) ON DELETE CASCADE,
    tenant_id   uuid REFERENCES tenants (id) ON DELETE CASCADE,
    create_time timestamptz NOT NULL,
    CHECK ((user_id IS NULL) <> (group_id IS NULL))
);
CREATE UNIQUE INDEX role_assignments_key ON role_assignments (role_id, user_id, group_id, tenant_id) NULLS NOT DISTINCT;
CREATE INDEX role_assignments_user_idx ON role_assignments (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX role_assignments_group_idx ON role_assignments (group_id) WHERE group_id IS NOT NULL;
CREATE INDEX role_assignments_tenant_idx ON role_assignments (tenant_id) WHERE tenant_id IS NOT NULL;

-- Application settings: one row.
CREATE TABLE settings (
    singleton                               boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    admins_and_governors_mutually_exclusive boolean NOT NULL DEFAULT false,
    version                                 bigint NOT NULL DEFAULT 1
);
INSERT INTO settings (singleton) VALUES (true);

CREATE TABLE default_permissions (
    permission text PRIMARY KEY REFERENCES permissions (name) ON DELETE CASCADE
);
INSERT INTO default_permissions (permission) VALUES ('CREATE_PROJECT'), ('CREATE_DATA_SOURCE_IN_PROJECT');
