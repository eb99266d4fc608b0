-- Impersonation: one integration per platform (all eight listed; PostgreSQL, Teradata and S3
-- never enabled), and the sessions connectors record.
CREATE TABLE integrations (
    platform                     text PRIMARY KEY,
    enabled                      boolean NOT NULL,
    impersonation_role           text NOT NULL DEFAULT 'PERSONAE_IMPERSONATION',
    allowed_impersonator_pattern text NOT NULL DEFAULT '',
    -- NULL while the integration has its initial settings.
    update_time                  timestamptz,
    version                      bigint NOT NULL DEFAULT 1
);
INSERT INTO integrations (platform, enabled) VALUES
    ('SNOWFLAKE', false), ('REDSHIFT', false), ('SYNAPSE', false), ('TRINO', true),
    ('DATABRICKS', false), ('POSTGRESQL', false), ('TERADATA', false), ('S3', false);

-- Databricks: the platform usernames allowed to impersonate, compared by comparison key.
CREATE TABLE integration_allowed_impersonators (
    platform text NOT NULL REFERENCES integrations (platform),
    name     text NOT NULL,
    name_key text NOT NULL,
    PRIMARY KEY (platform, name_key)
);

-- When an integration names groups, only their members may be impersonated. A group named here
-- cannot be deleted (the store refuses first; the key is the backstop): dropping it would
-- silently widen who may be impersonated.
CREATE TABLE integration_target_groups (
    platform text NOT NULL REFERENCES integrations (platform),
    group_id uuid NOT NULL REFERENCES groups (id),
    PRIMARY KEY (platform, group_id)
);
CREATE INDEX integration_target_groups_group_idx ON integration_target_groups (group_id);

-- Sessions are listed newest first by id (a UUIDv7, so in begin order), filtered by platform,
-- by actor, or to the ones not ended; each filter has its index.
CREATE TABLE impersonation_sessions (
    id             uuid PRIMARY KEY,
    session_id     text NOT NULL UNIQUE,
    platform       text NOT NULL,
    actor          text NOT NULL,
    -- The actor's name key on the platform, for the actor filter.
    actor_key      text NOT NULL,
    target         text NOT NULL,
    actor_user_id  uuid REFERENCES users (id) ON DELETE SET NULL,
    target_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
    reason         text NOT NULL DEFAULT '',
    begin_time     timestamptz NOT NULL,
    expire_time    timestamptz,
    end_time       timestamptz
);
CREATE INDEX impersonation_sessions_platform_idx ON impersonation_sessions (platform, id);
CREATE INDEX impersonation_sessions_actor_idx ON impersonation_sessions (actor_key, id);
CREATE INDEX impersonation_sessions_open_idx ON impersonation_sessions (id) WHERE end_time IS NULL;
CREATE INDEX impersonation_sessions_actor_user_idx ON impersonation_sessions (actor_user_id);
CREATE INDEX impersonation_sessions_target_user_idx ON impersonation_sessions (target_user_id);
