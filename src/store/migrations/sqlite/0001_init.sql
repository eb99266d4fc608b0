-- Ids are UUID text; times are integer microseconds since the Unix epoch; booleans are 0/1.

-- Identity managers. The built-in one always exists; later migrations add endpoint settings.
CREATE TABLE iams (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    built_in    INTEGER NOT NULL DEFAULT 0,
    create_time INTEGER NOT NULL,
    update_time INTEGER NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX iams_name_key ON iams (lower(name));
INSERT INTO iams (id, name, built_in, create_time, update_time)
VALUES ('00000000-0000-7000-8000-000000000001', 'Built-in', 1,
        CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER),
        CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER));

CREATE TABLE users (
    id           TEXT PRIMARY KEY,
    username     TEXT NOT NULL,
    email        TEXT NOT NULL,
    full_name    TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('PERSON', 'SERVICE_ACCOUNT')),
    iam_id       TEXT NOT NULL REFERENCES iams (id),
    disabled     INTEGER NOT NULL DEFAULT 0,
    create_time  INTEGER NOT NULL,
    update_time  INTEGER NOT NULL,
    disable_time INTEGER,
    version      INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_iam_idx ON users (iam_id, id);

CREATE TABLE permissions (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    built_in    INTEGER NOT NULL DEFAULT 0
);
INSERT INTO permissions (name, description, built_in) VALUES
    ('APPLICATION_ADMIN', 'Configure IAMs, integrations and application settings', 1),
    ('AUDIT', 'Read audit events and usage metrics', 1),
    ('CREATE_DATA_SOURCE', 'Create data sources', 1),
    ('CREATE_DATA_SOURCE_IN_PROJECT', 'Create data sources within a project', 1),
    ('CREATE_FILTER', 'Create row filters', 1),
    ('CREATE_PROJECT', 'Create projects', 1),
    ('FETCH_POLICY_INFO', 'Ask permission and impersonation questions about other users', 1),
    ('GOVERNANCE', 'Govern data access policies', 1),
    ('IMPERSONATE_USER', 'Act as other users on data platforms', 1),
    ('PROJECT_MANAGEMENT', 'Manage projects', 1),
    ('USER_ADMIN', 'Manage users, groups, permissions, roles and API keys', 1);

CREATE TABLE user_permissions (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    permission TEXT NOT NULL REFERENCES permissions (name) ON DELETE CASCADE,
    PRIMARY KEY (user_id, permission)
);
CREATE INDEX user_permissions_permission_idx ON user_permissions (permission, user_id);

CREATE TABLE groups (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    email       TEXT,
    create_time INTEGER NOT NULL,
    update_time INTEGER NOT NULL,
    version     INTEGER NOT NULL
);
CREATE UNIQUE INDEX groups_name_key ON groups (lower(name));

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user_idx ON group_members (user_id, group_id);

-- Attributes are sets of values: one row per value.
CREATE TABLE user_attributes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name    TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (user_id, name, value)
);

-- Authorizations come from the user's IAM.
CREATE TABLE user_authorizations (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name    TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (user_id, name, value)
);

-- match_key is the username as the platform compares names (lower-cased except on S3), so one
-- platform name maps to at most one user.
CREATE TABLE external_usernames (
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    platform      TEXT NOT NULL,
    username      TEXT NOT NULL,
    match_key     TEXT NOT NULL,
    aws_user_type TEXT,
    PRIMARY KEY (user_id, platform)
);
CREATE UNIQUE INDEX external_usernames_match_key ON external_usernames (platform, match_key);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    secret_hash  BLOB NOT NULL,
    create_time  INTEGER NOT NULL,
    expire_time  INTEGER,
    revoke_time  INTEGER
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id);

-- The audit log: append-only and hash-chained. details is the canonical JSON text exactly as
-- hashed.
CREATE TABLE audit_events (
    sequence           INTEGER PRIMARY KEY,
    id                 TEXT NOT NULL UNIQUE,
    time               INTEGER NOT NULL,
    actor_id           TEXT,
    action             TEXT NOT NULL,
    target_type        TEXT NOT NULL,
    target_id          TEXT NOT NULL,
    success            INTEGER NOT NULL,
    impersonation_user TEXT,
    details            TEXT NOT NULL,
    prev_hash          TEXT NOT NULL,
    hash               TEXT NOT NULL
);
CREATE INDEX audit_events_time_idx ON audit_events (time, sequence);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, sequence);
CREATE INDEX audit_events_target_idx ON audit_events (target_id, sequence);
CREATE INDEX audit_events_action_idx ON audit_events (action, sequence);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

-- The chain head, read at the start of every mutation (under the write lock).
CREATE TABLE audit_head (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    sequence  INTEGER NOT NULL,
    hash      TEXT NOT NULL
);
INSERT INTO audit_head (singleton, sequence, hash) VALUES (1, 0, '');
