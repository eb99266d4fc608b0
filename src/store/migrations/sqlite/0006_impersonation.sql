-- Impersonation: one integration per platform (all eight listed; PostgreSQL, Teradata and S3
-- never enabled), and the sessions connectors record.
CREATE TABLE integrations (
    platform                     TEXT PRIMARY KEY,
    enabled                      INTEGER NOT NULL,
    impersonation_role           TEXT NOT NULL DEFAULT 'PERSONAE_IMPERSONATION',
    allowed_impersonator_pattern TEXT NOT NULL DEFAULT '',
    -- NULL while the integration has its initial settings.
    update_time                  INTEGER,
    version                      INTEGER NOT NULL DEFAULT 1
);
INSERT INTO integrations (platform, enabled) VALUES
    ('SNOWFLAKE', 0), ('REDSHIFT', 0), ('SYNAPSE', 0), ('TRINO', 1),
    ('DATABRICKS', 0), ('POSTGRESQL', 0), ('TERADATA', 0), ('S3', 0);

-- Databricks: the platform usernames allowed to impersonate, compared by comparison key.
CREATE TABLE integration_allowed_impersonators (
    platform TEXT NOT NULL REFERENCES integrations (platform),
    name     TEXT NOT NULL,
    name_key TEXT NOT NULL,
    PRIMARY KEY (platform, name_key)
);

-- When an integration names groups, only their members may be impersonated. A group named here
-- cannot be deleted (the store refuses first; the key is the backstop): dropping it would
-- silently widen who may be impersonated.
CREATE TABLE integration_target_groups (
    platform TEXT NOT NULL REFERENCES integrations (platform),
    group_id TEXT NOT NULL REFERENCES groups (id),
    PRIMARY KEY (platform, group_id)
);
CREATE INDEX integration_target_groups_group_idx ON integration_target_groups (group_id);

-- Sessions are listed newest first by id (a UUIDv7, so in begin order), filtered by platform,
-- by actor, or to the ones not ended; each filter has its index.
CREATE TABLE impersonation_sessions (
    id             TEXT PRIMARY KEY,
    session_id     TEXT NOT NULL UNIQUE,
    platform       TEXT NOT NULL,
    actor          TEXT NOT NULL,
    -- The actor's name key on the platform, for the actor filter.
    actor_key      TEXT NOT NULL,
    target         TEXT NOT NULL,
    actor_user_id  TEXT REFERENCES users (id) ON DELETE SET NULL,
    target_user_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    reason         TEXT NOT NULL DEFAULT '',
    begin_time     INTEGER NOT NULL,
    expire_time    INTEGER,
    end_time       INTEGER
);
CREATE INDEX impersonation_sessions_platform_idx ON impersonation_sessions (platform, id);
CREATE INDEX impersonation_sessions_actor_idx ON impersonation_sessions (actor_key, id);
CREATE INDEX impersonation_sessions_open_idx ON impersonation_sessions (id) WHERE end_time IS NULL;
CREATE INDEX impersonation_sessions_actor_user_idx ON impersonation_sessions (actor_user_id);
CREATE INDEX impersonation_sessions_target_user_idx ON impersonation_sessions (target_user_id);
