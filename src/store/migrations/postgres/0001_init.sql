-- Identity managers. The built-in one always exists; later migrations add endpoint settings.
CREATE TABLE iams (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    built_in    boolean NOT NULL DEFAULT false,
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    version     bigint NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX iams_name_key ON iams (lower(name));
INSERT INTO iams (id, name, built_in, create_time, update_time)
VALUES ('00000000-0000-7000-8000-000000000001', 'Built-in', true, now(), now());

CREATE TABLE users (
    id           uuid PRIMARY KEY,
    username     text NOT NULL,
    email        text NOT NULL,
    full_name    text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('PERSON', 'SERVICE_ACCOUNT')),
    iam_id       uuid NOT NULL REFERENCES iams (id),
    disabled     boolean NOT NULL DEFAULT false,
    create_time  timestamptz NOT NULL,
    update_time  timestamptz NOT NULL,
    disable_time timestamptz,
    version      bigint NOT NULL
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_iam_idx ON users (iam_id, id);

CREATE TABLE permissions (
    name        text PRIMARY KEY,
    description text NOT NULL,
    built_in    boolean NOT NULL DEFAULT false
);
INSERT INTO permissions (name, description, built_in) VALUES
    ('APPLICATION_ADMIN', 'Configure IAMs, integrations and application settings', true),
    ('AUDIT', 'Read audit events and usage metrics', true),
    ('CREATE_DATA_SOURCE', 'Create data sources', true),
    ('CREATE_DATA_SOURCE_IN_PROJECT', 'Create data sources within a project', true),
    ('CREATE_FILTER', 'Create row filters', true),
    ('CREATE_PROJECT', 'Create projects', true),
    ('FETCH_POLICY_INFO', 'Ask permission and impersonation questions about other users', true),
    ('GOVERNANCE', 'Govern data access policies', true),
    ('IMPERSONATE_USER', 'Act as other users on data platforms', true),
    ('PROJECT_MANAGEMENT', 'Manage projects', true),
    ('USER_ADMIN', 'Manage users, groups, permissions, roles and API keys', true);

CREATE TABLE user_permissions (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    permission text NOT NULL REFERENCES permissions (name) ON DELETE CASCADE,
    PRIMARY KEY (user_id, permission)
);
CREATE INDEX user_permissions_permission_idx ON user_permissions (permission, user_id);

CREATE TABLE groups (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    email       text,
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    version     bigint NOT NULL
);
CREATE UNIQUE INDEX groups_name_key ON groups (lower(name));

CREATE TABLE group_members (
    group_id uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user_idx ON group_members (user_id, group_id);

-- Attributes are sets of values: one row per value.
CREATE TABLE user_attributes (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name    text NOT NULL,
    value   text NOT NULL,
    PRIMARY KEY (user_id, name, value)
);

-- Authorizations come from the user's IAM.
CREATE TABLE user_authorizations (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name    text NOT NULL,
    value   text NOT NULL,
    PRIMARY KEY (user_id, name, value)
);

-- match_key is the username as the platform compares names (lower-cased except on S3), so one
-- platform name maps to at most one user.
CREATE TABLE external_usernames (
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    platform      text NOT NULL,
    username      text NOT NULL,
    match_key     text NOT NULL,
    aws_user_type text,
    PRIMARY KEY (user_id, platform)
);
CREATE UNIQUE INDEX external_usernames_match_key ON external_usernames (platform, match_key);

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    display_name text NOT NULL,
    secret_hash  bytea NOT NULL,
    create_time  timestamptz NOT NULL,
    expire_time  timestamptz,
    revoke_time  timestamptz
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id);

-- The audit log: append-only and hash-chained. details is the canonical JSON text exactly as
-- hashed (jsonb would reorder it).
CREATE TABLE audit_events (
    sequence           bigint PRIMARY KEY,
    id                 uuid NOT NULL UNIQUE,
    time               timestamptz NOT NULL,
    actor_id           uuid,
    action             text NOT NULL,
    target_type        text NOT NULL,
    target_id          text NOT NULL,
    success            boolean NOT NULL,
    impersonation_user text,
    details            text NOT NULL,
    prev_hash          text NOT NULL,
    hash               text NOT NULL
);
CREATE INDEX audit_events_time_idx ON audit_events (time, sequence);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, sequence);
CREATE INDEX audit_events_target_idx ON audit_events (target_id, sequence);
CREATE INDEX audit_events_action_idx ON audit_events (action, sequence);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- The chain head. Every mutation locks this row first, which serialises writers, so rule checks
-- see every earlier change and the chain cannot fork.
CREATE TABLE audit_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    sequence  bigint NOT NULL,
    hash      text NOT NULL
);
INSERT INTO audit_head (singleton, sequence, hash) VALUES (true, 0, '');
