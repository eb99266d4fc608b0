-- Comparison keys: the form under which two names are the same, computed by the service
-- (domain::name::comparison_key: Unicode lowercase, NFC) so that both stores agree. lower() folds
-- ASCII only on SQLite and follows the database's collation on PostgreSQL, so the unique indexes
-- move from lower(name) to these columns. They are NULL only until the service fills them for
-- the rows that existed before this migration (store::keys, at start-up), which reports rows
-- whose keys collide instead of merging them; NULLs never collide in a unique index.
ALTER TABLE users ADD COLUMN username_key TEXT;
ALTER TABLE users ADD COLUMN email_key TEXT;
-- What ListUsers' query searches: the keys of the full name, username and email, one per line.
ALTER TABLE users ADD COLUMN search_key TEXT;
DROP INDEX users_username_key;
DROP INDEX users_email_key;
CREATE UNIQUE INDEX users_username_key ON users (username_key);
CREATE UNIQUE INDEX users_email_key ON users (email_key);

ALTER TABLE groups ADD COLUMN name_key TEXT;
-- What ListGroups' query searches: the keys of the name and email, one per line.
ALTER TABLE groups ADD COLUMN search_key TEXT;
DROP INDEX groups_name_key;
CREATE UNIQUE INDEX groups_name_key ON groups (name_key);

ALTER TABLE roles ADD COLUMN name_key TEXT;
DROP INDEX roles_name_key;
CREATE UNIQUE INDEX roles_name_key ON roles (name_key);

ALTER TABLE tenants ADD COLUMN name_key TEXT;
DROP INDEX tenants_name_key;
CREATE UNIQUE INDEX tenants_name_key ON tenants (name_key);

ALTER TABLE iams ADD COLUMN name_key TEXT;
DROP INDEX iams_name_key;
CREATE UNIQUE INDEX iams_name_key ON iams (name_key);

-- name_key replaces match_key, which folded case but did not normalise: the username as the
-- platform compares names (the comparison key, except on S3 where names are exact).
ALTER TABLE external_usernames ADD COLUMN name_key TEXT;
DROP INDEX external_usernames_match_key;
ALTER TABLE external_usernames DROP COLUMN match_key;
CREATE UNIQUE INDEX external_usernames_name_key ON external_usernames (platform, name_key);
